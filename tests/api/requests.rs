//! R12.1–R12.5, R15.4 — facilities, requests from facility managers, credential letters: the
//! requests themselves (add, delete, change, attributes, paper, CSV, the kind switch), the
//! directory and the inventory. The letters' own rules (made once, reissue, fonts, the one-time
//! download, the CLI) are in `request_letters.rs`, which uses the helpers here.

use rainbownet::auth::Role;

use crate::helpers::*;

const OTHER_FACILITY: &str = "9900000002";

/// Adds a user request through the facility manager's form; returns the response.
pub(crate) async fn request_add(fm: &TestUser, name: &str, kana: &str) -> reqwest::Response {
    fm.client
        .post_form(
            "/requests",
            &[
                ("kind", "add"),
                ("name", name),
                ("kana", kana),
                ("job_type", "看護師"),
                ("contact", "内線 21"),
            ],
        )
        .await
}

pub(crate) async fn received_ids(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM account_requests WHERE state = 'received' ORDER BY id")
        .fetch_all(app.db().pool())
        .await
        .unwrap()
}

/// Processes add requests: on success follows the redirect to the list and its download link,
/// and returns the PDF's response; a refusal is returned as it came.
pub(crate) async fn issue(op: &TestUser, ids: &[i64]) -> reqwest::Response {
    let res = post_issue(op, ids).await;
    if res.status() != 303 {
        return res;
    }
    let list = op.client.get(&location(&res)).await.text().await.unwrap();
    op.client.get(&download_link(&list)).await
}

/// The one-time download link on a page.
pub(crate) fn download_link(page: &str) -> String {
    let at = page
        .find("/admin/requests/letters/pdf?t=")
        .unwrap_or_else(|| panic!("no download link: {page}"));
    page[at..].split('"').next().unwrap().replace("&amp;", "&")
}

