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
//! - Schedules (R21.2, R21.3): a system administrator proposes the daily and monthly times; the
//!   service operator approves; only approved schedules run, and each is published on the portal.
//!   A monthly schedule may stop the service: announced on the portal in advance, and during the
//!   backup the application is read-only with a banner (a Japanese page; FHIR 503 + Retry-After).
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
//!   missed scheduled backup is an alert on the administrators' dashboard.
//! - Every state change (run, verify, drill, prune, schedule decision) is audited.

pub mod age_keys;
pub mod archive;
pub mod catalog;
mod cli;
pub mod history;
pub mod model;
pub mod prune;
mod redact;
mod repo;
mod repo_targets;
pub mod restore;
pub mod run;
pub mod settings;
pub mod snapshot;
pub mod targets;
pub mod verify;

pub use history::{SystemBackupRef, system_backup_ref};
pub use model::{BackupId, Kind, Manifest};
pub use settings::{BackupSettings, SecondTarget};

use jiff::SignedDuration;

use crate::domain::Domain;

/// `rainbownet backup …`
pub(crate) const CLI_GROUP: &str = "backup";
pub(crate) const CLI_ABOUT: &str = "Backups: take, list, verify, restore, prune.";

pub fn domain() -> Domain {
    Domain::new("backup")
        .settings::<BackupSettings>()
        .cli(cli::run())
        .cli(cli::system())
        .cli(cli::list())
        .cli(cli::verify())
        .cli(cli::restore())
        .cli(cli::keygen())
        .job(
            "backup.prune",
            "バックアップの世代整理（保存期間を過ぎたものの削除）",
            SignedDuration::from_hours(24),
            |s, now| Box::pin(prune::run_job(s, now)),
        )
        .cli(prune::cli())
}
