//! Audit pages: the event list with filters, CSV export, the access log, a chain check.

use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Deserialize;

use super::views::*;
use crate::audit::BreakKind;
use crate::audit::repo::{self, Filter, Range};
use crate::auth::{Role, repo as sessions};
use crate::db::{Timestamp, tokyo};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::export::Csv;
use crate::web::{Page, render};

const PAGE_SIZE: i64 = 100;

/// A `YYYY-MM-DD` day in Japan time → the instant it starts; `to` days are inclusive.
fn day_start(s: &str, next: bool) -> Result<Option<Timestamp>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let d: Date = s
        .parse()
        .map_err(|_| format!("日付は YYYY-MM-DD の形で入力してください（{s}）。"))?;
    let d = if next {
        d.tomorrow().map_err(|_| "日付が範囲外です。".to_string())?
    } else {
        d
    };
    let z = d
        .to_zoned(tokyo())
        .map_err(|_| "日付が範囲外です。".to_string())?;
    Ok(Some(Timestamp::from(z.timestamp())))
}

fn range(f: &Filter) -> Result<Range, String> {
    Ok(Range {
        from: day_start(&f.from, false)?,
        to: day_start(&f.to, true)?,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    #[serde(flatten)]
    filter: Filter,
    // Text, not a number: serde's flatten hands every query value over as a string.
    page: String,
}

fn line(r: crate::audit::model::AuditRow) -> EventLine {
    EventLine {
        id: r.id,
        at: r.at.jst_seconds(),
        actor: r.actor_login,
        role: r
            .actor_role
            .parse::<Role>()
            .map(|r| r.label().to_string())
            .unwrap_or(r.actor_role),
        action: r.action,
        target: r.target,
        details: r.details,
        client_addr: r.client_addr,
    }
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let page_no = q.page.trim().parse::<i64>().unwrap_or(1).max(1);
    let (events, error, has_next) = match range(&q.filter) {
        Ok(r) => {
            let mut conn = state.db.pool().acquire().await?;
            let mut rows = repo::search(
                &mut conn,
                &q.filter,
                &r,
                PAGE_SIZE + 1,
                (page_no - 1) * PAGE_SIZE,
            )
            .await?;
            let has_next = rows.len() as i64 > PAGE_SIZE;
            rows.truncate(PAGE_SIZE as usize);
            (rows.into_iter().map(line).collect(), None, has_next)
        }
        Err(e) => (Vec::new(), Some(e), false),
    };
    let query = serde_urlencoded::to_string(q.filter_pairs()).unwrap_or_default();
    let view = AuditPage {
        page: page.titled("監査ログ"),
        filter: q.filter,
        events,
        error,
        page_no,
        has_next,
        query,
    };
    render(view, axum::http::StatusCode::OK)
}

impl ListQuery {
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let f = &self.filter;
        vec![
            ("from", f.from.clone()),
            ("to", f.to.clone()),
            ("action", f.action.clone()),
            ("actor", f.actor.clone()),
            ("target", f.target.clone()),
        ]
    }
}

/// CSV (UTF-8 with BOM, so that Excel in Japan opens it correctly), every matching row; cells
/// that would start a formula (a log-in ID typed by anyone) are neutralised by `web::export`.
pub async fn export_csv(
    State(state): State<AppState>,
    Query(f): Query<Filter>,
) -> AppResult<Response> {
    let r = range(&f).map_err(AppError::BadRequest)?;
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Csv::new();
    let header = [
        "id",
        "日時(JST)",
        "日時(UTC)",
        "実行者",
        "役割",
        "操作",
        "対象",
        "詳細",
        "接続元",
        "前ハッシュ",
        "ハッシュ",
    ];
    out.row(header)?;
    let mut offset = 0;
    loop {
        let rows = repo::search(&mut conn, &f, &r, 1000, offset).await?;
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as i64;
        for e in rows {
            out.row([
                e.id.to_string(),
                e.at.jst_seconds(),
                e.at.to_db(),
                e.actor_login,
                e.actor_role,
                e.action,
                e.target,
                e.details,
                e.client_addr,
                e.prev_hash,
                e.hash,
            ])?;
        }
    }
    let bytes = out.finish()?;
    let name = format!(
        "attachment; filename=\"audit-{}.csv\"",
        state.now().jst().get(..10).unwrap_or("log")
    );
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, name),
        ],
        bytes,
    )
        .into_response())
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

fn reason_text(r: &str) -> String {
    match r {
        "logout" => "ログアウト",
        "idle_timeout" => "無操作タイムアウト",
        "absolute_timeout" => "最大継続時間",
        "password_changed" => "パスワード変更",
        "account_disabled" => "アカウント無効化",
        "locked" => "ロック",
        "rotated" => "セッションID更新（継続）",
        "replaced_by_login" => "同じ端末で再ログイン",
        "session_limit" => "同時ログイン数の上限",
        "ended_by_user" => "本人が終了",
        other => other,
    }
    .to_string()
}

pub async fn sessions(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<SessionQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let from = day_start(&q.from, false).map_err(AppError::BadRequest)?;
    let to = day_start(&q.to, true).map_err(AppError::BadRequest)?;
    let mut conn = state.db.pool().acquire().await?;
    let rows = sessions::access_log(&mut conn, &q.login_id, from, to, 500, 0).await?;
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
                reason: s.end_reason.as_deref().map(reason_text).unwrap_or_default(),
                client_addr: s.client_addr,
            }
        })
        .collect();
    let view = SessionsPage {
        page: page.titled("アクセスログ"),
        login_id: q.login_id,
        from: q.from,
        to: q.to,
        sessions,
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
