//! Categories, states, badges, safe Markdown and form-time parsing. Pure: no SQL here.

use jiff::SignedDuration;
use jiff::civil::DateTime;

use crate::db::{Timestamp, tokyo};

/// Announcement categories, in the order the top page shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Notice,
    Maintenance,
    Failure,
    Backup,
    Training,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Notice,
        Category::Maintenance,
        Category::Failure,
        Category::Backup,
        Category::Training,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Category::Notice => "notice",
            Category::Maintenance => "maintenance",
            Category::Failure => "failure",
            Category::Backup => "backup",
            Category::Training => "training",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Notice => "お知らせ",
            Category::Maintenance => "メンテナンス・サービス停止",
            Category::Failure => "障害情報",
            Category::Backup => "バックアップ予定",
            Category::Training => "研修・説明会",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.key() == s)
    }
}

/// The mark an announcement carries on the top page (R13.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Badge {
    New,
    Updated,
}

impl Badge {
    pub fn label(self) -> &'static str {
        match self {
            Badge::New => "新着",
            Badge::Updated => "更新",
        }
    }
}

/// 更新 when the content changed after publication within the last `days`, else 新着 when it was
/// published within the last `days`. An update is the newer fact, so it wins.
pub fn badge(
    publish_at: Timestamp,
    content_updated_at: Option<Timestamp>,
    now: Timestamp,
    days: i64,
) -> Option<Badge> {
    let since = now.minus(SignedDuration::from_hours(24 * days.max(0)));
    match content_updated_at {
        Some(u) if u > since && u <= now => Some(Badge::Updated),
        _ if publish_at > since && publish_at <= now => Some(Badge::New),
        _ => None,
    }
}

/// Whether an edit at `now` counts as a change after publication (an edit before the item is
/// published is still drafting).
pub fn is_change_after_publication(publish_at: Timestamp, now: Timestamp) -> bool {
    publish_at <= now
}

/// Markdown to HTML that is safe to insert into a page: pulldown-cmark renders (raw HTML passes
/// through it), then ammonia keeps only harmless tags and attributes — no `<script>`, no `on*`
/// handlers, no `javascript:` URLs — and marks links `noopener noreferrer`.
pub fn render_markdown(md: &str) -> String {
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    opts.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    let parser = pulldown_cmark::Parser::new_ext(md, opts);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::clean(&html)
}

/// Change request states (R13.1–R13.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// 受付: submitted, not yet classified.
    Submitted,
    /// 対応中: content-only, being done.
    InProgress,
    /// 協議中: needs screen design; consultation with the city.
    Consulting,
    /// 合意済: the city agreed to the design; work may proceed.
    Agreed,
    /// 完了.
    Done,
}

impl RequestState {
    pub fn key(self) -> &'static str {
        match self {
            RequestState::Submitted => "submitted",
            RequestState::InProgress => "in_progress",
            RequestState::Consulting => "consulting",
            RequestState::Agreed => "agreed",
            RequestState::Done => "done",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestState::Submitted => "受付",
            RequestState::InProgress => "対応中",
            RequestState::Consulting => "協議中",
            RequestState::Agreed => "合意済",
            RequestState::Done => "完了",
        }
    }

    pub fn parse(s: &str) -> Option<RequestState> {
        [
            RequestState::Submitted,
            RequestState::InProgress,
            RequestState::Consulting,
            RequestState::Agreed,
            RequestState::Done,
        ]
        .into_iter()
        .find(|r| r.key() == s)
    }
}

/// What a change request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// 内容のみ: text or files; done promptly (R13.3).
    Content,
    /// 構成変更: needs screen design; consultation first (R13.2).
    Design,
}

impl RequestKind {
    pub fn key(self) -> &'static str {
        match self {
            RequestKind::Content => "content",
            RequestKind::Design => "design",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Content => "内容のみの変更",
            RequestKind::Design => "画面設計を伴う変更（構成変更）",
        }
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        match s {
            "content" => Some(RequestKind::Content),
            "design" => Some(RequestKind::Design),
            _ => None,
        }
    }

    /// The state a request enters when classified as this kind.
    pub fn next_state(self) -> RequestState {
        match self {
            RequestKind::Content => RequestState::InProgress,
            RequestKind::Design => RequestState::Consulting,
        }
    }
}

/// A request may be completed when content-only work is in progress or the design was agreed.
pub fn may_complete(state: RequestState) -> bool {
    matches!(state, RequestState::InProgress | RequestState::Agreed)
}

