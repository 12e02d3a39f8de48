use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::runner::{RunError, holder_id};
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::pager::Pager;
use crate::web::{Page, flash_redirect};

pub struct JobLine {
    pub name: &'static str,
    pub label: &'static str,
    pub every: String,
    every_secs: i64,
    started_at: Option<Timestamp>,
    pub last_started: String,
    pub last_finished: String,
    pub status: String,
    pub message: String,
    pub failed: bool,
}

#[derive(Template)]
#[template(path = "jobs/index.html")]
pub struct JobsPage {
    pub page: Page,
    pub q: JobsQuery,
    pub jobs: Vec<JobLine>,
    pub pager: Pager,
}

/// The filters, sort and page of the jobs list (GET, bookmarkable).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct JobsQuery {
    /// Part of the name or label.
    pub q: String,
    /// 正常 / 失敗 / 実行中 / 未実行, or empty for all.
    pub status: String,
    pub sort: String,
    pub dir: String,
    pub page: String,
    pub per: String,
}

impl JobsQuery {
    pub fn is_status(&self, s: &str) -> bool {
        self.status == s
    }

    fn keep(&self, j: &JobLine) -> bool {
        let q = self.q.trim().to_lowercase();
        (q.is_empty() || j.name.to_lowercase().contains(&q) || j.label.to_lowercase().contains(&q))
            && (self.status.is_empty() || j.status == self.status)
    }

    fn sort(&self, jobs: &mut [JobLine]) {
        match self.sort.as_str() {
            "name" => jobs.sort_by(|a, b| a.name.cmp(b.name)),
            "every" => jobs.sort_by_key(|j| j.every_secs),
            "status" => jobs.sort_by(|a, b| a.status.cmp(&b.status)),
            "at" => jobs.sort_by_key(|j| j.started_at),
            _ => jobs.sort_by(|a, b| a.label.cmp(b.label)),
        }
        if self.dir == "desc" {
            jobs.reverse();
        }
    }

    fn filters(&self) -> String {
        serde_urlencoded::to_string([("q", &self.q), ("status", &self.status)]).unwrap_or_default()
    }
}

fn every_text(d: jiff::SignedDuration) -> String {
    let m = d.as_secs() / 60;
    if m % (24 * 60) == 0 {
        format!("{}日ごと", m / (24 * 60))
    } else if m % 60 == 0 {
        format!("{}時間ごと", m / 60)
    } else {
        format!("{m}分ごと")
    }
}

/// The registered jobs with their last run: filtered (name or label, status), sorted, paged with
/// the count (issue 15).
pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<JobsQuery>,
) -> AppResult<Response> {
    let mut jobs = Vec::new();
    for job in &state.registry.jobs {
        let s = super::runner::status(&state, job.name).await?;
        jobs.push(JobLine {
            name: job.name,
            label: job.label,
            every: every_text(job.every),
            every_secs: job.every.as_secs(),
            started_at: s.last_started_at,
            last_started: s
                .last_started_at
                .map(|t| t.jst_seconds())
                .unwrap_or_else(|| "—".into()),
            last_finished: s
                .last_finished_at
                .map(|t| t.jst_seconds())
                .unwrap_or_else(|| "—".into()),
            failed: s.last_status.as_deref() == Some("error"),
            status: match (s.holder.as_deref(), s.last_status.as_deref()) {
                (Some(_), _) => "実行中".into(),
                (None, Some("ok")) => "正常".into(),
                (None, Some("error")) => "失敗".into(),
                _ => "未実行".into(),
            },
            message: s.last_message.unwrap_or_default(),
        });
    }
    jobs.retain(|j| q.keep(j));
    q.sort(&mut jobs);
    // The default order is by label, ascending (not "the newest first").
    let sort = if q.sort.is_empty() { "label" } else { &q.sort };
    let pager = Pager::new(
        "/admin/jobs",
        q.filters(),
        (sort, q.dir == "desc"),
        q.per.trim().parse::<i64>().unwrap_or(50).clamp(10, 200),
        q.page.trim().parse::<i64>().unwrap_or(1),
        jobs.len() as i64,
    );
    let jobs: Vec<JobLine> = jobs
        .into_iter()
        .skip(pager.offset() as usize)
        .take(pager.per as usize)
        .collect();
    Ok(Html(
        JobsPage {
            page: page.titled("定期ジョブ"),
            q,
            jobs,
            pager,
        }
        .render()?,
    )
    .into_response())
}

pub async fn run_now(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> AppResult<Response> {
    match super::runner::run(&state, &name, &holder_id()).await {
        Ok(msg) => Ok(flash_redirect(
            &state,
            "/admin/jobs",
            &format!("{name} を実行しました: {msg}"),
        )),
        Err(RunError::Unknown(_)) => Err(AppError::NotFound),
        Err(RunError::Busy(_)) => Ok(flash_redirect(
            &state,
            "/admin/jobs",
            "このジョブは別の実行者が実行中です。",
        )),
        Err(RunError::Failed(e)) => {
            tracing::error!(error = %e, job = %name, "job failed");
            Ok(flash_redirect(
                &state,
                "/admin/jobs",
                &format!("{name} は失敗しました。ログを確認してください。"),
            ))
        }
    }
}
