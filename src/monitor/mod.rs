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
//! - Who: system administrators add, change and pause monitors and acknowledge alerts; the
//!   service operator and operators read.

pub mod alerts;
pub mod check;
mod cli;
pub mod model;
pub mod repo;
pub mod repo_results;
pub mod rollup;
pub mod scheduler;
pub mod service;
pub mod settings;
pub mod uptime;

pub use model::{Kind, Monitor, NewMonitor, Outcome, State};
pub use scheduler::{Summary, run_due};
pub use settings::MonitorSettings;
pub use uptime::{Uptime, kind_coverage, slot_coverage, uptime};

use jiff::SignedDuration;

use crate::domain::Domain;

pub fn domain() -> Domain {
    Domain::new("monitor")
        .settings::<MonitorSettings>()
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
