//! Templates of the helpdesk, with display-ready data.

use askama::Template;

use super::repo::Inquiry;
use super::report::MonthReport;
use crate::web::Page;

pub struct Row {
    pub id: i64,
    pub received: String,
    pub channel: String,
    pub category: String,
    pub requester: String,
    pub subject: String,
    pub status: String,
    pub first_response: String,
    pub resolution: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "helpdesk/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub rows: Vec<Row>,
    pub open_only: bool,
    pub targets: String,
}

#[derive(Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct InquiryForm {
    pub channel: String,
    pub category: String,
    pub requester_name: String,
    pub facility_name: String,
    pub contact: String,
    pub subject: String,
    pub content: String,
    pub account_request_id: String,
    pub incident_id: String,
    /// `YYYY-MM-DDTHH:MM` in Japan time (staff form only); empty means now.
    pub received_at: String,
}

#[derive(Template)]
#[template(path = "helpdesk/new.html")]
pub struct NewPage {
    pub page: Page,
    pub form: InquiryForm,
    pub errors: Vec<(&'static str, String)>,
    pub channels: &'static [&'static str],
    pub categories: &'static [&'static str],
}

impl NewPage {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub struct EntryView {
    pub id: i64,
    pub kind: &'static str,
    pub at: String,
    pub who: String,
    pub method: String,
    pub content: String,
    pub status_after: String,
    pub public: bool,
    pub corrects: Option<i64>,
}

#[derive(Template)]
#[template(path = "helpdesk/show.html")]
pub struct ShowPage {
    pub page: Page,
    pub inq: Inquiry,
    pub received: String,
    pub entries: Vec<EntryView>,
    pub first_response: String,
    pub resolution: String,
    pub overdue: bool,
    pub methods: &'static [&'static str],
    pub statuses: Vec<&'static str>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "helpdesk/report.html")]
pub struct ReportPage {
    pub page: Page,
    pub r: MonthReport,
    pub times: Vec<(&'static str, usize, String, String)>,
    pub backlog_at: String,
    pub prev: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "helpdesk/portal_index.html")]
pub struct PortalIndexPage {
    pub page: Page,
    pub rows: Vec<Row>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "helpdesk/portal_new.html")]
pub struct PortalNewPage {
    pub page: Page,
    pub form: InquiryForm,
    pub errors: Vec<(&'static str, String)>,
    pub categories: &'static [&'static str],
    pub notice: Option<String>,
    pub hours: String,
}

impl PortalNewPage {
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "helpdesk/portal_show.html")]
pub struct PortalShowPage {
    pub page: Page,
    pub inq: Inquiry,
    pub received: String,
    pub entries: Vec<EntryView>,
    pub error: Option<String>,
}
