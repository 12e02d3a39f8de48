//! One value of a FHIR search parameter read into its type (pure, no I/O), for [`super::search`]:
//! - escapes: a comma inside a value is OR, `\,` `\|` `\$` `\\` escape ([`split_unescaped`]);
//! - token values `system|code`, `|code` (no system), `system|` (any code), `code` (any system);
//! - the project-specific `patient` value (a network ID, a facility's local-ID system, or bare);
//! - dates with the prefixes eq ne gt lt ge le sa eb ap and partial values (`2026`, `2026-11`,
//!   `2026-11-20`, `2026-11-20T10:15`, seconds, fractions), each an implicit range; a value
//!   without a time zone is Japan time; `ap` widens the range by 10% of its distance from now.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::fhir::{LOCAL_ID_SYSTEM_PREFIX, NETWORK_ID_SYSTEM};
use crate::db::{Timestamp, tokyo};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// A date condition on an instant column: the value's implicit range `[lo, hi)` as stored UTC
/// text (the `Timestamp` format, so text order is time order).
#[derive(Clone, Debug, PartialEq)]
pub struct DateCond {
    pub prefix: Prefix,
    pub lo: String,
    pub hi: String,
}

/// A token value: `system` None = any system, Some("") = no system; `code` None = any code.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub system: Option<String>,
    pub code: Option<String>,
}

/// The project-specific `patient` parameter's value.
#[derive(Clone, Debug, PartialEq)]
pub enum PatientValue {
    /// A network ID (地域連携ID).
    Network(String),
    /// A facility's local patient ID.
    Local {
        facility_code: String,
        value: String,
    },
    /// A network ID or the caller's own local ID.
    Bare(String),
    /// `urn:rainbownet:network-patient-id|`: any network patient.
    AnyNetwork,
    /// `urn:oid:…51.1<code>|`: any patient that facility has linked.
    AnyLocal(String),
    /// A system no patient ID has: matches nothing.
    Nothing,
}

/// Splits on `sep` where it is not escaped by a backslash; the parts keep their escapes.
pub(super) fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let (Some(n), Some(p)) = (chars.next(), out.last_mut()) {
                p.push('\\');
                p.push(n);
            }
        } else if c == sep {
            out.push(String::new());
        } else if let Some(p) = out.last_mut() {
            p.push(c);
        }
    }
    out
}

pub(super) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `system|code`, `|code`, `system|`, `code`.
pub fn token(v: &str) -> Token {
    let mut parts = split_unescaped(v, '|').into_iter();
    let first = parts.next().unwrap_or_default();
    let rest: Vec<String> = parts.collect();
    if rest.is_empty() {
        return Token {
            system: None,
            code: Some(unescape(&first)),
        };
    }
    let code = unescape(&rest.join("|"));
    Token {
        system: Some(unescape(&first)),
        code: (!code.is_empty()).then_some(code),
    }
}

pub(super) fn patient_value(v: &str) -> PatientValue {
    let t = token(v);
    match (t.system.as_deref(), t.code) {
        (None, Some(c)) => PatientValue::Bare(c),
        (Some(NETWORK_ID_SYSTEM), Some(c)) => PatientValue::Network(c),
        (Some(NETWORK_ID_SYSTEM), None) => PatientValue::AnyNetwork,
        (Some(s), code) => match s.strip_prefix(LOCAL_ID_SYSTEM_PREFIX) {
            Some(fc) if fc.len() == 10 && fc.bytes().all(|b| b.is_ascii_digit()) => match code {
                Some(value) => PatientValue::Local {
                    facility_code: fc.to_string(),
                    value,
                },
                None => PatientValue::AnyLocal(fc.to_string()),
            },
            _ => PatientValue::Nothing,
        },
        (None, None) => PatientValue::Nothing,
    }
}

