//! The audit log's pages (X.2): the event list with filters, CSV export, the access log (sessions:
//! log-in time, length, how they ended) and the chain check. The chain itself is the core `audit`.
//!
//! Rules:
//! - Who may read: system administrators, the operations manager and the service operator (the
//!   city).
//! - The `audit.verify` job checks the whole chain (seals, anchors) daily, records the result as an
//!   event carrying the new anchor, and appends that anchor to `<data_dir>/audit/anchor.log`; the
//!   dashboard shows the last result to the readers. The chain-check page checks the same (without
//!   writing) and offers the anchor log for download, so that auditors keep a copy.
//! - Every export goes through `web::export` (formula injection, ASVS 5.3.x).
//! - Readable (issue 15, X.4): every action code has a Japanese label ([`labels`]; a test finds
//!   every code written in `src/`), ids are shown with names (account 氏名（ログインID）,
//!   facility, patient 氏名（カナ）, document title) and details as labelled fields
//!   ([`render`]); filters (period, actor, category/action, target by id or name, free text),
//!   sorting and paging with the real total; CSV and .xlsx of exactly the filtered set, read a
//!   page at a time ([`export`]). The facilities' access log (`records`) uses the same parts.

mod cli;
pub mod export;
pub mod fields;
pub mod labels;
pub mod query;
pub mod render;
pub mod repo;
mod routes;
mod views;

use jiff::SignedDuration;

use crate::auth::{Principal, Role};
use crate::db::Timestamp;
use crate::domain::Domain;
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

/// The roles that may read the audit and access logs.
pub const READERS: &[Role] = &[Role::SystemAdmin, Role::OpsManager, Role::ServiceOperator];

pub fn domain() -> Domain {
    Domain::new("audit_ui")
        .routes(
            Routes::new()
                .get("/audit", Access::Roles(READERS), routes::index)
                .get(
                    "/audit/export.csv",
                    Access::Roles(READERS),
                    routes::export_csv,
                )
                .get(
                    "/audit/export.xlsx",
                    Access::Roles(READERS),
                    routes::export_xlsx,
                )
                .get("/audit/sessions", Access::Roles(READERS), routes::sessions)
                .get("/audit/verify", Access::Roles(READERS), routes::verify_page)
                .get(
                    "/audit/anchor.log",
                    Access::Roles(READERS),
                    routes::anchor_log,
                ),
        )
        .nav("監査", 510, "/audit", "監査ログ")
        .nav("監査", 520, "/audit/sessions", "アクセスログ")
        .job(
            "audit.verify",
            "監査ログの改ざん検査",
            SignedDuration::from_hours(24),
            |s, now| {
                Box::pin(crate::audit::verify_and_record(
                    &s.db,
                    &s.settings.paths.data_dir,
                    now,
                ))
            },
        )
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .cli(cli::verify())
        .cli(cli::anchor())
        .cli(cli::rotate_key())
}

/// The last chain check, for those who may read the log.
async fn cards(state: &AppState, p: &Principal, _now: Timestamp) -> anyhow::Result<Vec<Card>> {
    if !READERS.contains(&p.role) {
        return Ok(Vec::new());
    }
    let job = crate::jobs::status(state, "audit.verify").await?;
    let (value, tone) = match job.last_status.as_deref() {
        Some("ok") => ("改ざんなし".to_string(), "ok"),
        Some(_) => ("異常を検出".to_string(), "alert"),
        None => ("未検査".to_string(), "idle"),
    };
    Ok(vec![Card {
        title: "監査ログの検査".into(),
        value,
        note: job
            .last_finished_at
            .map(|t| format!("最終検査 {}", t.jst()))
            .unwrap_or_else(|| "毎日自動で検査します".into()),
        tone,
        href: "/audit/verify".into(),
    }])
}
