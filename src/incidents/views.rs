//! Templates of the incidents, with display-ready data.

use askama::Template;

use crate::web::Page;

pub struct Row {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub severity: &'static str,
    pub severity_key: &'static str,
    pub status: &'static str,
    pub open: bool,
    pub discovered: String,
    pub recovered: String,
}

#[derive(Template)]
#[template(path = "incidents/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub rows: Vec<Row>,
    pub status: String,
    pub severity: String,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub severities: Vec<(&'static str, &'static str)>,
    pub can_create: bool,
}

/// The values of the new and edit forms (datetimes as `YYYY-MM-DDTHH:MM`, Japan time).
#[derive(Default, Clone, Debug, serde::Deserialize)]
#[serde(default)]
pub struct IncidentForm {
    pub title: String,
    pub severity: String,
    pub discovered_at: String,
    pub discovered_where: String,
    pub occurred_at: String,
    pub description: String,
    pub impact: String,
    pub affects_users: String,
    pub affected_services: String,
    pub recovered_at: String,
    pub cause: String,
    pub cause_category: String,
    pub action_taken: String,
    pub remarks: String,
    /// Set by the pre-filled forms.
    pub inquiry: String,
    pub alert: String,
    pub revision: String,
}

pub struct FacilityChoice {
    pub id: i64,
    pub name: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "incidents/form.html")]
pub struct FormPage {
    pub page: Page,
    /// None: a new incident; Some(id): the edit (correction) form.
    pub id: Option<i64>,
    pub number: String,
    pub form: IncidentForm,
    pub errors: Vec<(&'static str, String)>,
    pub severities: Vec<(&'static str, &'static str)>,
    pub causes: Vec<(&'static str, &'static str)>,
    pub facilities: Vec<FacilityChoice>,
    /// What the form was pre-filled from (shown above it).
    pub origin: String,
}

impl FormPage {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub struct TimelineView {
    pub at: String,
    pub kind: &'static str,
    pub kind_key: String,
    pub text: String,
    pub by: String,
    pub recorded: String,
}

pub struct VendorView {
    pub at: String,
    pub organisation: String,
    pub person: String,
    pub reference_no: String,
    pub request: String,
    pub answer: String,
    pub by: String,
}

pub struct AttachmentView {
    pub n: i64,
    pub file_name: String,
    pub content_type: String,
    pub size: String,
    pub note: String,
    pub by: String,
    pub at: String,
}

pub struct LinkView {
    pub href: Option<String>,
    pub label: String,
    pub detail: String,
}

pub struct PrintView {
    pub kind: &'static str,
    pub revision: i64,
    pub sha256: String,
    pub by: String,
    pub at: String,
}

/// A recurrence-prevention report of the incident (R17.3), as its page lists it.
pub struct RecurrenceView {
    pub id: i64,
    pub title: String,
    pub state: &'static str,
    pub state_key: &'static str,
    pub measures: usize,
    pub measures_done: usize,
}

#[derive(Template)]
#[template(path = "incidents/show.html")]
pub struct ShowPage {
    pub page: Page,
    pub id: i64,
    pub number: String,
    pub title: String,
    pub status: &'static str,
    pub status_key: &'static str,
    pub severity: &'static str,
    pub revision: i64,
    pub closed: bool,
    /// The 別紙3 fields as (label, value) for the table.
    pub fields: Vec<(&'static str, String)>,
    pub affects_users: bool,
    pub affected_services: String,
    pub facilities: String,
    pub source: String,
    pub timeline: Vec<TimelineView>,
    pub vendors: Vec<VendorView>,
    pub attachments: Vec<AttachmentView>,
    pub links: Vec<LinkView>,
    pub prints: Vec<PrintView>,
    /// Statuses one may move to now: (key, label, back).
    pub moves: Vec<(&'static str, &'static str, bool)>,
    pub can_admin: bool,
    pub can_note: bool,
    pub error: Option<String>,
    pub now_local: String,
    /// The users affected (R17.2): the portal notice and the contact checklist.
    pub contacts_panel: crate::incidents::contacts_panel::PanelData,
    /// May open the recurrence-prevention pages (and so sees the section).
    pub can_see_recurrence: bool,
    /// May start a recurrence-prevention report (system administrators).
    pub can_write_recurrence: bool,
    pub recurrence: Vec<RecurrenceView>,
}
