//! Search, sorting and paging for every list page (X.4): one query shape (`?q=&sort=&dir=&page=&per=`),
//! one whitelist for sort columns and one pager for the links, so every list behaves the same.
//!
//! - [`ListQuery`] is read leniently: a page, size, sort key or direction that does not parse
//!   falls back to its default instead of answering 400, because these links are bookmarked,
//!   shared and hand-edited.
//! - Sorting goes only through [`ListQuery::order`], whose whitelist maps the public key to a
//!   fixed SQL expression: text from the URL never reaches the SQL.
//! - Search text goes into `LIKE $n ESCAPE '\'` through [`ListQuery::like`], which escapes the
//!   wildcards, so `50%` or `a_b` match literally (same on SQLite and PostgreSQL).
//! - [`Pager`] builds the links (URL-encoded here, HTML-escaped by askama), keeping the search
//!   text, the page's own filters and the page size; `templates/_pager.html` renders it.

use std::sync::OnceLock;

use serde::Deserialize;

/// Rows per page unless the link asks otherwise, and the bounds a link may ask for.
pub const DEFAULT_PER: i64 = 50;
pub const MIN_PER: i64 = 10;
pub const MAX_PER: i64 = 200;
/// No list has this many pages; the cap keeps `offset()` far from overflow.
const MAX_PAGE: i64 = 1_000_000;
/// Search text beyond this is cut: nobody types more, and the pattern stays cheap.
const MAX_TEXT_CHARS: usize = 200;

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

    fn as_str(self) -> &'static str {
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
    fn per_param(&self) -> Option<i64> {
        let per = self.limit();
        (per != DEFAULT_PER).then_some(per)
    }

    /// The sort to show and keep in links: what `order()` settled on, else the link's own.
    fn current_sort(&self) -> Option<(String, bool)> {
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

/// A filter value a page keeps in its links; empty values are left out.
pub trait FilterValue {
    fn filter_text(&self) -> Option<&str>;
}

impl FilterValue for &str {
    fn filter_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl FilterValue for String {
    fn filter_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl FilterValue for &String {
    fn filter_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: FilterValue> FilterValue for Option<T> {
    fn filter_text(&self) -> Option<&str> {
        self.as_ref().and_then(FilterValue::filter_text)
    }
}

impl<T: FilterValue> FilterValue for &Option<T> {
    fn filter_text(&self) -> Option<&str> {
        self.as_ref().and_then(FilterValue::filter_text)
    }
}

/// One entry of the page-number window: a page, or a gap ("…") before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageLink {
    pub number: i64,
    pub href: String,
    pub current: bool,
    /// Pages were skipped between the previous entry and this one.
    pub gap_before: bool,
}

/// The links and the summary of one list page (see the module doc).
#[derive(Clone, Debug)]
pub struct Pager {
    path: String,
    text: Option<String>,
    sort: Option<(String, bool)>,
    per_param: Option<i64>,
    per: i64,
    page: i64,
    total: i64,
    /// The total is a floor: counting stopped there ([`Pager::at_least`]).
    more: bool,
    filters: Vec<(String, String)>,
}

impl Pager {
    /// `path` is the list's own path; `filters` are the page's other query parameters, kept in
    /// every link (empty ones are dropped). Call `q.order(...)` first so the default sort is
    /// marked.
    pub fn new<V: FilterValue>(
        path: &str,
        q: &ListQuery,
        total: i64,
        filters: &[(&str, V)],
    ) -> Pager {
        Pager {
            path: path.to_string(),
            text: q.text().map(str::to_string),
            sort: q.current_sort(),
            per_param: q.per_param(),
            per: q.limit(),
            page: q.page(),
            total: total.max(0),
            more: false,
            filters: filters
                .iter()
                .filter_map(|(k, v)| {
                    let v = v.filter_text()?.trim();
                    (!v.is_empty()).then(|| (k.to_string(), v.to_string()))
                })
                .collect(),
        }
    }

    pub fn total(&self) -> i64 {
        self.total
    }

    /// Marks the total as a floor, for a list that stops counting at a cap (a count of a
    /// million rows on every page view costs more than the page): the summary says
    /// "N 件以上" and a next page is always offered.
    pub fn at_least(mut self, more: bool) -> Pager {
        self.more = more;
        self
    }

    pub fn page(&self) -> i64 {
        self.page
    }

    /// The number of pages, at least 1.
    pub fn pages(&self) -> i64 {
        let counted = ((self.total + self.per - 1) / self.per).max(1);
        if self.more {
            counted.max(self.page) + 1
        } else {
            counted
        }
    }

    /// "全 123 件中 1〜50 件"; "全 0 件" for an empty list.
    pub fn summary(&self) -> String {
        if self.total == 0 {
            return "全 0 件".into();
        }
        let first = (self.page - 1) * self.per + 1;
        if self.more {
            let last = first + self.per - 1;
            return format!("{} 件以上中 {}〜{} 件", self.total, first, last);
        }
        if first > self.total {
            return format!("全 {} 件（このページに該当はありません）", self.total);
        }
        let last = (first + self.per - 1).min(self.total);
        format!("全 {} 件中 {}〜{} 件", self.total, first, last)
    }

    pub fn prev_href(&self) -> Option<String> {
        (self.page > 1).then(|| {
            self.href_for(
                Some(self.page.min(self.pages() + 1) - 1),
                self.sort.as_ref(),
            )
        })
    }

    pub fn next_href(&self) -> Option<String> {
        (self.page < self.pages()).then(|| self.href_for(Some(self.page + 1), self.sort.as_ref()))
    }

    /// The link for page `n` with everything else kept.
    pub fn page_href(&self, n: i64) -> String {
        self.href_for(Some(n), self.sort.as_ref())
    }

    /// The page numbers to show: the first, the last and two either side of the current one
    /// (empty when there is a single page).
    pub fn window(&self) -> Vec<PageLink> {
        let pages = self.pages();
        if pages <= 1 {
            return Vec::new();
        }
        // An old bookmark past the last page centres on the last page.
        let at = self.page.min(pages);
        let mut numbers: Vec<i64> = vec![1, pages];
        numbers.extend((at - 2).max(1)..=(at + 2).min(pages));
        numbers.sort_unstable();
        numbers.dedup();
        let mut previous = 0;
        numbers
            .into_iter()
            .map(|n| {
                let link = PageLink {
                    number: n,
                    href: self.page_href(n),
                    current: n == self.page,
                    gap_before: n > previous + 1,
                };
                previous = n;
                link
            })
            .collect()
    }

    /// The link that sorts by `key`: the other direction if it is the current key, else
    /// ascending; back to page 1, search text and filters kept.
    pub fn sort_href(&self, key: &str) -> String {
        let desc = match &self.sort {
            Some((k, d)) if k == key => !d,
            _ => false,
        };
        self.href_for(None, Some(&(key.to_string(), desc)))
    }

    /// "▲" or "▼" on the current sort column, "" elsewhere.
    pub fn sort_mark(&self, key: &str) -> &'static str {
        match &self.sort {
            Some((k, false)) if k == key => "▲",
            Some((k, true)) if k == key => "▼",
            _ => "",
        }
    }

    /// For `aria-sort` on a column header.
    pub fn aria_sort(&self, key: &str) -> &'static str {
        match &self.sort {
            Some((k, false)) if k == key => "ascending",
            Some((k, true)) if k == key => "descending",
            _ => "none",
        }
    }

    /// The current sort key and direction, for hidden fields in a search form.
    pub fn sort_key(&self) -> &str {
        self.sort.as_ref().map_or("", |(k, _)| k.as_str())
    }

    pub fn dir(&self) -> &'static str {
        match &self.sort {
            Some((_, true)) => Dir::Desc.as_str(),
            Some((_, false)) => Dir::Asc.as_str(),
            None => "",
        }
    }

    /// The page size when it is not the default (for a hidden field), else "".
    pub fn per_value(&self) -> String {
        self.per_param.map(|p| p.to_string()).unwrap_or_default()
    }

    fn href_for(&self, page: Option<i64>, sort: Option<&(String, bool)>) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &self.text {
            s.append_pair("q", t);
        }
        for (k, v) in &self.filters {
            s.append_pair(k, v);
        }
        if let Some((key, desc)) = sort {
            s.append_pair("sort", key);
            s.append_pair("dir", if *desc { "desc" } else { "asc" });
        }
        if let Some(per) = self.per_param {
            s.append_pair("per", &per.to_string());
        }
        if let Some(p) = page.filter(|p| *p > 1) {
            s.append_pair("page", &p.to_string());
        }
        let query = s.finish();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, query)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[(&str, &str)] = &[("name", "a.display_name"), ("created", "a.created_at")];

    fn q(raw: &str) -> ListQuery {
        ListQuery::from_query(raw)
    }

    #[test]
    fn x4_bad_numbers_and_keys_fall_back_to_defaults() {
        let l = q("page=abc&per=-5&sort=drop%20table&dir=sideways");
        assert_eq!(l.page(), 1);
        assert_eq!(l.limit(), MIN_PER);
        assert_eq!(l.offset(), 0);
        let o = l.order(COLUMNS, "created", Dir::Desc);
        assert_eq!((o.key, o.sql, o.desc), ("created", "a.created_at", true));
        assert_eq!(o.sql_clause(), "a.created_at DESC");
        assert_eq!(q("per=100000").limit(), MAX_PER);
        assert_eq!(q("per=x").limit(), DEFAULT_PER);
        assert_eq!(q("page=0").page(), 1);
        assert_eq!(q("page=3&per=20").offset(), 40);
        assert_eq!(q("page=99999999999999999999").page(), 1);
        assert_eq!(q("page=9999999999").page(), MAX_PAGE);
    }

    #[test]
    fn x4_the_extractor_never_rejects() {
        // Duplicated keys and junk still give a usable query.
        let l = q("q=a&q=b&page=2&page=3&sort");
        assert_eq!((l.text(), l.page()), (Some("a"), 2));
        let uri: axum::http::Uri = "/x?page=%FF&page=2&per=&q=%E5%B1%B1&q=x&dir=up"
            .parse()
            .expect("uri");
        let axum::extract::Query(l) =
            axum::extract::Query::<ListQuery>::try_from_uri(&uri).expect("never a 400");
        assert_eq!(
            (l.text(), l.page(), l.limit()),
            (Some("山"), 1, DEFAULT_PER)
        );
        let l: ListQuery = serde_urlencoded::from_str("q=%E5%B1%B1%E7%94%B0&role=admin&page=2")
            .expect("unknown keys are ignored");
        assert_eq!(l.text(), Some("山田"));
        assert_eq!(l.page(), 2);
    }

    #[test]
    fn x4_order_takes_only_whitelisted_keys() {
        let o = q("sort=name").order(COLUMNS, "created", Dir::Desc);
        assert_eq!(o.sql_clause(), "a.display_name ASC");
        let o = q("sort=name&dir=DESC").order(COLUMNS, "created", Dir::Desc);
        assert_eq!(o.sql_clause(), "a.display_name DESC");
        let o = q("sort=created").order(COLUMNS, "created", Dir::Desc);
        assert!(o.desc, "the default key keeps its default direction");
        let o = q("sort=a.password_hash").order(COLUMNS, "created", Dir::Asc);
        assert_eq!(o.sql_clause(), "a.created_at ASC");
        let o = q("").order(COLUMNS, "missing", Dir::Asc);
        assert_eq!(
            o.key, "name",
            "an unknown default falls to the first column"
        );
    }

    #[test]
    fn x4_text_is_trimmed_and_like_escapes_wildcards() {
        assert_eq!(q("q=%20%20").text(), None);
        assert_eq!(q("").like(), None);
        assert_eq!(q("q=+abc+").text(), Some("abc"));
        assert_eq!(
            q("q=50%25_a%5Cb").like().as_deref(),
            Some("%50\\%\\_a\\\\b%")
        );
        let long = "あ".repeat(500);
        assert_eq!(
            q(&format!("q={long}")).text().map(|t| t.chars().count()),
            Some(MAX_TEXT_CHARS)
        );
    }

    #[test]
    fn x4_summary_counts_the_rows_shown() {
        let l = q("");
        assert_eq!(
            Pager::new("/x", &l, 123, &[] as &[(&str, &str)]).summary(),
            "全 123 件中 1〜50 件"
        );
        let l = q("page=3");
        assert_eq!(
            Pager::new("/x", &l, 123, &[] as &[(&str, &str)]).summary(),
            "全 123 件中 101〜123 件"
        );
        assert_eq!(
            Pager::new("/x", &l, 0, &[] as &[(&str, &str)]).summary(),
            "全 0 件"
        );
        let l = q("page=9");
        let p = Pager::new("/x", &l, 123, &[] as &[(&str, &str)]);
        assert!(p.summary().starts_with("全 123 件"));
        assert_eq!(
            p.prev_href().as_deref(),
            Some("/x?page=3"),
            "past the end leads back to the last page"
        );
        assert_eq!(p.next_href(), None);
    }

    #[test]
    fn x4_a_capped_count_is_a_floor_and_a_next_page_is_always_offered() {
        let at = |query: &str| {
            Pager::new("/x", &q(query), 10_000, &[] as &[(&str, &str)]).at_least(true)
        };
        let p = at("");
        assert_eq!(p.summary(), "10000 件以上中 1〜50 件");
        assert_eq!(p.next_href().as_deref(), Some("/x?page=2"));
        let p = at("page=200");
        assert_eq!(p.summary(), "10000 件以上中 9951〜10000 件");
        assert_eq!(
            p.next_href().as_deref(),
            Some("/x?page=201"),
            "past the cap"
        );
        let p = at("page=250");
        assert_eq!(p.next_href().as_deref(), Some("/x?page=251"));
        let exact = Pager::new("/x", &q("page=200"), 10_000, &[] as &[(&str, &str)]);
        assert_eq!(
            exact.next_href(),
            None,
            "an exact count ends at its last page"
        );
    }

    #[test]
    fn x4_links_keep_search_filters_and_sort_url_encoded() {
        let l = q("q=%E5%B1%B1%E7%94%B0+%26+co&sort=name&dir=asc&page=2&per=20");
        l.order(COLUMNS, "created", Dir::Desc);
        let p = Pager::new(
            "/admin/accounts",
            &l,
            100,
            &[("role", Some("admin")), ("state", None)],
        );
        let next = p.next_href().expect("next");
        assert_eq!(
            next,
            "/admin/accounts?q=%E5%B1%B1%E7%94%B0+%26+co&role=admin&sort=name&dir=asc&per=20&page=3"
        );
        assert_eq!(
            p.prev_href().as_deref(),
            Some("/admin/accounts?q=%E5%B1%B1%E7%94%B0+%26+co&role=admin&sort=name&dir=asc&per=20")
        );
        // Sorting toggles the current key, starts others ascending, and goes back to page 1.
        assert_eq!(
            p.sort_href("name"),
            "/admin/accounts?q=%E5%B1%B1%E7%94%B0+%26+co&role=admin&sort=name&dir=desc&per=20"
        );
        assert!(
            p.sort_href("created")
                .ends_with("sort=created&dir=asc&per=20")
        );
        assert_eq!(p.sort_mark("name"), "▲");
        assert_eq!(p.sort_mark("created"), "");
        let parsed = ListQuery::from_query(next.split_once('?').expect("query").1);
        assert_eq!(parsed.text(), Some("山田 & co"));
        assert_eq!(parsed.page(), 3);
    }

    #[test]
    fn x4_the_default_sort_is_marked_once_order_ran() {
        let l = q("");
        l.order(COLUMNS, "created", Dir::Desc);
        let p = Pager::new("/x", &l, 10, &[] as &[(&str, String)]);
        assert_eq!(p.sort_mark("created"), "▼");
        assert_eq!(p.sort_href("created"), "/x?sort=created&dir=asc");
        assert_eq!(p.next_href(), None);
        assert_eq!(p.prev_href(), None);
        assert!(p.window().is_empty());
    }

    #[test]
    fn x4_the_page_window_shows_ends_and_neighbours() {
        let l = q("page=10");
        let p = Pager::new("/x", &l, 1000, &[] as &[(&str, &str)]);
        let w: Vec<(i64, bool, bool)> = p
            .window()
            .iter()
            .map(|l| (l.number, l.current, l.gap_before))
            .collect();
        assert_eq!(
            w,
            vec![
                (1, false, false),
                (8, false, true),
                (9, false, false),
                (10, true, false),
                (11, false, false),
                (12, false, false),
                (20, false, true),
            ]
        );
        assert_eq!(p.window()[0].href, "/x");
        assert_eq!(p.window()[1].href, "/x?page=8");
    }
}
