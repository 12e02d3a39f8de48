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
//!
//! Which file holds what: this file reads the query string (which parameters, `_count`, `_sort`,
//! `_cursor`, lenient handling) into [`Criteria`]; [`super::search_values`] reads one value
//! (tokens, dates and their prefixes, `patient`); [`super::search_keys`] reads the values a stored
//! Bundle is found by (what the intake writes into `document_search` / `document_tokens`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::model::Rejection;
use super::search_values::{
    DateCond, PatientValue, Token, date_cond, patient_value, split_unescaped, token, unescape,
};
use crate::db::Timestamp;

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

// The intake names these `search::…` (the stored keys are read in `search_keys.rs`).
pub use super::model::SearchKeys;
pub use super::search_keys::{keys, keys_of};

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-25T00:00:00.000Z".parse().expect("timestamp")
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
    fn a_cursor_survives_its_link() {
        let cur = Cursor {
            forward: true,
            key: "2026-11-20T01:15:00.000Z".into(),
            id: 42,
        };
        assert_eq!(Cursor::decode(&cur.encode()), Some(cur));
        assert_eq!(Cursor::decode("garbage!"), None);
    }
}
