//! The firewall review's pure parts: `[firewall]` settings, review periods, the actions and
//! networks, and the [`ParseContext`] the settings give the parser. Tested here, without a
//! server. The other pure parts sit beside it: the log-line parser in `parse.rs`, the scan /
//! burst detection in `detect.rs`.

use std::net::IpAddr;
use std::str::FromStr;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, ToSpan};
use serde::{Deserialize, Serialize};

use crate::config::ProxyNet;
use crate::db::{Timestamp, tokyo};

/// How often a review is made (periods in Japan time: a day, a week from Monday, a month).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    pub fn label(self) -> &'static str {
        match self {
            Period::Daily => "日次",
            Period::Weekly => "週次",
            Period::Monthly => "月次",
        }
    }

    /// The period that contains `t`: `[start, end)`.
    pub fn containing(self, t: Timestamp) -> (Timestamp, Timestamp) {
        let tz = tokyo();
        let date = t.as_jiff().to_zoned(tz.clone()).date();
        let start = match self {
            Period::Daily => date,
            Period::Weekly => date
                .checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
                .unwrap_or(date),
            Period::Monthly => date.first_of_month(),
        };
        let end = match self {
            Period::Daily => start.checked_add(1.day()),
            Period::Weekly => start.checked_add(1.week()),
            Period::Monthly => start.checked_add(1.month()),
        }
        .unwrap_or(start);
        let at = |d: jiff::civil::Date| {
            d.to_zoned(tz.clone())
                .map(|z| Timestamp::from(z.timestamp()))
                .unwrap_or(t)
        };
        (at(start), at(end))
    }

    /// The period after the one starting at `start`.
    pub fn next(self, start: Timestamp) -> (Timestamp, Timestamp) {
        let (_, end) = self.containing(start);
        self.containing(end)
    }
}

/// What a logged packet met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

impl Action {
    pub fn key(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        }
    }

    /// An `action=` value of the generic syslog form.
    pub fn from_word(w: &str) -> Option<Action> {
        match w.to_ascii_lowercase().as_str() {
            "accept" | "accepted" | "allow" | "allowed" | "pass" | "permit" | "permitted" => {
                Some(Action::Allow)
            }
            "deny" | "denied" | "drop" | "dropped" | "block" | "blocked" | "reject"
            | "rejected" => Some(Action::Deny),
            _ => None,
        }
    }
}

/// An address or network in `[firewall] internal` (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net(ProxyNet);

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(ip)
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<ProxyNet>().map(Net).map_err(|_| {
            format!("internal: {s:?} はアドレスでも CIDR 表記のネットワークでもありません")
        })
    }
}

