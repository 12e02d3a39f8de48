//! Issue 15 item 4 — creating an account from the UI (`/admin/accounts/new`; R12.1, X.1): the
//! one-time password shown once and working once, the reason in the audit event, the system
//! administrator role kept for system administrators, refused input kept.

use rainbownet::auth::Role;

use crate::helpers::*;

const REASON: &str = "新任の運用担当者（委託契約書 第3条）";

fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body.find(start).map(|i| i + start.len()).expect("start");
    let len = body[from..].find(end).expect("end");
    &body[from..from + len]
}

#[tokio::test]
async fn x4_issue15_an_administrator_creates_a_staff_account_whose_password_works_once() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let list = admin
        .client
        .get("/admin/accounts")
        .await
        .text()
        .await
        .expect("body");
    assert!(
        list.contains("href=\"/admin/accounts/new\""),
        "a link to the form"
    );
    let form = admin.client.get("/admin/accounts/new").await;
    assert_eq!(form.status(), 200);
    assert!(form.text().await.expect("body").contains("system_admin"));

    let res = admin
        .client
        .post_form(
            "/admin/accounts/new",
            &[
                ("display_name", "清洲 太郎"),
                ("login_id", "kiyosu-ops01"),
                ("role", "system_operator"),
                ("facility", ""),
                ("reason", REASON),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    let otp = between(&body, "<code id=\"one-time-password\">", "</code>").to_string();
    assert!(otp.len() >= 8, "a password is shown: {otp}");
    let id = app.account_id("kiyosu-ops01").await;

    // Stored hashed, never in clear; the event carries the reason.
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("hash");
    assert!(!hash.contains(&otp));
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'account.created' AND target = $1",
    )
    .bind(format!("account:{id}"))
    .fetch_all(app.db().pool())
    .await
    .expect("details");
    assert_eq!(details.len(), 1);
    assert!(details[0].contains(REASON) && details[0].contains("system_operator"));

    // The page is shown once: the account's page does not show the password again.
    let page = admin.client.get(&format!("/admin/accounts/{id}")).await;
    assert!(!page.text().await.expect("body").contains(&otp));

    // The password logs in once, straight to the forced change.
    let person = app.client();
    let res = person.login("kiyosu-ops01", &otp).await;
    assert_eq!(res.status(), 303);
    let home = person.get("/").await;
    assert_eq!(location(&home), "/account/password", "forced change first");
    let new = "Kiyosu2026rainbowOps";
    let res = person
        .post_form(
            "/account/password",
            &[
                ("current_password", &otp),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let again = app.client();
    let res = again.login("kiyosu-ops01", &otp).await;
    assert_ne!(res.status(), 303, "the one-time password works once");
}

#[tokio::test]
async fn x4_issue15_an_operator_cannot_create_a_system_administrator() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let form = op.client.get("/admin/accounts/new").await;
    assert_eq!(form.status(), 200);
    let body = form.text().await.expect("body");
    assert!(!body.contains("value=\"system_admin\""), "not offered");
    let res = op
        .client
        .post_form(
            "/admin/accounts/new",
            &[
                ("display_name", "乗っ取り"),
                ("login_id", "sneaky-admin"),
                ("role", "system_admin"),
                ("reason", REASON),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE login_id = 'sneaky-admin'")
            .fetch_one(app.db().pool())
            .await
            .expect("count");
    assert_eq!(n, 0);
    // A staff role is fine for an operator; a facility role needs its facility.
    let code = app.facility("9900000042").await;
    let fields = [
        ("display_name", "施設 花子"),
        ("login_id", "hanako-fac"),
        ("role", "user"),
        ("reason", REASON),
    ];
    let res = op.client.post_form("/admin/accounts/new", &fields).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("所属施設が必要"));
    let mut with_facility = fields.to_vec();
    with_facility.push(("facility", &code));
    let res = op
        .client
        .post_form("/admin/accounts/new", &with_facility)
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn x4_issue15_a_refused_form_keeps_what_was_typed() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let events = app.audit_count("account.created").await;
    let fields = [
        ("display_name", "重複 次郎"),
        ("login_id", &admin.login_id as &str),
        ("role", "committee"),
        ("reason", REASON),
    ];
    let res = admin.client.post_form("/admin/accounts/new", &fields).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.expect("body");
    assert!(body.contains("すでに使われています"), "says why");
    assert!(body.contains("重複 次郎") && body.contains(REASON), "kept");
    assert!(body.contains("value=\"committee\" selected"), "role kept");
    assert_eq!(app.audit_count("account.created").await, events);

    // Without a reason, or with a bad login ID: refused too.
    let res = admin
        .client
        .post_form(
            "/admin/accounts/new",
            &[("display_name", "理由 なし"), ("role", "committee")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = admin
        .client
        .post_form(
            "/admin/accounts/new",
            &[
                ("display_name", "山田"),
                ("login_id", "山田"),
                ("role", "committee"),
                ("reason", REASON),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("半角英数字"));

    // Without the form token: refused, nothing created.
    let res = admin
        .client
        .http
        .post(admin.client.url("/admin/accounts/new"))
        .form(&[
            ("display_name", "偽 三郎"),
            ("login_id", "forged-01"),
            ("role", "committee"),
            ("reason", REASON),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
    assert_eq!(app.audit_count("account.created").await, events);
}

/// Issue 15 item 4: with hundreds of facilities the form has no `<select>` of them all but a
/// text field with a `<datalist>`; the server resolves a code or an exact name, refuses an
/// unknown one in Japanese with the form kept, and a facility's page pre-fills the field.
#[tokio::test]
async fn x4_issue15_the_facility_is_typed_by_code_or_name_and_a_facility_page_prefills_it() {
    let app = spawn_app().await;
    for i in 0..200 {
        app.facility(&format!("99100{i:05}")).await;
    }
    let admin = app.login_as(Role::SystemAdmin).await;
    let form = admin
        .client
        .get("/admin/accounts/new")
        .await
        .text()
        .await
        .expect("body");
    let doc = scraper::Html::parse_document(&form);
    let sel = |s: &str| scraper::Selector::parse(s).expect("selector");
    assert_eq!(
        doc.select(&sel("select#facility_code, select[name=facility]"))
            .count(),
        0,
        "no select of every facility"
    );
    let input = doc
        .select(&sel("input#facility[type=text][list=facility-list]"))
        .next()
        .expect("a text field with a list");
    assert_eq!(input.attr("value"), Some(""));
    let options = doc.select(&sel("datalist#facility-list option")).count();
    assert!(options >= 200, "every active facility offered: {options}");

    // By exact name: the account belongs to that facility.
    let mut fields = vec![
        ("display_name", "名前 で選ぶ"),
        ("login_id", "by-name-01"),
        ("role", "user"),
        ("facility", "テスト施設9910000123"),
        ("reason", REASON),
    ];
    let res = admin.client.post_form("/admin/accounts/new", &fields).await;
    assert_eq!(res.status(), 200);
    let facility_of = |login: &'static str| {
        let pool = app.db().pool().clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT f.code FROM accounts a JOIN facilities f ON f.id = a.facility_id
                 WHERE a.login_id = $1",
            )
            .bind(login)
            .fetch_one(&pool)
            .await
            .expect("facility")
        }
    };
    assert_eq!(facility_of("by-name-01").await, "9910000123");

    // By code, typed with a hyphen in full-width digits.
    fields[1] = ("login_id", "by-code-01");
    fields[3] = ("facility", "９９１０-０００００７");
    let res = admin.client.post_form("/admin/accounts/new", &fields).await;
    assert_eq!(res.status(), 200);
    assert_eq!(facility_of("by-code-01").await, "9910000007");

    // Unknown: a Japanese error, the form kept, nothing created.
    fields[1] = ("login_id", "unknown-01");
    fields[3] = ("facility", "存在しない病院");
    let res = admin.client.post_form("/admin/accounts/new", &fields).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("施設「存在しない病院」は登録されていないか"),
        "{body}"
    );
    assert!(body.contains("value=\"存在しない病院\""), "the text kept");
    assert!(
        body.contains("名前 で選ぶ") && body.contains(REASON),
        "kept"
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE login_id = 'unknown-01'")
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(n, 0);

    // The facility's page links to the form with the facility filled in.
    let id: i64 = sqlx::query_scalar("SELECT id FROM facilities WHERE code = '9910000042'")
        .fetch_one(app.db().pool())
        .await
        .expect("id");
    let page = admin
        .client
        .get(&format!("/admin/facilities/{id}"))
        .await
        .text()
        .await
        .expect("body");
    let doc = scraper::Html::parse_document(&page);
    let link = doc
        .select(&sel("a#new-account"))
        .next()
        .expect("a link to create a user of the facility");
    assert_eq!(link.text().collect::<String>(), "この施設の利用者を作成");
    let href = link.attr("href").expect("href").to_string();
    assert_eq!(href, "/admin/accounts/new?facility=9910000042");
    let form = admin.client.get(&href).await.text().await.expect("body");
    let doc = scraper::Html::parse_document(&form);
    let input = doc.select(&sel("input#facility")).next().expect("field");
    assert_eq!(input.attr("value"), Some("9910000042"));
    assert!(
        doc.select(&sel("#facility-chosen"))
            .any(|e| e.text().collect::<String>() == "テスト施設9910000042"),
        "the name beside the code"
    );
}
