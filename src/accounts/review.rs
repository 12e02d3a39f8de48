//! The account inventory's review lists (棚卸し): which active accounts deserve a look. Pure, so
//! it is tested without a server; the page (`inventory`) and the recorded review (`service`) both
//! use it.

use jiff::SignedDuration;

use super::repo::InventoryRow;
use crate::auth::Role;
use crate::db::Timestamp;

pub struct Line {
    pub login_id: String,
    pub name: String,
    pub role: String,
    pub facility: String,
    pub note: String,
}

pub struct Section {
    pub key: &'static str,
    pub title: String,
    pub lines: Vec<Line>,
}

fn line(r: &InventoryRow, note: String) -> Line {
    Line {
        login_id: r.login_id.clone(),
        name: r.display_name.clone(),
        role: r
            .role
            .parse::<Role>()
            .map(|x| x.label().to_string())
            .unwrap_or_else(|_| r.role.clone()),
        facility: r.facility_name.clone().unwrap_or_else(|| "—".into()),
        note,
    }
}

/// Sorts active accounts into the four review lists. Pure, so it is tested without a server.
pub fn classify(rows: &[InventoryRow], now: Timestamp, inactive_days: i64) -> Vec<Section> {
    let idle_before = now.minus(SignedDuration::from_hours(24 * inactive_days));
    let mut inactive = Vec::new();
    let mut withdrawn = Vec::new();
    let mut locked = Vec::new();
    let mut unused = Vec::new();
    for r in rows {
        let last = r.last_login_at.unwrap_or(r.created_at);
        if r.last_login_at.is_some() && last < idle_before {
            inactive.push(line(r, format!("最終ログイン {}", last.jst())));
        }
        if let Some(w) = r.facility_withdrawn_at {
            withdrawn.push(line(r, format!("施設の脱退 {}", w.jst())));
        }
        if r.locked_until.is_some_and(|u| u > now) {
            locked.push(line(
                r,
                format!(
                    "ロック開始 {}",
                    r.locked_at.map(|t| t.jst()).unwrap_or_default()
                ),
            ));
        }
        if r.must_change_password != 0 && r.last_login_at.is_none() {
            let note = match r.password_expires_at {
                Some(e) if e <= now => format!("初期パスワード期限切れ（{}）", e.jst()),
                Some(e) => format!("初期パスワード未使用（期限 {}）", e.jst()),
                None => "初期パスワード未使用".into(),
            };
            unused.push(line(r, note));
        }
    }
    vec![
        Section {
            key: "inactive",
            title: format!("{inactive_days}日以上使われていないアカウント"),
            lines: inactive,
        },
        Section {
            key: "withdrawn",
            title: "脱退した施設のアカウント".into(),
            lines: withdrawn,
        },
        Section {
            key: "locked",
            title: "ロック中のアカウント".into(),
            lines: locked,
        },
        Section {
            key: "unused",
            title: "初期パスワードが使われていないアカウント".into(),
            lines: unused,
        },
    ]
}
