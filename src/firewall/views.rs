//! The pages' data, ready to show.

use askama::Template;

use super::detect::Finding;
use super::model::FirewallSettings;
use super::repo::{FileRow, ReviewRow};
use super::service::{self, ReviewContent};
use crate::db::Timestamp;
use crate::web::Page;

fn jst(db_text: &str) -> String {
    db_text
        .parse::<Timestamp>()
        .map(|t| t.jst_seconds())
        .unwrap_or_default()
}

/// A review's state on a given day.
pub struct Status {
    pub label: &'static str,
    pub tone: &'static str,
}

pub fn status(r: &ReviewRow, s: &FirewallSettings, now: Timestamp) -> Status {
    match r.signed_at {
        Some(_) => Status {
            label: "確認済み",
            tone: "ok",
        },
        None if r.period_end.plus(s.grace()) < now => Status {
            label: "期限超過",
            tone: "alert",
        },
        None => Status {
            label: "確認待ち",
            tone: "warn",
        },
    }
}

pub struct ReviewLine {
    pub id: i64,
    pub period: String,
    pub due: String,
    pub allowed: i64,
    pub denied: i64,
    pub findings: i64,
    pub status: Status,
    pub signed: String,
}

pub fn review_line(r: &ReviewRow, s: &FirewallSettings, now: Timestamp) -> ReviewLine {
    ReviewLine {
        id: r.id,
        period: format!(
            "{} 〜 {}",
            r.period_start.jst(),
            r.period_end.minus(jiff::SignedDuration::from_secs(1)).jst()
        ),
        due: r.period_end.plus(s.grace()).jst(),
        allowed: r.allowed,
        denied: r.denied,
        findings: r.findings,
        status: status(r, s, now),
        signed: match (&r.signed_by_name, r.signed_at) {
            (Some(n), Some(t)) => format!("{n}（{}）", t.jst()),
            _ => "—".into(),
        },
    }
}

pub struct FileLine {
    pub path: String,
    pub identity: String,
    pub read: String,
    pub lines: i64,
    pub events: i64,
    pub other: i64,
    pub errors: i64,
    pub last_error: String,
    pub last_read: String,
    pub restarts: i64,
}

pub fn file_line(f: &FileRow) -> FileLine {
    FileLine {
        path: f.path.clone(),
        identity: format!(
            "dev {} / inode {} / 先頭行 {}・初回 {}・最終確認 {}",
            f.dev,
            f.inode,
            f.fingerprint.get(..12).unwrap_or_default(),
            f.first_seen_at.jst(),
            f.last_seen_at.jst()
        ),
        read: format!(
            "{} バイト{}（ファイル {} バイト）",
            f.read_offset,
            if f.gz != 0 { "（展開後）" } else { "" },
            f.size
        ),
        lines: f.lines,
        events: f.events,
        other: f.other,
        errors: f.errors,
        last_error: f.last_error.clone().unwrap_or_default(),
        last_read: f
            .last_read_at
            .map(|t| t.jst_seconds())
            .unwrap_or_else(|| "—".into()),
        restarts: f.restarts,
    }
}

pub struct SourceLine {
    pub path: String,
    pub state: String,
    pub ok: bool,
}

pub fn source_line(path: &str) -> SourceLine {
    let (state, ok) = match std::fs::metadata(path.trim()) {
        Ok(m) if m.is_dir() => ("ディレクトリ（中のファイルをすべて読みます）".into(), true),
        Ok(_) => ("ファイル".into(), true),
        Err(e) => (format!("読み取れません: {e}"), false),
    };
    SourceLine {
        path: path.to_string(),
        state,
        ok,
    }
}

#[derive(Template)]
#[template(path = "firewall/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub period: &'static str,
    pub grace_days: u32,
    pub thresholds: String,
    pub internal: String,
    pub sources: Vec<SourceLine>,
    pub files: Vec<FileLine>,
    pub error_total: i64,
    pub reviews: Vec<ReviewLine>,
}

pub struct FindingLine {
    pub src: String,
    pub internal: bool,
    pub ports: String,
    pub targets: String,
    pub hits: i64,
    pub denied: i64,
    pub allowed: i64,
    pub first: String,
    pub last: String,
}

pub fn finding_line(f: &Finding) -> FindingLine {
    FindingLine {
        src: f.src.clone(),
        internal: f.internal,
        ports: f.ports_text(),
        targets: if f.target_count > f.targets.len() {
            format!("{} ほか（計 {} 件）", f.targets.join(", "), f.target_count)
        } else {
            f.targets.join(", ")
        },
        hits: f.hits,
        denied: f.denied,
        allowed: f.allowed,
        first: jst(&f.first_at),
        last: jst(&f.last_at),
    }
}

pub struct NewLine {
    pub src: String,
    pub first: String,
    pub hits: i64,
}

#[derive(Template)]
#[template(path = "firewall/review.html")]
pub struct ReviewPage {
    pub page: Page,
    pub id: i64,
    pub period: String,
    pub generated: String,
    pub due: String,
    pub status: Status,
    pub c: ReviewContent,
    pub scans: Vec<FindingLine>,
    pub bursts: Vec<FindingLine>,
    pub new_internal: Vec<NewLine>,
    pub new_external: Vec<NewLine>,
    pub signed: Option<(String, String, String)>,
    pub can_sign: bool,
    pub remarks: String,
    pub error: Option<String>,
}

impl ReviewPage {
    pub fn new(
        page: Page,
        r: &ReviewRow,
        s: &FirewallSettings,
        now: Timestamp,
        can_sign: bool,
    ) -> Self {
        let c = service::content(r);
        let new_line = |n: &service::NewSource| NewLine {
            src: n.src.clone(),
            first: jst(&n.first_seen_at),
            hits: n.hits,
        };
        let line = review_line(r, s, now);
        ReviewPage {
            page: page.titled(format!("ファイアウォールログのレビュー #{}", r.id)),
            id: r.id,
            period: line.period,
            generated: r.generated_at.jst(),
            due: line.due,
            status: line.status,
            scans: c.scans.iter().map(finding_line).collect(),
            bursts: c.bursts.iter().map(finding_line).collect(),
            new_internal: c.new_internal.iter().map(new_line).collect(),
            new_external: c.new_external.iter().map(new_line).collect(),
            signed: match (&r.signed_by_name, r.signed_at) {
                (Some(n), Some(t)) => {
                    Some((n.clone(), t.jst(), r.remarks.clone().unwrap_or_default()))
                }
                _ => None,
            },
            can_sign: can_sign && r.signed_at.is_none(),
            remarks: String::new(),
            error: None,
            c,
        }
    }
}
