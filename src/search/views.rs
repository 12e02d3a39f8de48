//! Template of the global search page.

use askama::Template;

use crate::web::Page;

/// One result: where it leads and what it shows.
pub struct Hit {
    pub href: String,
    pub key: String,
    pub label: String,
}

/// A group of results of one kind; `more` when the group filled its limit.
pub struct Group {
    pub id: &'static str,
    pub title: &'static str,
    pub hits: Vec<Hit>,
    pub more: bool,
    /// The group's own list, searched with the same text (empty when the caller has none).
    pub list_href: String,
}

#[derive(Template)]
#[template(path = "search/index.html")]
pub struct SearchPage {
    pub page: Page,
    pub q: String,
    pub groups: Vec<Group>,
    /// Whether a search was made (some text was given).
    pub searched: bool,
}
