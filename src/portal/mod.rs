//! The portal (R13.1–R13.4, R21.2, R21.3, R10.1, R22.3): what every user sees first.
//!
//! Rules:
//! - Announcements have a category (お知らせ / メンテナンス・サービス停止 / 障害情報 /
//!   バックアップ予定 / 研修・説明会), a publication time (may be in the future: scheduled) and
//!   an optional expiry; only items published and unexpired at `now` are shown, pinned first,
//!   newest first. 新着 marks items published within `[portal] new_badge_days`; 更新 marks items
//!   whose title or content changed after publication within the same number of days, with the
//!   change date (R13.4). Items marked public also appear on the log-in page and in the Atom feed
//!   `/portal/feed.atom`; nothing else is visible without logging in.
//! - System operators and system administrators edit. Content is Markdown rendered by
//!   pulldown-cmark and sanitised by ammonia (no script, no event handlers, no `javascript:`
//!   links). Every save is a revision with who and when; a restore copies an old revision into a
//!   new one, so history only grows. A save based on a stale revision is refused (no lost update).
//! - Change requests (R13.1–R13.3): the service operator (the city) submits; a system operator
//!   classifies it as content-only (対応中 → 完了 promptly; the minutes from request to completion
//!   are recorded and shown) or as needing screen design (協議中: a thread of messages with the
//!   city; the city records its agreement (合意済), then the operator completes it). Every state
//!   change is kept in `portal_change_request_events` and audited.
//! - Schedules (R21.2, R21.3, R10.1): planned service stops and maintenance windows are created
//!   with [`schedule_window`] (by other domains, e.g. backups and power inspection, or by
//!   operators in the UI) as 提案中; the service operator approves them. Only approved windows are
//!   published: on the top page from approval until they end, and during the window a banner on
//!   every page ([`banner`] middleware → `web::SiteBanner`). A domain that publishes its own
//!   windows may publish them approved at once ([`publish_approved_window`]: the service
//!   operator approved the plan they belong to), take down one that has not started
//!   ([`withdraw_window`], 取り下げ) and end one early when the work is done ([`end_window`]).
//!   Another domain publishes announcements through [`publish_notice_in`].
//! - Runbooks (運転手順書, R22.3): system administrators only (the requirement names them; the
//!   operations manager sees the governance records instead), versioned like announcements and
//!   printable.
//! - Every state change writes its audit event in the same transaction.

mod demo;
pub mod model;
mod repo;
mod repo_lists;
mod repo_requests;
mod routes;
mod routes_requests;
mod routes_runbooks;
mod routes_schedules;
pub mod service;
mod service_requests;
mod views;

pub use model::{Category, PortalSettings, WindowKind};
pub use service::{Editor, Notice, publish_notice_in};
pub use service_requests::{end_window, publish_approved_window, schedule_window, withdraw_window};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::Role;
use crate::db::Timestamp;
use crate::domain::Domain;
use crate::state::AppState;
use crate::web::{Access, Routes, SiteBanner};

/// Who writes announcements, classifies and completes change requests, proposes windows.
pub const EDITORS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];
/// The city: submits change requests, agrees designs, approves schedules.
pub const CITY: &[Role] = &[Role::ServiceOperator];
/// Who follows change requests and schedules.
pub const STAFF: &[Role] = &[
    Role::SystemAdmin,
    Role::SystemOperator,
    Role::ServiceOperator,
    Role::OpsManager,
];
/// Who take part in a change request's thread.
pub const PARTIES: &[Role] = &[
    Role::SystemAdmin,
    Role::SystemOperator,
    Role::ServiceOperator,
];
/// Who read and edit runbooks (R22.3).
pub const RUNBOOK_READERS: &[Role] = &[Role::SystemAdmin];

pub fn domain() -> Domain {
    Domain::new("portal")
        .routes(routes())
        .demo(50, |db, now, fresh| {
            Box::pin(async move {
                if fresh {
                    demo::seed(db, now).await?;
                }
                Ok(Vec::new())
            })
        })
        .nav("", 20, "/portal", "ポータル")
        .nav("ポータル運用", 210, "/portal/manage", "お知らせ管理")
        .nav("ポータル運用", 220, "/portal/requests", "変更依頼")
        .nav("ポータル運用", 230, "/portal/schedules", "停止・保守予定")
        .nav("ポータル運用", 240, "/portal/runbooks", "運転手順書")
        .settings::<PortalSettings>()
        .layer(|router, state| router.layer(axum::middleware::from_fn_with_state(state, banner)))
}

