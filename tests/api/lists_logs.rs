//! Issue 15 item 2 (X.4): the audit log, the access log and `/admin/jobs` are lists like every
//! other (`web::list`): a bookmarked URL with every filter, a sort and a page opens that page
//! again, its links keep everything, and the sort mark stands outside the link text, with
//! `aria-sort` on the header (for screen readers and the English crawl).

use rainbownet::auth::Role;
use scraper::{Html, Selector};

use crate::helpers::*;
use crate::logs::{cells, patient_of, record_reads};

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

fn text_of(doc: &Html, s: &str) -> String {
    doc.select(&sel(s)).flat_map(|e| e.text()).collect()
}

fn href_of(doc: &Html, s: &str) -> String {
    doc.select(&sel(s))
        .next()
        .and_then(|e| e.attr("href"))
        .unwrap_or_else(|| panic!("no link {s}"))
        .to_string()
}

/// The `No.N` ids of the rows of an audit page, in order.
fn event_ids(html: &str) -> Vec<i64> {
    let doc = Html::parse_document(html);
    doc.select(&sel("tbody td small"))
        .filter_map(|e| {
            e.text()
                .collect::<String>()
                .strip_prefix("No.")?
                .parse()
                .ok()
        })
        .collect()
}

/// Every filter of a link, for comparing links whatever their order.
fn params(href: &str) -> Vec<(String, String)> {
    let query = href.split_once('?').map_or("", |(_, q)| q);
    let mut p: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    p.sort();
    p
}

