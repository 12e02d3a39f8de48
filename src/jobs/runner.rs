//! Running jobs: under a lease, one at a time per job, each run kept in `job_runs`; a scheduled
//! run only when no runner (of any instance) started the job during its interval.

use std::time::Duration;

use jiff::SignedDuration;
use rand::RngCore;

use super::repo::{self, JobStatus};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("不明なジョブです: {0}")]
    Unknown(String),
    #[error("ジョブ {0} は別の実行者が実行中です")]
    Busy(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// An id for this runner: host, process and a random part.
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!(
        "{}:{}:{:08x}",
        host.trim(),
        std::process::id(),
        rand::rngs::OsRng.next_u32()
    )
}

/// Runs one job once under its lease, now (an operator's `job run`, the page's button);
/// returns the job's message.
pub async fn run(state: &AppState, name: &str, holder: &str) -> Result<String, RunError> {
    run_under_lease(state, name, holder, false).await
}

/// Runs one job under its lease if it is still due: no runner started it during the last
/// interval. The check and the taking of the lease are one statement, so that of several
/// instances whose schedulers find the job due at the same time exactly one runs it.
pub async fn run_if_due(state: &AppState, name: &str, holder: &str) -> Result<String, RunError> {
    run_under_lease(state, name, holder, true).await
}

async fn run_under_lease(
    state: &AppState,
    name: &str,
    holder: &str,
    only_if_due: bool,
) -> Result<String, RunError> {
    let job = state
        .registry
        .jobs
        .iter()
        .find(|j| j.name == name)
        .ok_or_else(|| RunError::Unknown(name.into()))?;
    let now = state.now();
    let lease_for = SignedDuration::from_secs(state.settings.jobs.lease_seconds.max(1));
    let due_before = only_if_due.then(|| now.minus(job.every));
    let mut conn = state
        .db
        .pool()
        .acquire()
        .await
        .map_err(anyhow::Error::from)?;
    if !repo::acquire(
        &mut conn,
        name,
        holder,
        now.plus(lease_for),
        now,
        due_before,
    )
    .await
    .map_err(anyhow::Error::from)?
    {
        return Err(RunError::Busy(name.into()));
    }
    let run_id = repo::insert_run(&mut conn, name, holder, now)
        .await
        .map_err(anyhow::Error::from)?;
    drop(conn);
    // The lease is renewed while the job runs (every third of its length), so that a run longer
    // than `lease_seconds` is not taken over by another runner while it goes on.
    let result = {
        let job_run = (job.run)(state, now);
        tokio::pin!(job_run);
        let every = lease_for.unsigned_abs() / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                r = &mut job_run => break r,
                _ = renew.tick() => {
                    let until = state.now().plus(lease_for);
                    let renewed = match state.db.pool().acquire().await {
                        Ok(mut conn) => repo::renew(&mut conn, name, holder, until).await,
                        Err(e) => Err(e),
                    };
                    match renewed {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(job = name, "the job's lease was taken over while it ran"),
                        Err(e) => tracing::warn!(job = name, error = %e, "the job's lease could not be renewed"),
                    }
                }
            }
        }
    };
    let (status, message) = match &result {
        Ok(m) => ("ok", m.clone()),
        Err(e) => ("error", format!("{e:#}")),
    };
    state
        .metrics
        .job_runs
        .with_label_values(&[name, status])
        .inc();
    let finished = state.now();
    let mut conn = state
        .db
        .pool()
        .acquire()
        .await
        .map_err(anyhow::Error::from)?;
    repo::finish_run(&mut conn, run_id, finished, status, &message)
        .await
        .map_err(anyhow::Error::from)?;
    repo::release(&mut conn, name, holder, finished, status, &message)
        .await
        .map_err(anyhow::Error::from)?;
    result.map_err(RunError::Failed)
}

pub async fn status(state: &AppState, name: &str) -> anyhow::Result<JobStatus> {
    let mut conn = state.db.pool().acquire().await?;
    Ok(repo::status(&mut conn, name).await?)
}

/// Runs every job that is due (its last start is `every` ago or more), once — across every
/// runner on the database (see [`run_if_due`]).
pub async fn run_due(state: &AppState, holder: &str) {
    let now = state.now();
    for job in &state.registry.jobs {
        let due = match status(state, job.name).await {
            Ok(s) => s.last_started_at.is_none_or(|t| now.since(t) >= job.every),
            Err(e) => {
                tracing::error!(job = job.name, error = %e, "cannot read job status");
                false
            }
        };
        if !due {
            continue;
        }
        match run_if_due(state, job.name, holder).await {
            Ok(msg) => tracing::info!(job = job.name, %msg, "job done"),
            Err(RunError::Busy(_)) => {
                tracing::debug!(job = job.name, "held or already run by another runner");
            }
            Err(e) => tracing::error!(job = job.name, error = %e, "job failed"),
        }
    }
}

/// The scheduler loop of `serve`.
pub async fn scheduler(state: AppState) {
    let holder = holder_id();
    let tick = Duration::from_secs(state.settings.jobs.tick_seconds.max(1));
    loop {
        run_due(&state, &holder).await;
        tokio::time::sleep(tick).await;
    }
}
