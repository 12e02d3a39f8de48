//! Templates of the helpdesk, with display-ready data.

use askama::Template;

use super::repo::Inquiry;
use super::report::MonthReport;
use crate::web::{Page, Upload};

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
    pub priority: String,
    pub assignee: String,
}

#[derive(Template)]
#[template(path = "helpdesk/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub rows: Vec<Row>,
    pub targets: String,
    /// The filters as typed (kept in the form and in every link).
    pub q: String,
    pub status: String,
    pub assignee: String,
    pub priority: String,
    pub facility: String,
    pub sort: String,
    pub desc: bool,
    pub statuses: Vec<&'static str>,
    pub staff: Vec<(i64, String)>,
    pub priorities: &'static [&'static str],
    pub facilities: Vec<String>,
    pub total: i64,
    pub page_no: i64,
    pub pages: i64,
    pub first: i64,
    pub last: i64,
}

impl IndexPage {
    /// The list's URL with the current filters and the given sort, direction and page.
    pub fn href(&self, sort: &str, desc: bool, page: i64) -> String {
        let mut u = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", self.q.as_str()),
            ("status", self.status.as_str()),
            ("assignee", self.assignee.as_str()),
            ("priority", self.priority.as_str()),
            ("facility", self.facility.as_str()),
        ] {
            if !v.is_empty() {
                u.append_pair(k, v);
            }
        }
        u.append_pair("sort", sort);
        u.append_pair("dir", if desc { "desc" } else { "asc" });
        if page > 1 {
            u.append_pair("page", &page.to_string());
        }
        format!("/helpdesk?{}", u.finish())
    }

    /// A column header's link: the other direction when it is the current sort.
    pub fn sort_href(&self, key: &str) -> String {
        let desc = if self.sort == key {
            !self.desc
        } else {
            key != "priority"
        };
        self.href(key, desc, 1)
    }

    pub fn prev_href(&self) -> String {
        self.href(&self.sort, self.desc, self.page_no - 1)
    }

    pub fn next_href(&self) -> String {
        self.href(&self.sort, self.desc, self.page_no + 1)
    }

    pub fn sort_mark(&self, key: &str) -> &'static str {
        match (self.sort == key, self.desc) {
            (false, _) => "",
            (true, true) => " ▼",
            (true, false) => " ▲",
        }
    }
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

/// A staff response, memo or correction as typed (kept when it is refused, to show it again).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ResponseForm {
    pub method: String,
    pub status: String,
    pub content: String,
    pub internal: String,
    pub corrects: String,
}

impl ResponseForm {
    pub fn of(up: &Upload) -> Self {
        ResponseForm {
            method: up.field("method").into(),
            status: up.field("status").into(),
            content: up.field("content").into(),
            internal: up.field("internal").into(),
            corrects: String::new(),
        }
    }
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
    /// The files sent with this entry.
    pub files: Vec<FileView>,
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
    /// A refusal, shown beside the form it answers.
    pub error: Option<(FormAt, String)>,
    /// The method the response form preselects (how the inquiry came in).
    pub default_method: &'static str,
    pub staff: Vec<(i64, String)>,
    pub priorities: &'static [&'static str],
    pub assignee_name: String,
    /// (id, title) of the canned replies in use.
    pub canned: Vec<(i64, String)>,
    pub chosen_canned: Option<i64>,
    /// The response text pre-filled by 挿入 (a canned reply), or typed before a refusal.
    pub draft: String,
    /// What a refused response had chosen (kept, so a memo stays a memo).
    pub kept_method: String,
    pub kept_status: String,
    pub kept_internal: bool,
    /// What a refused correction had typed: the entry number and the text.
    pub kept_corrects: String,
    pub kept_correction: String,
    pub merged_from: Vec<i64>,
    pub attachments: Vec<FileView>,
}

/// The forms of the inquiry page a refusal can belong to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FormAt {
    Attachment,
    Response,
    Correction,
}

