//! The checks made on a FHIR R4 JSON Bundle before anything is stored (pure: no I/O).
//!
//! The JSON must not repeat a key in an object ([`super::fhir_json`]); every resource is checked
//! against the FHIR R4 definitions ([`super::fhir_validate`]: types, cardinalities, required
//! elements and value sets, unknown elements and resource types refused; 400 with each issue's
//! FHIRPath). A `document` Bundle starts with a Composition whose subject is the Bundle's one
//! Patient; a `collection` Bundle holds resources (傷病名, アレルギー, 検査結果, 処方 …) of one
//! Patient. References follow FHIR R4 §3.3.1 ([`super::fhir_refs`]): the Composition's resolve
//! inside the Bundle, others may point outside, `#id` names a contained resource, a document
//! Bundle inside resolves inside itself. The Patient must carry the sending facility's local patient ID (JP Core:
//! `urn:oid:1.2.392.100495.20.3.51.1` + the 10-digit facility code). Attachments (`data` with a
//! `contentType`) are taken out into the blob store; the stored JSON keeps their SHA-256.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::attachments::{Attachment, extract_attachments};
use super::fhir_json::{JsonError, parse_strict, parse_strict_in};
use super::fhir_refs;
use super::fhir_validate::validate_resource;
use super::model::{self, ConsentInfo, Rejection, SearchKeys};

/// JP Core's identifier system for a facility's local patient ID, followed by the facility code.
pub const LOCAL_ID_SYSTEM_PREFIX: &str = "urn:oid:1.2.392.100495.20.3.51.1";

/// The identifier system of the network patient ID (地域連携ID, `KR…`) in FHIR Patients.
pub const NETWORK_ID_SYSTEM: &str = "urn:rainbownet:network-patient-id";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleKind {
    Document,
    Collection,
}

