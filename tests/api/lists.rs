//! Lists (X.4): the global search `/search` (issue 15 item 2) — what each role finds and what it
//! must not — and the paged, searched, sorted lists (patients, facilities, announcements).

use rainbownet::auth::Role;

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn staff_search_finds_facilities_and_accounts_and_takes_wildcards_literally() {
    let app = spawn_app().await;
    app.facility("9900000123").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin.client.get("/search?q=9900000123").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(body.contains("search-facilities"), "facility group shown");
    assert!(
        body.contains("テスト施設9900000123"),
        "facility found by code"
    );
    assert!(body.contains("search-accounts"), "account group shown");
    assert!(!body.contains("search-patients"), "staff read no patients");

    let res = admin
        .client
        .get(&format!("/search?q={}", admin.login_id))
        .await;
    let body = res.text().await.expect("body");
    assert!(body.contains(&admin.login_id), "account found by login ID");

    // `%` is not a wildcard: it matches no facility code or name.
    let body = admin
        .client
        .get("/search?q=%25")
        .await
        .text()
        .await
        .expect("body");
    assert!(!body.contains("テスト施設9900000123"), "% taken literally");
    // An odd sort key is ignored, not a 500.
    let res = admin.client.get("/search?q=99&sort=drop;table").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn facility_user_sees_only_patients_and_the_search_is_audited() {
    let app = spawn_app().await;
    app.facility("9900000123").await;
    let user = app.login_as(Role::User).await;
    let before = app.audit_count("records.patients_searched").await;
    let res = user.client.get("/search?q=9900000123").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("search-patients"),
        "patient group for a reader"
    );
    assert!(
        !body.contains("search-facilities"),
        "no facility admin links"
    );
    assert!(!body.contains("search-accounts"), "no account admin links");
    assert!(!body.contains("テスト施設9900000123"));
    assert_eq!(
        app.audit_count("records.patients_searched").await,
        before + 1
    );
}

/// Twelve patients linked to the test facility of `login_as` (local IDs L-01..L-12, kana
/// カナ01..カナ12), plus one of another facility the list must never show.
async fn seed_patients(app: &TestApp) {
    app.facility("9900000001").await;
    app.facility("9900000222").await;
    let at = app.now().to_db();
    for (code, n) in (1..=12)
        .map(|n| ("9900000001", n))
        .chain([("9900000222", 99)])
    {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO patients (network_id, name, kana, birth_date, gender, created_at)
             VALUES ($1, $2, $3, '1950-04-01', 'female', $4) RETURNING id",
        )
        .bind(format!("KR00000000{n:02}"))
        .bind(format!("清須 花子{n:02}"))
        .bind(format!("カナ{n:02}"))
        .bind(&at)
        .fetch_one(app.db().pool())
        .await
        .expect("patient");
        sqlx::query(
            "INSERT INTO patient_links (patient_id, facility_id, local_id, created_at)
             VALUES ($1, (SELECT id FROM facilities WHERE code = $2), $3, $4)",
        )
        .bind(id)
        .bind(code)
        .bind(format!("L-{n:02}"))
        .bind(&at)
        .execute(app.db().pool())
        .await
        .expect("link");
    }
}

pub(crate) async fn page_text(user: &crate::helpers::TestUser, path: &str) -> String {
    let res = user.client.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("body")
}

