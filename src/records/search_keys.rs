//! The values a stored Bundle is found by (pure, no I/O): Bundle.timestamp as an instant, the
//! document's Composition (id, fullUrl, subject, type codings) and its Patients' identifiers.
//! The intake writes them beside each new document (`document_search`, `document_tokens`);
//! migration 0026's SQL views fill the documents stored before it and must agree with [`keys`].

use serde_json::Value;

use super::model::SearchKeys;
use super::search_values::date_range;
use crate::db::Timestamp;

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
    use serde_json::json;

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
