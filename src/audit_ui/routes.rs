//! Audit pages: the event list with filters, CSV export, the access log, a chain check.

use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::export::{self, Layout};
use super::query::{LogQuery, day_start};
use super::repo as audit_repo;
use super::views::*;
use super::{labels, render};
use crate::audit::BreakKind;
use crate::auth::{Role, repo as sessions};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::list::{ListQuery, Pager};
use crate::web::{Page, render};

/// The audit log: filters, sort, real paging with the total count; every row in words (the
/// action's label, names beside ids, the details as fields).
pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<LogQuery>,
    Query(list): Query<ListQuery>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let order = LogQuery::order(&list);
    let (events, error, pager) = match q.search() {
        Ok(s) => {
            let total = audit_repo::count(&mut conn, &s).await?;
            let rows = audit_repo::page(
                &mut conn,
                &s,
                &order.sql_clause(),
                list.limit(),
                list.offset(),
            )
            .await?;
            let pager = q.pager("/audit", &list, total);
            (render::lines(&mut conn, rows).await?, None, pager)
        }
        Err(e) => (Vec::new(), Some(e), q.pager("/audit", &list, 0)),
    };
    let view = AuditPage {
        page: page.titled("監査ログ"),
        categories: labels::CATEGORIES,
        actions: labels::ACTIONS,
        export: q.filters(),
        q,
        events,
        error,
        pager,
    };
    render(view, axum::http::StatusCode::OK)
}

fn file_name(state: &AppState, what: &str) -> String {
    format!("{what}-{}", state.now().jst().get(..10).unwrap_or("log"))
}

/// CSV (UTF-8 with BOM, so that Excel in Japan opens it correctly) of every matching row, streamed
/// a page at a time; cells that would start a formula (a log-in ID typed by anyone) are
/// neutralised by `web::export`.
pub async fn export_csv(
    State(state): State<AppState>,
    Query(q): Query<LogQuery>,
) -> AppResult<Response> {
    let s = q.search().map_err(AppError::BadRequest)?;
    let name = file_name(&state, "audit");
    Ok(export::csv(state.db.clone(), s, Layout::Audit, &name))
}

/// The same rows as an .xlsx workbook (date cells in Japan time, set widths).
pub async fn export_xlsx(
    State(state): State<AppState>,
    Query(q): Query<LogQuery>,
) -> AppResult<Response> {
    let s = q.search().map_err(AppError::BadRequest)?;
    let name = file_name(&state, "audit");
    export::xlsx(state.db.clone(), s, Layout::Audit, &name).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SessionQuery {
    login_id: String,
    from: String,
    to: String,
}

fn duration_text(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}時間{m}分")
    } else if m > 0 {
        format!("{m}分{s}秒")
    } else {
        format!("{s}秒")
    }
}

pub async fn sessions(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<SessionQuery>,
    Query(list): Query<ListQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let from = day_start(&q.from, false).map_err(AppError::BadRequest)?;
    let to = day_start(&q.to, true).map_err(AppError::BadRequest)?;
    let mut conn = state.db.pool().acquire().await?;
    // Paged in SQL (no ceiling): newest first, the page size from the link (X.4).
    let total = sessions::access_log_count(&mut conn, &q.login_id, from, to).await?;
    let rows = sessions::access_log(
        &mut conn,
        &q.login_id,
        from,
        to,
        list.limit(),
        list.offset(),
    )
    .await?;
    let sessions = rows
        .into_iter()
        .map(|s| {
            let end = s.ended_at.unwrap_or(s.last_seen_at.max(s.created_at));
            SessionLine {
                login_id: s.login_id,
                display_name: s.display_name,
                role: s
                    .role
                    .parse::<Role>()
                    .map(|r| r.label().to_string())
                    .unwrap_or(s.role),
                started: s.created_at.jst_seconds(),
                last_seen: s.last_seen_at.jst_seconds(),
                ended: s
                    .ended_at
                    .map(|t| t.jst_seconds())
                    .unwrap_or_else(|| "（継続中）".into()),
                duration: duration_text(if s.ended_at.is_some() {
                    end.since(s.created_at).as_secs()
                } else {
                    now.since(s.created_at).as_secs()
                }),
                reason: s
                    .end_reason
                    .as_deref()
                    .map(super::fields::reason)
                    .unwrap_or_default(),
                client_addr: s.client_addr,
            }
        })
        .collect();
    let pager = Pager::new(
        "/audit/sessions",
        &list,
        total,
        &[("login_id", &q.login_id), ("from", &q.from), ("to", &q.to)],
    );
    let view = SessionsPage {
        page: page.titled("アクセスログ"),
        login_id: q.login_id,
        from: q.from,
        to: q.to,
        sessions,
        pager,
    };
    render(view, axum::http::StatusCode::OK)
}

pub async fn verify_page(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let data_dir = &state.settings.paths.data_dir;
    let keys = state.db.keys().audit();
    let (report, anchor_error, latest) = match crate::audit::anchor::read_log(data_dir) {
        Ok(anchors) => {
            let mut conn = state.db.pool().acquire().await?;
            let report = crate::audit::verify_against(&mut conn, keys, &anchors).await?;
            (report, None, anchors.last().cloned())
        }
        Err(e) => {
            let mut conn = state.db.pool().acquire().await?;
            let report = crate::audit::verify(&mut conn, keys).await?;
            (report, Some(format!("{e:#}")), None)
        }
    };
    let (kind, broken_id, reason) = match (&report.broken, anchor_error) {
        (Some(b), _) => (
            match b.kind {
                BreakKind::Chain => "chain",
                BreakKind::Anchor => "anchor",
                BreakKind::KeyMissing => "key",
            },
            b.id,
            b.reason.clone(),
        ),
        (None, Some(e)) => ("anchor", 0, e),
        (None, None) => ("", 0, String::new()),
    };
    let view = VerifyPage {
        page: page.titled("監査ログの改ざん検査"),
        rows: report.rows,
        unsealed: report.unsealed,
        ok: kind.is_empty(),
        kind,
        broken_id,
        reason,
        anchors: report.anchors,
        latest: latest.map(|a| AnchorLine {
            seq: a.seq,
            at: a.at.jst_seconds(),
            hash: a.hash,
        }),
        checked_at: state.now().jst_seconds(),
    };
    render(view, axum::http::StatusCode::OK)
}

/// The anchor log as it is, for auditors to keep a copy off the server
/// (`rainbownet audit verify --anchor FILE` checks against it later).
pub async fn anchor_log(State(state): State<AppState>) -> AppResult<Response> {
    let path = crate::audit::anchor::path(&state.settings.paths.data_dir);
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(anyhow::Error::from(e)
                .context("cannot read the anchor log")
                .into());
        }
    };
    let name = format!(
        "attachment; filename=\"audit-anchor-{}.log\"",
        state.now().jst().get(..10).unwrap_or("log")
    );
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response())
}
