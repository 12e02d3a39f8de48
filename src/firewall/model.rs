//! The firewall review's pure parts: `[firewall]` settings, review periods, the log-line parser
//! and the scan / burst detection. Tested here, without a server.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::str::FromStr;

use jiff::civil::DateTime;
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

/// One logged packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: Timestamp,
    pub action: Action,
    pub src: IpAddr,
    pub dst: Option<IpAddr>,
    pub proto: String,
    /// 0 when the protocol has no port (ICMP).
    pub dst_port: u16,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Event(Event),
    /// A log line, but not a firewall line (another kernel message), or a blank line.
    Other,
    /// A line that could not be read, and why.
    Error(&'static str),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `Nov 20 10:15:01` (RFC 3164): the year is the one that puts the instant no more than a day
/// after `now` (a December line read in January belongs to last year).
fn bsd_time(s: &str, ctx: &ParseContext) -> Option<(Timestamp, usize)> {
    let b = s.as_bytes();
    if b.len() < 15 || b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    let month = MONTHS.iter().position(|m| s[..3].eq_ignore_ascii_case(m))? as i8 + 1;
    let day: i8 = s[4..6].trim().parse().ok()?;
    let hour: i8 = s[7..9].parse().ok()?;
    let minute: i8 = s[10..12].parse().ok()?;
    let second: i8 = s[13..15].parse().ok()?;
    let this_year = ctx.now.to_zoned(ctx.tz.clone()).year();
    let limit = ctx.now.checked_add(SignedDuration::from_hours(24)).ok()?;
    for year in [
        this_year,
        this_year - 1,
        this_year - 2,
        this_year - 3,
        this_year - 4,
    ] {
        let Ok(dt) = DateTime::new(year, month, day, hour, minute, second, 0) else {
            continue; // 29 February of a year that has none
        };
        let at = dt.to_zoned(ctx.tz.clone()).ok()?.timestamp();
        if at <= limit {
            return Some((Timestamp::from(at), 15));
        }
    }
    None
}

/// The time stamp at the start of a syslog line (after any `<PRI>` and RFC 5424 version), and
/// the rest of the line.
fn header<'a>(line: &'a str, ctx: &ParseContext) -> Option<(Timestamp, &'a str)> {
    let mut s = line.trim_start();
    if let Some(rest) = s.strip_prefix('<') {
        let close = rest.find('>')?;
        if close == 0 || close > 3 || !rest[..close].bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s = &rest[close + 1..];
    }
    if let Some(rest) = s.strip_prefix("1 ") {
        s = rest;
    }
    if let Some((at, n)) = bsd_time(s, ctx) {
        return Some((at, &s[n..]));
    }
    // RFC 5424 / rsyslog's high-precision form: 2026-11-20T10:15:01.123456+09:00
    let end = s.find(' ').unwrap_or(s.len());
    let at = s[..end].parse::<jiff::Timestamp>().ok()?;
    Some((Timestamp::from(at), &s[end..]))
}

/// `KEY=value` tokens (double-quoted values may hold spaces); keys are lower-cased.
fn fields(s: &str) -> (HashMap<String, String>, Option<usize>) {
    let mut out = HashMap::new();
    let mut first_at = None;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let start = i;
        let mut in_quote = false;
        while i < b.len() && (in_quote || b[i] != b' ') {
            if b[i] == b'"' {
                in_quote = !in_quote;
            }
            i += 1;
        }
        let token = &s[start..i];
        if let Some((k, v)) = token.split_once('=')
            && !k.is_empty()
            && k.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            first_at.get_or_insert(start);
            out.entry(k.to_ascii_lowercase())
                .or_insert_with(|| v.trim_matches('"').to_string());
        }
    }
    (out, first_at)
}

fn pick<'a>(f: &'a HashMap<String, String>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| f.get(*k))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn proto_name(p: &str) -> String {
    match p {
        "6" => "TCP".into(),
        "17" => "UDP".into(),
        "1" => "ICMP".into(),
        "58" => "ICMPv6".into(),
        p if p.eq_ignore_ascii_case("icmpv6") => "ICMPv6".into(),
        p => p.to_ascii_uppercase(),
    }
}

