//! The filters of the audit log and the access log, as GET parameters (bookmarkable, no
//! JavaScript): `?from=&to=&actor=&action=&target=&q=`. Sort, direction and page
//! (`&sort=&dir=&page=&per=`) are the shared list part (`web::list::ListQuery`), read beside it;
//! the sort keys go through [`SORTS`], the whitelist.

use jiff::civil::Date;
use serde::Deserialize;

use super::repo::Search;
use crate::db::{Timestamp, tokyo};
use crate::web::list::{Dir, ListQuery, Order, Pager};

/// The sortable columns: the public key and its SQL (the id is the time order; ties are broken
/// by the newest first in the repo).
pub const SORTS: &[(&str, &str)] = &[
    ("at", "id"),
    ("actor", "actor_login"),
    ("action", "action"),
    ("target", "target"),
];

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LogQuery {
    pub from: String,
    pub to: String,
    pub actor: String,
    /// A category (`auth`) or an action code (`auth.login`): a prefix of the code.
    pub action: String,
    pub target: String,
    pub q: String,
}

/// A `YYYY-MM-DD` day in Japan time → the instant it starts; `to` days are inclusive.
pub fn day_start(s: &str, next: bool) -> Result<Option<Timestamp>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let d: Date = s
        .parse()
        .map_err(|_| format!("日付は YYYY-MM-DD の形で入力してください（{s}）。"))?;
    let d = if next {
        d.tomorrow().map_err(|_| "日付が範囲外です。".to_string())?
    } else {
        d
    };
    let z = d
        .to_zoned(tokyo())
        .map_err(|_| "日付が範囲外です。".to_string())?;
    Ok(Some(Timestamp::from(z.timestamp())))
}

impl LogQuery {
    /// The search these filters mean, or a Japanese message about a bad date.
    pub fn search(&self) -> Result<Search, String> {
        Ok(Search {
            from: day_start(&self.from, false)?,
            to: day_start(&self.to, true)?,
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            text: self.q.clone(),
            actions: None,
            patients_of: None,
            before_id: None,
        })
    }

    /// The whitelisted sort of `list`, the newest first by default.
    pub fn order(list: &ListQuery) -> Order {
        list.order(SORTS, "at", Dir::Desc)
    }

    /// The filters as a query string, without sort and page (for the export links).
    pub fn filters(&self) -> String {
        serde_urlencoded::to_string([
            ("from", &self.from),
            ("to", &self.to),
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("q", &self.q),
        ])
        .unwrap_or_default()
    }

    /// The pager of the list at `base`, keeping every filter in its links (call
    /// [`LogQuery::order`] first so the default sort is marked).
    pub fn pager(&self, base: &str, list: &ListQuery, total: i64) -> Pager {
        Pager::new(
            base,
            list,
            total,
            &[
                ("from", &self.from),
                ("to", &self.to),
                ("actor", &self.actor),
                ("action", &self.action),
                ("target", &self.target),
            ],
        )
    }
}
