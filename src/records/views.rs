//! Templates of application data, and the rendering of a stored Bundle into Japanese sections
//! (narrative XHTML is sanitised with `ammonia`: no script, no style, no event handlers).

use askama::Template;
use serde_json::Value;

use super::fhir::{LOCAL_ID_SYSTEM_PREFIX, resource_type, str_at};
use super::model;
use super::patient_match::{Field, Sent};
use super::repo::PatientRow;
use crate::web::Page;

pub struct PatientLine {
    pub id: i64,
    pub network_id: String,
    pub local_id: String,
    pub name: String,
    pub kana: String,
    pub birth_date: String,
    pub gender: &'static str,
}

#[derive(Template)]
#[template(path = "records/patients.html")]
pub struct PatientsPage {
    pub page: Page,
    pub patients: Vec<PatientLine>,
    pub can_register: bool,
    /// The search text as typed (kept in the search box).
    pub q: String,
    pub pager: crate::web::list::Pager,
}

pub struct DocumentLine {
    pub id: i64,
    pub date: String,
    pub type_label: String,
    pub title: String,
    pub facility: String,
    pub sent: String,
}

#[derive(Template)]
#[template(path = "records/timeline.html")]
pub struct TimelinePage {
    pub page: Page,
    pub patient: PatientLine,
    pub consent: ConsentPanel,
    pub documents: Vec<DocumentLine>,
    pub can_link: bool,
    /// Documents of this patient sent by the caller's facility, held for its review.
    pub held: i64,
    pub can_review: bool,
    /// The document search as typed, and the pager of the document list (X.4).
    pub q: String,
    pub pager: crate::web::list::Pager,
}

pub struct Section {
    pub depth: usize,
    pub title: String,
    pub html: String,
}

pub struct ResourceView {
    pub label: String,
    pub summary: String,
    pub html: String,
}

pub struct AttachmentLine {
    pub ordinal: i64,
    pub title: String,
    pub content_type: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "records/document.html")]
pub struct DocumentPage {
    pub page: Page,
    pub patient: PatientLine,
    pub doc: DocumentLine,
    pub expires: String,
    pub sections: Vec<Section>,
    pub resources: Vec<ResourceView>,
    pub attachments: Vec<AttachmentLine>,
    /// The patient as the Bundle names them, beside the registered patient.
    pub sent: Option<SentPatient>,
    /// How a document held for the right-patient review was resolved.
    pub review_note: Option<String>,
}

/// One line of the patient as sent beside the registered patient.
pub struct CompareRow {
    pub label: &'static str,
    pub sent: String,
    pub registered: String,
    pub differs: bool,
    /// false: not compared (a kana name missing on either side).
    pub compared: bool,
}

/// The patient as a document (or a held document's review) names them, compared.
pub struct SentPatient {
    /// The sender's local patient ID.
    pub local_id: String,
    pub rows: Vec<CompareRow>,
    pub differs: bool,
}

fn shown(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "（送信なし）".into())
}

/// The comparison as shown: each field as sent and as registered, with the differing ones
/// (from [`super::patient_match::differences`]) marked.
pub fn compare_rows(sent: &Sent, registered: &PatientRow, differs: &[Field]) -> Vec<CompareRow> {
    let or_dash = |s: &str| {
        if s.trim().is_empty() {
            "—".to_string()
        } else {
            s.to_string()
        }
    };
    Field::ALL
        .into_iter()
        .map(|f| {
            let (sent, registered) = match f {
                Field::Name => (shown(&sent.name), or_dash(&registered.name)),
                Field::Kana => (shown(&sent.kana), or_dash(&registered.kana)),
                Field::BirthDate => (shown(&sent.birth_date), or_dash(&registered.birth_date)),
                Field::Gender => (
                    sent.gender
                        .as_deref()
                        .map(|g| model::gender_label(g).to_string())
                        .unwrap_or_else(|| "（送信なし）".into()),
                    model::gender_label(&registered.gender).to_string(),
                ),
            };
            let compared = f != Field::Kana || (sent != "（送信なし）" && registered != "—");
            CompareRow {
                label: f.label(),
                sent,
                registered,
                differs: differs.contains(&f),
                compared,
            }
        })
        .collect()
}

