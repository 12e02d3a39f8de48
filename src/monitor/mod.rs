//! Monitoring (issue 12, R22.1): the policy's ping every 5 minutes and application check every
//! 15, with the evidence that they ran.
//!
//! Rules:
//! - A monitor checks one target: `ping` (ICMP echo; a TCP connect check, noted on the monitor,
//!   when the process may not open ICMP sockets) or `http` (status, keyword or JSON value,
//!   response time, certificate expiry). Defaults come from `[monitor]`.
//! - Every slot of a monitor's cadence is recorded as checked (up/down) or missed
//!   (`monitor_results`), so that "n of N five-minute slots checked in the last 30 days" is a
//!   query, not a claim.
//! - `retries` failed checks in a row turn a monitor "down"; the first good check after that
//!   turns it "up". Each change is an alert (`monitor_alerts`) mailed to the on-call list
//!   through the outbox, unless an approved portal maintenance window covers it.
//! - Raw results are kept `raw_keep_days` (90); hourly aggregates `hourly_keep_days`, daily
//!   ones for good.
//! - Alerts (`alerts.rs`, SQL in `repo_alerts.rs`): `alerts::raise` is called by the engine on
//!   the transaction that records the check. When an approved portal window covers the moment
//!   (`portal::maintenance_window_at`) the alert is kept with `suppressed_by` = the window and
//!   no mail; otherwise one mail to the active on-call list is queued in the outbox (source
//!   `monitor.alert`, subject 【きよすレインボーネット】監視異常: <name> が停止しています /
//!   監視復旧: …, body with monitor, target, Japan time, detail and the alerts page's path).
//!   An alert is open until a system administrator acknowledges it (who, when, a note; once;
//!   audited `monitor.alert_acknowledged`); a suppressed one needs no acknowledgement. Turning an
//!   alert into an incident (`incident_id`) is issue 13's: the alerts page shows a system
//!   administrator 「障害として登録」 (`/incidents/new?alert=ID`) on a down alert without an
//!   incident, and 「障害 <number>」 (a link for those who may open it) once it has one.
//! - The on-call list (`/admin/monitors/oncall`): name and e-mail; added and taken off (kept,
//!   inactive) by system administrators, audited (`monitor.oncall_added|deactivated`).
//! - Pages (`routes.rs`, `routes_alerts.rs`, `routes_summary.rs`, templates/monitor/): the list
//!   with state, last check, 24-hour uptime and the next thing to do; one monitor with uptime
//!   for 24 hours / 30 days / 1 year, slot coverage, the response-time chart as server-side SVG
//!   with failed slots marked (`uptime.rs`, pure), recent results and its alerts; the alerts
//!   page (open first); the monthly summary for the service operator (printable A4). Uptime is
//!   up / (up + down) of checked slots, rounded down; the year adds daily aggregates and the
//!   raw results after the last one. A down period is a run of failed slots.
//! - The log-in page shows `public_status` (正常 / 一部に障害 / メンテナンス中) and nothing
//!   else: no names, targets or addresses. Dashboard cards: open alerts, monitors down now.
//! - Who (policy 第17条, 第22条: the system administrator runs and watches the system and
//!   handles its troubles): system administrators add, change, pause and resume monitors,
//!   acknowledge alerts and keep the on-call list (`ADMINS`, `ACKERS`); system operators (who
//!   answer users' questions about outages, 第15条), the service operator (who reports to the
//!   committee, 第17条(4)) and the operations manager read (`READERS`).
//!
//! The engine (see `scheduler.rs` for the details):
//! - Slots are `slots_from + k × interval` ([`model::Cadence`]); a monitor's check is due a
//!   stable offset (a hash of its id) into its slot, so checks spread over the interval.
//!   Pausing stops the slots; resuming starts a new cadence (the paused time is no slot).
//! - A slot is handed out once ([`scheduler::claim_due`] moves `due_at` past it in the
//!   database before the check), so one monitor never runs twice at once, also across
//!   restarts and processes; a slot handed out but never recorded is recorded missed later.
//! - A result, the state change it causes, its alert and its audit event are one transaction;
//!   results are recorded in batches (SQLite's one writer). Only changes of state are audited
//!   (`monitor.down`, `monitor.up`), never single checks.
//! - Ping uses ICMP echo (surge-ping); without the right to open ICMP sockets, or with
//!   `icmp = false`, a TCP connect to the target's port or `tcp_port` stands in and the
//!   monitor's `note` says so in Japanese.
//! - HTTP(S): rustls with the ring provider (never aws-lc-rs or OpenSSL), redirects only within
//!   the host (at most 5), a body read up to 1 MB for keyword and JSON checks.
//! - `monitor.rollup` (hourly) aggregates before it deletes: a raw result is deleted only when
//!   its id is at or below the rollup's watermark; raw results go a whole Tokyo day at a time.