impl BundleKind {
    pub fn key(self) -> &'static str {
        match self {
            BundleKind::Document => "document",
            BundleKind::Collection => "collection",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatientInfo {
    pub local_id: String,
    pub name: String,
    pub kana: String,
    pub birth_date: String,
    pub gender: String,
}

#[derive(Clone, Debug)]
pub struct ParsedDocument {
    pub kind: BundleKind,
    pub identifier_system: String,
    pub identifier_value: String,
    pub type_code: String,
    pub type_label: String,
    pub title: String,
    pub doc_date: String,
    pub patient: PatientInfo,
    pub consent: Option<ConsentInfo>,
    pub attachments: Vec<Attachment>,
    /// The Bundle as stored: attachments replaced by their hash.
    pub content: String,
    pub content_hash: String,
    /// `content` as stored ([`super::packed`]).
    pub packed: Vec<u8>,
    /// Its search values when the caller read them from the parsed Bundle
    /// ([`with_search_keys`]); otherwise the intake reads them from `content`.
    pub search: Option<SearchKeys>,
}

/// [`parse_bundle`], with the search values read from the same parsed JSON by `keys` (the
/// intake passes `search::keys_of`), which saves parsing the stored text once more.
pub fn with_search_keys(
    bundle: Value,
    sender_code: &str,
    max_entries: usize,
    keys: impl FnOnce(&Value) -> SearchKeys,
) -> Result<ParsedDocument, Rejection> {
    let k = keys(&bundle);
    let mut d = parse_bundle(bundle, sender_code, max_entries)?;
    d.search = Some(k);
    Ok(d)
}

/// 413 for a Bundle (`what`) of more than `max` entries.
pub(super) fn too_many(what: &str, n: usize, max: usize) -> Rejection {
    Rejection::new(
        413,
        "too-costly",
        format!("{what} の entry が多すぎます（{n} 件、上限 {max} 件）。"),
    )
}

pub(super) fn invalid(msg: impl Into<String>) -> Rejection {
    Rejection::new(422, "invalid", msg)
}

/// Parses the body: well-formed JSON without a repeated key, an object with a `resourceType`.
pub fn parse_json(body: &[u8]) -> Result<Value, Rejection> {
    let v = parse_strict(body).map_err(json_rejection)?;
    if !v.is_object() {
        return Err(Rejection::new(
            400,
            "structure",
            "FHIR リソース（JSON オブジェクト）を送信してください。",
        ));
    }
    Ok(v)
}

pub(super) fn json_rejection(e: JsonError) -> Rejection {
    match e {
        JsonError::Syntax { line, column } => Rejection::new(
            400,
            "structure",
            format!("JSON として読み取れません（{line} 行 {column} 文字目）。"),
        ),
        JsonError::Duplicate { key, line, column } => Rejection::new(
            400,
            "structure",
            format!(
                "JSON の同じオブジェクトにキー「{key}」が重複しています（{line} 行 {column} 文字目）。各要素は 1 回だけ指定してください。"
            ),
        ),
    }
}

/// Checks a resource against the FHIR R4 definitions: 400 listing every issue found.
pub fn validate(v: &Value) -> Result<(), Rejection> {
    let issues = validate_resource(v, "");
    if issues.is_empty() {
        Ok(())
    } else {
        Err(Rejection::with_issues(400, issues))
    }
}

/// The day a FHIR date or dateTime starts on: `2020-08` is read as 2020-08-01, `2020` as
/// 2020-01-01 (a partial date is valid FHIR).
pub fn date_start(s: &str) -> Option<String> {
    let full = match s.len() {
        4 => format!("{s}-01-01"),
        7 => format!("{s}-01"),
        _ => return model::date_part(s),
    };
    model::date_part(&full)
}

pub fn resource_type(v: &Value) -> Option<&str> {
    v.get("resourceType").and_then(Value::as_str)
}

pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Checks a `document` or `collection` Bundle sent by the facility `sender_code`.
pub fn parse_bundle(
    mut bundle: Value,
    sender_code: &str,
    max_entries: usize,
) -> Result<ParsedDocument, Rejection> {
    validate(&bundle)?;
    match resource_type(&bundle) {
        Some("Bundle") => {}
        Some(other) => {
            return Err(invalid(format!(
                "resourceType が Bundle ではありません（{other}）。"
            )));
        }
        None => return Err(invalid("resourceType がありません。")),
    }
    let kind = match bundle.get("type").and_then(Value::as_str) {
        Some("document") => BundleKind::Document,
        Some("collection") => BundleKind::Collection,
        Some(t) => {
            return Err(invalid(format!(
                "Bundle.type「{t}」は受け付けられません。document または collection を指定してください（複数の送信は POST /api/fhir の batch を使います）。"
            )));
        }
        None => return Err(invalid("Bundle.type がありません。")),
    };
    let identifier_system = str_at(&bundle, &["identifier", "system"]).unwrap_or("");
    let identifier_value = str_at(&bundle, &["identifier", "value"]).unwrap_or("");
    if identifier_system.trim().is_empty() || identifier_value.trim().is_empty() {
        return Err(invalid(
            "Bundle.identifier（system と value）がありません。再送時の重複防止に使います。",
        ));
    }
    let (identifier_system, identifier_value) = (
        identifier_system.trim().to_string(),
        identifier_value.trim().to_string(),
    );
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Bundle.entry がありません。"))?;
    if entries.is_empty() {
        return Err(invalid("Bundle.entry が空です。"));
    }
    if entries.len() > max_entries {
        return Err(too_many("Bundle", entries.len(), max_entries));
    }
    let mut resources = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let r = e
            .get("resource")
            .filter(|r| r.is_object())
            .ok_or_else(|| invalid(format!("entry[{i}] に resource がありません。")))?;
        if resource_type(r).is_none() {
            return Err(invalid(format!(
                "entry[{i}].resource に resourceType がありません。"
            )));
        }
        resources.push((e.get("fullUrl").and_then(Value::as_str), r));
    }
    // bdl-7: a fullUrl names one entry (entries sharing one must differ in meta.versionId).
    let mut seen = std::collections::HashSet::new();
    for (url, r) in &resources {
        if let Some(url) = url
            && !seen.insert((*url, str_at(r, &["meta", "versionId"])))
        {
            return Err(invalid(format!(
                "entry の fullUrl「{url}」が重複しています（FHIR R4 bdl-7）。"
            )));
        }
    }
    // bdl-10: a document Bundle has a timestamp (bdl-9 identifier and bdl-11 first entry a
    // Composition are checked above and below).
    if matches!(kind, BundleKind::Document) && str_at(&bundle, &["timestamp"]).is_none() {
        return Err(invalid(
            "document Bundle の timestamp がありません（FHIR R4 bdl-10）。",
        ));
    }
    let issues = fhir_refs::check_bundle(&bundle, "Bundle");
    if !issues.is_empty() {
        return Err(Rejection::with_issues(422, issues));
    }

    let patients: Vec<&Value> = resources
        .iter()
        .filter(|(_, r)| resource_type(r) == Some("Patient"))
        .map(|(_, r)| *r)
        .collect();
    let patient_value = match patients.as_slice() {
        [p] => *p,
        [] => return Err(invalid("Bundle に Patient がありません。")),
        _ => return Err(invalid("1 つの Bundle に含められる患者は 1 人です。")),
    };
    let patient = patient_info(patient_value, sender_code)?;
    let consent = resources
        .iter()
        .find(|(_, r)| resource_type(r) == Some("Consent"))
        .map(|(_, r)| model::parse_consent(r))
        .transpose()?;

    let (type_code, type_label, title, doc_date) = match kind {
        BundleKind::Document => {
            let (_, comp) = resources[0];
            if resource_type(comp) != Some("Composition") {
                return Err(invalid(
                    "document Bundle の最初の entry は Composition でなければなりません。",
                ));
            }
            let subject = str_at(comp, &["subject", "reference"])
                .ok_or_else(|| invalid("Composition.subject がありません。"))?;
            let target =
                fhir_refs::resolve(&resources, resources[0].0, subject).ok_or_else(|| {
                    invalid(format!(
                        "Composition.subject「{subject}」が Bundle 内で解決できません。"
                    ))
                })?;
            if resource_type(target) != Some("Patient") {
                return Err(invalid("Composition.subject が Patient を指していません。"));
            }
            let coding = comp
                .get("type")
                .and_then(|t| t.get("coding"))
                .and_then(Value::as_array)
                .and_then(|c| c.first());
            let code = coding
                .and_then(|c| c.get("code"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Composition.type.coding.code（文書種別）がありません。"))?;
            let display = coding
                .and_then(|c| c.get("display"))
                .and_then(Value::as_str)
                .or_else(|| str_at(comp, &["type", "text"]));
            let title = str_at(comp, &["title"])
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| invalid("Composition.title がありません。"))?;
            let date = str_at(comp, &["date"])
                .and_then(date_start)
                .ok_or_else(|| invalid("Composition.date がないか、日付として読めません。"))?;
            (
                code.to_string(),
                model::document_type_label(code, display),
                title.trim().chars().take(200).collect(),
                date,
            )
        }
        BundleKind::Collection => {
            let date = str_at(&bundle, &["timestamp"])
                .and_then(date_start)
                .ok_or_else(|| {
                    invalid("collection Bundle の timestamp がないか、日付として読めません。")
                })?;
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, r) in &resources {
                let t = resource_type(r).unwrap_or("");
                if !matches!(t, "Patient" | "Organization" | "Practitioner" | "Consent") {
                    *counts.entry(t).or_default() += 1;
                }
            }
            let parts: Vec<String> = counts
                .iter()
                .map(|(t, n)| format!("{} {n}件", model::resource_label(t)))
                .collect();
            let title = if parts.is_empty() {
                "診療情報".to_string()
            } else {
                format!("診療情報（{}）", parts.join("、"))
            };
            ("collection".into(), "診療情報（個別）".into(), title, date)
        }
    };

    let mut attachments = Vec::new();
    extract_attachments(&mut bundle, &mut attachments)?;
    let content = bundle.to_string();
    let content_hash = hex::encode(Sha256::digest(content.as_bytes()));
    let packed = super::packed::pack(&content).map_err(Rejection::internal)?;
    Ok(ParsedDocument {
        kind,
        identifier_system,
        identifier_value,
        type_code,
        type_label,
        title,
        doc_date,
        patient,
        consent,
        attachments,
        content,
        content_hash,
        packed,
        search: None,
    })
}

/// The JP Core Patient's local ID of the sender, its kanji and kana names, birth date and sex.
pub fn patient_info(p: &Value, sender_code: &str) -> Result<PatientInfo, Rejection> {
    let own_system = format!("{LOCAL_ID_SYSTEM_PREFIX}{sender_code}");
    let ids: Vec<(&str, &str)> = p
        .get("identifier")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| Some((i.get("system")?.as_str()?, i.get("value")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let local_id = match ids.iter().find(|(s, _)| *s == own_system) {
        Some((_, v)) if !v.trim().is_empty() && v.len() <= 64 => v.trim().to_string(),
        Some(_) => return Err(invalid("Patient の患者ID が空か長すぎます。")),
        None => {
            if ids
                .iter()
                .any(|(s, _)| s.starts_with(LOCAL_ID_SYSTEM_PREFIX))
            {
                return Err(Rejection::new(
                    403,
                    "forbidden",
                    "他の施設の患者ID では送信できません。自施設の患者ID（Patient.identifier）を指定してください。",
                ));
            }
            return Err(invalid(format!(
                "Patient.identifier に自施設の患者ID（system {own_system}）がありません。"
            )));
        }
    };
    let (name, kana) = model::patient_names(p);
    Ok(PatientInfo {
        local_id,
        name: name.unwrap_or_else(|| "（氏名不明）".into()),
        kana: kana.unwrap_or_default(),
        birth_date: str_at(p, &["birthDate"])
            .unwrap_or("")
            .chars()
            .take(10)
            .collect(),
        gender: str_at(p, &["gender"])
            .unwrap_or("unknown")
            .chars()
            .take(16)
            .collect(),
    })
}

/// Reads the resource `part` of `body` (from [`batch_texts`]) as [`parse_json`] reads a body.
pub fn parse_json_in(body: &[u8], part: &RawValue) -> Result<Value, Rejection> {
    parse_strict_in(body, part).map_err(json_rejection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::attachments::rehydrate;
    use serde_json::json;

    fn patient(system_code: &str) -> Value {
        json!({"resourceType": "Patient", "id": "p1",
            "identifier": [{"system": format!("{LOCAL_ID_SYSTEM_PREFIX}{system_code}"), "value": "000123"}],
            "name": [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "IDE"}],
                      "text": "清須 花子", "family": "清須", "given": ["花子"]},
                     {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL"}],
                      "text": "キヨス ハナコ"}],
            "gender": "female", "birthDate": "1950-04-01"})
    }

    fn document(subject: &str) -> Value {
        json!({"resourceType": "Bundle", "type": "document",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"},
        "timestamp": "2026-11-20T10:15:00+09:00",
        "entry": [
            {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Composition", "status": "final",
                "type": {"coding": [{"system": "http://loinc.org", "code": "57133-1"}]},
                "subject": {"reference": subject}, "author": [{"reference": "urn:uuid:p1"}],
                "date": "2026-11-20T10:00:00+09:00", "title": "診療情報提供書"}},
            {"fullUrl": "urn:uuid:p1", "resource": patient("2310000001")},
            {"fullUrl": "urn:uuid:b1", "resource": {"resourceType": "Binary", "contentType": "application/pdf", "data": "JVBERi0xLjQK"}}
        ]})
    }

