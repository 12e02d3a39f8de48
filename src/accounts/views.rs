//! Templates of the accounts domain, with display-ready data.

use askama::Template;

use crate::web::Page;

#[derive(Template)]
#[template(path = "accounts/login.html")]
pub struct LoginPage {
    pub page: Page,
    pub login_id: String,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
    /// Public announcements of the portal.
    pub notices: Vec<crate::portal::NoticeLine>,
    /// The service's status (monitoring), without internal detail.
    pub status: Option<crate::monitor::PublicStatus>,
}

#[derive(Template)]
#[template(path = "accounts/totp_verify.html")]
pub struct TotpVerifyPage {
    pub page: Page,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "accounts/password.html")]
pub struct PasswordPage {
    pub page: Page,
    pub first_time: bool,
    pub min_length: usize,
    pub error_current: Option<String>,
    pub error_new: Option<String>,
}

#[derive(Template)]
#[template(path = "accounts/totp_enroll.html")]
pub struct TotpEnrollPage {
    pub page: Page,
    pub qr_svg: String,
    pub secret_grouped: String,
    pub secret: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "accounts/recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub page: Page,
    pub codes: Vec<String>,
}

pub struct AccountLine {
    pub id: i64,
    pub login_id: String,
    pub display_name: String,
    pub role_label: &'static str,
    pub facility: String,
    pub status: String,
    pub locked: bool,
    pub locked_since: String,
    pub totp: &'static str,
    pub last_login: String,
    /// Facility accounts can get a new letter (a lost letter means a new password).
    pub reissuable: bool,
}

#[derive(Template)]
#[template(path = "accounts/admin_list.html")]
pub struct AdminListPage {
    pub page: Page,
    pub accounts: Vec<AccountLine>,
    /// The search text, the filter choices (key, label) and the chosen ones ("" for all).
    pub q: String,
    pub roles: Vec<(&'static str, &'static str)>,
    pub states: Vec<(&'static str, &'static str)>,
    pub role: &'static str,
    pub state: &'static str,
    pub pager: crate::web::list::Pager,
}

/// One live session on the "my sessions" page.
pub struct SessionView {
    pub id: i64,
    pub device: String,
    /// The full User-Agent (shown as the device's title).
    pub user_agent: String,
    pub client_addr: String,
    pub started: String,
    pub last_seen: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "accounts/sessions.html")]
pub struct SessionsPage {
    pub page: Page,
    pub sessions: Vec<SessionView>,
    pub others: usize,
    /// `max_sessions_per_account` (0: no limit).
    pub limit: i64,
    pub idle_minutes: i64,
}
