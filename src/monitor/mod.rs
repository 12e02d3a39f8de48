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
pub mod for_incidents;
pub mod model;
pub mod repo;
pub mod service;
pub mod settings;

pub use model::{Kind, Monitor, NewMonitor, Outcome, State};
pub use settings::MonitorSettings;

use crate::domain::Domain;

pub fn domain() -> Domain {
    Domain::new("monitor").settings::<MonitorSettings>()
}