fn routes() -> Routes {
    let editors = Access::Roles(EDITORS);
    Routes::new()
        .get("/portal", Access::AnyRole, routes::index)
        .get("/portal/feed.atom", Access::Public, routes::feed)
        .get("/portal/announcements/{id}", Access::AnyRole, routes::show)
        .get("/portal/manage", editors, routes::manage)
        .get("/portal/manage/new", editors, routes::new_form)
        .post("/portal/manage", editors, routes::create)
        .get("/portal/manage/{id}/edit", editors, routes::edit_form)
        .post("/portal/manage/{id}", editors, routes::update)
        .post("/portal/manage/{id}/restore", editors, routes::restore)
        .get(
            "/portal/requests",
            Access::Roles(STAFF),
            routes_requests::index,
        )
        .get(
            "/portal/requests/new",
            Access::Roles(CITY),
            routes_requests::new_form,
        )
        .post(
            "/portal/requests",
            Access::Roles(CITY),
            routes_requests::create,
        )
        .get(
            "/portal/requests/{id}",
            Access::Roles(STAFF),
            routes_requests::show,
        )
        .post(
            "/portal/requests/{id}/classify",
            editors,
            routes_requests::classify,
        )
        .post(
            "/portal/requests/{id}/messages",
            Access::Roles(PARTIES),
            routes_requests::message,
        )
        .post(
            "/portal/requests/{id}/agree",
            Access::Roles(CITY),
            routes_requests::agree,
        )
        .post(
            "/portal/requests/{id}/complete",
            editors,
            routes_requests::complete,
        )
        .get(
            "/portal/schedules",
            Access::Roles(STAFF),
            routes_schedules::index,
        )
        .post("/portal/schedules", editors, routes_schedules::create)
        .post(
            "/portal/schedules/{id}/approve",
            Access::Roles(CITY),
            routes_schedules::approve,
        )
        .get(
            "/portal/runbooks",
            Access::Roles(RUNBOOK_READERS),
            routes_runbooks::index,
        )
        .post(
            "/portal/runbooks",
            Access::Roles(RUNBOOK_READERS),
            routes_runbooks::create,
        )
        .get(
            "/portal/runbooks/{id}",
            Access::Roles(RUNBOOK_READERS),
            routes_runbooks::show,
        )
        .post(
            "/portal/runbooks/{id}",
            Access::Roles(RUNBOOK_READERS),
            routes_runbooks::update,
        )
        .post(
            "/portal/runbooks/{id}/restore",
            Access::Roles(RUNBOOK_READERS),
            routes_runbooks::restore,
        )
}

/// A window to publish (R21.2, R21.3, R10.1).
pub struct NewWindow<'a> {
    pub kind: WindowKind,
    pub title: &'a str,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Affected services, e.g. "全サービス" or "診療情報の送信".
    pub services: &'a str,
    pub reason: &'a str,
    /// Which domain proposed it ("backups", "premises", "portal" for the UI).
    pub source: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("件名を入力してください。")]
    NoTitle,
    #[error("終了日時は開始日時より後にしてください。")]
    EndsBeforeStart,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether a path can answer with a page that shows the banner: not the machine interfaces
/// (FHIR API, health checks, metrics) nor static files, which would otherwise pay a database
/// round trip per request for nothing (a third of `/healthz`'s cost, `benches/ingest.rs`).
fn shows_pages(path: &str) -> bool {
    !(path.starts_with("/static/")
        || path.starts_with("/api/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics"))
}

/// Middleware: during an approved window, puts its banner text into the request so that
/// `Page` (and so every page) shows it.
pub async fn banner(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let mut text = None;
    if shows_pages(req.uri().path()) {
        let now = state.now();
        if let Ok(mut conn) = state.db.pool().acquire().await
            && let Ok(active) = repo_requests::active_windows(&mut conn, now).await
            && !active.is_empty()
        {
            let t = active
                .iter()
                .map(views::banner_text)
                .collect::<Vec<_>>()
                .join("　／　");
            SiteBanner::add(req.extensions_mut(), &t);
            text = Some(t);
        }
    }
    let mut res = next.run(req).await;
    // Error pages are rendered outside this layer: they read the banner from the response.
    if let Some(t) = text {
        SiteBanner::add(res.extensions_mut(), &t);
    }
    res
}

/// The approved window that covers `now`, if any (its `portal_schedules.id`): monitoring
/// suppresses the alerts of planned work with it and says 「メンテナンス中」 on the log-in page.
pub async fn maintenance_window_at(
    conn: &mut crate::db::Conn,
    now: Timestamp,
) -> sqlx::Result<Option<i64>> {
    Ok(repo_requests::active_windows(conn, now)
        .await?
        .first()
        .map(|w| w.id))
}

/// An announcement as a short line (dashboard, log-in page).
pub use views::NoticeLine;

/// The newest announcements visible at `now`, for the dashboard.
pub async fn latest(state: &AppState, now: Timestamp, limit: i64) -> sqlx::Result<Vec<NoticeLine>> {
    let mut conn = state.db.pool().acquire().await?;
    let items = repo::list_visible(&mut conn, now, false, limit).await?;
    let days = state.section::<PortalSettings>().new_badge_days;
    Ok(items
        .iter()
        .map(|a| views::notice_line(a, now, days))
        .collect())
}

/// Public announcements for the log-in page (only those marked public).
pub async fn public_notices(
    state: &AppState,
    now: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<NoticeLine>> {
    let mut conn = state.db.pool().acquire().await?;
    let items = repo::list_visible(&mut conn, now, true, limit).await?;
    let days = state.section::<PortalSettings>().new_badge_days;
    Ok(items
        .iter()
        .map(|a| views::notice_line(a, now, days))
        .collect())
}
