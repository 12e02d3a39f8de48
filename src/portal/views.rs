//! Askama structs with display-ready data.

use askama::Template;

use super::model::{self, Badge, Category, RequestKind, RequestState, WindowKind};
use super::repo::{Announcement, Revision, Runbook};
use super::repo_requests::{ChangeRequest, Window};
use crate::db::Timestamp;
use crate::web::Page;

/// One announcement as a line: category, title, badge, dates, and its body (sanitised HTML).
#[derive(Clone, Debug)]
pub struct NoticeLine {
    pub id: i64,
    pub category: &'static str,
    pub title: String,
    pub badge: Option<&'static str>,
    pub badge_class: &'static str,
    pub published: String,
    pub updated: Option<String>,
    pub pinned: bool,
    pub body_html: String,
}

fn category_label(key: &str) -> &'static str {
    Category::parse(key)
        .map(Category::label)
        .unwrap_or("お知らせ")
}

pub fn notice_line(a: &Announcement, now: Timestamp, days: i64) -> NoticeLine {
    let badge = model::badge(a.publish_at, a.content_updated_at, now, days);
    NoticeLine {
        id: a.id,
        category: category_label(&a.category),
        title: a.title.clone(),
        badge: badge.map(Badge::label),
        badge_class: match badge {
            Some(Badge::Updated) => "badge-updated",
            _ => "badge-new",
        },
        published: a.publish_at.jst(),
        updated: a.content_updated_at.map(|t| t.jst()),
        pinned: a.pinned,
        body_html: model::render_markdown(&a.body_md),
    }
}

pub struct CategorySection {
    pub label: &'static str,
    pub key: &'static str,
    pub items: Vec<NoticeLine>,
}

pub struct WindowLine {
    pub id: i64,
    pub kind: &'static str,
    pub title: String,
    pub starts: String,
    pub ends: String,
    pub services: String,
    pub reason: String,
    pub state: &'static str,
    pub proposed: bool,
    pub approved_by: String,
    pub source: String,
    pub in_progress: bool,
}

pub fn window_line(w: &Window, now: Timestamp) -> WindowLine {
    WindowLine {
        id: w.id,
        kind: WindowKind::parse(&w.kind)
            .map(WindowKind::label)
            .unwrap_or("予定"),
        title: w.title.clone(),
        starts: w.starts_at.jst(),
        ends: w.ends_at.jst(),
        services: w.services.clone(),
        reason: w.reason.clone(),
        state: match w.state.as_str() {
            "approved" => "承認済（公開）",
            "withdrawn" => "取り下げ",
            _ => "提案中（未公開）",
        },
        proposed: w.state == "proposed",
        approved_by: match (&w.approved_by, w.approved_at) {
            (Some(by), Some(at)) => format!("{by}（{}）", at.jst()),
            _ => String::new(),
        },
        source: w.source.clone(),
        in_progress: w.state == "approved" && w.starts_at <= now && now < w.ends_at,
    }
}

pub fn banner_text(w: &Window) -> String {
    let kind = WindowKind::parse(&w.kind)
        .map(WindowKind::label)
        .unwrap_or("保守作業");
    format!(
        "【{kind}のため実施中】{}　{} 〜 {}　対象：{}",
        w.title,
        w.starts_at.jst(),
        w.ends_at.jst(),
        if w.services.is_empty() {
            "全サービス"
        } else {
            &w.services
        }
    )
}

#[derive(Template)]
#[template(path = "portal/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub sections: Vec<CategorySection>,
    pub windows: Vec<WindowLine>,
    pub can_edit: bool,
}

#[derive(Template)]
#[template(path = "portal/show.html")]
pub struct ShowPage {
    pub page: Page,
    pub item: NoticeLine,
    pub can_edit: bool,
}

pub struct ManageLine {
    pub id: i64,
    pub category: &'static str,
    pub title: String,
    pub status: &'static str,
    pub publish: String,
    pub expires: String,
    pub public: bool,
    pub pinned: bool,
    pub revision: i64,
}

pub fn manage_line(a: &Announcement, now: Timestamp) -> ManageLine {
    let status = if a.publish_at > now {
        "公開予約"
    } else if a.expires_at.is_some_and(|e| e <= now) {
        "掲載終了"
    } else {
        "公開中"
    };
    ManageLine {
        id: a.id,
        category: category_label(&a.category),
        title: a.title.clone(),
        status,
        publish: a.publish_at.jst(),
        expires: a.expires_at.map(|t| t.jst()).unwrap_or_default(),
        public: a.is_public,
        pinned: a.pinned,
        revision: a.revision,
    }
}

#[derive(Template)]
#[template(path = "portal/manage.html")]
pub struct ManagePage {
    pub page: Page,
    pub items: Vec<ManageLine>,
    /// The search as typed, and the pager of the list (X.4).
    pub q: String,
    pub pager: crate::web::list::Pager,
}

/// The values of the announcement form, as typed.
#[derive(Clone, Debug, Default)]
pub struct AnnouncementForm {
    pub category: String,
    pub title: String,
    pub body: String,
    pub is_public: bool,
    pub pinned: bool,
    pub publish_at: String,
    pub expires_at: String,
    pub base_revision: i64,
}

#[derive(Clone, Debug, Default)]
pub struct FormErrors {
    pub title: Option<String>,
    pub body: Option<String>,
    pub category: Option<String>,
    pub publish_at: Option<String>,
    pub expires_at: Option<String>,
    pub general: Option<String>,
}

