//! Templates of notifications.

use askama::Template;

use crate::web::Page;

pub struct Item {
    pub id: i64,
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub mailed: bool,
    pub at: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "notifications/index.html")]
pub struct ListPage {
    pub page: Page,
    pub items: Vec<Item>,
    pub unread: i64,
    pub total: i64,
    pub unread_only: bool,
    pub page_no: i64,
    pub pages: i64,
}

#[derive(Template)]
#[template(path = "notifications/settings.html")]
pub struct SettingsPage {
    pub page: Page,
    pub email: String,
    /// (key, label, mail on)
    pub kinds: Vec<(&'static str, &'static str, bool)>,
    pub error: Option<String>,
}
