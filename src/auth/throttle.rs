//! Throttling of credential attempts (ASVS 2.2.1): per client address and for the whole server,
//! on top of the per-account lockout (`accounts`). Covers log-in, the second factor (TOTP and
//! recovery codes) and the current password of a password change. Settings: `[security.throttle]`.
//!
//! Rules:
//! - Time is cut into fixed windows of `window_seconds`, aligned to the Unix epoch (a window is
//!   the same for every address, in memory and in the `login_failure_windows` rows that
//!   `accounts` keeps), so that `Retry-After` is simply the rest of the window.
//! - [`Throttle::admit`] runs BEFORE any password hash or code check. An admitted attempt counts
//!   as a failure of its address and of the server at once (so that concurrent attempts cannot
//!   all slip through before the first failure is known); [`Permit::succeeded`] takes it back.
//!   A refused attempt costs no hash and no database write: the hash slots stay free for real
//!   users and a flood cannot take the database's writer lock either.
//! - An address with `per_address_max` failures in the window is refused until the window ends.
//! - When the server has seen `global_max` failures in the window, only addresses without a
//!   failure in it are admitted: a person who types the password right still gets in during a
//!   distributed flood, while every address that has already failed waits for the next window.
//!   A flood from N fresh addresses thus gets at most `global_max + N` checks per window.
//! - An IPv6 address counts with its `/ipv6_prefix` network (one customer line usually holds a
//!   whole /64); an IPv4-mapped IPv6 address counts as the IPv4 address.
//! - At most `max_tracked_addresses` addresses are tracked per window (memory stays bounded);
//!   beyond that, an address not yet tracked is treated as one that has already failed (it is
//!   admitted only while the global count is below `global_max`).
//! - A limit of 0 turns that limit off.
//!
//! The counters live in the memory of the process. With several application processes behind a
//! load balancer (issue 16) each process counts on its own: the per-address and global limits
//! then hold per process (N processes admit up to N times as much); the per-account lockout and
//! the aggregated audit rows are in the database and stay exact. Refused attempts are counted
//! here too (per address and window) and taken by the `accounts` report job for its summary.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

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

    fn index(&self, now: Timestamp) -> i64 {
        now.unix_seconds().div_euclid(self.seconds())
    }

    /// The window `now` falls in.
    pub fn window(&self, now: Timestamp) -> Window {
        self.window_of_index(self.index(now))
    }

    fn window_of_index(&self, index: i64) -> Window {
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
    /// as given when it is not an address ("unknown").
    pub fn key(&self, addr: &str) -> String {
        let Ok(ip) = addr.trim().parse::<IpAddr>() else {
            return addr.trim().chars().take(64).collect();
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

/// An admitted attempt. Dropped as it is, it stays counted as a failure; call
/// [`Permit::succeeded`] when the credential was right.
#[must_use = "call succeeded() when the credential was right"]
pub struct Permit {
    throttle: Arc<Throttle>,
    key: Option<String>,
    window: i64,
}

impl Permit {
    /// The credential was right: the attempt is no failure after all.
    pub fn succeeded(self) {
        let mut c = self.throttle.lock();
        if c.window != self.window {
            return;
        }
        c.global = c.global.saturating_sub(1);
        if let Some(e) = self.key.as_ref().and_then(|k| c.addresses.get_mut(k)) {
            e.failures = e.failures.saturating_sub(1);
        }
    }
}

#[derive(Default)]
struct Entry {
    failures: u32,
    refused: u64,
}

#[derive(Default)]
struct Counts {
    window: i64,
    global: u32,
    addresses: HashMap<String, Entry>,
    /// Refused attempts of windows that have closed, by (key, window start), until the report
    /// job takes them.
    closed: HashMap<(String, Timestamp), u64>,
}

/// Windows of refusals kept for the report job at most (older ones are logged and dropped).
const KEEP_CLOSED_WINDOWS: i64 = 12;

/// The counters of one application (kept in its state).
pub struct Throttle {
    settings: ThrottleSettings,
    counts: Mutex<Counts>,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Arc<Throttle> {
        Arc::new(Throttle {
            settings,
            counts: Mutex::new(Counts {
                window: i64::MIN,
                ..Counts::default()
            }),
        })
    }

    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to the window of `index`: refusals of the closed one are kept for the report.
    fn roll(&self, c: &mut Counts, index: i64) {
        if c.window == index {
            return;
        }
        if c.window != i64::MIN {
            let start = self.settings.window_of_index(c.window).start;
            for (key, e) in c.addresses.drain() {
                if e.refused > 0 {
                    *c.closed.entry((key, start)).or_default() += e.refused;
                }
            }
            let oldest = self
                .settings
                .window_of_index(index.saturating_sub(KEEP_CLOSED_WINDOWS))
                .start;
            let mut dropped = 0;
            c.closed.retain(|(_, start), n| {
                let keep = *start >= oldest;
                if !keep {
                    dropped += *n;
                }
                keep
            });
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "refused credential attempts of old windows were never reported (is the login_failures.report job running?)"
                );
            }
        }
        c.addresses.clear();
        c.global = 0;
        c.window = index;
    }

    /// Admits or refuses an attempt from `addr` at `now` (see the module rules).
    pub fn admit(self: &Arc<Self>, addr: &str, now: Timestamp) -> Result<Permit, Refused> {
        let s = &self.settings;
        let index = s.index(now);
        let key = s.key(addr);
        let retry_after_seconds = u64::try_from(
            s.window_of_index(index)
                .end
                .unix_seconds()
                .saturating_sub(now.unix_seconds()),
        )
        .unwrap_or(1)
        .max(1);
        let mut c = self.lock();
        self.roll(&mut c, index);
        let global_full = s.global_max > 0 && c.global >= s.global_max;
        let tracked = c.addresses.contains_key(&key) || c.addresses.len() < s.max_tracked_addresses;
        let refuse = |limit, first| Refused {
            limit,
            key: key.clone(),
            retry_after_seconds,
            first,
        };
        if !tracked {
            if global_full {
                return Err(refuse(Limit::Global, false));
            }
            c.global += 1;
            return Ok(Permit {
                throttle: Arc::clone(self),
                key: None,
                window: index,
            });
        }
        let e = c.addresses.entry(key.clone()).or_default();
        let limit = if s.per_address_max > 0 && e.failures >= s.per_address_max {
            Some(Limit::Address)
        } else if global_full && e.failures > 0 {
            Some(Limit::Global)
        } else {
            None
        };
        if let Some(limit) = limit {
            e.refused += 1;
            return Err(refuse(limit, e.refused == 1));
        }
        e.failures += 1;
        c.global += 1;
        Ok(Permit {
            throttle: Arc::clone(self),
            key: Some(key),
            window: index,
        })
    }

    /// Takes the refusals of every window that has closed by `now`: (key, window start) → count.
    pub fn take_closed_refusals(&self, now: Timestamp) -> HashMap<(String, Timestamp), u64> {
        let index = self.settings.index(now);
        let mut c = self.lock();
        self.roll(&mut c, index);
        std::mem::take(&mut c.closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000).expect("time")
    }

    fn settings(per_address: u32, global: u32) -> ThrottleSettings {
        ThrottleSettings {
            window_seconds: 60,
            per_address_max: per_address,
            global_max: global,
            ..ThrottleSettings::default()
        }
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_ends() {
        let t = Throttle::new(settings(3, 0));
        let now = at(6_000_010);
        for _ in 0..3 {
            drop(t.admit("10.0.0.1", now).expect("admitted"));
        }
        let r = t.admit("10.0.0.1", now).err().expect("refused");
        assert_eq!(r.limit, Limit::Address);
        assert_eq!(r.retry_after_seconds, 50);
        assert!(r.first);
        assert!(!t.admit("10.0.0.1", now).err().expect("refused").first);
        assert!(t.admit("10.0.0.2", now).is_ok(), "another address");
        assert!(t.admit("10.0.0.1", at(6_000_060)).is_ok(), "next window");
    }

    #[test]
    fn a_success_takes_its_attempt_back() {
        let t = Throttle::new(settings(2, 0));
        let now = at(6_000_000);
        for _ in 0..10 {
            t.admit("10.0.0.1", now).expect("admitted").succeeded();
        }
        drop(t.admit("10.0.0.1", now).expect("admitted"));
        drop(t.admit("10.0.0.1", now).expect("admitted"));
        assert!(t.admit("10.0.0.1", now).is_err());
    }

    #[test]
    fn beyond_the_global_limit_only_fresh_addresses_are_admitted() {
        let t = Throttle::new(settings(100, 3));
        let now = at(6_000_000);
        for a in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            drop(t.admit(a, now).expect("admitted"));
        }
        let r = t.admit("10.0.0.1", now).err().expect("refused");
        assert_eq!(r.limit, Limit::Global);
        let p = t.admit("10.0.0.9", now).expect("a fresh address gets in");
        p.succeeded();
        assert!(
            t.admit("10.0.0.9", now).is_ok(),
            "and stays fresh after a success"
        );
        assert!(t.admit("10.0.0.9", now).is_err(), "but not after a failure");
    }

    #[test]
    fn untracked_addresses_count_as_failed_ones() {
        let t = Throttle::new(ThrottleSettings {
            max_tracked_addresses: 1,
            ..settings(100, 2)
        });
        let now = at(6_000_000);
        drop(t.admit("10.0.0.1", now).expect("tracked"));
        drop(t.admit("10.0.0.2", now).expect("untracked, below global"));
        assert_eq!(
            t.admit("10.0.0.3", now).err().expect("refused").limit,
            Limit::Global
        );
    }

    #[test]
    fn ipv6_counts_by_network_and_mapped_ipv4_as_ipv4() {
        let s = ThrottleSettings::default();
        assert_eq!(s.key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(s.key("2001:db8:1:2:bbbb::7"), "2001:db8:1:2::/64");
        assert_eq!(s.key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(s.key("unknown"), "unknown");
        let t = Throttle::new(settings(1, 0));
        let now = at(6_000_000);
        drop(t.admit("2001:db8::1", now).expect("admitted"));
        assert!(t.admit("2001:db8::2", now).is_err(), "same /64");
    }

    #[test]
    fn refusals_of_closed_windows_are_handed_to_the_report_once() {
        let t = Throttle::new(settings(1, 0));
        let now = at(6_000_000);
        drop(t.admit("10.0.0.1", now).expect("admitted"));
        for _ in 0..4 {
            assert!(t.admit("10.0.0.1", now).is_err());
        }
        assert!(t.take_closed_refusals(now).is_empty(), "window still open");
        let closed = t.take_closed_refusals(at(6_000_061));
        assert_eq!(closed.get(&("10.0.0.1".to_string(), now)), Some(&4));
        assert!(t.take_closed_refusals(at(6_000_061)).is_empty());
    }

    #[test]
    fn windows_are_aligned_and_retry_after_is_the_rest_of_the_window() {
        let s = settings(1, 0);
        let w = s.window(at(6_000_059));
        assert_eq!((w.start, w.end), (at(6_000_000), at(6_000_060)));
        let t = Throttle::new(s);
        drop(t.admit("10.0.0.1", at(6_000_059)).expect("admitted"));
        let r = t.admit("10.0.0.1", at(6_000_059)).err().expect("refused");
        assert_eq!((r.retry_after_seconds, r.retry_after_minutes()), (1, 1));
    }
}
