//! Paging and sortable column headers for list pages (issue 15): the real total, 「全 123 件中
//! 1〜50 件」, links that keep the filters (GET, bookmarkable, no JavaScript); rendered by
//! `templates/_pages.html`. The shared list component (`web::list`) may replace it.

pub struct Pager {
    base: String,
    /// The filters as a query string (kept in every link).
    filters: String,
    sort: String,
    dir: String,
    pub per: i64,
    pub page: i64,
    pub pages: i64,
    pub total: i64,
}

impl Pager {
    /// `sort` is the sort key asked for ("" for the page's default) and whether it is
    /// descending; `page_no` is clamped to the pages there are.
    pub fn new(
        base: &str,
        filters: String,
        sort: (&str, bool),
        per: i64,
        page_no: i64,
        total: i64,
    ) -> Pager {
        let pages = ((total + per - 1) / per).max(1);
        Pager {
            base: base.to_string(),
            filters,
            sort: sort.0.to_string(),
            dir: if sort.1 { "desc" } else { "asc" }.into(),
            per,
            page: page_no.clamp(1, pages),
            pages,
            total,
        }
    }

    /// Whether the list is sorted by `key`; with no sort asked for, a page's default key is
    /// named `at` (the newest first).
    fn is_sorted_by(&self, key: &str) -> bool {
        self.sort == key || (self.sort.is_empty() && key == "at")
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per
    }

    fn href(&self, sort: &str, dir: &str, page: i64) -> String {
        format!(
            "{}?{}&sort={sort}&dir={dir}&per={}&page={page}",
            self.base, self.filters, self.per
        )
    }

    pub fn page_href(&self, page: impl std::borrow::Borrow<i64>) -> String {
        self.href(&self.sort, &self.dir, *page.borrow())
    }

    /// The link of a column header: sorts by it, or turns the order round if it already does.
    pub fn sort_href(&self, key: &str) -> String {
        let current = self.is_sorted_by(key);
        let dir = if current && self.dir == "desc" {
            "asc"
        } else {
            "desc"
        };
        self.href(key, dir, 1)
    }

    pub fn sort_mark(&self, key: &str) -> &'static str {
        let current = self.is_sorted_by(key);
        match (current, self.dir.as_str()) {
            (false, _) => "",
            (true, "asc") => " ▲",
            (true, _) => " ▼",
        }
    }

    /// 「全 123 件中 1〜50 件」.
    pub fn summary(&self) -> String {
        if self.total == 0 {
            return "全 0 件".into();
        }
        let first = self.offset() + 1;
        let last = (self.offset() + self.per).min(self.total);
        format!("全 {} 件中 {first}〜{last} 件", self.total)
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.pages
    }

    pub fn prev(&self) -> i64 {
        self.page - 1
    }

    pub fn next(&self) -> i64 {
        self.page + 1
    }
}