impl ShowPage {
    /// The refusal of the form named `form` (`attachment`, `response`, `correction`), if any.
    pub fn error_at(&self, form: &str) -> Option<&str> {
        let at = match form {
            "attachment" => FormAt::Attachment,
            "response" => FormAt::Response,
            _ => FormAt::Correction,
        };
        self.error
            .as_ref()
            .filter(|(f, _)| *f == at)
            .map(|(_, e)| e.as_str())
    }

    pub fn assigned(&self, id: &i64) -> bool {
        self.inq.assignee_account_id == Some(*id)
    }

    pub fn chosen(&self, id: &i64) -> bool {
        self.chosen_canned == Some(*id)
    }

    pub fn priority_is(&self, p: &str) -> bool {
        self.inq.priority == p
    }

    pub fn method_is(&self, m: &str) -> bool {
        if self.kept_method.is_empty() {
            self.default_method == m
        } else {
            self.kept_method == m
        }
    }

    pub fn status_is(&self, s: &str) -> bool {
        self.kept_status == s
    }
}

#[derive(Template)]
#[template(path = "helpdesk/merge.html")]
pub struct MergePage {
    pub page: Page,
    pub inq: Inquiry,
    pub form: MergeForm,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "helpdesk/canned.html")]
pub struct CannedPage {
    pub page: Page,
    /// (id, title, body, created by, created at)
    pub replies: Vec<(i64, String, String, String, String)>,
    /// A refusal, shown in the form it answers: None the add form, Some(id) that reply's 取り下げ.
    pub error: Option<(Option<i64>, String)>,
    /// What was typed into the refused form (title, body; reason).
    pub typed: CannedTyped,
}

#[derive(Default)]
pub struct CannedTyped {
    pub title: String,
    pub body: String,
    pub reason: String,
}

impl CannedPage {
    pub fn error_of(&self, form: Option<i64>) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(at, _)| *at == form)
            .map(|(_, e)| e.as_str())
    }

    /// The reason typed into reply `id`'s 取り下げ form, if that was the refused one.
    pub fn reason_for(&self, id: i64) -> &str {
        match self.error {
            Some((Some(at), _)) if at == id => &self.typed.reason,
            _ => "",
        }
    }
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
    pub attachments: Vec<FileView>,
    pub error: Option<String>,
    /// The reply typed before it was refused (kept in the form).
    pub draft: String,
}

#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
pub struct MergeForm {
    pub into: String,
    pub reason: String,
    pub confirm: String,
}

/// A file as the inquiry's page lists it.
pub struct FileView {
    pub href: String,
    pub name: String,
    pub size: String,
    pub internal: bool,
    pub by: String,
    pub at: String,
    pub entry_id: Option<i64>,
}

/// Puts each file under the entry it came with; returns the files of the inquiry itself.
pub fn place_files(entries: &mut [EntryView], files: Vec<FileView>) -> Vec<FileView> {
    let mut own = Vec::new();
    for f in files {
        match f
            .entry_id
            .and_then(|e| entries.iter_mut().find(|v| v.id == e))
        {
            Some(entry) => entry.files.push(f),
            // An entry not shown (a memo, on the portal) shows none of its files either.
            None if f.entry_id.is_some() => {}
            None => own.push(f),
        }
    }
    own
}

/// The files of an inquiry for a page: `staff` sees memo files too; `base`: `/helpdesk` or
/// `/support`.
pub async fn file_views(
    conn: &mut crate::db::Conn,
    id: i64,
    staff: bool,
    base: &str,
) -> sqlx::Result<Vec<FileView>> {
    Ok(super::repo_files::of_inquiry(conn, id)
        .await?
        .into_iter()
        .zip(1..)
        .filter(|(f, _)| staff || f.public)
        .map(|(f, n)| FileView {
            href: format!("{base}/{id}/attachments/{n}"),
            size: size_label(f.size_bytes),
            internal: !f.public,
            by: f.uploaded_by,
            at: f.uploaded_at.jst(),
            entry_id: f.entry_id,
            name: f.file_name,
        })
        .collect())
}

fn size_label(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
    }
}
