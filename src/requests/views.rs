use askama::Template;

use super::model::{JOB_TYPES, PersonErrors, Request, RequestKind, VerificationMethod};
use crate::accounts::service::Person;
use crate::facilities::Facility;
use crate::web::Page;

/// The request form as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RequestForm {
    pub kind: String,
    pub facility_id: String,
    pub target: String,
    pub target_login_id: String,
    pub name: String,
    pub kana: String,
    pub job_type: String,
    pub contact: String,
    pub reason: String,
    pub paper_date: String,
    /// Set by the 種類を切り替える button: show the form for the chosen kind again, with
    /// everything typed so far, and store nothing.
    pub switch: String,
}

#[derive(Default)]
pub struct FormErrors {
    pub person: PersonErrors,
    pub target: Option<String>,
    pub facility: Option<String>,
    pub paper_date: Option<String>,
    pub general: Option<String>,
}

impl FormErrors {
    pub fn any(&self) -> bool {
        self.person.any()
            || self.target.is_some()
            || self.facility.is_some()
            || self.paper_date.is_some()
            || self.general.is_some()
    }
}

pub fn kinds() -> Vec<(&'static str, &'static str)> {
    RequestKind::ALL
        .iter()
        .map(|k| (k.key(), k.label()))
        .collect()
}

pub fn job_types() -> Vec<&'static str> {
    JOB_TYPES.to_vec()
}

#[derive(Template)]
#[template(path = "requests/mine.html")]
pub struct MinePage {
    pub page: Page,
    pub facility_name: String,
    pub people: Vec<Person>,
    pub requests: Vec<Request>,
    /// The search text as typed (trimmed), for the search box.
    pub q: String,
    /// The state filter ("" every state) and the choices of its menu.
    pub state: &'static str,
    pub states: Vec<(&'static str, &'static str)>,
    pub pager: crate::web::list::Pager,
}

#[derive(Template)]
#[template(path = "requests/form.html")]
pub struct FormPage {
    pub page: Page,
    pub action: &'static str,
    pub paper: bool,
    pub kind: RequestKind,
    pub kinds: Vec<(&'static str, &'static str)>,
    pub job_types: Vec<&'static str>,
    pub facilities: Vec<Facility>,
    pub people: Vec<Person>,
    pub form: RequestForm,
    pub errors: FormErrors,
}

#[derive(Template)]
#[template(path = "requests/admin_list.html")]
pub struct AdminListPage {
    pub page: Page,
    pub state: String,
    pub requests: Vec<Request>,
    pub error: Option<String>,
    /// Whether the 処理して印刷 button belongs on this tab.
    pub can_issue: bool,
    /// The download token of letters just made.
    pub letters: Option<String>,
    /// The search text, shown back in the search box.
    pub q: String,
    pub pager: crate::web::list::Pager,
}

#[derive(Template)]
#[template(path = "requests/reissue.html")]
pub struct ReissuePage {
    pub page: Page,
    pub person: Person,
    pub facility_name: String,
    pub reason: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "requests/letters_ready.html")]
pub struct LettersReadyPage {
    pub page: Page,
    /// None: nothing waits any more (downloaded, expired, or another instance).
    pub token: Option<String>,
    /// The account a re-issue was for (link back).
    pub account: Option<i64>,
}

#[derive(Template)]
#[template(path = "requests/show.html")]
pub struct ShowPage {
    pub page: Page,
    pub r: Request,
    pub methods: Vec<(&'static str, &'static str)>,
    pub error: Option<String>,
}

pub fn methods() -> Vec<(&'static str, &'static str)> {
    VerificationMethod::ALL
        .iter()
        .map(|m| (m.key(), m.label()))
        .collect()
}

#[derive(Template)]
#[template(path = "requests/import.html")]
pub struct ImportPage {
    pub page: Page,
    pub errors: Vec<String>,
}
