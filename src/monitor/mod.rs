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
