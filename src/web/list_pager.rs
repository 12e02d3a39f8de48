//! The pager of a list page (X.4; rules in `list.rs`): the summary and the links, keeping the
//! search text, the page's filters, the sort and the page size. Re-exported by `list`.

use super::list_query::{Dir, ListQuery};

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