    #[test]
    fn a_document_bundle_yields_its_metadata_and_attachments() {
        let d = parse_bundle(document("urn:uuid:p1"), "2310000001", 100).expect("valid");
        assert_eq!(d.type_code, "57133-1");
        assert_eq!(d.type_label, "診療情報提供書");
        assert_eq!(d.doc_date, "2026-11-20");
        assert_eq!(d.patient.local_id, "000123");
        assert_eq!(d.patient.name, "清須 花子");
        assert_eq!(d.patient.kana, "キヨス ハナコ");
        assert_eq!(d.attachments.len(), 1);
        assert!(
            !d.content.contains("JVBERi0xLjQK"),
            "the data is stored once, as a blob"
        );
        let mut v: Value = serde_json::from_str(&d.content).expect("json");
        rehydrate(&mut v, &mut |_| Some(b"%PDF-1.4\n".to_vec()));
        assert!(v.to_string().contains("JVBERi0xLjQK"));
    }

    #[test]
    fn relative_references_resolve_and_dangling_ones_do_not() {
        let mut b = document("Patient/p1");
        assert!(parse_bundle(b.clone(), "2310000001", 100).is_ok());
        b["entry"][0]["resource"]["author"] = json!([{"reference": "urn:uuid:nowhere"}]);
        let e = parse_bundle(b, "2310000001", 100).expect_err("dangling");
        assert!(e.message.contains("urn:uuid:nowhere"), "{}", e.message);
        let e = parse_bundle(document("urn:uuid:p9"), "2310000001", 100).expect_err("subject");
        assert_eq!(e.status, 422);
    }

    #[test]
    fn another_facilitys_patient_id_is_refused() {
        let e = parse_bundle(document("urn:uuid:p1"), "2310000002", 100).expect_err("other");
        assert_eq!(e.status, 403);
    }

    #[test]
    fn the_composition_must_come_first() {
        let mut b = document("urn:uuid:p1");
        let entries = b["entry"].as_array_mut().expect("entries");
        entries.swap(0, 1);
        assert!(parse_bundle(b, "2310000001", 100).is_err());
    }

    #[test]
    fn broken_json_and_wrong_types_are_told_apart() {
        assert_eq!(
            parse_json(b"{\"resourceType\":")
                .expect_err("broken")
                .status,
            400
        );
        let e = parse_bundle(json!({"resourceType": "Patient"}), "1", 10).expect_err("type");
        assert!(e.message.contains("Patient"));
        let e = parse_bundle(
            json!({"resourceType": "Bundle", "type": "transaction"}),
            "1",
            10,
        )
        .expect_err("bundle type");
        assert!(e.message.contains("transaction"));
    }
}