/// The prefix of an iptables/nftables LOG line: the text between the syslog tag (`kernel:`, and
/// the kernel's `[12345.678]`) and the first `KEY=value`.
fn log_prefix(body: &str) -> &str {
    let after_tag = body.find(": ").map_or(body, |i| &body[i + 2..]);
    let s = after_tag.trim_start();
    let s = match s.strip_prefix('[') {
        Some(rest)
            if rest
                .split_once(']')
                .is_some_and(|(up, _)| up.trim().parse::<f64>().is_ok()) =>
        {
            rest.split_once(']').map_or(s, |(_, r)| r)
        }
        _ => s,
    };
    s.trim()
}

/// Reads one log line: an iptables/nftables `LOG` line in kernel syslog form, or a generic
/// syslog line (RFC 3164/5424) with `key=value` fields (`src=`, `dst=`, `dport=`, `action=` …).
pub fn parse_line(line: &str, ctx: &ParseContext) -> Parsed {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Parsed::Other;
    }
    let Some((at, body)) = header(line, ctx) else {
        return Parsed::Error("行の先頭に時刻がありません");
    };
    let (f, first) = fields(body);
    let Some(src) = pick(
        &f,
        &["src", "srcip", "src_ip", "source", "source_ip", "saddr"],
    ) else {
        return Parsed::Other;
    };
    let Ok(src) = src.parse::<IpAddr>() else {
        return Parsed::Error("送信元アドレスを読めません");
    };
    let dst = match pick(&f, &["dst", "dstip", "dst_ip", "destination", "daddr"]) {
        None => None,
        Some(d) => match d.parse::<IpAddr>() {
            Ok(ip) => Some(crate::config::canonical(ip)),
            Err(_) => return Parsed::Error("宛先アドレスを読めません"),
        },
    };
    let dst_port = match pick(
        &f,
        &["dpt", "dport", "dstport", "dst_port", "destination_port"],
    ) {
        None => 0,
        Some(p) => match p.parse::<u16>() {
            Ok(p) => p,
            Err(_) => return Parsed::Error("宛先ポートを読めません"),
        },
    };
    let proto = pick(&f, &["proto", "protocol", "ip_proto"])
        .map(proto_name)
        .unwrap_or_else(|| "?".into());
    let action = match pick(&f, &["action", "act", "disposition"]) {
        Some(a) => match Action::from_word(a) {
            Some(a) => a,
            None => return Parsed::Error("action の値を読めません"),
        },
        None => {
            let prefix = log_prefix(&body[..first.unwrap_or(body.len())]).to_lowercase();
            if ctx.deny.iter().any(|p| prefix.contains(p.as_str())) {
                Action::Deny
            } else if ctx.allow.iter().any(|p| prefix.contains(p.as_str())) {
                Action::Allow
            } else {
                ctx.default_action
            }
        }
    };
    Parsed::Event(Event {
        at,
        action,
        src: crate::config::canonical(src),
        dst,
        proto,
        dst_port,
    })
}

/// One row of the per-minute table, as the detection reads it.
#[derive(Clone, Debug)]
pub struct MinuteRow {
    pub minute: Timestamp,
    pub src: String,
    pub dst: String,
    pub proto: String,
    pub dst_port: i64,
    pub action: String,
    pub hits: i64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
}

/// A probable port scan or brute-force burst, as the review shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    pub src: String,
    pub internal: bool,
    /// Distinct destination ports (sorted).
    pub ports: Vec<i64>,
    /// Destination hosts (sorted, at most 5) and how many there were.
    pub targets: Vec<String>,
    pub target_count: usize,
    pub hits: i64,
    pub denied: i64,
    pub allowed: i64,
    pub first_at: String,
    pub last_at: String,
}

impl Finding {
    /// `22`, `21–25, 80 …（全 870 ポート）`.
    pub fn ports_text(&self) -> String {
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for &p in &self.ports {
            match runs.last_mut() {
                Some((_, hi)) if *hi + 1 == p => *hi = p,
                _ => runs.push((p, p)),
            }
        }
        let shown: Vec<String> = runs
            .iter()
            .take(8)
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect();
        let more = if runs.len() > 8 { " …" } else { "" };
        if self.ports.len() > 1 {
            format!("{}{more}（{} ポート）", shown.join(", "), self.ports.len())
        } else {
            shown.join(", ")
        }
    }
}