fn prefix_of(v: &str) -> (Prefix, &str) {
    let p = match v.get(..2) {
        Some("eq") => Prefix::Eq,
        Some("ne") => Prefix::Ne,
        Some("gt") => Prefix::Gt,
        Some("lt") => Prefix::Lt,
        Some("ge") => Prefix::Ge,
        Some("le") => Prefix::Le,
        Some("sa") => Prefix::Sa,
        Some("eb") => Prefix::Eb,
        Some("ap") => Prefix::Ap,
        _ => return (Prefix::Eq, v),
    };
    (p, &v[2..])
}

fn digits(s: &str, n: usize) -> Option<i64> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The implicit range `[lo, hi)` of a FHIR date/dateTime/instant search value.
pub fn date_range(v: &str) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
    // An unencoded `+` in a query string arrives as a space.
    let v = v.replace(' ', "+");
    let (date, time) = match v.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (v.as_str(), None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let year = digits(parts.first()?, 4)? as i16;
    let month = parts.get(1).map(|m| digits(m, 2)).unwrap_or(Some(1))? as i8;
    let day = parts.get(2).map(|d| digits(d, 2)).unwrap_or(Some(1))? as i8;
    if parts.len() > 3 || (time.is_some() && parts.len() != 3) {
        return None;
    }
    let mut tz = tokyo();
    let (mut hour, mut minute, mut second, mut nanos) = (0i8, 0i8, 0i8, 0i32);
    let step = match (parts.len(), time) {
        (1, None) => jiff::Span::new().years(1),
        (2, None) => jiff::Span::new().months(1),
        (3, None) => jiff::Span::new().days(1),
        (_, Some(t)) => {
            let (clock, zone) = if let Some(c) = t.strip_suffix('Z') {
                (c, Some(0))
            } else if let Some(i) = t.rfind(['+', '-']) {
                let z = &t[i + 1..];
                let (h, m) = z.split_once(':')?;
                let secs = (digits(h, 2)? * 3600 + digits(m, 2)? * 60) as i32;
                (&t[..i], Some(if &t[i..=i] == "-" { -secs } else { secs }))
            } else {
                (t, None)
            };
            if let Some(secs) = zone {
                tz = TimeZone::fixed(Offset::from_seconds(secs).ok()?);
            }
            let hms: Vec<&str> = clock.split(':').collect();
            hour = digits(hms.first()?, 2)? as i8;
            minute = digits(hms.get(1)?, 2)? as i8;
            match hms.get(2) {
                None if hms.len() == 2 => jiff::Span::new().minutes(1),
                Some(s) if hms.len() == 3 => {
                    let (whole, frac) = match s.split_once('.') {
                        Some((w, f)) => (w, Some(f)),
                        None => (*s, None),
                    };
                    second = digits(whole, 2)? as i8;
                    match frac {
                        None => jiff::Span::new().seconds(1),
                        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                            let ms: String = f.chars().chain("000".chars()).take(3).collect();
                            nanos = ms.parse::<i32>().ok()? * 1_000_000;
                            jiff::Span::new().milliseconds(1)
                        }
                        Some(_) => return None,
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    let start = DateTime::new(year, month, day, hour, minute, second, nanos).ok()?;
    let end = start.checked_add(step).ok()?;
    let lo = start.to_zoned(tz.clone()).ok()?.timestamp();
    let hi = end.to_zoned(tz).ok()?.timestamp();
    Some((lo, hi))
}

pub(super) fn date_cond(v: &str, now: Timestamp) -> Option<DateCond> {
    let (prefix, rest) = prefix_of(v);
    let (mut lo, mut hi) = date_range(rest)?;
    if prefix == Prefix::Ap {
        // 10% of the gap between now and the value, as the specification recommends.
        let gap = now.as_jiff().duration_since(lo).abs();
        let delta = gap / 10;
        lo = lo.checked_sub(delta).ok()?;
        hi = hi.checked_add(delta).ok()?;
    }
    Some(DateCond {
        prefix,
        lo: Timestamp::from(lo).to_db(),
        hi: Timestamp::from(hi).to_db(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-25T00:00:00.000Z".parse().expect("timestamp")
    }

    fn range(v: &str) -> (String, String) {
        let (lo, hi) = date_range(v).expect(v);
        (Timestamp::from(lo).to_db(), Timestamp::from(hi).to_db())
    }

    #[test]
    fn partial_dates_are_ranges_in_japan_time_unless_a_zone_is_given() {
        assert_eq!(
            range("2026"),
            (
                "2025-12-31T15:00:00.000Z".into(),
                "2026-12-31T15:00:00.000Z".into()
            )
        );
        assert_eq!(
            range("2026-11"),
            (
                "2026-10-31T15:00:00.000Z".into(),
                "2026-11-30T15:00:00.000Z".into()
            )
        );
        assert_eq!(
            range("2026-11-20"),
            (
                "2026-11-19T15:00:00.000Z".into(),
                "2026-11-20T15:00:00.000Z".into()
            )
        );
        assert_eq!(
            range("2026-11-20T10:15"),
            (
                "2026-11-20T01:15:00.000Z".into(),
                "2026-11-20T01:16:00.000Z".into()
            )
        );
        assert_eq!(
            range("2026-11-20T10:15:00+09:00"),
            (
                "2026-11-20T01:15:00.000Z".into(),
                "2026-11-20T01:15:01.000Z".into()
            )
        );
        assert_eq!(
            range("2026-11-20T01:15:00.5Z"),
            (
                "2026-11-20T01:15:00.500Z".into(),
                "2026-11-20T01:15:00.501Z".into()
            )
        );
        assert_eq!(
            range("2026-11-20T10:15:00 09:00"),
            range("2026-11-20T10:15:00+09:00"),
            "an unencoded + arrives as a space"
        );
        for bad in [
            "2026-13",
            "2026-02-30",
            "26-11-20",
            "2026-11-20T25:00",
            "x",
            "2026-11-20T10",
        ] {
            assert!(date_range(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tokens_take_system_and_code_with_escapes() {
        assert_eq!(
            token("http://x|a"),
            Token {
                system: Some("http://x".into()),
                code: Some("a".into())
            }
        );
        assert_eq!(
            token("|a"),
            Token {
                system: Some("".into()),
                code: Some("a".into())
            }
        );
        assert_eq!(
            token("http://x|"),
            Token {
                system: Some("http://x".into()),
                code: None
            }
        );
        assert_eq!(
            token("a"),
            Token {
                system: None,
                code: Some("a".into())
            }
        );
        assert_eq!(
            token(r"a\|b"),
            Token {
                system: None,
                code: Some("a|b".into())
            }
        );
        assert_eq!(
            split_unescaped(r"a\,b,c", ','),
            vec![r"a\,b".to_string(), "c".into()]
        );
    }

    #[test]
    fn patient_systems_are_honoured() {
        assert_eq!(
            patient_value("urn:rainbownet:network-patient-id|KR1"),
            PatientValue::Network("KR1".into())
        );
        assert_eq!(
            patient_value("urn:oid:1.2.392.100495.20.3.51.12310000011|000123"),
            PatientValue::Local {
                facility_code: "2310000011".into(),
                value: "000123".into()
            }
        );
        assert_eq!(
            patient_value("http://example.org|000123"),
            PatientValue::Nothing
        );
        assert_eq!(patient_value("|000123"), PatientValue::Nothing);
        assert_eq!(patient_value("000123"), PatientValue::Bare("000123".into()));
    }

    #[test]
    fn ap_widens_by_a_tenth_of_the_distance_from_now() {
        // Ten years back: about a year either side of the day.
        let c = date_cond("ap2016-11-25", now()).expect("ap");
        assert!(c.lo.as_str() < "2015-12-01", "{c:?}");
        assert!(c.hi.as_str() > "2017-11-20", "{c:?}");
    }
}
