//! Backups (R20.3, R20.4, R21.1–R21.3, X.5): daily and monthly, consistent, encrypted, copied to a
//! second target, verified by restore drills, restorable with standard tools.
//!
//! Rules:
//! - A backup is a tar stream, compressed with zstd and encrypted with age to every recipient of
//!   `[backup] recipients`; `age -d -i KEY | zstd -d | tar x` restores it by hand (README). The
//!   database is a consistent snapshot taken while the server keeps serving (SQLite `VACUUM INTO`,
//!   PostgreSQL `pg_dump -Fc`); the manifest lists every file with size and SHA-256, the counts and
//!   the audit chain head read from the snapshot, versions, time and kind ([`model`]).
//! - Generations (R21.1): a monthly full backup, and daily backups carrying a full database
//!   snapshot plus only the blobs added since the previous backup of the chain. Kept `keep_days`
//!   (one year); pruning removes a whole chain only when its newest member has expired, so a chain
//!   still within retention is never broken; system backups go one by one ([`prune`], the daily
//!   job `backup.prune`, `rainbownet backup prune`). A second target (directory or S3-compatible
//!   bucket) keeps its own copy with its own `keep_days`, pruned by the same rule from its own
//!   listing ([`targets`]: archive first, manifest last; checked after copying; the outcome on
//!   the `backups` row and in the audit log).
//! - Schedules (R21.2; `schedule.rs` the pure arithmetic, `service_schedule.rs`, the page
//!   `/admin/backup/schedules`): a system administrator proposes a daily time (HH:MM, Japan time)
//!   or a monthly one (day 1–28 and time; whether it stops the service, and for how long: 10–720
//!   minutes). The service operator approves (a note optional) or rejects (a reason required),
//!   and may retire an approved schedule. Only approved schedules run; approving a schedule
//!   retires the approved one of the same kind. Every decision is audited in its transaction
//!   (`backup.schedule_proposed|approved|rejected|retired`), and the same transaction publishes:
//!   one public portal announcement (category バックアップ予定, on the top page, the dashboard
//!   and the log-in page) saying when the approved backups run and when the next stop is; it is
//!   taken down when no schedule is approved. The system administrators see the page with the
//!   proposal form, the service operator with the decision forms, the operations manager reads.
//! - The scheduler (job `backup.scheduled`, every minute; the state is in `backup_schedules`, so
//!   it survives restarts and two runners never run a slot twice): a schedule's slots count from
//!   its approval. The latest slot that has come and is not handled is claimed in the database
//!   (`last_slot`) *before* the backup starts, then `run::backup_now(…, "schedule:<id>", …)` runs
//!   and the outcome (ok / failed) is recorded — a failure too, and a slot is never retried. A
//!   slot more than `missed_after_minutes` late (the server or its jobs were down) is NOT run
//!   late: it is recorded as missed (`backup.missed`, with how many slots were passed over) and
//!   the next slot runs as usual — a late full backup in the middle of a working day would
//!   surprise the users more than it helps; the daily backups go on. The monthly runs before the
//!   daily when both are due. A missed or failed slot, a slot overdue that nobody recorded, or
//!   one still running long after its time is an alert card on the system administrators'
//!   dashboard until the schedule's next slot succeeds; the service operator's dashboard shows
//!   schedules waiting for approval.
//! - Monthly stop (R21.3): a monthly schedule that stops the service publishes its next stop on
//!   the portal as an approved window (`portal::publish_approved_window`, approved by the service
//!   operator who approved the schedule) and names it in the announcement: at approval, and again
//!   right after each stop for the next month. The first stop is the first slot at least
//!   `stop_notice_days` (7) after approval; the slots before it run without stopping. At a
//!   published stop that starts within its window, the scheduler puts the application in
//!   read-only mode (`readonly.rs`, a row of `backup_readonly` read by every process, at most a
//!   second old) until the backup finishes, and at the latest until the window's end (so it
//!   returns by itself if the process died), then ends the portal window early. While read-only:
//!   pages are served with a banner; log-in (both steps) and log-out stay allowed so that staff
//!   can log in and read the notice (a first log-in that must change its password cannot finish
//!   until the end); every other write gets a calm Japanese 503 page, and the FHIR API a 503
//!   `OperationOutcome` (code `transient`), both with `Retry-After` (seconds to the window's end).
//!   Retiring a schedule withdraws its published stop that has not started.
//! - System backups (R20.3, R20.4): configuration and system data (`system/about.json`, a copy of
//!   the audit anchor log), no application data, kept one year; acceptance and maintenance records
//!   link to them through [`system_backup_ref`].
//! - The configuration copy in every archive has every secret replaced; the keys (`keys/`) are in
//!   no archive (restored from their own offline copy). The directory of archives and sidecar
//!   manifests is the truth for restore and prune ([`catalog`]); the `backups` table is the history
//!   the pages show. Two backups into one directory never run at once.
//! - A restore goes into an EMPTY directory (PostgreSQL: an empty database), checks every file
//!   against its manifest as it is written, and starts the restored anchor log with the backup's
//!   anchor ([`restore`]).
//! - Verification: every archive is read back against its manifest after writing (a failed
//!   read-back leaves no archive, only a failed row); a weekly drill
//!   restores the newest chain into a temporary directory, opens the database, checks the counts
//!   and the audit chain against the manifest's anchor, and records the result. A failure or a
//!   missed scheduled backup is an alert on the administrators' dashboard, and a mail to
//!   `[mail] admin_to` queued on the transaction that records it (`notify.rs`).
//! - Every state change (run, verify, drill, prune, schedule decision) is audited.

