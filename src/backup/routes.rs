//! The administrators' page: settings at a glance, the history (size, duration, result, verified,
//! copied, drilled), the drills, and the same actions as the CLI (run, verify, drill, prune).
//! Restoring stays on the CLI: it needs a stopped server (README).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::model::{BackupId, Kind};
use super::repo::{self, BackupRow};
use super::repo_history;
use super::settings::BackupSettings;
use super::{ADMINS, drill};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

const HOME: &str = "/admin/backup";

pub struct Line {
    pub id: String,
    pub trigger: String,
    pub kind: &'static str,
    pub started: String,
    pub duration: String,
    pub size: String,
    pub state: &'static str,
    pub error: String,
    pub verified: String,
    pub copied: String,
    pub drilled: String,
    pub alert: bool,
    pub verifiable: bool,
}

pub struct DrillLine {
    pub started: String,
    pub backup_id: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "backup/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub keep_days: u32,
    pub recipients: usize,
    pub identity: bool,
    pub dir: String,
    pub second_target: String,
    pub can_act: bool,
    pub backups: Vec<Line>,
    pub drills: Vec<DrillLine>,
}

/// `1.2 GB`, `340 KB`.
pub fn size_text(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn result_text(at: Option<crate::db::Timestamp>, result: Option<&str>) -> (String, bool) {
    match (at, result) {
        (Some(t), Some(r)) if r.starts_with("ok") => (format!("正常（{}）", t.jst()), false),
        (_, Some(r)) => (format!("異常: {}", r.trim_start_matches("failed: ")), true),
        _ => ("—".into(), false),
    }
}

fn line(b: &BackupRow) -> Line {
    let (verified, v_bad) = result_text(b.verified_at, b.verify_result.as_deref());
    let (copied, c_bad) = result_text(b.copied_at, b.copy_result.as_deref());
    let (drilled, d_bad) = result_text(b.drilled_at, b.drill_result.as_deref());
    let state = match b.state.as_str() {
        "running" => "実行中",
        "ok" => "完了",
        "failed" => "失敗",
        "pruned" => "削除済み（保存期間経過）",
        _ => "不明",
    };
    Line {
        id: b.id.clone(),
        trigger: match b.trigger.as_str() {
            "cli" => "コマンド".into(),
            "ui" => "画面から".into(),
            t if t.starts_with("schedule:") => "定期実行".into(),
            t => t.to_string(),
        },
        kind: Kind::parse(&b.kind).map(Kind::label).unwrap_or("—"),
        started: b.started_at.jst(),
        duration: b
            .duration_ms
            .map(|ms| format!("{:.1} 秒", ms as f64 / 1000.0))
            .unwrap_or_else(|| "—".into()),
        size: b.size_bytes.map(size_text).unwrap_or_else(|| "—".into()),
        state,
        error: b.error.clone().unwrap_or_default(),
        verified,
        copied,
        drilled,
        alert: b.state == "failed" || v_bad || c_bad || d_bad,
        verifiable: b.state == "ok",
    }
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    let settings = state.section::<BackupSettings>();
    let mut conn = state.db.pool().acquire().await?;
    let backups = repo::recent(&mut conn, 200).await?;
    let drills = repo_history::recent_drills(&mut conn, 20).await?;
    let t = &settings.second_target;
    render(
        IndexPage {
            page: page.titled("バックアップ"),
            keep_days: settings.keep_days,
            recipients: settings.recipients.len(),
            identity: !settings.identity_file.trim().is_empty(),
            dir: settings
                .dir_in(&state.settings.paths.data_dir)
                .display()
                .to_string(),
            second_target: match t.kind.as_str() {
                "dir" => format!("ディレクトリ {}（保存 {} 日）", t.path, t.keep_days),
                "s3" => format!(
                    "S3 互換 {} / {}{}（保存 {} 日）",
                    t.endpoint, t.bucket, t.prefix, t.keep_days
                ),
                _ => "未設定（バックアップの写しが主保存先にしかありません）".into(),
            },
            can_act: ADMINS.contains(&p.role),
            backups: backups.iter().map(line).collect(),
            drills: drills
                .into_iter()
                .map(|d| DrillLine {
                    started: d.started_at.jst(),
                    backup_id: d.backup_id,
                    ok: d.result == "ok",
                    detail: d.detail,
                })
                .collect(),
        },
        axum::http::StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct RunForm {
    pub kind: String,
}

/// Starts a backup in the background (it may take minutes); the history shows it as 実行中.
pub async fn run(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Form(form): Form<RunForm>,
) -> AppResult<Response> {
    let kind = Kind::parse(&form.kind)
        .ok_or_else(|| AppError::BadRequest("バックアップの種類を選んでください。".into()))?;
    let now = state.now();
    let s = state.clone();
    tokio::spawn(async move {
        if let Err(e) = super::run::backup_now(&s, kind, "ui", &actor, now).await {
            tracing::error!("backup from the admin page failed: {e:#}");
        }
    });
    Ok(flash_redirect(
        &state,
        HOME,
        &format!(
            "{}バックアップを開始しました。完了すると履歴に表示されます。",
            kind.label()
        ),
    ))
}

pub async fn verify(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = BackupId::parse(&id).map_err(|_| AppError::NotFound)?;
    let msg = super::history::verify_recorded(&state, &id, &actor, state.now()).await?;
    Ok(flash_redirect(&state, HOME, &msg))
}

pub async fn start_drill(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
) -> AppResult<Response> {
    let now = state.now();
    let s = state.clone();
    tokio::spawn(async move {
        if let Err(e) = drill::drill(&s, &actor, now).await {
            tracing::error!("restore drill failed: {e:#}");
        }
    });
    Ok(flash_redirect(
        &state,
        HOME,
        "復元訓練を開始しました。完了すると下の表に記録されます。",
    ))
}

pub async fn prune(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
) -> AppResult<Response> {
    let summary = super::prune::prune_as(&state, &actor, state.now())
        .await
        .map_err(AppError::Internal)?;
    let msg = if summary.primary.is_empty() && summary.second.is_empty() {
        "保存期間を過ぎた世代はありませんでした。".to_string()
    } else {
        format!(
            "保存期間を過ぎた世代を削除しました（主保存先 {} 件、二次保存先 {} 件）。",
            summary.primary.len(),
            summary.second.len()
        )
    };
    let msg = if summary.errors.is_empty() {
        msg
    } else {
        format!("{msg} 異常: {}", summary.errors.join(" / "))
    };
    Ok(flash_redirect(&state, HOME, &msg))
}
