//! The list part of a query string (X.4; rules in `list.rs`): read leniently, sorted only
//! through a whitelist, searched through an escaped `LIKE`. Re-exported by `list`.

use std::sync::OnceLock;

use serde::Deserialize;

/// Rows per page unless the link asks otherwise, and the bounds a link may ask for.
pub const DEFAULT_PER: i64 = 50;
pub const MIN_PER: i64 = 10;
pub const MAX_PER: i64 = 200;
/// No list has this many pages; the cap keeps `offset()` far from overflow.
pub(super) const MAX_PAGE: i64 = 1_000_000;
/// Search text beyond this is cut: nobody types more, and the pattern stays cheap.
pub(super) const MAX_TEXT_CHARS: usize = 200;

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Asc,
    Desc,
}

impl Dir {
    fn parse(s: &str) -> Option<Dir> {
        match s.trim().to_ascii_lowercase().as_str() {
            "asc" => Some(Dir::Asc),
            "desc" => Some(Dir::Desc),
            _ => None,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Dir::Asc => "asc",
            Dir::Desc => "desc",
        }
    }
}

/// The list part of a query string. Every field is kept as text and parsed on use, so nothing
/// in it can make the extractor fail: unknown keys (the page's own filters) are ignored, and of
/// a repeated key the first counts.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub q: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub page: Option<String>,
    pub per: Option<String>,
    /// The sort that [`ListQuery::order`] settled on (key, descending), so the pager marks the
    /// default column too, not only one named in the link.
    resolved: OnceLock<(&'static str, bool)>,
}

impl<'de> Deserialize<'de> for ListQuery {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(String, String)>::deserialize(d)?;
        let mut q = ListQuery::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "q" => &mut q.q,
                "sort" => &mut q.sort,
                "dir" => &mut q.dir,
                "page" => &mut q.page,
                "per" => &mut q.per,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        Ok(q)
    }
}

/// A whitelisted sort: the public key, its SQL expression and the direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub key: &'static str,
    pub sql: &'static str,
    pub desc: bool,
}

impl Order {
    /// `"a.created_at DESC"`, for `ORDER BY {clause}` (add a unique tie-breaker after it for a
    /// stable paging order).
    pub fn sql_clause(&self) -> String {
        format!("{} {}", self.sql, if self.desc { "DESC" } else { "ASC" })
    }
}

impl ListQuery {
    /// A query from a raw query string (`a=1&q=...`), with the same leniency as the extractor.
    pub fn from_query(raw: &str) -> ListQuery {
        serde_urlencoded::from_str(raw).unwrap_or_default()
    }

    /// The trimmed search text, or `None` when there is none.
    pub fn text(&self) -> Option<&str> {
        let t = self.q.as_deref()?.trim();
        if t.is_empty() {
            return None;
        }
        Some(match t.char_indices().nth(MAX_TEXT_CHARS) {
            Some((cut, _)) => &t[..cut],
            None => t,
        })
    }

    /// `%text%` with `%`, `_` and `\` escaped, for `LOWER(col) LIKE LOWER($n) ESCAPE '\'`.
    pub fn like(&self) -> Option<String> {
        self.text().map(|t| format!("%{}%", escape_like(t)))
    }

    /// The sort the link asks for if its key is in `whitelist` (`(key, sql)` pairs), else
    /// `default_key` in `default_dir`. A whitelisted key without a direction sorts ascending,
    /// except the default key, which keeps `default_dir`.
    pub fn order(
        &self,
        whitelist: &[(&'static str, &'static str)],
        default_key: &'static str,
        default_dir: Dir,
    ) -> Order {
        let asked = self
            .sort
            .as_deref()
            .map(str::trim)
            .and_then(|s| whitelist.iter().find(|(k, _)| *k == s));
        let dir = self.dir.as_deref().and_then(Dir::parse);
        let order = match asked {
            Some(&(key, sql)) => {
                let fallback = if key == default_key {
                    default_dir
                } else {
                    Dir::Asc
                };
                Order {
                    key,
                    sql,
                    desc: dir.unwrap_or(fallback) == Dir::Desc,
                }
            }
            None => {
                let (key, sql) = whitelist
                    .iter()
                    .find(|(k, _)| *k == default_key)
                    .or_else(|| whitelist.first())
                    .copied()
                    .unwrap_or((default_key, "1"));
                Order {
                    key,
                    sql,
                    desc: default_dir == Dir::Desc,
                }
            }
        };
        let _ = self.resolved.set((order.key, order.desc));
        order
    }

    /// Rows per page: 50 unless the link asks for 10..=200 (clamped).
    pub fn limit(&self) -> i64 {
        self.per
            .as_deref()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(DEFAULT_PER, |n| n.clamp(MIN_PER, MAX_PER))
    }

    /// The page number, 1 when missing or not a number.
    pub fn page(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(1, |n| n.clamp(1, MAX_PAGE))
    }

    pub fn offset(&self) -> i64 {
        (self.page() - 1) * self.limit()
    }

    /// The page size when the link chose one (kept in links), `None` for the default.
    pub(super) fn per_param(&self) -> Option<i64> {
        let per = self.limit();
        (per != DEFAULT_PER).then_some(per)
    }

    /// The sort to show and keep in links: what `order()` settled on, else the link's own.
    pub(super) fn current_sort(&self) -> Option<(String, bool)> {
        if let Some(&(key, desc)) = self.resolved.get() {
            return Some((key.to_string(), desc));
        }
        let key = self.sort.as_deref().map(str::trim).filter(|s| {
            !s.is_empty()
                && s.len() <= 40
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })?;
        let desc = self.dir.as_deref().and_then(Dir::parse) == Some(Dir::Desc);
        Some((key.to_string(), desc))
    }
}

/// `%`, `_` and `\` taken literally by `LIKE ... ESCAPE '\'`.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