pub mod age_keys;
pub mod archive;
mod cards;
pub mod catalog;
mod cli;
mod demo;
pub mod drill;
pub mod history;
pub mod model;
mod notify;
pub mod prune;
pub mod readonly;
mod redact;
mod repo;
mod repo_history;
mod repo_schedule;
mod repo_targets;
pub mod restore;
mod routes;
mod routes_schedule;
pub mod run;
mod s3;
pub mod schedule;
pub mod scheduler;
pub mod service_schedule;
pub mod settings;
pub mod snapshot;
pub mod targets;
pub mod verify;

pub use demo::demo_keys;
pub use history::{SystemBackupRef, system_backup_ref};
pub use model::{BackupId, Kind, Manifest};
pub use settings::{BackupSettings, SecondTarget};

use jiff::SignedDuration;

use crate::auth::{Principal, Role};
use crate::db::Timestamp;
use crate::domain::Domain;
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

/// `rainbownet backup …`
pub(crate) const CLI_GROUP: &str = "backup";
pub(crate) const CLI_ABOUT: &str = "Backups: take, list, verify, restore, prune.";

/// Who see the schedules: those who propose, decide and oversee them.
pub const SCHEDULE_READERS: &[Role] = &[Role::SystemAdmin, Role::ServiceOperator, Role::OpsManager];
/// Who run, verify, drill and prune backups on the page (and see their dashboard cards).
pub const ADMINS: &[Role] = &[Role::SystemAdmin];
/// Who read the history: the contractor's administrators and the city's overseers.
pub const HISTORY_READERS: &[Role] = &[Role::SystemAdmin, Role::ServiceOperator, Role::OpsManager];
/// Who propose schedules (R21.2).
pub const PROPOSERS: &[Role] = &[Role::SystemAdmin];
/// Who approve, reject and retire them: the service operator (the city).
pub const DECIDERS: &[Role] = &[Role::ServiceOperator];

pub fn domain() -> Domain {
    Domain::new("backup")
        .settings::<BackupSettings>()
        .routes(schedule_routes())
        .routes(history_routes())
        .nav("バックアップ", 610, "/admin/backup", "バックアップの履歴")
        .job(
            "backup.drill",
            "バックアップの復元訓練",
            SignedDuration::from_hours(24),
            |s, now| Box::pin(drill::job(s, now)),
        )
        .cards(|s, p, now| Box::pin(cards::cards(s, p, now)))
        .demo_network(20, |s, now| Box::pin(demo::seed(s, now)))
        .nav(
            "バックアップ",
            620,
            routes_schedule::PATH,
            "バックアップの予定",
        )
        .job(
            scheduler::JOB,
            "予定されたバックアップの実施",
            SignedDuration::from_mins(1),
            |s, now| Box::pin(scheduler::run_due(s, now)),
        )
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .layer(readonly::layer)
        .job(
            "backup.prune",
            "バックアップの世代整理（保存期間を過ぎたものの削除）",
            SignedDuration::from_hours(24),
            |s, now| Box::pin(prune::run_job(s, now)),
        )
        .cli(cli::run())
        .cli(cli::system())
        .cli(cli::list())
        .cli(cli::verify())
        .cli(cli::restore())
        .cli(cli::keygen())
        .cli(prune::cli())
}