pub mod alerts;
pub mod cadence;
mod cards;
pub mod check;
mod cli;
pub mod coverage;
mod demo;
pub mod model;
pub mod repo;
mod repo_alerts;
pub mod repo_incidents;
pub mod repo_results;
mod repo_uptime;
pub mod rollup;
mod routes;
mod routes_alerts;
mod routes_form;
mod routes_summary;
pub mod scheduler;
pub mod service;
pub mod settings;
mod status;
pub mod uptime;

pub use coverage::{Uptime, kind_coverage, slot_coverage, uptime};
pub use model::{Kind, Monitor, NewMonitor, Outcome, State};
pub use scheduler::{Summary, run_due};
pub use settings::MonitorSettings;
pub use status::{PublicStatus, public_status};

use jiff::SignedDuration;

use crate::auth::Role;
use crate::domain::Domain;
use crate::web::{Access, Routes};

/// Who read the monitoring pages.
pub const READERS: &[Role] = &[
    Role::SystemAdmin,
    Role::SystemOperator,
    Role::ServiceOperator,
    Role::OpsManager,
];
/// Who add, change, pause and resume monitors and keep the on-call list.
pub const ADMINS: &[Role] = &[Role::SystemAdmin];
/// Who acknowledge alerts (the trouble response is the system administrator's, 第17条).
pub const ACKERS: &[Role] = &[Role::SystemAdmin];

pub fn domain() -> Domain {
    Domain::new("monitor")
        .settings::<MonitorSettings>()
        .routes(page_routes())
        .nav("監視", 710, routes::HOME, "監視一覧")
        .nav("監視", 715, routes_alerts::ALERTS, "アラート")
        .nav("監視", 720, routes_summary::PATH, "稼働状況")
        .cards(|s, p, now| Box::pin(cards::cards(s, p, now)))
        .demo(70, |db, now, fresh| Box::pin(demo::seed(db, now, fresh)))
        .task(scheduler::TASK, scheduler::task)
        .job(
            rollup::JOB,
            "監視結果の集計（時間別・日別）と保存期間を過ぎた結果の削除",
            SignedDuration::from_hours(1),
            |s, now| Box::pin(rollup::run(s, now)),
        )
        .cli(cli::add())
        .cli(cli::list())
        .cli(cli::run())
}

fn page_routes() -> Routes {
    let readers = Access::Roles(READERS);
    let admins = Access::Roles(ADMINS);
    Routes::new()
        .get(routes::HOME, readers, routes::index)
        .post(routes::HOME, admins, routes_form::create)
        .get("/admin/monitors/new", admins, routes_form::new_form)
        .get("/admin/monitors/{id}", readers, routes::show)
        .post("/admin/monitors/{id}", admins, routes_form::update)
        .get("/admin/monitors/{id}/edit", admins, routes_form::edit_form)
        .post("/admin/monitors/{id}/pause", admins, routes_form::pause)
        .post("/admin/monitors/{id}/resume", admins, routes_form::resume)
        .get(routes_alerts::ALERTS, readers, routes_alerts::index)
        .post(
            "/admin/monitors/alerts/{id}/acknowledge",
            Access::Roles(ACKERS),
            routes_alerts::acknowledge,
        )
        .get(routes_alerts::ONCALL, admins, routes_alerts::oncall)
        .post(routes_alerts::ONCALL, admins, routes_alerts::add_oncall)
        .post(
            "/admin/monitors/oncall/{id}/deactivate",
            admins,
            routes_alerts::deactivate_oncall,
        )
        .get(routes_summary::PATH, readers, routes_summary::index)
}
