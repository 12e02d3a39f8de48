use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::runner::{RunError, holder_id};
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
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
    /// The search text as typed.
    pub text: String,
    pub jobs: Vec<JobLine>,
    pub pager: Pager,
}

/// The jobs list's own filter; the search text, sort and page are the shared list part
/// (`web::list::ListQuery`), read beside it (GET, bookmarkable).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct JobsQuery {
    /// 正常 / 失敗 / 実行中 / 未実行, or empty for all.
    pub status: String,
}

/// The sortable columns. The jobs are the registry's list in memory (a few dozen, not a
/// table), so they are sorted and paged here; the SQL half of the whitelist is unused.
const SORTS: &[(&str, &str)] = &[
    ("label", "label"),
    ("name", "name"),
    ("every", "every"),
    ("at", "at"),
    ("status", "status"),
];

impl JobsQuery {
    pub fn is_status(&self, s: &str) -> bool {
        self.status == s
    }

    fn keep(&self, list: &ListQuery, j: &JobLine) -> bool {
        let q = list.text().unwrap_or_default().to_lowercase();
        (q.is_empty() || j.name.to_lowercase().contains(&q) || j.label.to_lowercase().contains(&q))
            && (self.status.is_empty() || j.status == self.status)
    }
}

/// Sorts by the whitelisted key (ties by name, so pages never overlap).
fn sort(jobs: &mut [JobLine], key: &str, desc: bool) {
    jobs.sort_by(|a, b| {
        let by = match key {
            "name" => a.name.cmp(b.name),
            "every" => a.every_secs.cmp(&b.every_secs),
            "status" => a.status.cmp(&b.status),
            "at" => a.started_at.cmp(&b.started_at),
            _ => a.label.cmp(b.label),
        };
        let by = by.then_with(|| a.name.cmp(b.name));
        if desc { by.reverse() } else { by }
    });
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
    Query(list): Query<ListQuery>,
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
    jobs.retain(|j| q.keep(&list, j));
    // The default order is by label, ascending (not "the newest first").
    let order = list.order(SORTS, "label", Dir::Asc);
    sort(&mut jobs, order.key, order.desc);
    let pager = Pager::new(
        "/admin/jobs",
        &list,
        jobs.len() as i64,
        &[("status", &q.status)],
    );
    let jobs: Vec<JobLine> = jobs
        .into_iter()
        .skip(list.offset() as usize)
        .take(list.limit() as usize)
        .collect();
    Ok(Html(
        JobsPage {
            page: page.titled("定期ジョブ"),
            q,
            text: list.text().unwrap_or_default().to_string(),
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
