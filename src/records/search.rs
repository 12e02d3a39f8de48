//! FHIR R4 search on `Bundle` (`GET /api/fhir/Bundle?…`): the query string read into criteria
//! (pure, no I/O; the SQL is `repo::search`). Follows https://hl7.org/fhir/R4/search.html:
//! - a comma inside a value is OR, a repeated parameter is AND; `\,` `\|` `\$` `\\` escape;
//! - token values `system|code`, `|code` (no system), `system|` (any code), `code` (any system);
//! - dates with the prefixes eq ne gt lt ge le sa eb ap and partial values (`2026`, `2026-11`,
//!   `2026-11-20`, `2026-11-20T10:15`, seconds, fractions), each an implicit range; a value
//!   without a time zone is Japan time. Bundle.timestamp is an instant, compared as a point;
//!   `ap` widens the range by 10% of its distance from now;
//! - unknown parameters, chains and modifiers are refused (400), unless the client sent
//!   `Prefer: handling=lenient`: then they are ignored, left out of the `self` link and named in
//!   an OperationOutcome entry of the result.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use serde_json::{Value, json};

use super::fhir::{LOCAL_ID_SYSTEM_PREFIX, NETWORK_ID_SYSTEM};
use super::model::Rejection;
use crate::db::{Timestamp, tokyo};

pub const DEFAULT_COUNT: i64 = 50;
pub const MAX_COUNT: i64 = 100;
pub const BUNDLE_TYPE_SYSTEM: &str = "http://hl7.org/fhir/bundle-type";

/// The search parameters of Bundle this server supports: (name, FHIR type, documentation), as the
/// CapabilityStatement lists them.
pub const PARAMS: &[(&str, &str, &str)] = &[
    (
        "_id",
        "token",
        "The id the network gave the document (Bundle.id).",
    ),
    (
        "_lastUpdated",
        "date",
        "When the network stored the document (date prefixes eq ne gt lt ge le sa eb ap).",
    ),
    (
        "identifier",
        "token",
        "Bundle.identifier: system|value, |value, system| or value.",
    ),
    (
        "type",
        "token",
        "Bundle.type (http://hl7.org/fhir/bundle-type): document or collection.",
    ),
    (
        "timestamp",
        "date",
        "Bundle.timestamp (an instant); partial dates are ranges; no time zone means Japan time.",
    ),
    (
        "composition",
        "reference",
        "The document's Composition (the first entry): Composition/id, id, or its fullUrl (urn:uuid:…).",
    ),
    (
        "composition.type",
        "token",
        "Chain: Composition.type of a document Bundle (e.g. http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes|57133-1).",
    ),
    (
        "composition.subject",
        "reference",
        "Chain: Composition.subject as sent (a reference such as urn:uuid:… or Patient/id).",
    ),
    (
        "composition.patient",
        "reference",
        "Chain: the same as composition.subject.",
    ),
    (
        "composition.subject.identifier",
        "token",
        "Chain: an identifier of the Patient the Composition is about, as sent in the Bundle.",
    ),
    (
        "composition.patient.identifier",
        "token",
        "Chain: the same as composition.subject.identifier.",
    ),
    (
        "patient",
        "token",
        "Project-specific: the network patient. urn:rainbownet:network-patient-id|KR…, a facility's local ID urn:oid:1.2.392.100495.20.3.51.1<facility code>|<local ID>, or a bare value (a network ID or the caller's own local ID).",
    ),
];

/// The result parameters understood besides [`PARAMS`].
const RESULT_PARAMS: &[&str] = &[
    "_count", "_sort", "_total", "_summary", "_format", "_pretty", "_cursor",
];

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

/// One alternative of a parameter (the alternatives of one parameter are OR-ed).
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Id(i64),
    Identifier(Token),
    BundleType(Token),
    Timestamp(DateCond),
    LastUpdated(DateCond),
    Composition(String),
    CompositionType(Token),
    Subject(String),
    SubjectIdentifier(Token),
    Patient(PatientValue),
    /// `patient` after the handler resolved it to the patients the caller may see.
    PatientIds(Vec<i64>),
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Timestamp,
    LastUpdated,
    Id,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub desc: bool,
}

/// Where a page starts: after (`forward`) or before a row, by its sort key and id.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    pub forward: bool,
    pub key: String,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(json!([self.forward, self.key, self.id]).to_string())
    }

    fn decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        Some(Cursor {
            forward: v.get(0)?.as_bool()?,
            key: v.get(1)?.as_str()?.to_string(),
            id: v.get(2)?.as_i64()?,
        })
    }
}

