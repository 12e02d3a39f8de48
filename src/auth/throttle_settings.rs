//! The throttle's settings (`[security.throttle]`), its windows aligned to the Unix epoch, the
//! key an address counts under, and what a refusal says (re-exported by `throttle`, whose `//!`
//! holds the rules, ASVS 2.2.1).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::db::Timestamp;

/// `[security.throttle]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    /// Length of a window in seconds (windows are aligned to the Unix epoch).
    pub window_seconds: i64,
    /// Failed attempts one client address may make in a window (0 = no limit).
    pub per_address_max: u32,
    /// Failed attempts of all addresses in a window, beyond which only addresses without a
    /// failure in the window are admitted (0 = no limit).
    pub global_max: u32,
    /// IPv6 addresses are counted by this prefix length (1–128).
    pub ipv6_prefix: u8,
    /// Addresses tracked per window at most (memory bound).
    pub max_tracked_addresses: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            window_seconds: 300,
            per_address_max: 30,
            global_max: 300,
            ipv6_prefix: 64,
            max_tracked_addresses: 100_000,
        }
    }
}

/// A throttle window: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl ThrottleSettings {
    fn seconds(&self) -> i64 {
        self.window_seconds.max(1)
    }

    pub(super) fn index(&self, now: Timestamp) -> i64 {
        now.unix_seconds().div_euclid(self.seconds())
    }

    /// The window `now` falls in.
    pub fn window(&self, now: Timestamp) -> Window {
        self.window_of_index(self.index(now))
    }

    pub(super) fn window_of_index(&self, index: i64) -> Window {
        let start = index.saturating_mul(self.seconds());
        let at = |s: i64| {
            Timestamp::from_millis(s.saturating_mul(1000))
                .unwrap_or_else(|| Timestamp::from(jiff::Timestamp::UNIX_EPOCH))
        };
        Window {
            start: at(start),
            end: at(start.saturating_add(self.seconds())),
        }
    }

    /// The key an address is counted under: the address itself, its IPv6 network, or the text
    /// as given when it is not an address ("unknown"; never empty: '' is the server's row).
    pub fn key(&self, addr: &str) -> String {
        let Ok(ip) = addr.trim().parse::<IpAddr>() else {
            let text: String = addr.trim().chars().take(64).collect();
            return if text.is_empty() {
                "unknown".into()
            } else {
                text
            };
        };
        match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return v4.to_string();
                }
                let prefix = u32::from(self.ipv6_prefix.clamp(1, 128));
                if prefix == 128 {
                    return v6.to_string();
                }
                let mask = u128::MAX << (128 - prefix);
                let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                format!("{net}/{prefix}")
            }
        }
    }
}

/// Which limit refused an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Address,
    Global,
}

impl Limit {
    pub fn label(self) -> &'static str {
        match self {
            Limit::Address => "address",
            Limit::Global => "global",
        }
    }
}

/// A refused attempt: answer 429 with `Retry-After: retry_after_seconds`.
#[derive(Clone, Debug)]
pub struct Refused {
    pub limit: Limit,
    pub key: String,
    pub retry_after_seconds: u64,
    /// The first refusal of this address in the window (worth one log line).
    pub first: bool,
}

impl Refused {
    /// Whole minutes to wait, rounded up (for the message).
    pub fn retry_after_minutes(&self) -> u64 {
        self.retry_after_seconds.div_ceil(60).max(1)
    }
}
