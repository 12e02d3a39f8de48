//! Bad input gets a clear 4xx and nothing is written.

use rainbownet::auth::Role;

use crate::helpers::*;

/// Locks `user` and returns the id, so a refused unlock can be seen to change nothing.
async fn locked_user(app: &TestApp) -> (TestUser, i64) {
    let user = app.login_as(Role::User).await;
    let c = app.client();
    for _ in 0..5 {
        c.login(&user.login_id, "Wrong2026pass").await;
    }
    let id: i64 = app.account_id(&user.login_id).await;
    (user, id)
}

async fn still_locked(app: &TestApp, id: i64) -> bool {
    let until: Option<String> =
        sqlx::query_scalar("SELECT locked_until FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    until.is_some()
}

#[tokio::test]
async fn a_post_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let (_user, id) = locked_user(&app).await;
    let events = app.count("audit_events").await;
    let res = admin
        .client
        .http
        .post(admin.client.url(&format!("/admin/accounts/{id}/unlock")))
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("フォームの有効期限が切れました")
    );
    let res = admin
        .client
        .http
        .post(admin.client.url(&format!("/admin/accounts/{id}/unlock")))
        .form(&[("csrf_token", "forged-token-forged-token-forged-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a wrong token is refused too");
    assert!(still_locked(&app, id).await);
    assert_eq!(app.count("audit_events").await, events, "nothing written");
}

#[tokio::test]
async fn a_login_post_without_the_csrf_cookie_is_refused() {
    let app = spawn_app().await;
    let (login_id, otp) = app.create_account(Role::User, "u-nocookie").await;
    let raw = reqwest::Client::new();
    let res = raw
        .post(format!("{}/login", app.address))
        .form(&[
            ("login_id", login_id.as_str()),
            ("password", otp.as_str()),
            ("csrf_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn an_oversized_form_is_refused_with_413_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let (_user, id) = locked_user(&app).await;
    let events = app.count("audit_events").await;
    let big = "x".repeat(200_000);
    let res = admin
        .client
        .post_form(&format!("/admin/accounts/{id}/unlock"), &[("filler", &big)])
        .await;
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("送信内容が大きすぎます"));
    assert!(still_locked(&app, id).await);
    assert_eq!(app.count("audit_events").await, events);
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_refused_with_400_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let (_user, id) = locked_user(&app).await;
    let events = app.count("audit_events").await;
    let token = admin.client.csrf().await;
    // "あ" in Shift_JIS, raw and percent-encoded.
    for body in [
        format!("name=%82%A0&csrf_token={token}").into_bytes(),
        [
            b"name=".as_slice(),
            &[0x82, 0xA0],
            format!("&csrf_token={token}").as_bytes(),
        ]
        .concat(),
    ] {
        let res = admin
            .client
            .http
            .post(admin.client.url(&format!("/admin/accounts/{id}/unlock")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("文字コード"));
    }
    assert!(still_locked(&app, id).await);
    assert_eq!(app.count("audit_events").await, events);
}

#[tokio::test]
async fn an_empty_login_form_gets_a_message_not_a_crash() {
    let app = spawn_app().await;
    let c = app.client();
    let res = c.post_form("/login", &[]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("ログインIDとパスワードを入力してください")
    );
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn unknown_pages_and_ids_get_japanese_error_pages_without_internal_text() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin.client.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    let body = res.text().await.unwrap();
    assert!(body.contains("ページが見つかりません"));
    let res = admin
        .client
        .post_form("/admin/accounts/999999/unlock", &[])
        .await;
    assert_eq!(res.status(), 404);
    let res = admin
        .client
        .post_form("/admin/accounts/not-a-number/unlock", &[])
        .await;
    assert!(res.status().is_client_error());
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("入力内容に誤りがあります"),
        "a rejected path id gets a Japanese page"
    );
    let token = admin.client.csrf().await;
    let res = admin
        .client
        .http
        .post(admin.client.url("/login"))
        .header("content-type", "application/json")
        .header("x-csrf-token", token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("送信の形式が正しくありません")
    );
    let res = admin.client.get("/audit?from=2026-13-45").await;
    let body = res.text().await.unwrap();
    assert!(body.contains("YYYY-MM-DD"), "a bad date is explained");
    assert!(!body.to_lowercase().contains("sqlx") && !body.contains("panicked"));
}

/// The text of the `<div class="field">` (or fieldset) that holds `marker`.
fn field_block<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} on the page"));
    let start = html[..at]
        .rfind("class=\"field\"")
        .expect("the field's block");
    let end = html[at..]
        .find("</div>")
        .into_iter()
        .chain(html[at..].find("</fieldset>"))
        .min()
        .map_or(html.len(), |e| at + e);
    &html[start..end]
}

#[tokio::test]
async fn r17_1_an_incident_form_that_cannot_be_read_names_the_field_and_keeps_the_input() {
    let app = spawn_app().await;
    app.facility("2310000011").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let mut fields: Vec<(&str, &str)> = crate::incidents::FIELDS.to_vec();
    fields.push(("title", "二度目の件名"));
    fields.push(("facility", "abc"));
    let res = admin.client.post_form("/incidents", &fields).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.expect("body");
    assert!(!html.contains("送信内容を読み取れませんでした。"), "{html}");
    // Each error beside its own field.
    let title = field_block(&html, "id=\"title\"");
    assert!(title.contains("この項目が2回送信されました。"), "{title}");
    let facility = field_block(
        &html,
        "影響を受けた施設の指定「abc」を読み取れませんでした。",
    );
    assert!(
        facility.contains("<legend>影響を受けた施設</legend>"),
        "{facility}"
    );
    // What was typed is still there.
    assert!(
        html.contains("value=\"文書送信の停止\""),
        "the first title kept"
    );
    assert!(html.contains("文書サーバが応答しなくなりました。"));
    assert!(html.contains("全施設で文書の送信ができません。"));
    assert_eq!(app.count("incidents").await, 0, "nothing created");

    // The correction form the same way.
    let (admin, id) = crate::incidents::admin_with_incident(&app).await;
    let mut fields: Vec<(&str, &str)> = crate::incidents::FIELDS.to_vec();
    let rev = crate::incidents::revision(&app, id).await;
    fields.push(("revision", &rev));
    fields.push(("description", "二度目の内容"));
    let res = admin
        .client
        .post_form(&format!("/incidents/{id}"), &fields)
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.expect("body");
    let description = field_block(&html, "id=\"description\"");
    assert!(
        description.contains("この項目が2回送信されました。"),
        "{description}"
    );
    assert!(description.contains("文書サーバが応答しなくなりました。"));
}