/// The Patient resource of a stored Bundle and the sender's local ID in it.
pub fn bundle_patient(content: &str) -> Option<(Value, String)> {
    let v: Value = serde_json::from_str(content).ok()?;
    let p = v
        .get("entry")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| resource_type(r) == Some("Patient"))?
        .clone();
    let local_id = p
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|i| {
            i.get("system")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with(LOCAL_ID_SYSTEM_PREFIX))
        })
        .and_then(|i| i.get("value")?.as_str())
        .unwrap_or("—")
        .to_string();
    Some((p, local_id))
}

/// A sending facility's review line.
pub struct ReviewLine {
    pub id: i64,
    pub document_id: i64,
    pub type_label: String,
    pub title: String,
    pub doc_date: String,
    pub local_id: String,
    pub identifier: String,
    pub sent_name: String,
    pub differs: String,
    pub created: String,
    pub state: &'static str,
    pub resolved: String,
    pub resolved_by: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "records/review_list.html")]
pub struct ReviewListPage {
    pub page: Page,
    pub pending: Vec<ReviewLine>,
    pub resolved: Vec<ReviewLine>,
    /// The search of the held documents as typed, and their pager (X.4).
    pub q: String,
    pub pager: crate::web::list::Pager,
}

#[derive(Template)]
#[template(path = "records/review.html")]
pub struct ReviewPage {
    pub page: Page,
    pub review: ReviewLine,
    pub pending: bool,
    pub patient: PatientLine,
    pub sent: SentPatient,
    pub errors: Vec<String>,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "records/register.html")]
pub struct RegisterPage {
    pub page: Page,
    pub form: RegisterValues,
    /// The participating facilities, those of the sent form ticked (issue 15 defect 6).
    pub choices: Vec<ScopeChoice>,
    pub errors: Vec<String>,
}

/// The registration form as sent: the listed facilities are the ticked checkboxes.
#[derive(Default, Clone)]
pub struct RegisterValues {
    pub local_id: String,
    pub name: String,
    pub kana: String,
    pub birth_date: String,
    pub gender: String,
    pub signed_on: String,
    pub scope: String,
    pub facilities: Vec<String>,
}

impl RegisterValues {
    /// The form from its fields (a repeated `facilities` field: one ticked facility each).
    pub fn from_fields(fields: Vec<(String, String)>) -> RegisterValues {
        let mut v = RegisterValues::default();
        for (name, value) in fields {
            let field = match name.as_str() {
                "local_id" => &mut v.local_id,
                "name" => &mut v.name,
                "kana" => &mut v.kana,
                "birth_date" => &mut v.birth_date,
                "gender" => &mut v.gender,
                "signed_on" => &mut v.signed_on,
                "scope" => &mut v.scope,
                "facilities" if !value.trim().is_empty() => {
                    v.facilities.push(value.trim().to_string());
                    continue;
                }
                _ => continue,
            };
            *field = value;
        }
        v
    }
}

