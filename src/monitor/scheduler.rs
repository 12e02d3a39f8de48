//! The scheduler (R22.1): every slot of every monitor is checked once or recorded missed.
//!
//! - A monitor's slots are `slots_from + k × interval` ([`Cadence`]); the check of a slot is due
//!   a stable, per-monitor offset into it, so that checks spread over the interval.
//! - [`claim_due`] is the one door to a check: in one transaction it records the slots that
//!   ended unchecked as `missed` and moves the monitor's `due_at` past the slot it hands out
//!   (a conditional update: another runner, or a check still running, never gets the same slot).
//!   The state therefore survives restarts: a slot handed out but never recorded (the process
//!   stopped during the check) is recorded missed the next time.
//! - [`record`] writes the results of many checks in few transactions (SQLite has one writer):
//!   per check the result row, the state machine ([`transition`]), and on a change of state the
//!   alert (`alerts::raise`) and the audit event — not an audit event per check.
//! - [`run_due`] does all of it for one instant and waits (tests, `monitor run --once`); the
//!   task `monitor.scheduler` ([`task`]) claims on a fine grain and records from a queue, with a
//!   semaphore bounding the checks in flight (`max_concurrent_checks`).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use super::alerts::{self, AlertKind};
use super::check::{Checker, Probe};
use super::model::{Cadence, Change, Kind, Monitor, Outcome, State, transition};
use super::repo;
use super::repo_results::{self as results, NewResult};
use super::settings::MonitorSettings;
use crate::audit::{self, Actor};
use crate::db::Timestamp;
use crate::state::{AppState, BoxFuture};

pub const TASK: &str = "monitor.scheduler";
/// Monitors claimed in one transaction at most.
const CLAIM_CHUNK: i64 = 500;
/// Results recorded in one transaction at most.
const RECORD_CHUNK: usize = 500;

/// One slot handed out for a check.
#[derive(Clone, Debug)]
pub struct Claim {
    pub monitor: Monitor,
    pub slot: Timestamp,
    /// When the check was due (for the drift).
    pub due: Timestamp,
    /// False for `run --once` on a slot that is already recorded: checked and shown only.
    pub record: bool,
}

/// What one run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub checked: usize,
    pub up: usize,
    pub down: usize,
    pub missed: usize,
    /// "name: 正常 → 停止" for each change of state.
    pub changes: Vec<String>,
}

impl Summary {
    pub fn message(&self) -> String {
        let mut s = format!(
            "確認 {} 件（正常 {}・異常 {}）、未実施として記録 {} 枠",
            self.checked, self.up, self.down, self.missed
        );
        if !self.changes.is_empty() {
            s.push_str("／状態の変化: ");
            s.push_str(&self.changes.join("、"));
        }
        s
    }

    fn add(&mut self, o: Summary) {
        self.checked += o.checked;
        self.up += o.up;
        self.down += o.down;
        self.missed += o.missed;
        self.changes.extend(o.changes);
    }
}

/// Checks what is due at `now`, records it, and returns what was done (tests, jobs).
pub async fn run_due(state: &AppState, now: Timestamp) -> anyhow::Result<Summary> {
    let settings = state.section::<MonitorSettings>();
    let checker = Checker::new(&settings);
    run_with(state, &checker, now, false).await.map(|(s, _)| s)
}

/// `monitor run --once`: checks every unpaused monitor now (the slots that ended unchecked are
/// recorded missed first); the current slot is recorded unless it already is.
pub async fn run_all(
    state: &AppState,
    now: Timestamp,
) -> anyhow::Result<(Summary, Vec<(Claim, Probe)>)> {
    let settings = state.section::<MonitorSettings>();
    let checker = Checker::new(&settings);
    run_with(state, &checker, now, true).await
}

