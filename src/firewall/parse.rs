//! The firewall log-line parser (R22.2): iptables/ufw and generic RFC 3164 / RFC 5424 lines
//! into [`Event`]s, with the zone, year and prefixes of a [`ParseContext`] (from the
//! settings in `model.rs`). Pure, tested here.

use std::collections::HashMap;
use std::net::IpAddr;

use jiff::SignedDuration;
use jiff::civil::DateTime;

use crate::db::Timestamp;

use super::model::{Action, ParseContext};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    use crate::firewall::model::FirewallSettings;

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
}
