//! Issue 15, item 6 and defect 7 (X.2, X.4): the audit log and the facilities' access log are
//! readable (Japanese labels, names beside ids, details as fields), filtered, sorted, paged with
//! real counts (no 500-row ceiling), and exported as CSV and .xlsx of exactly the filtered set;
//! .xlsx exports carry real date cells and column widths.

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use rainbownet::audit::{self, Actor};
use rainbownet::auth::Role;

use crate::helpers::*;

fn csv_rows(bytes: &[u8]) -> Vec<csv::StringRecord> {
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 with BOM");
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.expect("record"))
        .collect()
}

/// The texts of the cells of a page's table body.
pub(crate) fn cells(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let td = scraper::Selector::parse("tbody td").expect("selector");
    doc.select(&td)
        .map(|c| c.text().collect::<String>().trim().to_string())
        .collect()
}

fn looks_like_code(s: &str) -> bool {
    s.split_whitespace().any(|w| {
        let mut p = w.split('.');
        matches!((p.next(), p.next(), p.next()), (Some(a), Some(b), None)
            if !a.is_empty() && !b.is_empty()
            && w.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'))
    })
}

/// The `<col … width=…>` elements of the first sheet, and the sheet's XML.
fn sheet_xml(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("xlsx is a zip");
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .expect("sheet1")
        .read_to_string(&mut xml)
        .expect("xml");
    xml
}

/// Checks that an .xlsx has column widths and that `(row, col)` is a real date cell.
pub fn assert_date_cell_and_widths(bytes: &[u8], sheet: &str, row: u32, col: u32) {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec()))
        .expect("an xlsx calamine reads");
    let range = book.worksheet_range(sheet).expect("sheet");
    let cell = range.get_value((row, col)).expect("the date cell");
    match cell {
        Data::DateTime(d) => assert!(d.is_datetime(), "{cell:?}"),
        other => panic!("expected a date cell at ({row}, {col}), found {other:?}"),
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    let mut widths = false;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("part");
        if !f.name().expect("name").starts_with("xl/worksheets/sheet") {
            continue;
        }
        let mut xml = String::new();
        f.read_to_string(&mut xml).expect("xml");
        widths |= xml.contains("<cols>") && xml.contains("customWidth=\"1\"");
    }
    assert!(widths, "column widths are set");
}

pub(crate) async fn record_reads(app: &TestApp, reader: &str, patient_id: i64, n: usize) {
    let reader_id = app.account_id(reader).await;
    let facility: i64 = sqlx::query_scalar("SELECT facility_id FROM accounts WHERE id = $1")
        .bind(reader_id)
        .fetch_one(app.db().pool())
        .await
        .expect("facility");
    let actor = Actor {
        account_id: Some(reader_id),
        login: reader.to_string(),
        role: "user".into(),
        client_addr: "10.0.0.8".into(),
    };
    let mut tx = app.db().begin().await.expect("tx");
    for i in 0..n {
        let action = if i % 2 == 0 {
            "records.timeline_read"
        } else {
            "access.denied"
        };
        audit::record(
            &mut tx,
            app.now(),
            &actor,
            action,
            &format!("patient:{patient_id}"),
            serde_json::json!({"document_id": null, "facility_id": facility, "channel": "ui"}),
        )
        .await
        .expect("record");
    }
    tx.commit().await.expect("commit");
}

pub(crate) async fn patient_of(app: &TestApp, facility_code: &str) -> i64 {
    let facility: i64 = sqlx::query_scalar("SELECT id FROM facilities WHERE code = $1")
        .bind(facility_code)
        .fetch_one(app.db().pool())
        .await
        .expect("facility");
    let at = app.now().to_db();
    sqlx::query(
        "INSERT INTO patients (network_id, name, kana, birth_date, gender, created_at)
         VALUES ('KR1234567890', '清須 花子', 'キヨス ハナコ', '1950-04-01', 'female', $1)",
    )
    .bind(&at)
    .execute(app.db().pool())
    .await
    .expect("patient");
    let id: i64 = sqlx::query_scalar("SELECT id FROM patients WHERE network_id = 'KR1234567890'")
        .fetch_one(app.db().pool())
        .await
        .expect("id");
    sqlx::query(
        "INSERT INTO patient_links (patient_id, facility_id, local_id, created_at)
         VALUES ($1, $2, 'L-1', $3)",
    )
    .bind(id)
    .bind(facility)
    .bind(&at)
    .execute(app.db().pool())
    .await
    .expect("link");
    id
}