/// Messages are exchanged while the request is open.
pub fn may_discuss(state: RequestState) -> bool {
    !matches!(state, RequestState::Done)
}

/// "3時間12分" style duration for the lead time of a request.
pub fn lead_time_label(minutes: i64) -> String {
    let (d, h, m) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (d, h) {
        (0, 0) => format!("{m}分"),
        (0, _) => format!("{h}時間{m}分"),
        _ => format!("{d}日{h}時間{m}分"),
    }
}

/// Kinds of schedule window; other domains create them through `portal::schedule_window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    Backup,
    Maintenance,
    PowerInspection,
    ServiceStop,
}

impl WindowKind {
    pub const ALL: [WindowKind; 4] = [
        WindowKind::Backup,
        WindowKind::Maintenance,
        WindowKind::PowerInspection,
        WindowKind::ServiceStop,
    ];

    pub fn key(self) -> &'static str {
        match self {
            WindowKind::Backup => "backup",
            WindowKind::Maintenance => "maintenance",
            WindowKind::PowerInspection => "power_inspection",
            WindowKind::ServiceStop => "service_stop",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Backup => "バックアップ",
            WindowKind::Maintenance => "保守作業",
            WindowKind::PowerInspection => "電源設備点検",
            WindowKind::ServiceStop => "サービス停止",
        }
    }

    pub fn parse(s: &str) -> Option<WindowKind> {
        WindowKind::ALL.into_iter().find(|k| k.key() == s)
    }
}

/// `2026-11-25T10:00` (an `<input type="datetime-local">`, Japan time) → instant.
pub fn parse_local(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let dt: DateTime = s.parse().ok()?;
    dt.to_zoned(tokyo())
        .ok()
        .map(|z| Timestamp::from(z.timestamp()))
}

/// Instant → the value an `<input type="datetime-local">` shows (Japan time, minutes).
pub fn to_local(t: Timestamp) -> String {
    t.as_jiff()
        .to_zoned(tokyo())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The portal (R13.4).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalSettings {
    /// 新着 / 更新 badges mark items published or changed within this many days.
    pub new_badge_days: i64,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self { new_badge_days: 7 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn a_recent_item_is_new_and_an_old_one_has_no_badge() {
        let now = ts("2026-11-25T00:00:00Z");
        assert_eq!(
            badge(ts("2026-11-20T00:00:00Z"), None, now, 7),
            Some(Badge::New)
        );
        assert_eq!(badge(ts("2026-11-01T00:00:00Z"), None, now, 7), None);
    }

    #[test]
    fn a_recent_change_after_publication_is_marked_updated() {
        let now = ts("2026-11-25T00:00:00Z");
        let b = badge(
            ts("2026-10-01T00:00:00Z"),
            Some(ts("2026-11-24T00:00:00Z")),
            now,
            7,
        );
        assert_eq!(b, Some(Badge::Updated));
        assert_eq!(b.map(Badge::label), Some("更新"));
    }

    #[test]
    fn an_item_not_yet_published_has_no_badge() {
        let now = ts("2026-11-25T00:00:00Z");
        assert_eq!(badge(ts("2026-11-26T00:00:00Z"), None, now, 7), None);
    }

    #[test]
    fn markdown_keeps_formatting_and_drops_script_handlers_and_javascript_links() {
        let html = render_markdown(
            "# 見出し\n\n**太字** <script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n[link](javascript:alert(3))",
        );
        assert!(html.contains("<h1>見出し</h1>"));
        assert!(html.contains("<strong>太字</strong>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("onerror"));
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn local_times_are_read_as_japan_time() {
        let t = parse_local("2026-11-25T09:00").expect("parses");
        assert_eq!(t, ts("2026-11-25T00:00:00Z"));
        assert_eq!(to_local(t), "2026-11-25T09:00");
        assert!(parse_local("あした").is_none());
    }

    #[test]
    fn classification_leads_content_to_work_and_design_to_consultation() {
        assert_eq!(RequestKind::Content.next_state(), RequestState::InProgress);
        assert_eq!(RequestKind::Design.next_state(), RequestState::Consulting);
        assert!(!may_complete(RequestState::Consulting));
        assert!(may_complete(RequestState::Agreed));
    }

    #[test]
    fn lead_times_read_naturally() {
        assert_eq!(lead_time_label(5), "5分");
        assert_eq!(lead_time_label(125), "2時間5分");
        assert_eq!(lead_time_label(1500), "1日1時間0分");
    }
}
