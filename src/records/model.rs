//! Pure rules of application data: consent (and what a new consent changes), retention dates,
//! Japanese labels. Refusals are `rejection.rs` (re-exported here).

use jiff::civil::Date;
use serde_json::Value;

use crate::db::{Timestamp, tokyo};

pub use super::rejection::{Issue, Rejection};

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

    /// Whether every facility `other` lets read is also let read by `self`.
    fn includes(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::All, _) => true,
            (Scope::Listed(_), Scope::All) => false,
            (Scope::Listed(mine), Scope::Listed(theirs)) => theirs.iter().all(|c| mine.contains(c)),
        }
    }
}

/// What a consent record did to the scope of the documents it covers, compared with the consent
/// of the same documents that was in force before it (shown in the history, and named in the
/// audit event of a refused attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentChange {
    /// The first consent for these documents, or the first after a withdrawal.
    Granted,
    /// More facilities may read than before.
    Widened,
    /// Fewer facilities may read than before.
    Narrowed,
    /// Some facilities added and others left out.
    Changed,
    /// The same scope on a new form (a new signature date, say).
    Renewed,
    Withdrawn,
    /// Ended by the migration to per-facility consents (0011): under the old rule a later
    /// consent of another facility had already replaced it.
    Superseded,
}

impl ConsentChange {
    /// Compares the scope in force before (None: nothing in force) with the new one.
    pub fn between(before: Option<&Scope>, after: &Scope) -> Self {
        let Some(before) = before else {
            return ConsentChange::Granted;
        };
        match (after.includes(before), before.includes(after)) {
            (true, true) => ConsentChange::Renewed,
            (true, false) => ConsentChange::Widened,
            (false, true) => ConsentChange::Narrowed,
            (false, false) => ConsentChange::Changed,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            ConsentChange::Granted => "granted",
            ConsentChange::Widened => "widened",
            ConsentChange::Narrowed => "narrowed",
            ConsentChange::Changed => "changed",
            ConsentChange::Renewed => "renewed",
            ConsentChange::Withdrawn => "withdrawn",
            ConsentChange::Superseded => "superseded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ConsentChange::Granted => "同意",
            ConsentChange::Widened => "範囲の拡大",
            ConsentChange::Narrowed => "範囲の縮小",
            ConsentChange::Changed => "範囲の変更（追加と除外）",
            ConsentChange::Renewed => "同じ範囲で更新",
            ConsentChange::Withdrawn => "撤回",
            ConsentChange::Superseded => "失効（移行時）",
        }
    }
}

/// Who owns a consent: the facility that recorded it, or the network's staff (system
/// administrators and operators) who recorded it from a signed paper form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentOwner {
    Facility,
    Staff,
}

impl ConsentOwner {
    pub fn key(self) -> &'static str {
        match self {
            ConsentOwner::Facility => "facility",
            ConsentOwner::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "staff" {
            ConsentOwner::Staff
        } else {
            ConsentOwner::Facility
        }
    }
}

/// The content type of the scan of a signed form, told from its first bytes: PDF, PNG, JPEG or
/// TIFF; anything else (or nothing) is not a scan.
pub fn scan_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("image/tiff")
    } else {
        None
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
    /// The facility codes in Consent.organization (the custodian: the facility whose consent
    /// this is). A facility may name only itself; empty means the sender.
    pub custodians: Vec<String>,
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
    let custodians = c
        .get("organization")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("identifier")?.get("value")?.as_str())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    Ok(ConsentInfo {
        active,
        signed_on,
        scope,
        scan,
        custodians,
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

/// The Japanese name of a FHIR resource type, as the document page and collection titles show
/// it; a type without one is shown as 「その他の情報（Type）」.
pub fn resource_label(resource_type: &str) -> std::borrow::Cow<'static, str> {
    let label = match resource_type {
        "Condition" => "傷病名",
        "AllergyIntolerance" => "アレルギー・不耐性",
        "Observation" => "検査結果・観察",
        "MedicationRequest" => "処方",
        "MedicationStatement" => "服薬",
        "MedicationAdministration" => "投薬実施",
        "MedicationDispense" => "調剤",
        "Medication" => "医薬品",
        "Immunization" => "予防接種",
        "Procedure" => "処置・手術",
        "DiagnosticReport" => "検査レポート",
        "DocumentReference" => "添付文書",
        "Binary" => "添付ファイル",
        "Media" => "画像・動画",
        "ImagingStudy" => "画像検査",
        "Specimen" => "検体",
        "ServiceRequest" => "検査・処置の依頼",
        "Encounter" => "受診",
        "Composition" => "文書",
        "Bundle" => "文書の束",
        "Patient" => "患者",
        "RelatedPerson" => "家族・関係者",
        "FamilyMemberHistory" => "家族歴",
        "Organization" => "医療機関",
        "Practitioner" => "医療者",
        "PractitionerRole" => "医療者の役割",
        "Location" => "場所",
        "Device" => "医療機器",
        "DeviceUseStatement" => "医療機器の使用",
        "Coverage" => "保険・公費",
        "CarePlan" => "診療計画",
        "CareTeam" => "ケアチーム",
        "Goal" => "目標",
        "Communication" => "連絡・申し送り",
        "Consent" => "同意",
        "Provenance" => "来歴",
        "QuestionnaireResponse" => "問診票の回答",
        "ClinicalImpression" => "臨床所見",
        "RiskAssessment" => "リスク評価",
        "NutritionOrder" => "栄養指示",
        "Appointment" => "予約",
        "Task" => "作業",
        "List" => "一覧",
        other => {
            let shown: String = other
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(64)
                .collect();
            return std::borrow::Cow::Owned(format!("その他の情報（{shown}）"));
        }
    };
    std::borrow::Cow::Borrowed(label)
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
    /// A document whose Patient differs from the patient registered for the sender's local ID:
    /// `refuse` it (422, nothing stored), or hold it for `review` by the sending facility's
    /// managers (`/records/review`) — see `records::patient_match`.
    pub patient_mismatch: PatientMismatch,
}

/// What the intake does with a document whose Patient differs from the registered patient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatientMismatch {
    /// Refused with an OperationOutcome; nothing stored.
    #[default]
    Refuse,
    /// Stored, held (read by nobody) until a facility manager of the sender accepts or rejects it.
    Review,
}