#[tokio::test]
async fn x4_issue15_the_audit_log_is_in_words_with_names_and_fields() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    app.client().login("ghost-user", "whatever1").await;
    let page = admin
        .client
        .get("/audit?per=200")
        .await
        .text()
        .await
        .expect("page");
    let texts = cells(&page);
    assert!(!texts.is_empty());
    for t in &texts {
        assert!(!looks_like_code(t), "an action code shown as such: {t:?}");
        assert!(!t.contains("{\""), "details shown as JSON: {t:?}");
        assert!(
            !t.starts_with("account:"),
            "a target shown as kind:id: {t:?}"
        );
    }
    assert!(texts.iter().any(|t| t == "パスワードの変更"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "ログインの失敗"));
    // The admin's own events name them as 氏名（ログインID）.
    let me = format!("試験 システム管理者（{}）", admin.login_id);
    assert!(texts.iter().any(|t| t == &me), "{me} in {texts:?}");
    // The account created for the admin is the target of `account.created`: named, not `account:N`.
    assert!(texts.iter().any(|t| t == &format!("アカウント {me}")));
    // Counts and sorting.
    assert!(page.contains("全 "), "a total");
    let sorted = admin
        .client
        .get("/audit?sort=actor&dir=asc&per=10")
        .await
        .text()
        .await
        .expect("page");
    let doc = scraper::Html::parse_document(&sorted);
    let sel = scraper::Selector::parse("thead a").expect("selector");
    let hrefs: Vec<&str> = doc.select(&sel).filter_map(|a| a.attr("href")).collect();
    assert!(
        hrefs.iter().any(|h| h.contains("sort=actor&dir=desc")),
        "the header turns the order: {hrefs:?}"
    );
    // Filters: category, actor by name, target by name, free text.
    let f = admin
        .client
        .get("/audit?action=auth.&actor=試験 システム")
        .await
        .text()
        .await
        .expect("page");
    let texts = cells(&f);
    assert!(texts.iter().any(|t| t == "パスワードの変更"));
    assert!(!texts.iter().any(|t| t == "アカウントの作成"), "not auth.");
    assert!(
        !texts.iter().any(|t| t == "ログインの失敗"),
        "another actor"
    );
    let f = admin
        .client
        .get(&format!(
            "/audit?target=試験 システム管理者&q={}",
            admin.login_id
        ))
        .await
        .text()
        .await
        .expect("page");
    assert!(cells(&f).iter().any(|t| t == "アカウントの作成"));
}

#[tokio::test]
async fn x4_issue15_the_audit_log_pages_with_counts_and_exports_exactly_the_filtered_set() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let reader = app.login_as(Role::User).await;
    let patient = patient_of(&app, "9900000001").await;
    record_reads(&app, &reader.login_id, patient, 1210).await;
    let total = app.audit_count("records.timeline_read").await;
    assert_eq!(total, 605);
    let page = admin
        .client
        .get("/audit?action=records.timeline_read&per=200&page=4")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("全 605 件中 601〜605 件"), "{page}");
    assert!(
        cells(&page)
            .iter()
            .any(|t| t == "患者 清須 花子（キヨス ハナコ）")
    );
    // CSV: every matching row (more than one export page of 1,000 in the whole set).
    let res = admin
        .client
        .get(&format!(
            "/audit/export.csv?actor={}&q=patient",
            reader.login_id
        ))
        .await;
    assert_eq!(res.status(), 200);
    let rows = csv_rows(&res.bytes().await.expect("bytes"));
    assert_eq!(rows.len(), 1210, "the whole filtered set");
    assert!(rows.iter().all(|r| r[3] == reader.login_id));
    assert!(rows.iter().any(|r| &r[12] == "経過一覧の閲覧"));
    assert!(
        rows.iter()
            .any(|r| &r[13] == "患者 清須 花子（キヨス ハナコ）")
    );
    // Newest first, no row twice.
    let ids: Vec<i64> = rows.iter().map(|r| r[0].parse().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    // xlsx: the same set, real date cells, widths.
    let res = admin
        .client
        .get("/audit/export.xlsx?action=records.timeline_read")
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.expect("bytes");
    assert_date_cell_and_widths(&bytes, "ログ", 1, 1);
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("xlsx");
    let range = book.worksheet_range("ログ").expect("sheet");
    assert_eq!(range.height(), 606, "header + every matching row");
    assert!(sheet_xml(&bytes).contains("<pane"), "the header is frozen");
}

