//! Pure rules of application data: consent, retention dates, Japanese labels, rejections.

use jiff::civil::Date;
use serde_json::Value;

use crate::db::{Timestamp, tokyo};

/// Why a submission was refused; becomes an `OperationOutcome` with a Japanese diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// FHIR `IssueType` code (invalid, structure, forbidden, too-costly, conflict …).
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

/// Who may read a patient's documents besides the sending facility.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every participating facility.
    All,
    /// Only these facilities (codes).
    Listed(Vec<String>),
}

impl Scope {
    pub fn key(&self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Listed(_) => "listed",
        }
    }
}

/// A consent as sent (FHIR Consent) or entered in the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentInfo {
    /// false: the Consent withdraws the patient's consent (status inactive/rejected).
    pub active: bool,
    /// The day the form was signed (YYYY-MM-DD).
    pub signed_on: String,
    pub scope: Scope,
    /// The scan of the signed form: (content type, bytes).
    pub scan: Option<(String, Vec<u8>)>,
}

/// Reads a FHIR Consent: status, dateTime, provision.actor (facility codes) and sourceAttachment.
pub fn parse_consent(c: &Value) -> Result<ConsentInfo, Rejection> {
    let bad = |m: &str| Rejection::new(422, "invalid", m.to_string());
    if c.get("resourceType").and_then(Value::as_str) != Some("Consent") {
        return Err(bad("resourceType が Consent ではありません。"));
    }
    let active = match c.get("status").and_then(Value::as_str) {
        Some("active") => true,
        Some("inactive" | "rejected") => false,
        Some(s) => {
            return Err(bad(&format!(
                "Consent.status「{s}」は受け付けられません（active = 同意、inactive = 撤回）。"
            )));
        }
        None => return Err(bad("Consent.status がありません。")),
    };
    let signed_on = c
        .get("dateTime")
        .and_then(Value::as_str)
        .and_then(date_part);
    let signed_on = match (active, signed_on) {
        (_, Some(d)) => d,
        (true, None) => return Err(bad("Consent.dateTime（同意書の署名日）がありません。")),
        (false, None) => String::new(),
    };
    let mut codes = Vec::new();
    if let Some(actors) = c
        .get("provision")
        .and_then(|p| p.get("actor"))
        .and_then(Value::as_array)
    {
        for a in actors {
            let code = a
                .get("reference")
                .and_then(|r| r.get("identifier"))
                .and_then(|i| i.get("value"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad("Consent.provision.actor.reference.identifier.value（施設コード）がありません。")
                })?;
            codes.push(code.trim().to_string());
        }
    }
    let scope = if codes.is_empty() {
        Scope::All
    } else {
        Scope::Listed(codes)
    };
    let scan = match c.get("sourceAttachment") {
        Some(a) => {
            let ct = a
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream");
            let data = a.get("data").and_then(Value::as_str).ok_or_else(|| {
                bad("Consent.sourceAttachment.data（同意書のスキャン）がありません。")
            })?;
            let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                cleaned.as_bytes(),
            )
            .map_err(|_| bad("同意書のスキャンが base64 として読めません。"))?;
            Some((ct.chars().take(100).collect(), bytes))
        }
        None => None,
    };
    Ok(ConsentInfo {
        active,
        signed_on,
        scope,
        scan,
    })
}

/// `YYYY-MM-DD` from a FHIR date or dateTime, if it is a real date.
pub fn date_part(s: &str) -> Option<String> {
    let d = s.get(..10)?;
    d.parse::<Date>().ok().map(|_| d.to_string())
}

/// When a document sent at `sent_at` expires: one year after the day (JST) it was sent, i.e.
/// at the start of the day after the anniversary (R21.1: kept 1 year from the day it was sent).
pub fn expires_at(sent_at: Timestamp) -> Timestamp {
    let day = sent_at.as_jiff().to_zoned(tokyo()).date();
    let anniversary = day
        .checked_add(jiff::Span::new().years(1).days(1))
        .unwrap_or(day);
    anniversary
        .to_zoned(tokyo())
        .map(|z| Timestamp::from(z.timestamp()))
        .unwrap_or(sent_at)
}

/// The Japanese name of a JP-CLINS document type (LOINC), or what the sender called it.
pub fn document_type_label(code: &str, display: Option<&str>) -> String {
    match code {
        "57133-1" => "診療情報提供書".into(),
        "18842-5" => "退院時サマリー".into(),
        "53576-5" => "健診結果報告書".into(),
        "60591-5" => "患者サマリー".into(),
        "collection" => "診療情報（個別）".into(),
        _ => display
            .map(|d| d.chars().take(100).collect())
            .unwrap_or_else(|| format!("文書（{code}）")),
    }
}