/// A search request, read and checked.
#[derive(Debug)]
pub struct Criteria {
    /// AND of ORs.
    pub and: Vec<Vec<Cond>>,
    pub sort: Sort,
    /// Entries per page (0: only the total).
    pub count: i64,
    pub total: bool,
    pub cursor: Option<Cursor>,
    /// The parameters used, as sent (for the links), without `_count` and `_cursor`.
    pub used: Vec<(String, String)>,
    /// Parameters ignored under `Prefer: handling=lenient`.
    pub ignored: Vec<String>,
}

fn bad(msg: impl Into<String>) -> Rejection {
    Rejection::new(400, "invalid", msg)
}

fn unsupported(msg: impl Into<String>) -> Rejection {
    Rejection::new(400, "not-supported", msg)
}

/// Whether the `Prefer` header asks for lenient handling.
pub fn lenient(prefer: Option<&str>) -> bool {
    prefer.is_some_and(|p| {
        p.split([',', ';'])
            .any(|part| part.trim().eq_ignore_ascii_case("handling=lenient"))
    })
}

/// Splits on `sep` where it is not escaped by a backslash; the parts keep their escapes.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
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

fn unescape(s: &str) -> String {
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

fn patient_value(v: &str) -> PatientValue {
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

fn date_cond(v: &str, now: Timestamp) -> Option<DateCond> {
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

fn sort_of(v: &str) -> Option<Sort> {
    let (desc, name) = match v.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, v),
    };
    let key = match name {
        "timestamp" => SortKey::Timestamp,
        "_lastUpdated" => SortKey::LastUpdated,
        "_id" => SortKey::Id,
        _ => return None,
    };
    Some(Sort { key, desc })
}

/// One value of a search parameter, read into a condition.
fn cond(name: &str, v: &str, now: Timestamp) -> Result<Cond, Rejection> {
    let date = |v: &str| {
        date_cond(v, now).ok_or_else(|| {
            bad(format!(
                "{name}「{v}」は日付として読めません（例: ge2026-04-01、2026-11-20T10:00:00+09:00）。"
            ))
        })
    };
    Ok(match name {
        "_id" => unescape(v).parse().map(Cond::Id).unwrap_or(Cond::Nothing),
        "_lastUpdated" => Cond::LastUpdated(date(v)?),
        "identifier" => Cond::Identifier(token(v)),
        "type" => Cond::BundleType(token(v)),
        "timestamp" => Cond::Timestamp(date(v)?),
        "composition" => Cond::Composition(unescape(v)),
        "composition.type" => Cond::CompositionType(token(v)),
        "composition.subject" | "composition.patient" => Cond::Subject(unescape(v)),
        "composition.subject.identifier" | "composition.patient.identifier" => {
            Cond::SubjectIdentifier(token(v))
        }
        "patient" => Cond::Patient(patient_value(v)),
        _ => Cond::Nothing,
    })
}

/// Reads a search's query string (`a=1&b=2`, form-encoded as sent).
pub fn parse(query: &str, lenient: bool, now: Timestamp) -> Result<Criteria, Rejection> {
    let mut c = Criteria {
        and: Vec::new(),
        sort: Sort {
            key: SortKey::Timestamp,
            desc: true,
        },
        count: DEFAULT_COUNT,
        total: true,
        cursor: None,
        used: Vec::new(),
        ignored: Vec::new(),
    };
    let mut summary_count = false;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (name, value) = (name.into_owned(), value.into_owned());
        let known = PARAMS.iter().any(|(n, _, _)| *n == name);
        if !known && !RESULT_PARAMS.contains(&name.as_str()) {
            let why = if name.contains(':') {
                format!("検索パラメータの修飾子「{name}」には対応していません。")
            } else {
                format!(
                    "検索パラメータ「{name}」には対応していません（対応するもの: GET /api/fhir/metadata）。"
                )
            };
            if lenient {
                c.ignored.push(name);
                continue;
            }
            return Err(unsupported(why));
        }
        match name.as_str() {
            "_count" => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        bad(format!(
                            "_count「{value}」は 0 以上の整数で指定してください。"
                        ))
                    })?;
                c.count = n.min(MAX_COUNT);
                continue;
            }
            "_cursor" => {
                c.cursor = Some(Cursor::decode(&value).ok_or_else(|| {
                    bad("_cursor が読めません。検索結果の link の URL をそのまま使ってください。")
                })?);
                continue;
            }
            "_sort" => {
                let keys: Vec<&str> = value.split(',').map(str::trim).collect();
                match keys.as_slice() {
                    [k] if sort_of(k).is_some() => c.sort = sort_of(k).unwrap_or(c.sort),
                    _ => {
                        let msg = format!(
                            "_sort「{value}」には対応していません（timestamp、_lastUpdated、_id のいずれか 1 つ、降順は先頭に -）。"
                        );
                        if lenient {
                            c.ignored.push(name);
                            continue;
                        }
                        return Err(unsupported(msg));
                    }
                }
            }
            "_total" => match value.as_str() {
                "none" => c.total = false,
                "estimate" | "accurate" => c.total = true,
                _ => {
                    return Err(bad(format!(
                        "_total「{value}」は none、estimate、accurate のいずれかです。"
                    )));
                }
            },
            "_summary" => match value.as_str() {
                "count" => summary_count = true,
                "false" => {}
                _ => {
                    if lenient {
                        c.ignored.push(name);
                        continue;
                    }
                    return Err(unsupported(format!(
                        "_summary「{value}」には対応していません（count または false）。"
                    )));
                }
            },
            "_format" => {
                if !matches!(
                    value.as_str(),
                    "json" | "application/json" | "application/fhir+json" | "application/json+fhir"
                ) {
                    return Err(Rejection::new(
                        406,
                        "not-supported",
                        format!(
                            "_format「{value}」には対応していません。JSON（application/fhir+json）のみです。"
                        ),
                    ));
                }
            }
            "_pretty" => {}
            _ => {
                let mut alts = Vec::new();
                for part in split_unescaped(&value, ',') {
                    if part.trim().is_empty() {
                        continue;
                    }
                    alts.push(cond(&name, part.trim(), now)?);
                }
                if alts.is_empty() {
                    // An empty value is ignored, as other FHIR servers do.
                    continue;
                }
                c.and.push(alts);
            }
        }
        c.used.push((name, value));
    }
    if summary_count {
        c.count = 0;
    }
    Ok(c)
}