#[derive(Template)]
#[template(path = "records/access_log.html")]
pub struct AccessLogPage {
    pub page: Page,
    pub q: crate::audit_ui::query::LogQuery,
    pub actions: Vec<(&'static str, String)>,
    pub lines: Vec<crate::audit_ui::render::Line>,
    pub error: Option<String>,
    pub pager: crate::web::list::Pager,
    pub export: String,
}

pub fn sanitize(html: &str) -> String {
    ammonia::clean(html)
}

pub fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn narrative(r: &Value) -> String {
    str_at(r, &["text", "div"])
        .map(sanitize)
        .unwrap_or_default()
}

fn push_sections(sections: &Value, depth: usize, out: &mut Vec<Section>) {
    for s in sections.as_array().into_iter().flatten() {
        let title = str_at(s, &["title"])
            .or_else(|| str_at(s, &["code", "text"]))
            .unwrap_or("（無題の節）");
        out.push(Section {
            depth: depth.min(3),
            title: title.chars().take(200).collect(),
            html: narrative(s),
        });
        if let Some(sub) = s.get("section") {
            push_sections(sub, depth + 1, out);
        }
    }
}

fn codeable(v: Option<&Value>) -> Option<String> {
    let v = v?;
    v.get("text")
        .and_then(Value::as_str)
        .or_else(|| {
            v.get("coding")?
                .as_array()?
                .iter()
                .find_map(|c| c.get("display")?.as_str())
        })
        .map(str::to_string)
}

fn summary(r: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(c) =
        codeable(r.get("code")).or_else(|| codeable(r.get("medicationCodeableConcept")))
    {
        parts.push(c);
    }
    if let Some(q) = r.get("valueQuantity") {
        let value = q.get("value").map(|v| v.to_string()).unwrap_or_default();
        let unit = q.get("unit").and_then(Value::as_str).unwrap_or("");
        parts.push(format!("{value} {unit}").trim().to_string());
    } else if let Some(s) = r.get("valueString").and_then(Value::as_str) {
        parts.push(s.to_string());
    } else if let Some(c) = codeable(r.get("valueCodeableConcept")) {
        parts.push(c);
    }
    if let Some(t) = str_at(r, &["dosageInstruction"]).or_else(|| {
        r.get("dosageInstruction")?
            .as_array()?
            .first()?
            .get("text")?
            .as_str()
    }) {
        parts.push(t.to_string());
    }
    if let Some(d) = str_at(r, &["description"]) {
        parts.push(d.to_string());
    }
    parts.join("　")
}

/// The Composition's sections and the other clinical resources of a stored Bundle.
pub fn render_bundle(content: &str) -> (Vec<Section>, Vec<ResourceView>) {
    let Ok(v) = serde_json::from_str::<Value>(content) else {
        return (Vec::new(), Vec::new());
    };
    let mut sections = Vec::new();
    let mut resources = Vec::new();
    for e in v
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(r) = e.get("resource") else { continue };
        match resource_type(r) {
            Some("Composition") => {
                if let Some(s) = r.get("section") {
                    push_sections(s, 0, &mut sections);
                }
            }
            Some("Patient" | "Organization" | "Practitioner" | "PractitionerRole" | "Binary") => {}
            Some(t) => resources.push(ResourceView {
                label: model::resource_label(t).to_string(),
                summary: summary(r),
                html: narrative(r),
            }),
            None => {}
        }
    }
    (sections, resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrative_loses_scripts_styles_and_handlers() {
        let dirty = r#"<div xmlns="http://www.w3.org/1999/xhtml"><p style="color:red" onclick="x()">所見</p><script>alert(1)</script></div>"#;
        let clean = sanitize(dirty);
        assert!(clean.contains("所見"));
        assert!(!clean.contains("script"));
        assert!(!clean.contains("style"));
        assert!(!clean.contains("onclick"));
    }

    #[test]
    fn sections_nest_and_keep_their_titles() {
        let content = serde_json::json!({"resourceType": "Bundle", "entry": [{"resource": {
            "resourceType": "Composition", "section": [{"title": "構造情報", "section": [
                {"title": "紹介目的", "text": {"div": "<div>精査依頼</div>"}}]}]}},
            {"resource": {"resourceType": "Condition", "code": {"text": "2型糖尿病"}}}]});
        let (sections, resources) = render_bundle(&content.to_string());
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[1].depth, 1);
        assert!(sections[1].html.contains("精査依頼"));
        assert_eq!(resources[0].label, "傷病名");
        assert_eq!(resources[0].summary, "2型糖尿病");
    }
}

#[derive(Template)]
#[template(path = "records/link.html")]
pub struct LinkPage {
    pub page: Page,
    pub patient_id: i64,
    pub patient_name: String,
    pub network_id: String,
    pub local_id: String,
    pub error: String,
}

/// For one facility's documents: who may read them, under which consent (the effective scope).
pub struct ScopeLine {
    /// The facility whose documents the consent shares: name（code）.
    pub facility: String,
    pub readers: String,
    pub in_force: bool,
    pub status: String,
    pub signed_on: String,
    pub owner: String,
    pub recorded: String,
    pub scan: Option<String>,
}