pub fn resource_label(resource_type: &str) -> &str {
    match resource_type {
        "Condition" => "傷病名",
        "AllergyIntolerance" => "アレルギー",
        "Observation" => "検査結果",
        "MedicationRequest" => "処方",
        "MedicationStatement" => "服薬",
        "Immunization" => "予防接種",
        "Procedure" => "処置",
        "DocumentReference" => "添付文書",
        "Binary" => "添付ファイル",
        "Encounter" => "受診",
        "Composition" => "文書",
        "Patient" => "患者",
        "Organization" => "医療機関",
        "Practitioner" => "医療者",
        "Consent" => "同意",
        other => other,
    }
}

pub fn gender_label(g: &str) -> &'static str {
    match g {
        "male" => "男性",
        "female" => "女性",
        "other" => "その他",
        _ => "不明",
    }
}

/// The kanji (IDE) and kana (SYL) names of a JP Core Patient.
pub fn patient_names(p: &Value) -> (Option<String>, Option<String>) {
    let Some(names) = p.get("name").and_then(Value::as_array) else {
        return (None, None);
    };
    let repr = |n: &Value| -> Option<String> {
        n.get("extension")?
            .as_array()?
            .iter()
            .find_map(|e| e.get("valueCode")?.as_str().map(str::to_string))
    };
    let text = |n: &Value| -> Option<String> {
        if let Some(t) = n.get("text").and_then(Value::as_str) {
            return Some(t.chars().take(100).collect());
        }
        let family = n.get("family").and_then(Value::as_str).unwrap_or("");
        let given: Vec<&str> = n
            .get("given")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let s = format!("{family} {}", given.join(" ")).trim().to_string();
        (!s.is_empty()).then(|| s.chars().take(100).collect())
    };
    let kanji = names
        .iter()
        .find(|n| repr(n).as_deref() == Some("IDE"))
        .or_else(|| names.iter().find(|n| repr(n).is_none()))
        .and_then(text);
    let kana = names
        .iter()
        .find(|n| repr(n).as_deref() == Some("SYL"))
        .and_then(text);
    (kanji, kana)
}

/// Application data intake (`[records]`): limits checked before anything is stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsSettings {
    /// Largest FHIR request body accepted by the API (413 above it).
    pub max_body_bytes: usize,
    /// Most entries in one Bundle (document, collection or batch).
    pub max_entries: usize,
}

impl Default for RecordsSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 20 * 1024 * 1024,
            max_entries: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_expires_one_year_after_the_day_it_was_sent_in_japan() {
        // 2026-11-25 23:30 JST (14:30 UTC) counts as the 25th.
        let sent: Timestamp = "2026-11-25T14:30:00.000Z".parse().expect("ts");
        assert_eq!(expires_at(sent).to_db(), "2027-11-25T15:00:00.000Z");
        // 2026-11-26 00:30 JST (15:30 UTC on the 25th) counts as the 26th.
        let sent: Timestamp = "2026-11-25T15:30:00.000Z".parse().expect("ts");
        assert_eq!(expires_at(sent).to_db(), "2027-11-26T15:00:00.000Z");
    }

    #[test]
    fn a_consent_lists_facilities_or_covers_all() {
        let c = json!({"resourceType": "Consent", "status": "active", "dateTime": "2026-04-01",
            "provision": {"actor": [{"reference": {"identifier": {"value": "2310000002"}}}]}});
        let info = parse_consent(&c).expect("consent");
        assert_eq!(info.scope, Scope::Listed(vec!["2310000002".into()]));
        let c = json!({"resourceType": "Consent", "status": "active", "dateTime": "2026-04-01"});
        assert_eq!(parse_consent(&c).expect("consent").scope, Scope::All);
        let c = json!({"resourceType": "Consent", "status": "active"});
        assert!(
            parse_consent(&c).is_err(),
            "an active consent needs its date"
        );
        let c = json!({"resourceType": "Consent", "status": "inactive"});
        assert!(!parse_consent(&c).expect("withdrawal").active);
    }

    #[test]
    fn dates_must_be_real() {
        assert_eq!(
            date_part("2026-02-28T10:00:00+09:00").as_deref(),
            Some("2026-02-28")
        );
        assert_eq!(date_part("2026-02-30"), None);
        assert_eq!(date_part("2026"), None);
    }
}