impl Default for RecordsSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 20 * 1024 * 1024,
            max_entries: 1000,
            patient_mismatch: PatientMismatch::Refuse,
        }
    }
}

/// The search values of a stored Bundle that the documents table does not hold (migration 0026
/// has the same definition in SQL, for the documents stored before it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchKeys {
    /// Bundle.timestamp as stored UTC text; None when absent or unreadable.
    pub timestamp: Option<String>,
    pub composition_id: Option<String>,
    pub composition_url: Option<String>,
    pub composition_subject: Option<String>,
    /// (param, system or "", code): `composition.type`, `patient.identifier`.
    pub tokens: Vec<(&'static str, String, String)>,
}

/// A document the intake stored now (`created`) or had stored before (a retry).
pub struct Stored {
    pub id: i64,
    pub created: bool,
    /// The patient of a newly stored document (0 for a repeated one).
    pub patient_id: i64,
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
    fn a_consent_names_its_custodian_in_organization() {
        let c = json!({"resourceType": "Consent", "status": "active", "dateTime": "2026-04-01",
            "organization": [{"identifier": {"value": " 2310000011 "}, "display": "きよす内科"}]});
        assert_eq!(
            parse_consent(&c).expect("consent").custodians,
            vec!["2310000011".to_string()]
        );
        let c = json!({"resourceType": "Consent", "status": "inactive"});
        assert!(parse_consent(&c).expect("consent").custodians.is_empty());
    }

    #[test]
    fn a_new_scope_widens_narrows_changes_or_renews_the_one_in_force() {
        let listed = |c: &[&str]| Scope::Listed(c.iter().map(|s| s.to_string()).collect());
        use ConsentChange::*;
        let cases = [
            (None, Scope::All, Granted),
            (Some(listed(&["B"])), Scope::All, Widened),
            (Some(listed(&["B"])), listed(&["B", "C"]), Widened),
            (Some(Scope::All), listed(&["B"]), Narrowed),
            (Some(listed(&["B", "C"])), listed(&["C"]), Narrowed),
            (Some(listed(&["B"])), listed(&["C"]), Changed),
            (Some(listed(&["B", "C"])), listed(&["C", "B"]), Renewed),
            (Some(Scope::All), Scope::All, Renewed),
        ];
        for (before, after, change) in cases {
            assert_eq!(
                ConsentChange::between(before.as_ref(), &after),
                change,
                "{before:?} → {after:?}"
            );
        }
    }

    #[test]
    fn a_scan_is_told_by_its_bytes_not_its_name() {
        assert_eq!(scan_type(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(scan_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(scan_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(scan_type(b"II*\0...."), Some("image/tiff"));
        assert_eq!(scan_type(b"<html><script>"), None);
        assert_eq!(scan_type(b""), None);
    }

    #[test]
    fn every_resource_type_has_a_japanese_label_and_an_unknown_one_a_japanese_fallback() {
        for (t, label) in [
            ("Coverage", "保険・公費"),
            ("CarePlan", "診療計画"),
            ("Communication", "連絡・申し送り"),
            ("FamilyMemberHistory", "家族歴"),
        ] {
            assert_eq!(resource_label(t), label);
        }
        for t in [
            "Encounter",
            "Condition",
            "AllergyIntolerance",
            "Observation",
            "MedicationRequest",
            "MedicationStatement",
            "Medication",
            "Immunization",
            "Procedure",
            "DiagnosticReport",
            "DocumentReference",
            "Binary",
            "Specimen",
            "ServiceRequest",
            "Practitioner",
            "PractitionerRole",
            "Organization",
            "Location",
            "RelatedPerson",
            "Device",
            "Goal",
            "Consent",
            "Composition",
            "Patient",
            "Bundle",
        ] {
            assert!(!resource_label(t).is_ascii(), "{t} has no Japanese label");
        }
        assert_eq!(resource_label("Flag"), "その他の情報（Flag）");
        assert_eq!(resource_label("<b>x</b>"), "その他の情報（bxb）");
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
