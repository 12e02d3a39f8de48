//! The FHIR R4 primitive datatypes, checked on one JSON value (pure, allocation-free on success:
//! this runs for every primitive of every document on the intake path): boolean, integer (32
//! bits), positiveInt, unsignedInt, decimal, string (not empty), code, id, uri/url/canonical,
//! oid, uuid, base64Binary, date / dateTime (partial dates such as `2020-08` are valid) /
//! instant / time with real calendar days, xhtml (a `<div>` in the XHTML namespace).

use serde_json::Value;

use super::fhir_table::Prim;

/// Checks a primitive JSON value against its FHIR datatype.
pub(super) fn primitive(p: Prim, v: &Value) -> Result<(), String> {
    let want = |what: &str| Err(format!("{} の値は {what} で指定してください。", p.name()));
    match p {
        Prim::Boolean => match v {
            Value::Bool(_) => Ok(()),
            _ => want("true か false（JSON の真偽値）"),
        },
        Prim::Integer | Prim::PositiveInt | Prim::UnsignedInt => {
            let Some(n) = v.as_i64().filter(|_| v.is_i64() || v.is_u64()) else {
                return want("整数（JSON の数値）");
            };
            let min = match p {
                Prim::PositiveInt => 1,
                Prim::UnsignedInt => 0,
                _ => i64::from(i32::MIN),
            };
            if n < min || n > i64::from(i32::MAX) {
                return Err(format!("{} の値 {n} は範囲外です。", p.name()));
            }
            Ok(())
        }
        Prim::Decimal => match v {
            Value::Number(_) => Ok(()),
            _ => want("数値（JSON の数値）"),
        },
        _ => {
            let Value::String(s) = v else {
                return want("文字列");
            };
            if s.is_empty() {
                return Err(
                    "空の文字列は使えません（値がなければ要素ごと省略してください）。".into(),
                );
            }
            string_value(p, s)
        }
    }
}

fn string_value(p: Prim, s: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "「{}」は {} として正しくありません。",
            clip(s),
            p.name()
        ))
    };
    let ok = match p {
        Prim::Str | Prim::Markdown => true,
        Prim::Code => {
            !s.starts_with(char::is_whitespace)
                && !s.ends_with(char::is_whitespace)
                && !s.contains("  ")
                && !s.chars().any(|c| c.is_whitespace() && c != ' ')
        }
        Prim::Id => {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
        Prim::Uri | Prim::Url | Prim::Canonical => !s.chars().any(char::is_whitespace),
        Prim::Oid => s.strip_prefix("urn:oid:").is_some_and(|rest| {
            let mut parts = rest.split('.');
            parts.next().is_some_and(|f| matches!(f, "0" | "1" | "2"))
                && rest.contains('.')
                && parts.all(|n| {
                    !n.is_empty()
                        && n.bytes().all(|b| b.is_ascii_digit())
                        && (n == "0" || !n.starts_with('0'))
                })
        }),
        Prim::Uuid => s.strip_prefix("urn:uuid:").is_some_and(|u| {
            u.len() == 36
                && u.bytes().enumerate().all(|(i, b)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        b == b'-'
                    } else {
                        b.is_ascii_hexdigit() && !b.is_ascii_uppercase()
                    }
                })
        }),
        Prim::Base64Binary => {
            let mut n = 0usize;
            let mut pad = 0usize;
            s.bytes().all(|b| {
                if b.is_ascii_whitespace() {
                    return true;
                }
                n += 1;
                if b == b'=' {
                    pad += 1;
                    pad <= 2
                } else {
                    pad == 0 && (b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
                }
            }) && n.is_multiple_of(4)
        }
        Prim::Date => date(s).is_some_and(|rest| rest.is_empty()),
        Prim::DateTime => date_time(s, false),
        Prim::Instant => date_time(s, true),
        Prim::Time => time(s).is_some_and(|rest| rest.is_empty()),
        Prim::Xhtml => xhtml(s),
        Prim::Boolean | Prim::Integer | Prim::PositiveInt | Prim::UnsignedInt | Prim::Decimal => {
            false
        }
    };
    if ok { Ok(()) } else { bad() }
}

fn clip(s: &str) -> String {
    let mut c: String = s.chars().take(40).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c
}

fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) at the start of `s`; the rest, and whether the
/// day is given.
fn date_prefix(s: &str) -> Option<(&str, bool)> {
    let (year, rest) = digits(s, 4)?;
    if year == 0 {
        return None;
    }
    let Some(rest) = rest.strip_prefix('-') else {
        return Some((rest, false));
    };
    let (month, rest) = digits(rest, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let Some(rest) = rest.strip_prefix('-') else {
        return Some((rest, false));
    };
    let (day, rest) = digits(rest, 2)?;
    if day == 0 || day > days_in(year, month) {
        return None;
    }
    Some((rest, true))
}

fn date(s: &str) -> Option<&str> {
    date_prefix(s).map(|(rest, _)| rest)
}

/// hh:mm:ss(.fraction)? at the start of `s`; the rest.
fn time(s: &str) -> Option<&str> {
    let (h, rest) = digits(s, 2)?;
    let (m, rest) = digits(rest.strip_prefix(':')?, 2)?;
    let (sec, mut rest) = digits(rest.strip_prefix(':')?, 2)?;
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    Some(rest)
}

fn date_time(s: &str, instant: bool) -> bool {
    let Some((rest, full_date)) = date_prefix(s) else {
        return false;
    };
    if rest.is_empty() {
        return !instant;
    }
    let Some(t) = rest.strip_prefix('T').filter(|_| full_date) else {
        return false;
    };
    let Some(zone) = time(t) else {
        return false;
    };
    if zone == "Z" {
        return true;
    }
    let Some(z) = zone.strip_prefix(['+', '-']) else {
        return false;
    };
    match digits(z, 2) {
        Some((h, r)) => match r.strip_prefix(':').and_then(|r| digits(r, 2)) {
            Some((m, "")) => (h < 14 && m < 60) || (h == 14 && m == 0),
            _ => false,
        },
        None => false,
    }
}

/// Narrative: a `<div>` in the XHTML namespace.
fn xhtml(s: &str) -> bool {
    let s = s.trim_start();
    let Some(tag_end) = s.find('>') else {
        return false;
    };
    let open = &s[..tag_end];
    (open.starts_with("<div ") || open.starts_with("<div\n"))
        && (open.contains("xmlns=\"http://www.w3.org/1999/xhtml\"")
            || open.contains("xmlns='http://www.w3.org/1999/xhtml'"))
        && s.trim_end().ends_with("</div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_fhir_grammar_with_real_days() {
        for ok in ["2020", "2020-08", "2020-08-31", "2024-02-29"] {
            assert!(date(ok) == Some(""), "{ok}");
            assert!(date_time(ok, false), "{ok}");
        }
        for bad in [
            "2026-13-45",
            "2023-02-29",
            "20-08",
            "2020-8",
            "0000",
            "2020-08-01T10:00",
        ] {
            assert!(date(bad) != Some(""), "{bad}");
        }
        assert!(date_time("2026-11-20T10:00:00+09:00", false));
        assert!(date_time("2026-11-20T10:00:00.123Z", true));
        assert!(
            !date_time("2026-11-20T10:00+09:00", false),
            "seconds are required"
        );
        assert!(
            !date_time("2026-11-20T10:00:00", false),
            "a time needs a zone"
        );
        assert!(!date_time("2026-11-20", true), "an instant is complete");
    }
}