#[tokio::test]
async fn x4_issue15_the_access_log_names_readers_and_patients_and_has_no_500_ceiling() {
    let app = spawn_app().await;
    let manager = app.login_as(Role::FacilityManager).await;
    let reader = app.login_as(Role::User).await;
    let patient = patient_of(&app, "9900000001").await;
    record_reads(&app, &reader.login_id, patient, 530).await;
    let page = manager
        .client
        .get("/records/access-log")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("全 530 件中 1〜50 件"), "{page}");
    let texts = cells(&page);
    let who = format!("試験 利用者（{}）", reader.login_id);
    assert!(texts.iter().any(|t| t == &who), "{who} in {texts:?}");
    assert!(texts.iter().any(|t| t == "患者 清須 花子（キヨス ハナコ）"));
    assert!(
        texts.iter().any(|t| t.contains("テスト施設9900000001")),
        "the facility by name: {texts:?}"
    );
    assert!(
        !texts.iter().any(|t| t == &format!("患者 {patient}")),
        "no bare ids"
    );
    // The last page holds the rows past 500.
    let last = manager
        .client
        .get("/records/access-log?per=200&page=3")
        .await
        .text()
        .await
        .expect("page");
    assert!(last.contains("全 530 件中 401〜530 件"), "{last}");
    // Filters: action, patient by kana, reader; the export is the filtered set.
    let f = manager
        .client
        .get("/records/access-log?action=access.denied&target=キヨス")
        .await
        .text()
        .await
        .expect("page");
    assert!(f.contains("全 265 件"), "{f}");
    let res = manager
        .client
        .get(&format!(
            "/records/access-log/export.csv?action=access.denied&actor={}",
            reader.login_id
        ))
        .await;
    assert_eq!(res.status(), 200);
    let rows = csv_rows(&res.bytes().await.expect("bytes"));
    assert_eq!(rows.len(), 265);
    assert!(rows.iter().all(|r| r[3].starts_with("閲覧の拒否")));
    assert_eq!(&rows[0][1], who.as_str());
    let res = manager.client.get("/records/access-log/export.xlsx").await;
    assert_eq!(res.status(), 200);
    assert_date_cell_and_widths(&res.bytes().await.expect("bytes"), "ログ", 1, 0);
}

