//! Account requests (R12.1–R12.5): how people get into the network.
//!
//! Rules:
//! - Requests come from the facility's manager only (利用規約13条2項, R12.5): a facility manager
//!   submits add / delete (利用停止) / change / attribute-change requests for users of their own
//!   facility — the facility is always taken from their account, never from the form, and a
//!   target account named in the form or the query (`target=`) is checked through
//!   `web::ObjectGuard`: another facility's account reads as not found and is audited. A system
//!   operator may enter a request received on paper (with the paper's date) or import a CSV of add
//!   requests (every line is checked first; nothing is half-imported).
//! - Every request is kept with its state (受付 → 処理済 / 却下), who handled it and when.
//! - Processing add requests (R12.1) issues, per user, a 10-character user ID and an 8-character
//!   one-time password (別紙1; `auth::credentials`), unique among every ID ever issued, and prints
//!   the sealed letters (封書) for all selected requests as one PDF. The password is in clear only
//!   in that PDF, made once; a lost letter means re-issuing a new password (`reissue`), recorded.
//!   Processing answers with the current list and a one-time download link, not with the PDF
//!   (`handoff`: the PDF waits in memory for the operator who made it, 15 minutes at most); the
//!   processing button is not offered on the 処理済 and 却下 tabs (issue 15, defect 2).
//! - A re-issue is confirmed on its own page with a required reason and a check box; the reason
//!   is kept in the audit event (`account.letter_issued`, issue 15, defect 1).
//! - Processing a delete request (R12.2) disables the account at once (sessions end, log-in
//!   refused), keeps its history, and records the time from request to execution.
//! - A change (R12.3) is a delete plus an add, linked through the request.
//! - An attribute change (R12.4) can be applied only after an identity verification (本人確認:
//!   method, who, when) has been recorded on the request.
//! - Everything is audited (`request.*`, `account.*`).

mod admin_routes;
mod cli;
mod csv_import;
mod demo;
mod handoff;
pub mod letter;
mod letters_routes;
pub mod model;
mod repo;
mod repo_handoff;
mod routes;
pub mod service;
mod views;

use crate::auth::{Principal, Role};
use crate::db::Timestamp;
use crate::domain::Domain;
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

const FACILITY_MANAGERS: &[Role] = &[Role::FacilityManager];
const OPERATORS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];
const EITHER: &[Role] = &[
    Role::FacilityManager,
    Role::SystemAdmin,
    Role::SystemOperator,
];

pub fn domain() -> Domain {
    Domain::new("requests")
        .routes(routes())
        .nav("利用者", 110, "/requests", "利用者の申請")
        .nav("利用者", 120, "/admin/requests", "利用者申請の処理")
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .demo(30, |db, now, fresh| Box::pin(demo::seed(db, now, fresh)))
        .cli(cli::issue())
}

/// Requests waiting: a facility manager sees their own facility's, operators all.
async fn cards(state: &AppState, p: &Principal, _now: Timestamp) -> anyhow::Result<Vec<Card>> {
    let own = match p.role {
        Role::FacilityManager => p.facility_id,
        Role::SystemOperator | Role::SystemAdmin => None,
        _ => return Ok(Vec::new()),
    };
    let mut conn = state.db.pool().acquire().await?;
    let open = count_open(&mut conn, own).await?;
    let (title, href) = if own.is_some() {
        ("処理待ちの申請", "/requests")
    } else {
        ("未処理の利用者申請", "/admin/requests?state=received")
    };
    Ok(vec![Card {
        title: title.into(),
        value: format!("{open} 件"),
        note: match (open, own) {
            (0, _) => "ありません".into(),
            (_, Some(_)) => "システム運用者が順に処理します".into(),
            (_, None) => "受付順に処理してください".into(),
        },
        tone: if open > 0 { "warn" } else { "ok" },
        href: href.into(),
    }])
}

fn routes() -> Routes {
    Routes::new()
        .get("/requests", Access::Roles(FACILITY_MANAGERS), routes::mine)
        .get("/requests/new", Access::Roles(EITHER), routes::new_form)
        .post(
            "/requests",
            Access::Roles(FACILITY_MANAGERS),
            routes::submit,
        )
        .get(
            "/admin/requests",
            Access::Roles(OPERATORS),
            admin_routes::index,
        )
        .post(
            "/admin/requests",
            Access::Roles(OPERATORS),
            admin_routes::create,
        )
        .post(
            "/admin/requests/issue",
            Access::Roles(OPERATORS),
            admin_routes::issue,
        )
        .get(
            "/admin/requests/import",
            Access::Roles(OPERATORS),
            admin_routes::import_form,
        )
        .post(
            "/admin/requests/import",
            Access::Roles(OPERATORS),
            admin_routes::import,
        )
        .get(
            "/admin/requests/{id}",
            Access::Roles(OPERATORS),
            admin_routes::show,
        )
        .post(
            "/admin/requests/{id}/delete",
            Access::Roles(OPERATORS),
            admin_routes::process_delete,
        )
        .post(
            "/admin/requests/{id}/verify",
            Access::Roles(OPERATORS),
            admin_routes::verify,
        )
        .post(
            "/admin/requests/{id}/apply",
            Access::Roles(OPERATORS),
            admin_routes::apply,
        )
        .post(
            "/admin/requests/{id}/reject",
            Access::Roles(OPERATORS),
            admin_routes::reject,
        )
        .get(
            "/admin/accounts/{id}/reissue",
            Access::Roles(OPERATORS),
            letters_routes::reissue_form,
        )
        .post(
            "/admin/accounts/{id}/reissue",
            Access::Roles(OPERATORS),
            letters_routes::reissue,
        )
        .get(
            "/admin/requests/letters",
            Access::Roles(OPERATORS),
            letters_routes::ready,
        )
        .get(
            "/admin/requests/letters/pdf",
            Access::Roles(OPERATORS),
            letters_routes::download,
        )
}

/// Requests waiting to be processed (all facilities when `facility_id` is None), for dashboards.
pub async fn count_open(conn: &mut crate::db::Conn, facility_id: Option<i64>) -> sqlx::Result<i64> {
    repo::count_open(conn, facility_id.unwrap_or(0)).await
}