/// What a sliding window counts.
trait Tally {
    fn add(&mut self, r: &MinuteRow);
    fn remove(&mut self, r: &MinuteRow);
    fn reached(&self) -> bool;
}

/// Distinct destination ports (port 0, "none", is not a port).
struct DistinctPorts {
    ports: HashMap<i64, usize>,
    min: usize,
}

impl Tally for DistinctPorts {
    fn add(&mut self, r: &MinuteRow) {
        if r.dst_port > 0 {
            *self.ports.entry(r.dst_port).or_default() += 1;
        }
    }
    fn remove(&mut self, r: &MinuteRow) {
        if let Some(n) = self.ports.get_mut(&r.dst_port) {
            *n -= 1;
            if *n == 0 {
                self.ports.remove(&r.dst_port);
            }
        }
    }
    fn reached(&self) -> bool {
        self.ports.len() >= self.min
    }
}

struct Hits {
    sum: i64,
    min: i64,
}

impl Tally for Hits {
    fn add(&mut self, r: &MinuteRow) {
        self.sum += r.hits;
    }
    fn remove(&mut self, r: &MinuteRow) {
        self.sum -= r.hits;
    }
    fn reached(&self) -> bool {
        self.sum >= self.min
    }
}

/// The episodes of one group of rows (sorted by minute) in which some window of `window` reached
/// the threshold: every row inside such a window is marked, and marked rows less than a window
/// apart form one episode.
fn episodes<'a>(
    rows: &[&'a MinuteRow],
    window: SignedDuration,
    tally: &mut dyn Tally,
) -> Vec<Vec<&'a MinuteRow>> {
    let mut marked = vec![false; rows.len()];
    let mut left = 0;
    let mut marked_to = 0; // rows before this index are already marked where they should be
    for right in 0..rows.len() {
        tally.add(rows[right]);
        while rows[right].minute.since(rows[left].minute) >= window {
            tally.remove(rows[left]);
            left += 1;
        }
        if tally.reached() {
            for m in marked.iter_mut().take(right + 1).skip(left.max(marked_to)) {
                *m = true;
            }
            marked_to = right + 1;
        }
    }
    let mut out: Vec<Vec<&MinuteRow>> = Vec::new();
    let mut last: Option<Timestamp> = None;
    for (r, m) in rows.iter().zip(marked) {
        if !m {
            continue;
        }
        match (out.last_mut(), last) {
            (Some(ep), Some(t)) if r.minute.since(t) < window => ep.push(r),
            _ => out.push(vec![r]),
        }
        last = Some(r.minute);
    }
    out
}

fn finding(ep: &[&MinuteRow], internal: bool) -> Finding {
    let ports: BTreeSet<i64> = ep.iter().map(|r| r.dst_port).filter(|p| *p > 0).collect();
    let targets: BTreeSet<&str> = ep.iter().map(|r| r.dst.as_str()).collect();
    let hits = |a: &str| {
        ep.iter()
            .filter(|r| r.action == a)
            .map(|r| r.hits)
            .sum::<i64>()
    };
    Finding {
        src: ep.first().map(|r| r.src.clone()).unwrap_or_default(),
        internal,
        ports: ports.into_iter().collect(),
        target_count: targets.len(),
        targets: targets.into_iter().take(5).map(String::from).collect(),
        hits: ep.iter().map(|r| r.hits).sum(),
        denied: hits("deny"),
        allowed: hits("allow"),
        first_at: ep
            .iter()
            .map(|r| r.first_at)
            .min()
            .map(|t| t.to_db())
            .unwrap_or_default(),
        last_at: ep
            .iter()
            .map(|r| r.last_at)
            .max()
            .map(|t| t.to_db())
            .unwrap_or_default(),
    }
}

fn by_key<K: Ord>(
    rows: &[MinuteRow],
    key: impl Fn(&MinuteRow) -> Option<K>,
) -> std::collections::BTreeMap<K, Vec<&MinuteRow>> {
    let mut groups: std::collections::BTreeMap<K, Vec<&MinuteRow>> = Default::default();
    for r in rows {
        if let Some(k) = key(r) {
            groups.entry(k).or_default().push(r);
        }
    }
    for g in groups.values_mut() {
        g.sort_by_key(|r| r.minute);
    }
    groups
}