#[tokio::test]
async fn x4_patient_list_is_paged_searched_and_sorted_and_each_page_is_audited() {
    let app = spawn_app().await;
    seed_patients(&app).await;
    let user = app.login_as(Role::User).await;
    let before = app.audit_count("records.patients_listed").await;

    let first = page_text(&user, "/records?per=10").await;
    assert!(
        first.contains("全 12 件中 1〜10 件"),
        "count of visible patients only"
    );
    assert!(first.contains("カナ01") && first.contains("カナ10"));
    assert!(!first.contains("カナ11"), "page 1 stops at 10");
    assert!(
        !first.contains("カナ99"),
        "another facility's patient is not listed"
    );
    assert!(first.contains("rel=\"next\""), "a link to page 2");

    let second = page_text(&user, "/records?per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件"));
    assert!(second.contains("カナ11") && second.contains("カナ12"));
    assert!(!second.contains("カナ01"));

    // Search by network ID, local ID and kana; each narrows the list.
    let by_id = page_text(&user, "/records?q=KR0000000003").await;
    assert!(by_id.contains("全 1 件中 1〜1 件") && by_id.contains("カナ03"));
    let by_local = page_text(&user, "/records?q=l-07").await;
    assert!(by_local.contains("全 1 件中 1〜1 件") && by_local.contains("カナ07"));
    let by_kana = page_text(&user, "/records?q=%E3%82%AB%E3%83%8A1").await;
    assert!(by_kana.contains("全 3 件中 1〜3 件"), "カナ10..12");
    let none = page_text(&user, "/records?q=%25").await;
    assert!(none.contains("全 0 件") && none.contains("該当する患者はいません"));

    // A whitelisted sort reverses the order; an unknown one falls back to kana, not a 500.
    let desc = page_text(&user, "/records?per=10&sort=kana&dir=desc").await;
    assert!(desc.contains("カナ12") && !desc.contains("カナ01"));
    let odd = page_text(&user, "/records?per=10&sort=drop;table&dir=sideways").await;
    assert!(odd.contains("カナ01") && !odd.contains("カナ12"));

    assert_eq!(
        app.audit_count("records.patients_listed").await,
        before + 8,
        "every page shown is a read in the audit chain"
    );
}

/// A network where a facility sees more patients than the list counts (X.4, issue 16 item 3):
/// the count stops at 10,000 and says "10000 件以上", a next page is still offered and works.
#[tokio::test]
async fn x4_issue16_the_patient_count_stops_at_ten_thousand_and_says_so() {
    let app = spawn_app().await;
    app.facility("9900000001").await;
    let at = app.now().to_db();
    let pool = app.db().pool();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10020)
         INSERT INTO patients (network_id, name, kana, birth_date, gender, created_at)
         SELECT 'KRC' || i, '清須 多数', 'タスウ' || i, '1950-04-01', 'female', '{at}' FROM n"
    )))
    .execute(pool)
    .await
    .expect("patients");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO patient_links (patient_id, facility_id, local_id, created_at)
         SELECT p.id, f.id, 'C-' || p.network_id, '{at}' FROM patients p, facilities f
         WHERE f.code = '9900000001' AND p.network_id LIKE 'KRC%'"
    )))
    .execute(pool)
    .await
    .expect("links");
    let user = app.login_as(Role::User).await;
    let first = page_text(&user, "/records").await;
    assert!(
        first.contains("10000 件以上中 1〜50 件"),
        "a floor, not a total"
    );
    assert!(first.contains("rel=\"next\""));
    let far = page_text(&user, "/records?per=10&page=1002").await;
    assert!(far.contains("10000 件以上中 10011〜10020 件"));
    assert!(far.contains("タスウ"), "rows past the cap are still listed");
    // A search below the cap is counted exactly.
    let one = page_text(&user, "/records?q=KRC10007").await;
    assert!(one.contains("全 1 件中 1〜1 件"), "exact under the cap");
}

/// Twelve add-requests of the test facility 9900000001 (persons 申請者01..12, kana
/// しんせい01..12; every fourth rejected), plus one of another facility the list must never show.
pub(crate) async fn seed_requests(app: &TestApp) {
    app.facility("9900000001").await;
    app.facility("9900000222").await;
    let at = app.now().to_db();
    for (code, n) in (1..=12)
        .map(|n| ("9900000001", n))
        .chain([("9900000222", 99)])
    {
        let state = if n % 4 == 0 { "rejected" } else { "received" };
        sqlx::query(
            "INSERT INTO account_requests (facility_id, kind, state, channel, received_at,
                                           person_name, person_kana, job_type, reason)
             VALUES ((SELECT id FROM facilities WHERE code = $1), 'add', $2, 'portal', $3,
                     $4, $5, '医師', '新任')",
        )
        .bind(code)
        .bind(state)
        .bind(&at)
        .bind(format!("申請者{n:02}"))
        .bind(format!("しんせい{n:02}"))
        .execute(app.db().pool())
        .await
        .expect("request");
    }
}

