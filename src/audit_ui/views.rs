use askama::Template;

use crate::audit::repo::Filter;
use crate::web::Page;

pub struct EventLine {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub details: String,
    pub client_addr: String,
}

#[derive(Template)]
#[template(path = "audit_ui/index.html")]
pub struct AuditPage {
    pub page: Page,
    pub filter: Filter,
    pub events: Vec<EventLine>,
    pub error: Option<String>,
    pub page_no: i64,
    pub has_next: bool,
    pub query: String,
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