async fn run_with(
    state: &AppState,
    checker: &Checker,
    now: Timestamp,
    force: bool,
) -> anyhow::Result<(Summary, Vec<(Claim, Probe)>)> {
    let settings = state.section::<MonitorSettings>();
    let mut summary = Summary::default();
    let mut done = Vec::new();
    loop {
        let batch = claim_due(state, now, force).await?;
        summary.missed += batch.missed;
        let (claims, more) = (batch.claims, batch.more);
        if claims.is_empty() {
            if more && !force {
                continue;
            }
            break;
        }
        let sem = Arc::new(Semaphore::new(settings.max_concurrent_checks.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for claim in claims {
            let permit = Arc::clone(&sem).acquire_owned().await?;
            let checker = checker.clone();
            set.spawn(async move {
                let probe = checker.check(&claim.monitor, now).await;
                drop(permit);
                (claim, probe)
            });
        }
        let mut batch = Vec::new();
        while let Some(r) = set.join_next().await {
            batch.push(r?);
        }
        let recorded: Vec<_> = batch
            .iter()
            .filter(|(c, _)| c.record)
            .map(|(c, p)| (c.clone(), p.clone(), now))
            .collect();
        summary.add(record(state, &recorded, now).await?);
        done.extend(batch);
        if force {
            break;
        }
    }
    Ok((summary, done))
}

/// What [`claim_due`] handed out.
#[derive(Debug, Default)]
pub struct Claims {
    pub claims: Vec<Claim>,
    /// Slots recorded missed.
    pub missed: usize,
    /// More monitors may be due (the batch was full).
    pub more: bool,
}

/// Hands out the checks due at `now` (with `force`, every unpaused monitor's current slot) and
/// records the slots that ended unchecked as missed.
pub async fn claim_due(state: &AppState, now: Timestamp, force: bool) -> anyhow::Result<Claims> {
    let keep_days = state.section::<MonitorSettings>().raw_keep_days.max(1);
    let oldest = now.minus(jiff::SignedDuration::from_hours(24 * keep_days));
    let mut claims = Vec::new();
    let mut missed_total = 0;
    let mut tx = state.db.begin().await?;
    let due = if force {
        repo::active(&mut tx).await?
    } else {
        repo::due(&mut tx, now, CLAIM_CHUNK).await?
    };
    let more = !force && due.len() as i64 >= CLAIM_CHUNK;
    for m in due {
        let cadence = m.cadence();
        let next = next_slot(&m, &cadence);
        let plan = cadence.plan(next, now, force);
        // Slots older than the raw results are kept are not written back (they would be
        // deleted at once); coverage counts them unchecked all the same.
        let missed: Range<i64> = plan.missed.start.max(cadence.index(oldest))..plan.missed.end;
        let last_missed = (!plan.missed.is_empty()).then(|| cadence.start(plan.missed.end - 1));
        if !repo::claim(&mut tx, m.id, m.due_at, plan.due_at, last_missed).await? {
            continue;
        }
        if !missed.is_empty() {
            let slots: Vec<Timestamp> = missed.clone().map(|k| cadence.start(k)).collect();
            results::insert_missed(&mut tx, m.id, &slots).await?;
            missed_total += slots.len();
        }
        match plan.check {
            Some(k) => claims.push(Claim {
                slot: cadence.start(k),
                due: cadence.due(k),
                record: true,
                monitor: m,
            }),
            None if force => {
                // The current slot is recorded already: check it, show it, record nothing.
                let k = cadence.index(now);
                claims.push(Claim {
                    slot: cadence.start(k),
                    due: now,
                    record: false,
                    monitor: m,
                });
            }
            None => {}
        }
    }
    tx.commit().await?;
    Ok(Claims {
        claims,
        missed: missed_total,
        more,
    })
}

fn next_slot(m: &Monitor, cadence: &Cadence) -> i64 {
    match m.last_slot_at {
        Some(t) if t >= m.slots_from.unwrap_or(m.created_at) => cadence.index(t) + 1,
        _ => 0,
    }
}

/// Records finished checks (`(claim, probe, checked_at)`), a few hundred a transaction: the
/// result, the state, and on a change the alert and the audit event.
pub async fn record(
    state: &AppState,
    done: &[(Claim, Probe, Timestamp)],
    now: Timestamp,
) -> anyhow::Result<Summary> {
    let actor = Actor::system(TASK);
    let mut summary = Summary::default();
    for chunk in done.chunks(RECORD_CHUNK) {
        let mut tx = state.db.begin().await?;
        for (claim, probe, checked_at) in chunk {
            let Some(m) = repo::find(&mut tx, claim.monitor.id).await? else {
                continue;
            };
            let outcome = if probe.up { Outcome::Up } else { Outcome::Down };
            let fresh = results::insert(
                &mut tx,
                &NewResult {
                    monitor_id: m.id,
                    slot_at: claim.slot,
                    checked_at: *checked_at,
                    outcome: outcome.key(),
                    response_ms: probe.response_ms,
                    status_code: probe.status_code,
                    cert_days_left: probe.cert_days_left,
                    detail: &probe.detail,
                },
            )
            .await?;
            if !fresh {
                continue;
            }
            summary.checked += 1;
            if probe.up {
                summary.up += 1;
            } else {
                summary.down += 1;
            }
            let (next, failures, change) =
                transition(m.state(), m.failures_in_row, m.retries, probe.up);
            let since = if next == m.state() {
                m.state_since
            } else {
                now
            };
            let note = match m.kind() {
                Kind::Ping => probe.note.clone(),
                Kind::Http => m.note.clone(),
            };
            repo::update_after_check(
                &mut tx,
                m.id,
                next,
                since,
                failures,
                claim.slot,
                note.as_deref(),
            )
            .await?;
            if change == Change::None {
                continue;
            }
            let updated = Monitor {
                state: next.key().to_string(),
                state_since: since,
                failures_in_row: failures,
                ..m.clone()
            };
            let detail = match change {
                Change::Down => format!(
                    "{} 回続けて失敗しました: {}",
                    failures,
                    if probe.detail.is_empty() {
                        "—"
                    } else {
                        &probe.detail
                    }
                ),
                _ => "応答が戻りました".to_string(),
            };
            let alert = match change {
                Change::Down => {
                    Some(alerts::raise(&mut tx, &updated, AlertKind::Down, &detail, now).await?)
                }
                Change::Recovered => {
                    Some(alerts::raise(&mut tx, &updated, AlertKind::Up, &detail, now).await?)
                }
                _ => None,
            };
            let action = if next == State::Down {
                "monitor.down"
            } else {
                "monitor.up"
            };
            audit::record(
                &mut tx,
                now,
                &actor,
                action,
                &format!("monitor:{}", m.id),
                json!({
                    "from": m.state, "to": next.key(), "slot": claim.slot.to_db(),
                    "failures": failures, "detail": probe.detail, "alert": alert,
                }),
            )
            .await?;
            summary.changes.push(format!(
                "{}: {} → {}",
                m.name,
                m.state().label(),
                next.label()
            ));
        }
        tx.commit().await?;
    }
    Ok(summary)
}

/// The long-running task `monitor.scheduler`: claims what is due every few hundred
/// milliseconds (sooner when a check is due sooner), runs the checks under the semaphore, and
/// records them from a queue in batches.
pub fn task(state: AppState) -> BoxFuture<'static, ()> {
    Box::pin(run_forever(state))
}

async fn run_forever(state: AppState) {
    let settings = state.section::<MonitorSettings>();
    let checker = Checker::new(&settings);
    let sem = Arc::new(Semaphore::new(settings.max_concurrent_checks.max(1)));
    let (sender, receiver) = mpsc::channel::<(Claim, Probe, Timestamp)>(RECORD_CHUNK * 4);
    tokio::spawn(recorder(state.clone(), receiver));
    loop {
        let now = state.now();
        match claim_due(&state, now, false).await {
            Ok(batch) => {
                if batch.missed > 0 {
                    tracing::warn!(missed = batch.missed, "monitor slots recorded missed");
                }
                let full = batch.more;
                for claim in batch.claims {
                    let Ok(permit) = Arc::clone(&sem).acquire_owned().await else {
                        return;
                    };
                    let checker = checker.clone();
                    let sender = sender.clone();
                    let clock = Arc::clone(&state.clock);
                    tokio::spawn(async move {
                        let probe = checker.check(&claim.monitor, clock.now()).await;
                        drop(permit);
                        let _ = sender.send((claim, probe, clock.now())).await;
                    });
                }
                if full {
                    continue;
                }
            }
            Err(e) => tracing::error!("monitor scheduler: {e:#}"),
        }
        let wait = next_wait(&state).await;
        tokio::time::sleep(wait).await;
    }
}

/// Until the next check is due, between 50 ms (checks due close together are claimed together)
/// and 1 s.
async fn next_wait(state: &AppState) -> Duration {
    let next = match state.db.pool().acquire().await {
        Ok(mut conn) => repo::next_due(&mut conn).await.ok().flatten(),
        Err(_) => None,
    };
    let now = state.now();
    let ms = next.map_or(1000, |t| t.millis() - now.millis());
    Duration::from_millis(ms.clamp(50, 1000) as u64)
}

async fn recorder(state: AppState, mut receiver: mpsc::Receiver<(Claim, Probe, Timestamp)>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        // Whatever else finished meanwhile goes into the same transactions.
        let until = tokio::time::Instant::now() + Duration::from_millis(50);
        while batch.len() < RECORD_CHUNK * 4 {
            match tokio::time::timeout_at(until, receiver.recv()).await {
                Ok(Some(r)) => batch.push(r),
                _ => break,
            }
        }
        if let Err(e) = record(&state, &batch, state.now()).await {
            tracing::error!("monitor results not recorded: {e:#}");
        }
    }
}