/// Probable port scans: per source, windows of `minutes` with at least `min_ports` distinct
/// destination ports.
pub fn detect_scans(
    rows: &[MinuteRow],
    min_ports: u32,
    minutes: u32,
    is_internal: impl Fn(&str) -> bool,
) -> Vec<Finding> {
    let window = SignedDuration::from_mins(i64::from(minutes.max(1)));
    let mut out = Vec::new();
    for (src, group) in by_key(rows, |r| Some(r.src.clone())) {
        let mut tally = DistinctPorts {
            ports: HashMap::new(),
            min: min_ports.max(1) as usize,
        };
        for ep in episodes(&group, window, &mut tally) {
            out.push(finding(&ep, is_internal(&src)));
        }
    }
    out.sort_by(|a, b| b.ports.len().cmp(&a.ports.len()).then(a.src.cmp(&b.src)));
    out
}

/// Brute-force bursts: per source and authentication port, windows of `minutes` with at least
/// `min_hits` packets.
pub fn detect_bursts(
    rows: &[MinuteRow],
    min_hits: u32,
    minutes: u32,
    auth_ports: &[u16],
    is_internal: impl Fn(&str) -> bool,
) -> Vec<Finding> {
    let window = SignedDuration::from_mins(i64::from(minutes.max(1)));
    let mut out = Vec::new();
    let groups = by_key(rows, |r| {
        auth_ports
            .iter()
            .any(|p| i64::from(*p) == r.dst_port)
            .then(|| (r.src.clone(), r.dst_port))
    });
    for ((src, _), group) in groups {
        let mut tally = Hits {
            sum: 0,
            min: i64::from(min_hits.max(1)),
        };
        for ep in episodes(&group, window, &mut tally) {
            out.push(finding(&ep, is_internal(&src)));
        }
    }
    out.sort_by(|a, b| b.hits.cmp(&a.hits).then(a.src.cmp(&b.src)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn ctx(now: &str) -> ParseContext {
        FirewallSettings::default().context(ts(now))
    }

    fn event(p: Parsed) -> Event {
        match p {
            Parsed::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn an_iptables_ufw_block_line_is_a_denied_packet_in_japan_time() {
        let line = "Nov 20 10:15:01 fw01 kernel: [123456.789012] [UFW BLOCK] IN=eth0 OUT= \
                    MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.5 DST=192.0.2.10 \
                    LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=54321 DF PROTO=TCP SPT=51234 DPT=22 \
                    WINDOW=64240 RES=0x00 SYN URGP=0";
        let e = event(parse_line(line, &ctx("2026-11-25T00:00:00Z")));
        assert_eq!(e.at, ts("2026-11-20T01:15:01Z"));
        assert_eq!(e.action, Action::Deny);
        assert_eq!(e.src.to_string(), "203.0.113.5");
        assert_eq!(e.dst.map(|d| d.to_string()).as_deref(), Some("192.0.2.10"));
        assert_eq!((e.proto.as_str(), e.dst_port), ("TCP", 22));
    }

    #[test]
    fn the_prefix_decides_allow_or_deny_and_unknown_prefixes_take_the_default() {
        let c = ctx("2026-11-25T00:00:00Z");
        let at = |prefix: &str| {
            event(parse_line(
                &format!("Nov 20 10:15:01 fw kernel: {prefix} IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=UDP SPT=1 DPT=53"),
                &c,
            ))
            .action
        };
        assert_eq!(at("[UFW ALLOW]"), Action::Allow);
        assert_eq!(at("nft-drop"), Action::Deny);
        assert_eq!(at("ACCEPT:"), Action::Allow);
        assert_eq!(at("[UFW LIMIT BLOCK]"), Action::Deny);
        assert_eq!(at("fw-log"), Action::Deny, "default_action");
    }

    #[test]
    fn a_generic_rfc5424_line_with_key_value_fields_and_ipv6_is_read() {
        let line = "<134>1 2026-11-20T10:15:01.123+09:00 edge01 filterlog - - - \
                    action=\"pass\" proto=6 src=2001:db8::5 dst=2001:db8:1::10 sport=40000 dport=443";
        let e = event(parse_line(line, &ctx("2026-11-25T00:00:00Z")));
        assert_eq!(e.at, ts("2026-11-20T01:15:01.123Z"));
        assert_eq!(e.action, Action::Allow);
        assert_eq!(e.src.to_string(), "2001:db8::5");
        assert_eq!((e.proto.as_str(), e.dst_port), ("TCP", 443));
        let ip6tables = "Nov 20 10:15:01 fw kernel: [UFW BLOCK] IN=eth0 OUT= \
                         SRC=2001:0db8:0000:0000:0000:0000:0000:0007 DST=2001:0db8::1 LEN=80 \
                         PROTO=TCP SPT=5 DPT=22";
        let e = event(parse_line(ip6tables, &ctx("2026-11-25T00:00:00Z")));
        assert_eq!(e.src.to_string(), "2001:db8::7");
    }

    #[test]
    fn other_kernel_lines_are_skipped_and_broken_lines_are_errors() {
        let c = ctx("2026-11-25T00:00:00Z");
        assert_eq!(
            parse_line("Nov 20 10:15:01 fw kernel: [1.0] usb 1-1: new device", &c),
            Parsed::Other
        );
        assert_eq!(parse_line("", &c), Parsed::Other);
        assert!(matches!(
            parse_line("garbage SRC=1.2.3.4", &c),
            Parsed::Error(_)
        ));
        assert!(matches!(
            parse_line("Nov 20 10:15:01 fw kernel: DROP SRC=999.1.1.1 DPT=22", &c),
            Parsed::Error(_)
        ));
        assert!(matches!(
            parse_line("Nov 20 10:15:01 fw kernel: DROP SRC=192.0.2.1 DPT=http", &c),
            Parsed::Error(_)
        ));
    }

    #[test]
    fn a_december_line_read_in_january_belongs_to_last_year() {
        let e = event(parse_line(
            "Dec 31 23:59:59 fw kernel: DROP SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP DPT=22",
            &ctx("2027-01-01T00:30:00Z"),
        ));
        assert_eq!(e.at, ts("2026-12-31T14:59:59Z"));
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

    fn row(min: &str, src: &str, port: i64, hits: i64) -> MinuteRow {
        MinuteRow {
            minute: ts(min),
            src: src.into(),
            dst: "192.0.2.10".into(),
            proto: "TCP".into(),
            dst_port: port,
            action: "deny".into(),
            hits,
            first_at: ts(min),
            last_at: ts(min),
        }
    }

    #[test]
    fn many_ports_within_the_window_are_a_scan_and_spread_out_ones_are_not() {
        let mut rows: Vec<MinuteRow> = (0..30)
            .map(|i| row("2026-11-20T01:00:00Z", "203.0.113.5", 1000 + i, 1))
            .collect();
        // The same number of ports, one every 20 minutes: never 20 in 10 minutes.
        for i in 0..30 {
            let t = ts("2026-11-20T02:00:00Z").plus_minutes(20 * i);
            rows.push(MinuteRow {
                minute: t,
                ..row("2026-11-20T02:00:00Z", "198.51.100.9", 2000 + i, 1)
            });
        }
        let found = detect_scans(&rows, 20, 10, |_| false);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].src, "203.0.113.5");
        assert_eq!(found[0].ports.len(), 30);
        assert_eq!(found[0].ports_text(), "1000–1029（30 ポート）");
    }

    #[test]
    fn repeated_attempts_on_an_auth_port_are_a_burst_with_first_and_last_time() {
        let mut rows = Vec::new();
        for m in 0..5 {
            rows.push(row(
                &ts("2026-11-20T03:00:00Z").plus_minutes(m).to_db(),
                "198.51.100.77",
                22,
                10,
            ));
        }
        rows.push(row("2026-11-20T05:00:00Z", "198.51.100.77", 22, 3));
        rows.push(row("2026-11-20T03:00:00Z", "198.51.100.78", 8080, 500));
        let found = detect_bursts(&rows, 30, 10, &[22], |_| false);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.src.as_str(), f.hits, f.denied),
            ("198.51.100.77", 50, 50)
        );
        assert_eq!(f.ports, vec![22]);
        assert_eq!(f.first_at, "2026-11-20T03:00:00.000Z");
        assert_eq!(f.last_at, "2026-11-20T03:04:00.000Z");
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