/// One line of a patient's consent history.
pub struct HistoryLine {
    pub at: String,
    pub change: &'static str,
    pub withdrawal: bool,
    pub facility: String,
    pub readers: String,
    /// Who acted: the owner facility, or staff on a paper form.
    pub owner: String,
    pub by: String,
    pub form: String,
    pub scan: Option<String>,
}

/// The consents of a patient as the patient page (and the staff page) show them, with what the
/// viewer may do.
#[derive(Default)]
pub struct ConsentPanel {
    pub lines: Vec<ScopeLine>,
    pub history: Vec<HistoryLine>,
    /// The viewer's facility code (the hidden field of the forms).
    pub own_code: String,
    /// A facility manager of a linked facility that holds its own consent may record it.
    pub can_record: bool,
    /// … and withdraw it while it is in force.
    pub can_withdraw: bool,
    /// The facility's own consent is held by staff (a paper form): changes go through them.
    pub held_by_staff: bool,
    /// The facilities a scope may list, as checkboxes (none ticked).
    pub choices: Vec<ScopeChoice>,
}

/// One participating facility as a checkbox of a consent's scope.
#[derive(Clone)]
pub struct ScopeChoice {
    pub code: String,
    /// The label: the facility's name and code.
    pub label: String,
    pub ticked: bool,
}

impl ScopeChoice {
    /// The checkboxes of `facilities` (code, name), those in `ticked` ticked.
    pub fn all(facilities: &[(String, String)], ticked: &[String]) -> Vec<ScopeChoice> {
        facilities
            .iter()
            .map(|(code, name)| ScopeChoice {
                code: code.clone(),
                label: format!("{name}（{code}）"),
                ticked: ticked.contains(code),
            })
            .collect()
    }
}

/// The facility manager's consent form when it has to be shown again (422).
#[derive(Template)]
#[template(path = "records/consent_form.html")]
pub struct ConsentFormPage {
    pub page: Page,
    pub patient_id: i64,
    pub patient_name: String,
    pub form: ConsentValues,
    /// The participating facilities, those of the sent form ticked.
    pub choices: Vec<ScopeChoice>,
    pub errors: Vec<String>,
}

/// The facility manager's consent form as sent: the listed facilities are the ticked
/// checkboxes (repeated `facilities` fields), never typed codes (issue 15 defect 6).
#[derive(Default, Clone)]
pub struct ConsentValues {
    /// The code of the facility whose consent is recorded (empty: the caller's own).
    pub facility: String,
    pub signed_on: String,
    pub scope: String,
    pub facilities: Vec<String>,
}

impl ConsentValues {
    /// The form from its fields (a repeated `facilities` field: one ticked facility each).
    pub fn from_fields(fields: Vec<(String, String)>) -> ConsentValues {
        let mut v = ConsentValues::default();
        for (name, value) in fields {
            match name.as_str() {
                "facility" => v.facility = value,
                "signed_on" => v.signed_on = value,
                "scope" => v.scope = value,
                "facilities" if !value.trim().is_empty() => {
                    v.facilities.push(value.trim().to_string())
                }
                _ => {}
            }
        }
        v
    }
}

/// A patient as the staff see them on the paper-form page.
pub struct PaperPatient {
    pub network_id: String,
    pub name: String,
    pub kana: String,
    pub birth_date: String,
    pub gender: &'static str,
    /// Facilities holding a local ID of the patient: (code, name).
    pub linked: Vec<(String, String)>,
}

#[derive(Default, Clone)]
pub struct PaperValues {
    pub patient: String,
    pub facility: String,
    pub action: String,
    pub signed_on: String,
    pub scope: String,
    /// The ticked facility codes of a `listed` scope (checkboxes, as on the facility's form).
    pub facilities: Vec<String>,
}

/// Staff entering a signed paper form (同意書・撤回書) with its scan.
#[derive(Template)]
#[template(path = "records/paper_consent.html")]
pub struct PaperConsentPage {
    pub page: Page,
    pub patient: Option<PaperPatient>,
    pub consent: ConsentPanel,
    pub form: PaperValues,
    /// The participating facilities as checkboxes for a `listed` scope.
    pub choices: Vec<ScopeChoice>,
    pub errors: Vec<String>,
}