#[tokio::test]
async fn x4_facility_request_history_is_paged_searched_filtered_and_stays_in_the_facility() {
    let app = spawn_app().await;
    seed_requests(&app).await;
    let fm = app.login_as(Role::FacilityManager).await;

    // Newest first (same time: the higher number is newer), ten a page.
    let first = page_text(&fm, "/requests?per=10").await;
    assert!(
        first.contains("全 12 件中 1〜10 件"),
        "count of own requests"
    );
    assert!(first.contains("申請者12") && first.contains("申請者03"));
    assert!(!first.contains("申請者02"), "page 1 stops at 10");
    assert!(!first.contains("申請者99"), "another facility's request");
    assert!(first.contains("rel=\"next\""), "a link to page 2");

    let second = page_text(&fm, "/requests?per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件"));
    assert!(second.contains("申請者02") && second.contains("申請者01"));
    assert!(!second.contains("申請者12"));

    // Search by kana narrows; another facility's request is not found by its own name.
    let by_kana = page_text(&fm, "/requests?q=%E3%81%97%E3%82%93%E3%81%9B%E3%81%8407").await;
    assert!(by_kana.contains("全 1 件中 1〜1 件") && by_kana.contains("申請者07"));
    let other = page_text(&fm, "/requests?q=%E7%94%B3%E8%AB%8B%E8%80%8599").await;
    assert!(other.contains("全 0 件") && other.contains("該当する申請はありません"));
    let literal = page_text(&fm, "/requests?q=%25").await;
    assert!(literal.contains("全 0 件"), "% taken literally");

    // The state filter, kept in the page links; an unknown state shows everything.
    let rejected = page_text(&fm, "/requests?state=rejected").await;
    assert!(rejected.contains("全 3 件中 1〜3 件"));
    assert!(rejected.contains("申請者04") && !rejected.contains("申請者05"));
    let paged = page_text(&fm, "/requests?state=received&per=10").await;
    assert!(paged.contains("全 9 件中 1〜9 件"));
    let odd_state = page_text(&fm, "/requests?state=drop;table").await;
    assert!(odd_state.contains("全 12 件中 1〜12 件"));

    // A whitelisted sort reverses the order; an unknown one falls back, not a 500.
    let oldest = page_text(&fm, "/requests?per=10&sort=received&dir=asc").await;
    assert!(oldest.contains("全 12 件中 1〜10 件"));
    let odd = page_text(&fm, "/requests?per=10&sort=drop;table&dir=sideways").await;
    assert!(odd.contains("申請者12") && !odd.contains("申請者02"));
}

/// One patient of the test facility 9900000001 with twelve documents it sent (titles
/// 紹介状01..12, dated 2026-01-01..12; 03, 06, 09 and 12 are 検査結果, the rest 診療情報提供書),
/// plus one it sent that is held for review and one of 9900000222 without a consent: neither
/// may ever be listed. Returns the patient's id.
async fn seed_documents(app: &TestApp) -> i64 {
    seed_patients(app).await;
    let patient: i64 = sqlx::query_scalar("SELECT id FROM patients WHERE kana = 'カナ01'")
        .fetch_one(app.db().pool())
        .await
        .expect("patient");
    let at = app.now().to_db();
    let docs = (1..=12)
        .map(|n| ("9900000001", n, None))
        .chain([("9900000001", 13, Some("held")), ("9900000222", 14, None)]);
    for (code, n, review) in docs {
        let label = if n % 3 == 0 {
            "検査結果"
        } else {
            "診療情報提供書"
        };
        sqlx::query(
            "INSERT INTO documents (patient_id, facility_id, bundle_type, identifier_system,
                 identifier_value, type_code, type_label, title, doc_date, content_hash, content,
                 size_bytes, sent_at, expires_at, review_state)
             VALUES ($1, (SELECT id FROM facilities WHERE code = $2), 'document', 'urn:test', $3,
                     'x', $4, $5, $6, 'h', '{}', 2, $7, $7, $8)",
        )
        .bind(patient)
        .bind(code)
        .bind(format!("doc-{n}"))
        .bind(label)
        .bind(format!("紹介状{n:02}"))
        .bind(format!("2026-01-{n:02}"))
        .bind(&at)
        .bind(review)
        .execute(app.db().pool())
        .await
        .expect("document");
    }
    patient
}