#[tokio::test]
async fn x4_issue15_a_bookmarked_audit_url_with_every_filter_opens_its_second_page() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let reader = app.login_as(Role::User).await;
    let other = app.login_as(Role::User).await;
    let patient = patient_of(&app, "9900000001").await;
    // 65 reads by the reader (and 65 refusals), and reads by someone else that no filter keeps.
    record_reads(&app, &reader.login_id, patient, 130).await;
    record_reads(&app, &other.login_id, patient, 40).await;
    let day = app.now().jst()[..10].to_string();
    let filters = [
        ("from", day.as_str()),
        ("to", day.as_str()),
        ("actor", reader.login_id.as_str()),
        ("action", "records.timeline_read"),
        ("target", "清須"),
        ("q", "10.0.0.8"),
    ];
    let query = |extra: &[(&str, &str)]| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in filters.iter().chain(extra) {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let bookmark = format!(
        "/audit?{}",
        query(&[("sort", "at"), ("dir", "asc"), ("page", "2"), ("per", "20")])
    );
    let res = admin.client.get(&bookmark).await;
    assert_eq!(res.status(), 200);
    let page2 = res.text().await.expect("page");
    let doc = Html::parse_document(&page2);
    assert_eq!(text_of(&doc, "p.pager-summary"), "全 65 件中 21〜40 件");
    assert_eq!(cells(&page2).len(), 20 * 7, "twenty rows");
    // Oldest first, and after the first page's rows.
    let ids = event_ids(&page2);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending: {ids:?}");
    let first = admin
        .client
        .get(&format!(
            "/audit?{}",
            query(&[("sort", "at"), ("dir", "asc"), ("per", "20")])
        ))
        .await
        .text()
        .await
        .expect("page");
    let first_ids = event_ids(&first);
    assert_eq!(first_ids.len(), 20);
    assert!(first_ids.last() < ids.first(), "pages do not overlap");

    // The paging links keep every filter, the sort and the page size.
    let mut kept: Vec<(String, String)> = filters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    kept.extend([
        ("sort".into(), "at".into()),
        ("dir".into(), "asc".into()),
        ("per".into(), "20".into()),
    ]);
    let with_page = |n: &str| {
        let mut k = kept.clone();
        k.push(("page".into(), n.into()));
        k.sort();
        k
    };
    let mut page1 = kept.clone();
    page1.sort();
    assert_eq!(params(&href_of(&doc, "nav.pager a[rel=prev]")), page1);
    assert_eq!(
        params(&href_of(&doc, "nav.pager a[rel=next]")),
        with_page("3")
    );
    // The header turns the order round, back on page 1, filters kept; the mark is outside the
    // link, and the header says how it sorts.
    let th = doc
        .select(&sel("thead th[aria-sort=ascending]"))
        .next()
        .expect("the sorted column");
    let link = th.select(&sel("a")).next().expect("link");
    assert_eq!(link.text().collect::<String>(), "日時");
    assert_eq!(
        text_of(&doc, "thead th[aria-sort=ascending] .sort-mark"),
        "▲"
    );
    let mut turned = kept.clone();
    turned.retain(|(k, _)| k != "dir");
    turned.push(("dir".into(), "desc".into()));
    turned.sort();
    assert_eq!(params(link.attr("href").expect("href")), turned);
    assert!(
        !page2.contains("日時▲") && !page2.contains("日時 ▲"),
        "no mark in the link text"
    );
    // The form shows the filters and keeps the sort and page size when it is sent again.
    for (id, v) in [
        ("from", day.as_str()),
        ("actor", reader.login_id.as_str()),
        ("target", "清須"),
        ("q", "10.0.0.8"),
    ] {
        let input = doc
            .select(&sel(&format!("form.filters input#{id}")))
            .next()
            .expect("field");
        assert_eq!(input.attr("value"), Some(v), "{id}");
    }
    assert!(page2.contains(r#"<option value="records.timeline_read" selected"#));
    for (name, v) in [("sort", "at"), ("dir", "asc"), ("per", "20")] {
        let hidden = doc
            .select(&sel(&format!(
                "form.filters input[type=hidden][name={name}]"
            )))
            .next()
            .expect("hidden field");
        assert_eq!(hidden.attr("value"), Some(v), "{name}");
    }
    // The export of the same filters holds the 65 rows (a header and one line each).
    let csv = admin
        .client
        .get(&format!("/audit/export.csv?{}", query(&[])))
        .await
        .bytes()
        .await
        .expect("csv");
    let lines = String::from_utf8_lossy(&csv).lines().count();
    assert_eq!(lines, 66, "header and 65 rows");
}

#[tokio::test]
async fn x4_issue15_the_access_log_pages_and_sorts_with_its_filters_kept() {
    let app = spawn_app().await;
    let manager = app.login_as(Role::FacilityManager).await;
    let reader = app.login_as(Role::User).await;
    let facility: String = sqlx::query_scalar(
        "SELECT f.code FROM accounts a JOIN facilities f ON f.id = a.facility_id
         WHERE a.login_id = $1",
    )
    .bind(&manager.login_id)
    .fetch_one(app.db().pool())
    .await
    .expect("facility");
    let patient = patient_of(&app, &facility).await;
    record_reads(&app, &reader.login_id, patient, 60).await;
    let path = format!(
        "/records/access-log?action=access.denied&actor={}&sort=actor&dir=desc&per=10&page=2",
        reader.login_id
    );
    let page = manager.client.get(&path).await.text().await.expect("page");
    let doc = Html::parse_document(&page);
    assert_eq!(text_of(&doc, "p.pager-summary"), "全 30 件中 11〜20 件");
    let next = params(&href_of(&doc, "nav.pager a[rel=next]"));
    for kept in [
        ("action", "access.denied"),
        ("actor", reader.login_id.as_str()),
        ("sort", "actor"),
        ("dir", "desc"),
        ("per", "10"),
        ("page", "3"),
    ] {
        assert!(
            next.contains(&(kept.0.to_string(), kept.1.to_string())),
            "{kept:?} in {next:?}"
        );
    }
    assert_eq!(text_of(&doc, "thead th[aria-sort=descending] a"), "閲覧者");
    assert_eq!(
        text_of(&doc, "thead th[aria-sort=descending] .sort-mark"),
        "▼"
    );
}

#[tokio::test]
async fn x4_issue15_the_jobs_list_searches_sorts_and_pages_with_its_links() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let get = |path: String| {
        let c = &admin.client;
        async move { c.get(&path).await.text().await.expect("page") }
    };
    let labels = |html: &str| -> Vec<String> {
        let doc = Html::parse_document(html);
        doc.select(&sel("tbody tr td:first-child"))
            .map(|td| td.text().next().unwrap_or_default().to_string())
            .collect()
    };
    // Everything, by label, descending, ten a page: page 2 continues page 1.
    let all = labels(&get("/admin/jobs?status=未実行&sort=label&dir=desc&per=200".into()).await);
    assert!(all.len() > 10);
    let p1 = get("/admin/jobs?status=未実行&sort=label&dir=desc&per=10".into()).await;
    let p2 = get("/admin/jobs?status=未実行&sort=label&dir=desc&per=10&page=2".into()).await;
    let (l1, l2) = (labels(&p1), labels(&p2));
    assert_eq!(l1.len(), 10);
    let both: Vec<String> = l1.iter().chain(&l2).cloned().collect();
    assert_eq!(both, all[..both.len()].to_vec(), "descending across pages");
    let doc = Html::parse_document(&p2);
    let n = all.len();
    assert_eq!(
        text_of(&doc, "p.pager-summary"),
        format!("全 {n} 件中 11〜{} 件", n.min(20))
    );
    let prev = params(&href_of(&doc, "nav.pager a[rel=prev]"));
    assert_eq!(
        prev,
        vec![
            ("dir".to_string(), "desc".to_string()),
            ("per".into(), "10".into()),
            ("sort".into(), "label".into()),
            ("status".into(), "未実行".into()),
        ]
    );
    // The mark outside the link; the header tells screen readers.
    assert_eq!(text_of(&doc, "thead th[aria-sort=descending] a"), "ジョブ");
    assert_eq!(
        text_of(&doc, "thead th[aria-sort=descending] .sort-mark"),
        "▼"
    );
    assert!(!p2.contains("ジョブ▼"));
    // The search box: job name or label, case aside, kept in the field and the links.
    let found = get("/admin/jobs?q=AUDIT&per=10".into()).await;
    let doc = Html::parse_document(&found);
    let input = doc
        .select(&sel("form.filters input#q[type=search]"))
        .next()
        .expect("a search box");
    assert_eq!(input.attr("value"), Some("AUDIT"));
    let codes: Vec<String> = doc
        .select(&sel("tbody td code"))
        .map(|c| c.text().collect())
        .collect();
    assert!(!codes.is_empty());
    assert!(codes.iter().all(|c| c.contains("audit")), "{codes:?}");
    assert!(
        href_of(&doc, "thead th a").contains("q=AUDIT"),
        "the sort link keeps the search"
    );
    // A sort key that is not a column falls back to the label, ascending.
    let odd = labels(&get("/admin/jobs?sort=drop%20table&per=200".into()).await);
    let mut sorted = odd.clone();
    sorted.sort();
    assert_eq!(odd, sorted);
}

/// Issue 15 item 2: a refused processing on `/admin/requests` used to drop the search and
/// jump to the received tab; the form now carries the list it was posted from.
#[tokio::test]
async fn x4_issue15_a_refused_processing_keeps_the_search_tab_sort_and_page() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    for i in 0..12 {
        let res = crate::requests::request_add(&fm, &format!("清須 {i}"), "きよす").await;
        assert_eq!(res.status(), 303);
    }
    let res = crate::requests::request_add(&fm, "春日 太郎", "かすが たろう").await;
    assert_eq!(res.status(), 303);
    let op = app.login_as(Role::SystemOperator).await;
    let list = op
        .client
        .get("/admin/requests?q=清須&sort=received&dir=desc&per=10&page=2")
        .await
        .text()
        .await
        .expect("page");
    // What the browser sends: the form's hidden fields, and no request ticked.
    let doc = Html::parse_document(&list);
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for input in doc.select(&sel("form#issue-form input[type=hidden]")) {
        body.append_pair(
            input.attr("name").expect("name"),
            input.attr("value").unwrap_or_default(),
        );
    }
    let res = op
        .client
        .http
        .post(op.client.url("/admin/requests/issue"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 422);
    let page = res.text().await.expect("page");
    let doc = Html::parse_document(&page);
    assert_eq!(
        text_of(&doc, "#issue-error"),
        "発行する申請を選んでください。"
    );
    let q = doc
        .select(&sel("input#admin-requests-q"))
        .next()
        .expect("search box");
    assert_eq!(q.attr("value"), Some("清須"), "the search is kept");
    assert_eq!(text_of(&doc, "p.pager-summary"), "全 12 件中 11〜12 件");
    assert!(
        doc.select(&sel("nav a[aria-current=page][href*='state=received']"))
            .next()
            .is_none(),
        "not thrown back to the received tab"
    );
    assert!(!page.contains("春日 太郎"), "the search still applies");
    assert_eq!(
        text_of(&doc, "thead th[aria-sort=descending] a"),
        "受付日時"
    );
}

/// X.4 (issue 15 item 2): after a successful processing the list comes back as it was posted
/// (search, sort, page size), with the letters' download, not reset to `?state=received`.
#[tokio::test]
async fn x4_a_successful_processing_returns_to_the_searched_list() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    for name in ["清須 一郎", "清須 二郎", "春日 太郎"] {
        let res = crate::requests::request_add(&fm, name, "きよす").await;
        assert_eq!(res.status(), 303);
    }
    let op = app.login_as(Role::SystemOperator).await;
    let list = op
        .client
        .get("/admin/requests?q=清須&sort=received&dir=desc&per=10")
        .await
        .text()
        .await
        .expect("page");
    let doc = Html::parse_document(&list);
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for input in doc.select(&sel("form#issue-form input[type=hidden]")) {
        body.append_pair(
            input.attr("name").expect("name"),
            input.attr("value").unwrap_or_default(),
        );
    }
    let first = crate::requests::received_ids(&app).await[0];
    body.append_pair("ids", &first.to_string());
    let res = op
        .client
        .http
        .post(op.client.url("/admin/requests/issue"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.contains("q=%E6%B8%85%E9%A0%88"), "{to}");
    assert!(to.contains("sort=received") && to.contains("dir=desc") && to.contains("per=10"));
    let page = op.client.get(&to).await.text().await.expect("page");
    let doc = Html::parse_document(&page);
    let q = doc
        .select(&sel("input#admin-requests-q"))
        .next()
        .expect("search box");
    assert_eq!(q.attr("value"), Some("清須"), "the search is kept");
    assert!(!page.contains("春日 太郎"), "the search still applies");
    assert!(page.contains("清須 二郎"));
    assert!(
        page.contains("/admin/requests/letters/pdf?t="),
        "the download"
    );
    assert_eq!(
        text_of(&doc, "thead th[aria-sort=descending] a"),
        "受付日時"
    );
}
