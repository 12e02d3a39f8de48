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
//!
//! Files: the query (`ListQuery`, `Order`, `Dir`, `escape_like`) is in `list_query.rs`, the
//! pager (`Pager`, `FilterValue`) in `list_pager.rs`; both are re-exported here, so pages keep
//! writing `web::list::…`. The tests of both are here (they read as the X.4 specification).

pub use super::list_pager::{FilterValue, PageLink, Pager};
pub use super::list_query::{DEFAULT_PER, Dir, ListQuery, MAX_PER, MIN_PER, Order, escape_like};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::list_query::{MAX_PAGE, MAX_TEXT_CHARS};

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