#[tokio::test]
async fn x4_patient_documents_are_paged_searched_and_sorted_within_the_consent() {
    let app = spawn_app().await;
    let patient = seed_documents(&app).await;
    let user = app.login_as(Role::User).await;
    let path = format!("/records/patients/{patient}");
    let before = app.audit_count("records.timeline_read").await;

    // Newest document date first, ten a page; held and unconsented documents never count.
    let first = page_text(&user, &format!("{path}?per=10")).await;
    assert!(
        first.contains("全 12 件中 1〜10 件"),
        "readable documents only"
    );
    assert!(first.contains("紹介状12") && first.contains("紹介状03"));
    assert!(!first.contains("紹介状02"), "page 1 stops at 10");
    assert!(!first.contains("紹介状13"), "a held document is not listed");
    assert!(!first.contains("紹介状14"), "no consent, not listed");
    assert!(first.contains("rel=\"next\""), "a link to page 2");

    let second = page_text(&user, &format!("{path}?per=10&page=2")).await;
    assert!(second.contains("全 12 件中 11〜12 件"));
    assert!(second.contains("紹介状02") && second.contains("紹介状01"));
    assert!(!second.contains("紹介状12"));

    // Search by type and by title narrows; the held and unconsented ones stay out.
    let by_type = page_text(&user, &format!("{path}?q=%E6%A4%9C%E6%9F%BB")).await;
    assert!(
        by_type.contains("全 4 件中 1〜4 件"),
        "検査結果: 03 06 09 12"
    );
    let by_title = page_text(&user, &format!("{path}?q=%E7%B4%B9%E4%BB%8B%E7%8A%B61")).await;
    assert!(
        by_title.contains("全 3 件中 1〜3 件"),
        "紹介状10..12, not 13/14"
    );
    let none = page_text(&user, &format!("{path}?q=%25")).await;
    assert!(none.contains("全 0 件") && none.contains("該当する文書はありません"));

    // A whitelisted sort reverses the order; an unknown one falls back to newest first.
    let oldest = page_text(&user, &format!("{path}?per=10&sort=date&dir=asc")).await;
    assert!(oldest.contains("紹介状01") && !oldest.contains("紹介状12"));
    let odd = page_text(&user, &format!("{path}?per=10&sort=drop;table&dir=up")).await;
    assert!(odd.contains("紹介状12") && !odd.contains("紹介状01"));

    // Every page shown is one patient read in the audit chain, as before the paging.
    assert_eq!(app.audit_count("records.timeline_read").await, before + 7);
}

/// Twelve documents of the test facility 9900000001 held for its review (titles 保留01..12,
/// patient IDs L-01..L-12), plus one of 9900000222 its managers must never see.
async fn seed_reviews(app: &TestApp) {
    seed_patients(app).await;
    let at = app.now().to_db();
    for (code, n) in (1..=12)
        .map(|n| ("9900000001", n))
        .chain([("9900000222", 99)])
    {
        let doc: i64 = sqlx::query_scalar(
            "INSERT INTO documents (patient_id, facility_id, bundle_type, identifier_system,
                 identifier_value, type_code, type_label, title, doc_date, content_hash, content,
                 size_bytes, sent_at, expires_at, review_state)
             VALUES ((SELECT MIN(id) FROM patients), (SELECT id FROM facilities WHERE code = $1),
                     'document', 'urn:test', $2, 'x', '診療情報提供書', $3, '2026-01-01', 'h',
                     '{}', 2, $4, $4, 'held') RETURNING id",
        )
        .bind(code)
        .bind(format!("held-{n}"))
        .bind(format!("保留{n:02}"))
        .bind(&at)
        .fetch_one(app.db().pool())
        .await
        .expect("document");
        sqlx::query(
            "INSERT INTO document_reviews (document_id, facility_id, patient_id, local_id,
                 identifier_value, sent_name, sent_kana, sent_birth_date, sent_gender, differs,
                 state, created_at)
             VALUES ($1, (SELECT id FROM facilities WHERE code = $2), (SELECT MIN(id) FROM patients),
                     $3, $4, '別人 太郎', 'ベツニン', '1960-01-01', 'male', 'name', 'pending', $5)",
        )
        .bind(doc)
        .bind(code)
        .bind(format!("L-{n:02}"))
        .bind(format!("held-{n}"))
        .bind(&at)
        .execute(app.db().pool())
        .await
        .expect("review");
    }
}