impl Serialize for Net {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Net {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A time zone name of the tz database (`Asia/Tokyo`), checked at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone(String);

impl Zone {
    pub fn tz(&self) -> TimeZone {
        TimeZone::get(&self.0).unwrap_or_else(|_| tokyo())
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeZone::get(&s).map(|_| Zone(s.clone())).map_err(|_| {
            serde::de::Error::custom(format!("timezone: {s:?} は不明なタイムゾーンです"))
        })
    }
}

/// `[firewall]` settings (documented in `config/rainbownet.example.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirewallSettings {
    /// Log files, or directories whose regular files are all read (`kern.log`, `kern.log.1`,
    /// `kern.log.2.gz` …); no globs. Lines that are not firewall lines are counted and skipped.
    pub sources: Vec<String>,
    pub period: Period,
    /// A review not signed this many days after its period closed is overdue.
    pub grace_days: u32,
    /// Hosts and networks of our own; their traffic is marked 内部 in the reviews.
    pub internal: Vec<Net>,
    /// A probable port scan: at least `scan_ports` distinct destination ports from one source
    /// within `scan_minutes`.
    pub scan_ports: u32,
    pub scan_minutes: u32,
    /// A brute-force burst: at least `burst_attempts` packets from one source to one of
    /// `auth_ports` within `burst_minutes`.
    pub burst_attempts: u32,
    pub burst_minutes: u32,
    pub auth_ports: Vec<u16>,
    /// The log prefix (`[UFW BLOCK]`, `DROP`, `nft-drop` …) decides allow or deny: a prefix that
    /// contains one of `deny_prefixes` (checked first) or `allow_prefixes`, case-insensitive.
    pub deny_prefixes: Vec<String>,
    pub allow_prefixes: Vec<String>,
    /// For a line whose prefix matches neither list and that has no `action=` field.
    pub default_action: Action,
    /// The time zone of syslog time stamps without an offset (`Nov 20 10:15:01`).
    pub timezone: Zone,
    /// Traffic per minute (for the detection) is kept this many days; per hour this many days.
    pub raw_keep_days: u32,
    pub hourly_keep_days: u32,
    /// Entries in each top list of a review.
    pub top: u32,
}

impl Default for FirewallSettings {
    fn default() -> Self {
        let nets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];
        FirewallSettings {
            sources: Vec::new(),
            period: Period::Weekly,
            grace_days: 3,
            internal: nets.iter().filter_map(|n| n.parse().ok()).collect(),
            scan_ports: 20,
            scan_minutes: 10,
            burst_attempts: 30,
            burst_minutes: 10,
            auth_ports: vec![
                21, 22, 23, 25, 110, 143, 443, 445, 993, 995, 3306, 3389, 5432, 5900,
            ],
            deny_prefixes: ["BLOCK", "DROP", "REJECT", "DENY"]
                .map(String::from)
                .to_vec(),
            allow_prefixes: ["ACCEPT", "ALLOW", "PASS", "PERMIT"]
                .map(String::from)
                .to_vec(),
            default_action: Action::Deny,
            timezone: Zone("Asia/Tokyo".into()),
            raw_keep_days: 90,
            hourly_keep_days: 1830,
            top: 10,
        }
    }
}

impl FirewallSettings {
    pub fn is_internal(&self, ip: &str) -> bool {
        ip.parse::<IpAddr>()
            .is_ok_and(|ip| self.internal.iter().any(|n| n.contains(ip)))
    }

    pub fn grace(&self) -> SignedDuration {
        SignedDuration::from_hours(24 * i64::from(self.grace_days))
    }

    pub fn context(&self, now: Timestamp) -> ParseContext {
        ParseContext {
            tz: self.timezone.tz(),
            now: now.as_jiff(),
            deny: self
                .deny_prefixes
                .iter()
                .map(|p| p.to_lowercase())
                .collect(),
            allow: self
                .allow_prefixes
                .iter()
                .map(|p| p.to_lowercase())
                .collect(),
            default_action: self.default_action,
        }
    }
}

/// What the parser needs besides the line: the zone and year of BSD time stamps, the prefixes.
pub struct ParseContext {
    pub tz: TimeZone,
    pub now: jiff::Timestamp,
    pub deny: Vec<String>,
    pub allow: Vec<String>,
    pub default_action: Action,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn weekly_periods_run_from_monday_in_japan_time() {
        // 2026-11-22 is a Sunday; 23:30 JST on Sunday is still that week.
        let (s, e) = Period::Weekly.containing(ts("2026-11-22T14:30:00Z"));
        assert_eq!(s, ts("2026-11-15T15:00:00Z"));
        assert_eq!(e, ts("2026-11-22T15:00:00Z"));
        assert_eq!(Period::Weekly.next(s).0, e);
        let (s, e) = Period::Monthly.containing(ts("2026-02-10T00:00:00Z"));
        assert_eq!(
            (s, e),
            (ts("2026-01-31T15:00:00Z"), ts("2026-02-28T15:00:00Z"))
        );
        let (s, e) = Period::Daily.containing(ts("2026-11-20T16:00:00Z"));
        assert_eq!(
            (s, e),
            (ts("2026-11-20T15:00:00Z"), ts("2026-11-21T15:00:00Z"))
        );
    }
    #[test]
    fn internal_networks_are_recognised() {
        let s = FirewallSettings::default();
        assert!(s.is_internal("192.168.1.5"));
        assert!(s.is_internal("fd00::1"));
        assert!(!s.is_internal("203.0.113.5"));
        assert!("10.0.0.0/33".parse::<Net>().is_err());
    }
}