fn history_routes() -> Routes {
    Routes::new()
        .get(
            "/admin/backup",
            Access::Roles(HISTORY_READERS),
            routes::index,
        )
        .post("/admin/backup/run", Access::Roles(ADMINS), routes::run)
        .post(
            "/admin/backup/{id}/verify",
            Access::Roles(ADMINS),
            routes::verify,
        )
        .post(
            "/admin/backup/drill",
            Access::Roles(ADMINS),
            routes::start_drill,
        )
        .post("/admin/backup/prune", Access::Roles(ADMINS), routes::prune)
}

fn schedule_routes() -> Routes {
    Routes::new()
        .get(
            "/admin/backup/schedules",
            Access::Roles(SCHEDULE_READERS),
            routes_schedule::index,
        )
        .post(
            "/admin/backup/schedules",
            Access::Roles(PROPOSERS),
            routes_schedule::create,
        )
        .post(
            "/admin/backup/schedules/{id}/approve",
            Access::Roles(DECIDERS),
            routes_schedule::approve,
        )
        .post(
            "/admin/backup/schedules/{id}/reject",
            Access::Roles(DECIDERS),
            routes_schedule::reject,
        )
        .post(
            "/admin/backup/schedules/{id}/retire",
            Access::Roles(DECIDERS),
            routes_schedule::retire,
        )
}

/// System administrators: the state of the scheduled backups (an alert for a missed or failed
/// slot, or one that never finished). The service operator: schedules waiting for approval.
async fn cards(state: &AppState, p: &Principal, now: Timestamp) -> anyhow::Result<Vec<Card>> {
    let href = routes_schedule::PATH;
    if !state.may_open(p.role, href) {
        return Ok(Vec::new());
    }
    let mut cards = Vec::new();
    let mut conn = state.db.pool().acquire().await?;
    if PROPOSERS.contains(&p.role) {
        let settings = state.section::<BackupSettings>();
        let rows = repo_schedule::list_approved(&mut conn).await?;
        let trouble: Vec<String> = rows
            .iter()
            .filter_map(|r| scheduler::trouble(r, &settings, now))
            .collect();
        let card = if !trouble.is_empty() {
            Card {
                title: "定期バックアップ".into(),
                value: format!("要確認 {} 件", trouble.len()),
                note: trouble.join("。"),
                tone: "alert",
                href: href.into(),
            }
        } else if rows.is_empty() {
            Card {
                title: "定期バックアップ".into(),
                value: "承認済みの予定なし".into(),
                note: "予定を提案し、サービス運用者の承認を受けてください".into(),
                tone: "warn",
                href: href.into(),
            }
        } else {
            let next = rows
                .iter()
                .filter_map(|r| service_schedule::next_slot(r).map(|t| (t, r)))
                .min_by_key(|(t, _)| *t);
            Card {
                title: "定期バックアップ".into(),
                value: "予定どおり".into(),
                note: next
                    .map(|(t, r)| {
                        let kind = Kind::parse(&r.kind).map_or("", Kind::label);
                        format!("次回：{} {kind}", t.jst())
                    })
                    .unwrap_or_default(),
                tone: "ok",
                href: href.into(),
            }
        };
        cards.push(card);
    }
    if DECIDERS.contains(&p.role) {
        let waiting = repo_schedule::count_proposed(&mut conn).await?;
        if waiting > 0 {
            cards.push(Card {
                title: "バックアップ予定の承認".into(),
                value: format!("{waiting} 件"),
                note: "承認をお待ちしている予定があります".into(),
                tone: "warn",
                href: href.into(),
            });
        }
    }
    Ok(cards)
}