/// The raw POST of the list's processing form.
pub(crate) async fn post_issue(op: &TestUser, ids: &[i64]) -> reqwest::Response {
    let token = op.client.csrf().await;
    let mut body = format!("csrf_token={token}");
    for id in ids {
        body.push_str(&format!("&ids={id}"));
    }
    op.client
        .http
        .post(op.client.url("/admin/requests/issue"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// pdftotext's view of a PDF (poppler-utils; scripts/test.sh installs it).
pub fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letters.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn pdf_fonts(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letters.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdffonts")
        .arg(&path)
        .output()
        .expect("pdffonts");
    String::from_utf8(out.stdout).unwrap()
}

/// (user ID, password) pairs read back from the letters.
pub fn credentials_in(text: &str) -> Vec<(String, String)> {
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("利用者ID"))
        .map(|v| v.trim().to_string())
        .filter(|v| v.len() == 10 && v.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    let pws: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("初期パスワード"))
        .map(|v| v.trim().to_string())
        .filter(|v| v.len() == 8)
        .collect();
    ids.into_iter().zip(pws).collect()
}

#[tokio::test]
async fn r12_1_r12_5_two_requested_users_get_letters_in_one_pdf_and_can_log_in() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    assert_eq!(
        request_add(&fm, "清須 花子", "きよす はなこ")
            .await
            .status(),
        303
    );
    assert_eq!(
        request_add(&fm, "春日 一郎", "かすが いちろう")
            .await
            .status(),
        303
    );
    let mine = fm.client.get("/requests").await.text().await.unwrap();
    assert!(mine.contains("清須 花子") && mine.contains("受付"));

    let ids = received_ids(&app).await;
    assert_eq!(ids.len(), 2);
    let res = issue(&op, &ids).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/pdf"
    );
    let pdf = res.bytes().await.unwrap();
    let text = pdf_text(&pdf);
    assert!(text.contains("利用者IDと初期パスワードのお知らせ"));
    assert!(
        text.contains("テスト施設9900000001"),
        "facility name on the letter"
    );
    assert!(text.contains("清須 花子（きよす はなこ）") && text.contains("春日 一郎"));
    assert!(text.contains("令和") && text.contains("初回ログインの手順"));
    let fonts = pdf_fonts(&pdf);
    assert!(
        fonts.contains("IPAexGothic") && fonts.contains("yes yes yes"),
        "embedded subset with ToUnicode: {fonts}"
    );
    let creds = credentials_in(&text);
    assert_eq!(creds.len(), 2, "{text}");
    for (id, pw) in &creds {
        assert_eq!(id.len(), 10, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(pw.len(), 8);
    }
    // The password is stored only as a hash.
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM accounts WHERE login_id = $1")
        .bind(&creds[0].0)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&creds[0].1));

    let user = app.client();
    assert_eq!(user.login(&creds[0].0, &creds[0].1).await.status(), 303);
    assert_eq!(
        location(&user.get("/").await),
        "/account/password",
        "forced to change the one-time password"
    );

    let list = op.client.get("/admin/requests").await.text().await.unwrap();
    assert!(list.contains("処理済") && list.contains(&creds[1].0));
    assert_eq!(app.audit_count("request.processed").await, 2);
    assert_eq!(app.audit_count("account.letter_issued").await, 2);
}
#[tokio::test]
async fn r12_5_a_facility_manager_cannot_request_for_another_facility() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    app.facility(OTHER_FACILITY).await;
    let (other_user, _) = {
        let spec_name = "他施設 利用者";
        let spec = rainbownet::accounts::service::AccountSpec::new(
            None,
            spec_name,
            Role::User,
            Some(OTHER_FACILITY),
        );
        let c = rainbownet::accounts::service::create_account(
            app.db(),
            &spec,
            &rainbownet::audit::Actor::system("test"),
            app.now(),
        )
        .await
        .unwrap();
        (c.account_id, c.login_id)
    };
    let other_facility_id: i64 = sqlx::query_scalar("SELECT id FROM facilities WHERE code = $1")
        .bind(OTHER_FACILITY)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let before = app.count("account_requests").await;
    // A tampered form naming the other facility's user is refused.
    let res = fm
        .client
        .post_form(
            "/requests",
            &[("kind", "delete"), ("target", &other_user.to_string())],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("対象の利用者が見つかりません")
    );
    // A facility_id slipped into the form is ignored: the request goes to the manager's own facility.
    let res = fm
        .client
        .post_form(
            "/requests",
            &[
                ("kind", "add"),
                ("facility_id", &other_facility_id.to_string()),
                ("name", "清須 花子"),
                ("kana", "きよす はなこ"),
                ("job_type", "医師"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let facility: i64 =
        sqlx::query_scalar("SELECT facility_id FROM account_requests ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert_ne!(facility, other_facility_id);
    assert_eq!(app.count("account_requests").await, before + 1);
    // And the operator's pages are closed to facility managers.
    assert_eq!(fm.client.get("/admin/requests").await.status(), 403);
}

#[tokio::test]
async fn r12_5_bad_request_forms_get_their_errors_next_to_the_fields() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let res = fm
        .client
        .post_form(
            "/requests",
            &[
                ("kind", "add"),
                ("name", ""),
                ("kana", "Hanako"),
                ("job_type", "勇者"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("name-error") && body.contains("kana-error") && body.contains("job-error")
    );
    assert_eq!(app.count("account_requests").await, 0);
}

#[tokio::test]
async fn r12_2_a_delete_request_ends_the_users_live_session_and_records_the_time_taken() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    assert_eq!(user.client.get("/").await.status(), 200);
    let user_id: i64 = app.account_id(&user.login_id).await;
    assert_eq!(
        fm.client
            .post_form(
                "/requests",
                &[
                    ("kind", "delete"),
                    ("target", &user_id.to_string()),
                    ("reason", "退職")
                ]
            )
            .await
            .status(),
        303
    );
    let id = received_ids(&app).await[0];
    // An hour and a half passes; everyone keeps working, so no session runs idle.
    for _ in 0..4 {
        app.advance_minutes(24);
        for c in [&op.client, &fm.client, &user.client] {
            assert_eq!(c.get("/").await.status(), 200);
        }
    }
    let res = op
        .client
        .post_form(&format!("/admin/requests/{id}/delete"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let res = user.client.get("/").await;
    assert_eq!(res.status(), 303, "the live session ended at once");
    assert_eq!(
        app.client()
            .login(&user.login_id, &user.password)
            .await
            .status(),
        403,
        "log-in refused: the right password of a disabled account is told so (issue 15)"
    );
    let page = op
        .client
        .get(&format!("/admin/requests/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("1時間36分"),
        "time from request to execution: {page}"
    );
    assert!(
        fm.client
            .get("/requests")
            .await
            .text()
            .await
            .unwrap()
            .contains("1時間36分")
    );
    // History is kept: the account row still exists, disabled.
    let disabled: Option<String> =
        sqlx::query_scalar("SELECT disabled_at FROM accounts WHERE id = $1")
            .bind(user_id)
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert!(disabled.is_some());
    // A second delete request for the same person is refused.
    let res = fm
        .client
        .post_form(
            "/requests",
            &[("kind", "delete"), ("target", &user_id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn r12_3_a_change_disables_the_old_account_and_issues_a_new_one_linked_to_it() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let user_id: i64 = app.account_id(&user.login_id).await;
    let res = fm
        .client
        .post_form(
            "/requests",
            &[
                ("kind", "change"),
                ("target", &user_id.to_string()),
                ("name", "清須 花子"),
                ("kana", "きよす はなこ"),
                ("job_type", "保健師"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = received_ids(&app).await[0];
    let creds = credentials_in(&pdf_text(&issue(&op, &[id]).await.bytes().await.unwrap()));
    assert_eq!(creds.len(), 1);
    assert_eq!(
        user.client.get("/").await.status(),
        303,
        "old account's session ended"
    );
    let (target, result): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT target_account_id, result_account_id FROM account_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    assert_eq!(target, Some(user_id));
    let new_login: String = sqlx::query_scalar("SELECT login_id FROM accounts WHERE id = $1")
        .bind(result.unwrap())
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(new_login, creds[0].0);
}

#[tokio::test]
async fn r12_4_an_attribute_change_needs_a_recorded_identity_verification() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let user_id: i64 = app.account_id(&user.login_id).await;
    let form = fm
        .client
        .get(&format!("/requests/new?kind=attributes&target={user_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("試験 利用者"),
        "the form starts from the values on record"
    );
    fm.client
        .post_form(
            "/requests",
            &[
                ("kind", "attributes"),
                ("target", &user_id.to_string()),
                ("name", "清須 花子"),
                ("kana", "きよす はなこ"),
                ("job_type", "看護師"),
                ("contact", "内線 99"),
            ],
        )
        .await;
    let id = received_ids(&app).await[0];
    let res = op
        .client
        .post_form(&format!("/admin/requests/{id}/apply"), &[])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("本人確認の記録がない"));
    let name: String = sqlx::query_scalar("SELECT display_name FROM accounts WHERE id = $1")
        .bind(user_id)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(name, "試験 利用者", "unchanged");

    assert_eq!(
        op.client
            .post_form(&format!("/admin/requests/{id}/verify"), &[("method", "")])
            .await
            .status(),
        422
    );
    let res = op
        .client
        .post_form(
            &format!("/admin/requests/{id}/verify"),
            &[("method", "callback"), ("note", "施設代表番号へ折り返し")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        op.client
            .post_form(&format!("/admin/requests/{id}/apply"), &[])
            .await
            .status(),
        303
    );
    let (name, contact): (String, String) =
        sqlx::query_as("SELECT display_name, contact FROM accounts WHERE id = $1")
            .bind(user_id)
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert_eq!((name.as_str(), contact.as_str()), ("清須 花子", "内線 99"));
    let page = op
        .client
        .get(&format!("/admin/requests/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("電話折り返し") && page.contains("施設代表番号へ折り返し"));
    assert_eq!(app.audit_count("request.identity_verified").await, 1);
    assert_eq!(app.audit_count("account.attributes_changed").await, 1);
}

#[tokio::test]
async fn r12_5_paper_requests_keep_the_papers_date_and_can_be_rejected() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    app.facility("9900000001").await;
    let fid: i64 = sqlx::query_scalar("SELECT id FROM facilities WHERE code = '9900000001'")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let fields = |date: &'static str| {
        vec![
            ("kind", "add"),
            ("facility_id", "FID"),
            ("paper_date", date),
            ("name", "紙 申請"),
            ("kana", "かみ しんせい"),
            ("job_type", "医師"),
        ]
    };
    let fid_s = fid.to_string();
    let with_fid = |f: Vec<(&'static str, &'static str)>| -> Vec<(String, String)> {
        f.into_iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    if v == "FID" {
                        fid_s.clone()
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect()
    };
    let future = with_fid(fields("2999-01-01"));
    let refs: Vec<(&str, &str)> = future
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = op.client.post_form("/admin/requests", &refs).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("未来の日付"));
    let ok = with_fid(fields("2026-01-05"));
    let refs: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = op.client.post_form("/admin/requests", &refs).await;
    assert_eq!(res.status(), 303);
    let id = received_ids(&app).await[0];
    let page = op
        .client
        .get(&format!("/admin/requests/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("書面") && page.contains("2026-01-05"));
    assert_eq!(
        op.client
            .post_form(&format!("/admin/requests/{id}/reject"), &[("reason", "")])
            .await
            .status(),
        422
    );
    assert_eq!(
        op.client
            .post_form(
                &format!("/admin/requests/{id}/reject"),
                &[("reason", "押印なし")]
            )
            .await
            .status(),
        303
    );
    let state: String = sqlx::query_scalar("SELECT state FROM account_requests WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(state, "rejected");
}

async fn upload(op: &TestUser, bytes: Vec<u8>) -> reqwest::Response {
    let token = op.client.csrf().await;
    let boundary = "rnBOUNDARY7MA4YWxkTrZu0gW";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"requests.csv\"\r\nContent-Type: text/csv\r\n\r\n").into_bytes();
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    op.client
        .http
        .post(
            op.client
                .url(&format!("/admin/requests/import?csrf_token={token}")),
        )
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn r12_5_csv_import_is_all_or_nothing_with_line_by_line_errors() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    app.facility("9900000001").await;
    let bad = "施設コード,氏名,ふりがな,職種,連絡先\n9900000001,清須 花子,きよす はなこ,看護師,\n9900000009,春日 一郎,かすが いちろう,医師,\n9900000001,,kana,医者,\n";
    let res = upload(&op, bad.as_bytes().to_vec()).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("4行目"), "{body}");
    assert_eq!(
        app.count("account_requests").await,
        0,
        "nothing half-imported"
    );
    // A facility that does not exist is caught too (after the format checks pass).
    let unknown = "施設コード,氏名,ふりがな,職種,連絡先\n9900000001,清須 花子,きよす はなこ,看護師,\n9900000009,春日 一郎,かすが いちろう,医師,\n";
    let body = upload(&op, unknown.as_bytes().to_vec())
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("3行目") && body.contains("9900000009"));
    assert_eq!(app.count("account_requests").await, 0);
    // Shift_JIS, as Excel saves it.
    let good = "施設コード,氏名,ふりがな,職種,連絡先\r\n9900000001,清須 花子,きよす はなこ,看護師,\r\n9900000001,春日 一郎,かすが いちろう,医師,内線2\r\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(good);
    let res = upload(&op, sjis.into_owned()).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("account_requests").await, 2);
    let channel: String = sqlx::query_scalar("SELECT channel FROM account_requests LIMIT 1")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(channel, "csv");
    assert_eq!(
        upload(&op, vec![0x81, 0x20, 0x81]).await.status(),
        422,
        "undecodable bytes"
    );
}

#[tokio::test]
async fn r15_4_the_directory_lists_active_facilities_for_everyone() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let user = app.login_as(Role::User).await;
    let res = admin
        .client
        .post_form(
            "/admin/facilities",
            &[
                ("code", "２３１００００００５"),
                ("name", "清須歯科"),
                ("kind", "歯科"),
                ("address", "愛知県清須市1-1"),
                ("phone", "052-000-0000"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = admin
        .client
        .post_form(
            "/admin/facilities",
            &[("code", "2310000005"), ("name", "重複"), ("kind", "歯科")],
        )
        .await;
    assert_eq!(res.status(), 422, "duplicate code");
    let res = admin
        .client
        .post_form(
            "/admin/facilities",
            &[("code", "12"), ("name", ""), ("kind", "城")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let dir = user.client.get("/facilities").await.text().await.unwrap();
    assert!(dir.contains("清須歯科") && dir.contains("愛知県清須市1-1"));
    let id: i64 = sqlx::query_scalar("SELECT id FROM facilities WHERE code = '2310000005'")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(
        admin
            .client
            .post_form(&format!("/admin/facilities/{id}/withdraw"), &[])
            .await
            .status(),
        303
    );
    assert!(
        !user
            .client
            .get("/facilities")
            .await
            .text()
            .await
            .unwrap()
            .contains("清須歯科"),
        "withdrawn facilities leave the directory"
    );
    assert_eq!(app.audit_count("facility.withdrawn").await, 1);
}

#[tokio::test]
async fn r12_2_the_inventory_lists_accounts_to_review_and_records_the_review() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let (fresh, _) = app.create_account(Role::User, "never-used").await;
    let c = app.client();
    for _ in 0..5 {
        c.login(&user.login_id, "Wrong2026pass").await;
    }
    let page = op
        .client
        .get("/admin/inventory")
        .await
        .text()
        .await
        .unwrap();
    let section = |id: &str| {
        page.split(&format!("id=\"section-{id}\""))
            .nth(1)
            .unwrap()
            .split("</section>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(section("locked").contains(&user.login_id));
    assert!(section("unused").contains(&fresh));
    app.advance_minutes(91 * 24 * 60);
    let op = app.login_as(Role::SystemOperator).await;
    let page = op
        .client
        .get("/admin/inventory")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.split("id=\"section-inactive\"")
            .nth(1)
            .unwrap()
            .split("</section>")
            .next()
            .unwrap()
            .contains(&user.login_id)
    );
    assert!(page.contains("初期パスワード期限切れ"));
    assert_eq!(
        op.client
            .post_form("/admin/inventory/review", &[("outcome", "")])
            .await
            .status(),
        422
    );
    assert_eq!(
        op.client
            .post_form(
                "/admin/inventory/review",
                &[("outcome", "退職者2名の削除を施設に依頼")]
            )
            .await
            .status(),
        303
    );
    assert!(
        op.client
            .get("/admin/inventory")
            .await
            .text()
            .await
            .unwrap()
            .contains("退職者2名の削除を施設に依頼")
    );
    assert_eq!(app.audit_count("account.inventory_reviewed").await, 1);
}
/// Defect 8 of issue 15: 申請の種類 did nothing without JavaScript and typed data was lost on
/// switching. The 種類を切り替える button posts the form back for the chosen kind, stores
/// nothing, and keeps every field (those of the other kind hidden), so switching back restores
/// them.
#[tokio::test]
async fn x4_issue15_switching_the_request_kind_works_without_js_and_keeps_the_data() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let form = fm
        .client
        .get("/requests/new?kind=add")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("name=\"switch\""),
        "a switch button in the form"
    );
    let res = fm
        .client
        .post_form(
            "/requests",
            &[
                ("kind", "delete"),
                ("switch", "1"),
                ("name", "清須 花子"),
                ("kana", "きよす はなこ"),
                ("contact", "内線 21"),
                ("reason", "異動のため"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("利用停止") || page.contains("（削除"),
        "the delete form"
    );
    assert!(
        page.contains("id=\"target\""),
        "the delete form asks for the user"
    );
    assert!(
        page.contains("type=\"hidden\" name=\"name\" value=\"清須 花子\""),
        "the name travels along"
    );
    assert!(page.contains("value=\"異動のため\""));
    assert_eq!(app.count("account_requests").await, 0, "nothing stored");
    let res = fm
        .client
        .post_form(
            "/requests",
            &[
                ("kind", "add"),
                ("switch", "1"),
                ("name", "清須 花子"),
                ("kana", "きよす はなこ"),
                ("contact", "内線 21"),
            ],
        )
        .await;
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"name\" name=\"name\" type=\"text\" value=\"清須 花子\""));
    assert_eq!(app.count("account_requests").await, 0);
}
