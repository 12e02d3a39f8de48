//! The filters, sort and page of the audit log and the access log, as GET parameters (bookmarkable,
//! no JavaScript).

use jiff::civil::Date;
use serde::Deserialize;

use super::repo::{Search, Sort};
use crate::db::{Timestamp, tokyo};
use crate::web::pager::Pager;

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
    pub sort: String,
    pub dir: String,
    pub page: String,
    pub per: String,
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

    pub fn sort(&self) -> Sort {
        match self.sort.as_str() {
            "actor" => Sort::Actor,
            "action" => Sort::Action,
            "target" => Sort::Target,
            _ => Sort::At,
        }
    }

    pub fn desc(&self) -> bool {
        self.dir != "asc"
    }

    pub fn per(&self) -> i64 {
        self.per.trim().parse::<i64>().unwrap_or(50).clamp(10, 200)
    }

    pub fn page_no(&self) -> i64 {
        self.page.trim().parse::<i64>().unwrap_or(1).max(1)
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

    pub fn pager(&self, base: &str, total: i64) -> Pager {
        Pager::new(
            base,
            self.filters(),
            (&self.sort, self.desc()),
            self.per(),
            self.page_no(),
            total,
        )
    }
}