impl FormErrors {
    pub fn any(&self) -> bool {
        self.title.is_some()
            || self.body.is_some()
            || self.category.is_some()
            || self.publish_at.is_some()
            || self.expires_at.is_some()
            || self.general.is_some()
    }
}

pub struct RevisionLine {
    pub revision: i64,
    pub title: String,
    pub author: String,
    pub at: String,
    pub note: String,
    pub body_md: String,
    pub current: bool,
}

pub fn revision_lines(revs: &[Revision], current: i64) -> Vec<RevisionLine> {
    revs.iter()
        .map(|r| RevisionLine {
            revision: r.revision,
            title: r.title.clone(),
            author: format!("{}（{}）", r.author_name, r.author_login),
            at: r.created_at.jst(),
            note: r.note.clone(),
            body_md: r.body_md.clone(),
            current: r.revision == current,
        })
        .collect()
}

pub struct CategoryOption {
    pub key: &'static str,
    pub label: &'static str,
}

pub fn category_options() -> Vec<CategoryOption> {
    Category::ALL
        .iter()
        .map(|c| CategoryOption {
            key: c.key(),
            label: c.label(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "portal/edit.html")]
pub struct EditPage {
    pub page: Page,
    /// None for a new announcement.
    pub id: Option<i64>,
    pub form: AnnouncementForm,
    pub errors: FormErrors,
    pub preview: Option<String>,
    pub categories: Vec<CategoryOption>,
    pub revisions: Vec<RevisionLine>,
    /// Where the history's restore buttons post (`{restore_base}/restore`).
    pub restore_base: String,
}

pub struct RequestLine {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub state: &'static str,
    pub state_key: String,
    pub kind: &'static str,
    pub requested_by: String,
    pub requested_at: String,
    pub done_at: String,
    pub lead: String,
}

pub fn request_line(r: &ChangeRequest) -> RequestLine {
    RequestLine {
        id: r.id,
        title: r.title.clone(),
        body: r.body.clone(),
        state: RequestState::parse(&r.state)
            .map(RequestState::label)
            .unwrap_or("不明"),
        state_key: r.state.clone(),
        kind: r
            .kind
            .as_deref()
            .and_then(RequestKind::parse)
            .map(RequestKind::label)
            .unwrap_or("未分類"),
        requested_by: r.requested_by_name.clone(),
        requested_at: r.requested_at.jst(),
        done_at: r.done_at.map(|t| t.jst()).unwrap_or_default(),
        lead: r
            .lead_minutes
            .map(model::lead_time_label)
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "portal/requests.html")]
pub struct RequestsPage {
    pub page: Page,
    pub items: Vec<RequestLine>,
    pub can_request: bool,
    /// The search text, shown back in the search box.
    pub q: String,
    pub pager: crate::web::list::Pager,
}

#[derive(Template)]
#[template(path = "portal/request_new.html")]
pub struct RequestNewPage {
    pub page: Page,
    pub title: String,
    pub body: String,
    pub error_title: Option<String>,
    pub error_body: Option<String>,
}

pub struct HistoryLine {
    pub at: String,
    pub who: String,
    pub change: String,
    pub note: String,
}

pub struct MessageLine {
    pub at: String,
    pub who: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "portal/request_show.html")]
pub struct RequestShowPage {
    pub page: Page,
    pub item: RequestLine,
    pub history: Vec<HistoryLine>,
    pub messages: Vec<MessageLine>,
    pub can_classify: bool,
    pub can_discuss: bool,
    pub can_agree: bool,
    pub can_complete: bool,
    pub error: Option<String>,
}

pub struct KindOption {
    pub key: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "portal/schedules.html")]
pub struct SchedulesPage {
    pub page: Page,
    pub items: Vec<WindowLine>,
    pub can_propose: bool,
    pub can_approve: bool,
    pub kinds: Vec<KindOption>,
    pub form: WindowForm,
    pub error: Option<String>,
    /// The search text, shown back in the search box.
    pub q: String,
    pub pager: crate::web::list::Pager,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct WindowForm {
    pub kind: String,
    pub title: String,
    pub starts_at: String,
    pub ends_at: String,
    pub services: String,
    pub reason: String,
}

pub struct RunbookLine {
    pub id: i64,
    pub title: String,
    pub revision: i64,
    pub updated: String,
    pub updated_by: String,
}

pub fn runbook_line(r: &Runbook) -> RunbookLine {
    RunbookLine {
        id: r.id,
        title: r.title.clone(),
        revision: r.revision,
        updated: r.updated_at.jst(),
        updated_by: r.updated_by.clone(),
    }
}

#[derive(Template)]
#[template(path = "portal/runbooks.html")]
pub struct RunbooksPage {
    pub page: Page,
    pub items: Vec<RunbookLine>,
    pub title: String,
    pub body: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/runbook.html")]
pub struct RunbookPage {
    pub page: Page,
    pub item: RunbookLine,
    pub body_html: String,
    pub title: String,
    pub body: String,
    pub base_revision: i64,
    pub preview: Option<String>,
    pub error: Option<String>,
    pub revisions: Vec<RevisionLine>,
    pub restore_base: String,
}

pub struct FeedEntry {
    pub id: i64,
    pub title: String,
    pub category: &'static str,
    pub updated: String,
    pub published: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "portal/feed.xml")]
pub struct Feed {
    pub base: String,
    pub updated: String,
    pub entries: Vec<FeedEntry>,
}
