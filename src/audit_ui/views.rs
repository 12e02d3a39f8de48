use askama::Template;

use super::query::LogQuery;
use super::render::Line;
use crate::web::Page;
use crate::web::list::Pager;

#[derive(Template)]
#[template(path = "audit_ui/index.html")]
pub struct AuditPage {
    pub page: Page,
    pub q: LogQuery,
    pub categories: &'static [(&'static str, &'static str)],
    pub actions: &'static [(&'static str, &'static str)],
    pub events: Vec<Line>,
    pub error: Option<String>,
    pub pager: Pager,
    /// The filters as a query string, for the export links.
    pub export: String,
}

pub struct SessionLine {
    pub login_id: String,
    pub display_name: String,
    pub role: String,
    pub started: String,
    pub last_seen: String,
    pub ended: String,
    pub duration: String,
    pub reason: String,
    pub client_addr: String,
}

#[derive(Template)]
#[template(path = "audit_ui/sessions.html")]
pub struct SessionsPage {
    pub page: Page,
    pub login_id: String,
    pub from: String,
    pub to: String,
    pub sessions: Vec<SessionLine>,
    pub pager: crate::web::list::Pager,
}

#[derive(Template)]
#[template(path = "audit_ui/verify.html")]
pub struct VerifyPage {
    pub page: Page,
    pub rows: i64,
    pub unsealed: i64,
    pub ok: bool,
    /// "chain", "anchor" or "key" when not ok.
    pub kind: &'static str,
    pub broken_id: i64,
    pub reason: String,
    /// How many anchors outside the database the chain was checked against.
    pub anchors: usize,
    pub latest: Option<AnchorLine>,
    pub checked_at: String,
}

pub struct AnchorLine {
    pub seq: i64,
    pub at: String,
    pub hash: String,
}