#[tokio::test]
async fn x4_held_documents_are_paged_searched_and_sorted_for_the_own_facility_only() {
    let app = spawn_app().await;
    seed_reviews(&app).await;
    let fm = app.login_as(Role::FacilityManager).await;

    // In the order they arrived, ten a page; another facility's held document never counts.
    let first = page_text(&fm, "/records/review?per=10").await;
    assert!(first.contains("全 12 件中 1〜10 件"));
    assert!(first.contains("保留01") && first.contains("保留10"));
    assert!(!first.contains("保留11") && !first.contains("保留99"));
    assert!(first.contains("rel=\"next\""), "a link to page 2");
    let second = page_text(&fm, "/records/review?per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件") && second.contains("保留12"));
    assert!(!second.contains("保留01"));

    // Search by patient ID and by title narrows; `%` is literal.
    let by_local = page_text(&fm, "/records/review?q=l-07").await;
    assert!(by_local.contains("全 1 件中 1〜1 件") && by_local.contains("保留07"));
    let by_title = page_text(&fm, "/records/review?q=%E4%BF%9D%E7%95%991").await;
    assert!(by_title.contains("全 3 件中 1〜3 件"), "保留10..12, not 99");
    let none = page_text(&fm, "/records/review?q=%25").await;
    assert!(none.contains("全 0 件") && none.contains("該当する文書はありません"));

    // A whitelisted sort reverses; an unknown one falls back to the arrival order.
    let desc = page_text(&fm, "/records/review?per=10&sort=local_id&dir=desc").await;
    assert!(desc.contains("保留12") && !desc.contains("保留01"));
    let odd = page_text(&fm, "/records/review?per=10&sort=x;y").await;
    assert!(odd.contains("保留01") && !odd.contains("保留12"));
}

#[tokio::test]
async fn x4_announcement_management_is_paged_searched_and_sorted() {
    let app = spawn_app().await;
    let at = app.now().to_db();
    for n in 1..=12 {
        sqlx::query(
            "INSERT INTO portal_announcements (category, title, body_md, publish_at, revision,
                 created_by, created_at, updated_at)
             VALUES ('notice', $1, $2, $3, 1, 'test', $3, $3)",
        )
        .bind(format!("連絡{n:02}"))
        .bind(if n == 5 {
            "停電のため停止"
        } else {
            "本文"
        })
        .bind(&at)
        .execute(app.db().pool())
        .await
        .expect("announcement");
    }
    let op = app.login_as(Role::SystemOperator).await;

    // Newest first (same time: the later one), ten a page.
    let first = page_text(&op, "/portal/manage?per=10").await;
    assert!(first.contains("全 12 件中 1〜10 件"));
    assert!(first.contains("連絡12") && first.contains("連絡03") && !first.contains("連絡02"));
    assert!(first.contains("rel=\"next\""), "a link to page 2");
    let second = page_text(&op, "/portal/manage?per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件") && second.contains("連絡01"));
    assert!(!second.contains("連絡12"));

    // Search by title and by body narrows; `%` is literal.
    let by_title = page_text(&op, "/portal/manage?q=%E9%80%A3%E7%B5%A11").await;
    assert!(by_title.contains("全 3 件中 1〜3 件"), "連絡10..12");
    let by_body = page_text(&op, "/portal/manage?q=%E5%81%9C%E9%9B%BB").await;
    assert!(by_body.contains("全 1 件中 1〜1 件") && by_body.contains("連絡05"));
    let none = page_text(&op, "/portal/manage?q=%25").await;
    assert!(none.contains("全 0 件") && none.contains("該当するお知らせはありません"));

    // A whitelisted sort; an unknown one falls back to newest first.
    let by_name = page_text(&op, "/portal/manage?per=10&sort=title").await;
    assert!(by_name.contains("連絡01") && !by_name.contains("連絡12"));
    let odd = page_text(&op, "/portal/manage?per=10&sort=1;drop").await;
    assert!(odd.contains("連絡12") && !odd.contains("連絡01"));
}
