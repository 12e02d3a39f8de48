//! The `[monitor]` settings section.

use serde::{Deserialize, Serialize};

/// Defaults follow the policy (R22.1): ping every 5 minutes, the application every 15.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorSettings {
    /// Interval of a new ping monitor, in seconds.
    pub ping_interval_seconds: i64,
    /// Interval of a new HTTP monitor, in seconds.
    pub http_interval_seconds: i64,
    /// Timeout of one check, in milliseconds.
    pub timeout_ms: i64,
    /// Failed checks in a row before a monitor is "down".
    pub retries: i64,
    /// Raw results (one row a slot) are kept this many days; aggregates stay.
    pub raw_keep_days: i64,
    /// Hourly aggregates are kept this many days; daily aggregates are kept for good.
    pub hourly_keep_days: i64,
    /// Ping with ICMP echo (false: always a TCP connect check, noted on each monitor).
    pub icmp: bool,
    /// The port of the TCP connect check that stands in for ping when ICMP may not be used and
    /// the target names no port (`host:port`).
    pub tcp_port: u16,
    /// Extra CA certificates (a PEM file) trusted by HTTPS checks besides the system's, for
    /// services with certificates of the network's own CA. Empty: the system's only.
    pub ca_file: String,
    /// Checks running at once at most.
    pub max_concurrent_checks: usize,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        Self {
            ping_interval_seconds: 300,
            http_interval_seconds: 900,
            timeout_ms: 10_000,
            retries: 2,
            raw_keep_days: 90,
            hourly_keep_days: 800,
            icmp: true,
            tcp_port: 443,
            ca_file: String::new(),
            max_concurrent_checks: 1000,
        }
    }
}
