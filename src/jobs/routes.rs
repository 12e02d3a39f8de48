use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};

use super::runner::{RunError, holder_id};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Page, flash_redirect};

pub struct JobLine {
    pub name: &'static str,
    pub label: &'static str,
    pub every: String,
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
    pub jobs: Vec<JobLine>,
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

pub async fn index(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let mut jobs = Vec::new();
    for job in &state.registry.jobs {
        let s = super::runner::status(&state, job.name).await?;
        jobs.push(JobLine {
            name: job.name,
            label: job.label,
            every: every_text(job.every),
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
    Ok(Html(
        JobsPage {
            page: page.titled("定期ジョブ"),
            jobs,
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
