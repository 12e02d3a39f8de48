//! Display-ready data of the per-account page and the confirmation pages.

use askama::Template;

use crate::web::Page;
use crate::web::list::Pager;

pub struct HistoryLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub details: String,
}

pub struct SessionLine {
    pub started: String,
    pub last_seen: String,
    pub addr: String,
    pub device: String,
}

pub struct RequestLine {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub received: String,
}

/// What the page shows of the account itself.
pub struct AccountView {
    pub id: i64,
    pub login_id: String,
    pub display_name: String,
    pub role: String,
    pub facility: String,
    pub state: String,
    pub disabled: bool,
    pub totp: bool,
    pub last_login: String,
    pub created: String,
    /// A facility's account gets a new password by sealed letter (re-issue), staff on screen.
    pub by_letter: bool,
}

#[derive(Template)]
#[template(path = "account_admin/show.html")]
pub struct ShowPage {
    pub page: Page,
    pub a: AccountView,
    pub sessions: Vec<SessionLine>,
    pub requests: Vec<RequestLine>,
    pub history: Vec<HistoryLine>,
    pub pager: Pager,
}

/// A role to choose on the role change page.
pub struct RoleChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account_admin/confirm.html")]
pub struct ConfirmPage {
    pub page: Page,
    pub a: AccountView,
    /// The action's path segment (`disable`, `role` …).
    pub action: &'static str,
    pub heading: &'static str,
    /// What will happen, in words.
    pub effect: String,
    pub button: &'static str,
    /// Roles to choose from (the role change only).
    pub roles: Vec<RoleChoice>,
    pub reason: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "account_admin/password.html")]
pub struct PasswordPage {
    pub page: Page,
    pub login_id: String,
    pub display_name: String,
    pub account_id: i64,
    pub password: String,
    pub expires: String,
}

/// One option of a select (a role, a facility).
pub struct Choice {
    pub key: String,
    pub label: String,
    pub chosen: bool,
}

#[derive(Template)]
#[template(path = "account_admin/new.html")]
pub struct NewAccountPage {
    pub page: Page,
    pub roles: Vec<Choice>,
    /// The active facilities offered in the field's `<datalist>` (key: code, label: name).
    pub facilities: Vec<Choice>,
    /// The facility field as typed (or pre-filled), and the name it resolves to.
    pub facility: String,
    pub facility_name: Option<String>,
    pub login_id: String,
    pub display_name: String,
    pub reason: String,
    pub error: Option<String>,
}
