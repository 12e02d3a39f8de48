use askama::Template;

use super::model::Facility;
use crate::web::Page;

#[derive(Template)]
#[template(path = "facilities/directory.html")]
pub struct DirectoryPage {
    pub page: Page,
    pub facilities: Vec<Facility>,
}

/// The values of the facility form as typed, and the errors next to each field.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct FacilityForm {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub fax: String,
}

#[derive(Default)]
pub struct FacilityErrors {
    pub code: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub general: Option<String>,
}

impl FacilityErrors {
    pub fn any(&self) -> bool {
        self.code.is_some() || self.name.is_some() || self.kind.is_some() || self.general.is_some()
    }
}

#[derive(Template)]
#[template(path = "facilities/admin.html")]
pub struct AdminPage {
    pub page: Page,
    pub facilities: Vec<Facility>,
    pub form: FacilityForm,
    pub errors: FacilityErrors,
    pub kinds: Vec<&'static str>,
    /// The search text and the pager of the list (X.4).
    pub q: String,
    pub pager: crate::web::list::Pager,
}

#[derive(Template)]
#[template(path = "facilities/edit.html")]
pub struct EditPage {
    pub page: Page,
    pub id: i64,
    /// `/admin/accounts/new?facility=CODE`, when the caller may create accounts here.
    pub new_account: Option<String>,
    pub withdrawn: bool,
    pub form: FacilityForm,
    pub errors: FacilityErrors,
    pub kinds: Vec<&'static str>,
}