#[tokio::test]
async fn x4_issue15_the_helpdesk_report_xlsx_has_date_cells_and_widths() {
    let app = crate::helpdesk::spawn_helpdesk_app("2026-11-02T09:00:00+09:00").await;
    let op = app.login_as(Role::SystemOperator).await;
    let res = op
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "電話"),
                ("category", "その他"),
                ("requester_name", "清須 太郎"),
                ("subject", "ログインできない"),
                ("content", "問い合わせ"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = op
        .client
        .get("/helpdesk/reports/export.xlsx?month=2026-11")
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.expect("bytes");
    assert_date_cell_and_widths(&bytes, "問い合わせ一覧", 1, 1);
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("xlsx");
    let range = book.worksheet_range("問い合わせ一覧").expect("sheet");
    match range.get_value((1, 1)) {
        // 09:00 in Japan, not 00:00 UTC.
        Some(Data::DateTime(d)) => {
            // Excel's serial day: 2026-11-02 is day 46328; 09:00 is 0.375 of a day.
            let v = d.as_f64();
            assert!((v - 46328.375).abs() < 1e-6, "{v}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn x4_issue15_the_jobs_list_filters_sorts_and_pages_with_counts() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let get = |path: String| {
        let c = &admin.client;
        async move { c.get(&path).await.text().await.expect("page") }
    };
    let all = get("/admin/jobs?per=10".into()).await;
    let total: usize = {
        let doc = scraper::Html::parse_document(&all);
        let sel = scraper::Selector::parse("p.pager-summary").expect("selector");
        let text: String = doc.select(&sel).flat_map(|p| p.text()).collect();
        text.split_whitespace()
            .nth(1)
            .expect("total")
            .parse()
            .expect("n")
    };
    assert!(total > 10, "more jobs than one page of 10: {total}");
    assert!(all.contains(&format!("全 {total} 件中 1〜10 件")), "{all}");
    assert_eq!(cells(&all).len(), 10 * 7, "ten rows on the first page");
    let last_page = total.div_ceil(10);
    let last = get(format!("/admin/jobs?per=10&page={last_page}")).await;
    assert!(last.contains(&format!("〜{total} 件")));
    // Filter by name or label.
    let one = get("/admin/jobs?q=改ざん".into()).await;
    assert!(one.contains("全 1 件中 1〜1 件"), "{one}");
    assert!(one.contains("audit.verify"));
    // Status: nothing has run in a fresh app.
    let failed = get("/admin/jobs?status=失敗".into()).await;
    assert!(failed.contains("全 0 件"));
    // Sorting by name, both ways.
    let names = |html: &str| -> Vec<String> {
        let doc = scraper::Html::parse_document(html);
        let sel = scraper::Selector::parse("tbody td code").expect("selector");
        doc.select(&sel).map(|c| c.text().collect()).collect()
    };
    let asc = names(&get("/admin/jobs?sort=name&dir=asc&per=200".into()).await);
    let mut sorted = asc.clone();
    sorted.sort();
    assert_eq!(asc, sorted);
    let desc = names(&get("/admin/jobs?sort=name&dir=desc&per=200".into()).await);
    assert_eq!(desc, asc.into_iter().rev().collect::<Vec<_>>());
}

/// Issue 15 item 2 / defect 7: the session log (`/audit/sessions`) had a 500-row ceiling; it now
/// pages in SQL with a count, and the paging links keep the filter.
#[tokio::test]
async fn x4_issue15_the_session_log_pages_past_500_with_a_count_and_keeps_its_filter() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let account = app.account_id(&user.login_id).await;
    let at = app.now().to_db();
    for i in 0..520 {
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, ended_at,
                                   end_reason, client_addr, user_agent)
             VALUES ($1, $2, $3, $3, $3, 'logout', '192.0.2.1', 'test')",
        )
        .bind(format!("seeded-{i}"))
        .bind(account)
        .bind(&at)
        .execute(app.db().pool())
        .await
        .unwrap();
    }
    let admin = app.login_as(Role::SystemAdmin).await;
    // The 520 seeded and the user's own (log-in, and the new id at the password change).
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE account_id = $1")
        .bind(account)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert!(total > 520);
    let path = format!("/audit/sessions?login_id={}", user.login_id);
    let first = admin.client.get(&path).await.text().await.unwrap();
    assert!(
        first.contains(&format!("全 {total} 件中 1〜50 件")),
        "{first}"
    );
    let last = admin
        .client
        .get(&format!("{path}&page=11"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        last.contains(&format!("全 {total} 件中 501〜{total} 件")),
        "{last}"
    );
    assert_eq!(
        last.matches("<tr><td><code>").count() as i64,
        total - 500,
        "the rows beyond 500 are reachable"
    );
    assert!(
        last.contains(&format!("login_id={}", user.login_id)),
        "the paging links keep the filter"
    );
}