impl Criteria {
    /// A link to this search: the parameters used, `_count`, and a cursor.
    pub fn link(&self, base: &str, cursor: Option<&Cursor>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (n, v) in &self.used {
            q.append_pair(n, v);
        }
        q.append_pair("_count", &self.count.to_string());
        if let Some(c) = cursor {
            q.append_pair("_cursor", &c.encode());
        }
        format!("{base}?{}", q.finish())
    }
}

pub use super::model::SearchKeys;

/// Bundle.timestamp as stored: a date is midnight Japan time, a time without a zone Japan time,
/// a partial or unreadable value None.
fn stored_instant(v: &str) -> Option<String> {
    let full_date = v.len() == 10 && date_range(v).is_some();
    if !(full_date || v.contains('T')) {
        return None;
    }
    date_range(v).map(|(lo, _)| Timestamp::from(lo).to_db())
}

/// Reads the search values out of the Bundle as stored (`documents.content`).
pub fn keys(content: &str) -> SearchKeys {
    match serde_json::from_str::<Value>(content) {
        Ok(v) => keys_of(&v),
        Err(_) => SearchKeys::default(),
    }
}

/// [`keys`] of a Bundle already parsed (the intake has it before storing: no second parse).
/// Attachments replaced by their hash change none of these values.
pub fn keys_of(v: &Value) -> SearchKeys {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let system_ok = |o: &Value| o.get("system").is_none_or(Value::is_string);
    let document = v.get("type").and_then(Value::as_str) == Some("document");
    let mut k = SearchKeys {
        timestamp: v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(stored_instant),
        ..SearchKeys::default()
    };
    let entries = v.get("entry").and_then(Value::as_array);
    if document && let Some(first) = entries.and_then(|e| e.first()) {
        let comp = first.get("resource");
        k.composition_id = text(comp.and_then(|c| c.get("id")));
        k.composition_url = text(first.get("fullUrl"));
        k.composition_subject = text(comp.and_then(|c| c.pointer("/subject/reference")));
        let codings = comp
            .and_then(|c| c.pointer("/type/coding"))
            .and_then(Value::as_array);
        for c in codings.into_iter().flatten() {
            if let (Some(code), true) = (c.get("code").and_then(Value::as_str), system_ok(c)) {
                let system = text(c.get("system")).unwrap_or_default();
                k.tokens
                    .push(("composition.type", system, code.to_string()));
            }
        }
    }
    for e in entries.into_iter().flatten() {
        let Some(r) = e.get("resource") else { continue };
        if r.get("resourceType").and_then(Value::as_str) != Some("Patient") {
            continue;
        }
        for i in r
            .get("identifier")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(value), true) = (i.get("value").and_then(Value::as_str), system_ok(i)) {
                let system = text(i.get("system")).unwrap_or_default();
                k.tokens
                    .push(("patient.identifier", system, value.to_string()));
            }
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_from_the_parsed_bundle_equal_those_read_back_from_the_stored_text() {
        for name in [
            "referral_57133-1.json",
            "patient_summary_60591-5.json",
            "discharge_summary_18842-5.json",
            "checkup_report_53576-5.json",
            "collection_clins.json",
        ] {
            let path = format!("{}/tests/fixtures/fhir/{name}", env!("CARGO_MANIFEST_DIR"));
            let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
                .expect("json");
            let d =
                super::super::fhir::with_search_keys(v, "2310000011", 100, keys_of).expect(name);
            let read_back = keys(&d.content);
            assert!(
                !read_back.tokens.is_empty(),
                "{name}: the test must see tokens"
            );
            assert_eq!(d.search, Some(read_back), "{name}");
        }
    }

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
    fn commas_are_or_and_repeats_are_and() {
        let c = parse(
            "type=document,collection&identifier=a&identifier=b",
            false,
            now(),
        )
        .expect("parse");
        assert_eq!(c.and.len(), 3);
        assert_eq!(c.and[0].len(), 2);
        assert_eq!(c.used.len(), 3);
    }

    #[test]
    fn unknown_parameters_are_refused_unless_lenient() {
        let e = parse("date=2026", false, now()).expect_err("refused");
        assert_eq!((e.status, e.code), (400, "not-supported"));
        let e = parse("identifier:exact=a", false, now()).expect_err("refused");
        assert!(e.message.contains("修飾子"), "{}", e.message);
        let c = parse("date=2026&type=document", true, now()).expect("lenient");
        assert_eq!(c.ignored, vec!["date".to_string()]);
        assert_eq!(c.used, vec![("type".to_string(), "document".to_string())]);
        assert_eq!(
            parse("timestamp=tomorrow", true, now())
                .expect_err("bad")
                .status,
            400
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

    #[test]
    fn a_cursor_survives_its_link() {
        let cur = Cursor {
            forward: true,
            key: "2026-11-20T01:15:00.000Z".into(),
            id: 42,
        };
        assert_eq!(Cursor::decode(&cur.encode()), Some(cur));
        assert_eq!(Cursor::decode("garbage!"), None);
    }

    #[test]
    fn search_keys_are_read_from_the_stored_bundle() {
        let k = keys(
            &json!({"resourceType": "Bundle", "type": "document",
            "timestamp": "2026-11-20T10:15:00+09:00",
            "entry": [
                {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Composition", "id": "c",
                    "subject": {"reference": "urn:uuid:p1"},
                    "type": {"coding": [{"system": "http://s", "code": "57133-1"}, {"code": "x"},
                                        {"system": 3, "code": "bad"}]}}},
                {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient",
                    "identifier": [{"system": "urn:l", "value": "000123"}, {"value": 5}]}}
            ]})
            .to_string(),
        );
        assert_eq!(k.timestamp.as_deref(), Some("2026-11-20T01:15:00.000Z"));
        assert_eq!(k.composition_id.as_deref(), Some("c"));
        assert_eq!(k.composition_url.as_deref(), Some("urn:uuid:c1"));
        assert_eq!(k.composition_subject.as_deref(), Some("urn:uuid:p1"));
        assert_eq!(
            k.tokens,
            vec![
                (
                    "composition.type",
                    "http://s".to_string(),
                    "57133-1".to_string()
                ),
                ("composition.type", String::new(), "x".to_string()),
                (
                    "patient.identifier",
                    "urn:l".to_string(),
                    "000123".to_string()
                ),
            ]
        );
        let c = keys(r#"{"type": "collection", "timestamp": "2026-11", "entry": {"a": 1}}"#);
        assert_eq!(c, SearchKeys::default());
        assert_eq!(
            stored_instant("2026-11-20").as_deref(),
            Some("2026-11-19T15:00:00.000Z")
        );
        assert_eq!(stored_instant("2026-13-45T10:15:00Z"), None);
        assert_eq!(keys("not json"), SearchKeys::default());
    }
}
