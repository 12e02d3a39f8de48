//! Issue 15 item 4 — account administration in the UI (R12.1, R12.2, X.1, X.2): the page of
//! one account and its confirmed actions, each with a reason in its audit event.

use rainbownet::auth::Role;

use crate::helpers::*;

const REASON: &str = "退職のため（人事課からの連絡）";

async fn details_of(app: &TestApp, action: &str, id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT details FROM audit_events WHERE action = $1 AND target = $2")
        .bind(action)
        .bind(format!("account:{id}"))
        .fetch_all(app.db().pool())
        .await
        .expect("details")
}

async fn notices_of(app: &TestApp, account_id: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND kind = 'account.changed'",
    )
    .bind(account_id)
    .fetch_one(app.db().pool())
    .await
    .expect("count")
}

async fn confirmed(user: &TestUser, path: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut fields = vec![("reason", REASON), ("confirm", "yes")];
    fields.extend_from_slice(extra);
    user.client.post_form(path, &fields).await
}

#[tokio::test]
async fn issue15_disabling_asks_first_ends_sessions_tells_the_person_and_the_facility() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let user = app.login_as(Role::User).await;
    let manager = app.login_as(Role::FacilityManager).await;
    let id = app.account_id(&user.login_id).await;
    let path = format!("/admin/accounts/{id}/disable");

    let form = admin.client.get(&path).await;
    assert_eq!(form.status(), 200);
    let body = form.text().await.expect("body");
    assert!(
        body.contains("ログイン中のセッションもすぐに終了"),
        "says what will happen"
    );
    assert!(body.contains(&user.login_id));

    // Without a reason, or without the tick, nothing happens.
    let res = admin.client.post_form(&path, &[("confirm", "yes")]).await;
    assert_eq!(res.status(), 422);
    let res = admin.client.post_form(&path, &[("reason", REASON)]).await;
    assert_eq!(res.status(), 422);
    assert_eq!(user.client.get("/").await.status(), 200, "still logged in");
    assert!(details_of(&app, "account.disabled", id).await.is_empty());

    let res = confirmed(&admin, &path, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/admin/accounts/{id}"));
    let details = details_of(&app, "account.disabled", id).await;
    assert_eq!(details.len(), 1);
    assert!(
        details[0].contains(REASON),
        "the reason is in the event: {}",
        details[0]
    );
    assert_eq!(
        user.client.get("/").await.status(),
        303,
        "the session ended"
    );
    let manager_id = app.account_id(&manager.login_id).await;
    assert_eq!(
        notices_of(&app, manager_id).await,
        1,
        "the facility manager is told"
    );

    // The right password gets a clear 403; a wrong one the common message.
    let fresh = app.client();
    let res = fresh.login(&user.login_id, &user.password).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.expect("body").contains("利用停止中"));
    let res = app.client().login(&user.login_id, "Wrong-password-1").await;
    assert_eq!(res.status(), 401);

    // The page shows it, and enabling (confirmed too) lets the person in again.
    let page = admin.client.get(&format!("/admin/accounts/{id}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("body");
    assert!(page.contains("利用停止中"));
    assert!(
        page.contains("アカウントの無効化"),
        "history shows the event"
    );
    let res = confirmed(&admin, &format!("/admin/accounts/{id}/enable"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(details_of(&app, "account.enabled", id).await.len(), 1);
    assert_eq!(notices_of(&app, manager_id).await, 2);
    let res = app.client().login(&user.login_id, &user.password).await;
    assert_eq!(res.status(), 303, "log-in works again");
}

#[tokio::test]
async fn issue15_the_last_active_system_administrator_stays() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let id = app.account_id(&admin.login_id).await;
    let only: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts WHERE role = 'system_admin' AND disabled_at IS NULL",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(only, 1, "the test starts with one administrator");

    let role = format!("/admin/accounts/{id}/role");
    let res = confirmed(&admin, &role, &[("role", "system_operator")]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("有効なシステム管理者はこのアカウントだけ")
    );
    let res = confirmed(&admin, &format!("/admin/accounts/{id}/disable"), &[]).await;
    assert_eq!(res.status(), 422);
    assert!(
        details_of(&app, "account.role_changed", id)
            .await
            .is_empty()
    );
    assert!(details_of(&app, "account.disabled", id).await.is_empty());

    // With a second administrator the change goes through, is audited, and ends the sessions.
    let other = app.login_as(Role::SystemAdmin).await;
    let res = confirmed(&admin, &role, &[("role", "system_operator")]).await;
    assert_eq!(res.status(), 303);
    let details = details_of(&app, "account.role_changed", id).await;
    assert_eq!(details.len(), 1);
    assert!(details[0].contains("system_operator") && details[0].contains(REASON));
    // Now `other` is the last one.
    let other_id = app.account_id(&other.login_id).await;
    let res = confirmed(
        &other,
        &format!("/admin/accounts/{other_id}/role"),
        &[("role", "user")],
    )
    .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn issue15_an_operator_cannot_make_an_administrator() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let other = app.login_as(Role::SystemOperator).await;
    let id = app.account_id(&other.login_id).await;
    let res = confirmed(
        &op,
        &format!("/admin/accounts/{id}/role"),
        &[("role", "system_admin")],
    )
    .await;
    assert_eq!(res.status(), 403);
    let role: String = sqlx::query_scalar("SELECT role FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("role");
    assert_eq!(role, "system_operator");
}

#[tokio::test]
async fn issue15_totp_reset_sessions_end_and_staff_password_reset() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = app.account_id(&op.login_id).await;

    let res = confirmed(&admin, &format!("/admin/accounts/{id}/end-sessions"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(op.client.get("/").await.status(), 303, "the session ended");
    assert!(details_of(&app, "account.sessions_ended", id).await[0].contains(REASON));

    let res = confirmed(&admin, &format!("/admin/accounts/{id}/totp-reset"), &[]).await;
    assert_eq!(res.status(), 303);
    assert!(details_of(&app, "account.totp_reset", id).await[0].contains(REASON));
    let again = app.client();
    let res = again.login(&op.login_id, &op.password).await;
    assert_eq!(res.status(), 303);
    let home = again.get("/").await;
    assert_eq!(location(&home), "/account/totp/enroll", "enrols again");

    let res = confirmed(&admin, &format!("/admin/accounts/{id}/password-reset"), &[]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("body");
    let otp = page
        .split("id=\"one-time-password\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the new password is shown once")
        .to_string();
    assert!(details_of(&app, "account.password_reset", id).await[0].contains(REASON));
    assert_eq!(
        app.client()
            .login(&op.login_id, &op.password)
            .await
            .status(),
        401
    );
    let fresh = app.client();
    assert_eq!(fresh.login(&op.login_id, &otp).await.status(), 303);
    assert_eq!(
        location(&fresh.get("/").await),
        "/account/password",
        "must change it"
    );
}

#[tokio::test]
async fn issue15_a_facility_manager_never_reaches_an_account_page() {
    let app = spawn_app().await;
    let manager = app.login_as(Role::FacilityManager).await;
    app.facility("9900000002").await;
    let spec = rainbownet::accounts::service::AccountSpec::new(
        None,
        "他施設 太郎",
        Role::User,
        Some("9900000002"),
    );
    let other = rainbownet::accounts::service::create_account(
        app.db(),
        &spec,
        &rainbownet::audit::Actor::system("test"),
        app.now(),
    )
    .await
    .expect("account");
    for path in ["", "/disable", "/role"] {
        let res = manager
            .client
            .get(&format!("/admin/accounts/{}{path}", other.account_id))
            .await;
        assert_eq!(res.status(), 403, "{path}");
        assert!(!res.text().await.expect("body").contains("他施設 太郎"));
    }
    let res = confirmed(
        &manager,
        &format!("/admin/accounts/{}/disable", other.account_id),
        &[],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(
        details_of(&app, "account.disabled", other.account_id)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn issue15_the_history_matches_the_account_exactly() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    // Accounts up to an id that starts with another's (`account:1` and `account:12`).
    let first = app.create_account(Role::SystemOperator, "hist-first").await;
    let first_id = app.account_id(&first.0).await;
    let mut n = 0;
    let long_id = loop {
        n += 1;
        let login = format!("hist-{n}");
        app.create_account(Role::SystemOperator, &login).await;
        let id = app.account_id(&login).await;
        if id.to_string().starts_with(&first_id.to_string()) && id != first_id {
            break login;
        }
        assert!(n < 200, "ids grow");
    };
    let page = admin
        .client
        .get(&format!("/admin/accounts/{first_id}"))
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("アカウントの作成"), "its own creation");
    assert!(page.contains("hist-first"));
    assert!(!page.contains(&long_id), "no event of account {long_id}");
}

/// The text of the re-issued letter of a new user (reason and tick given).
async fn reissued_letter(app: &TestApp) -> String {
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let id = app.account_id(&user.login_id).await;
    let res = confirmed(&op, &format!("/admin/accounts/{id}/reissue"), &[]).await;
    assert_eq!(res.status(), 303);
    let ready = op
        .client
        .get(&location(&res))
        .await
        .text()
        .await
        .expect("body");
    let at = ready
        .find("/admin/requests/letters/pdf?t=")
        .expect("download link");
    let link = ready[at..]
        .split('"')
        .next()
        .expect("link")
        .replace("&amp;", "&");
    let pdf = op.client.get(&link).await.bytes().await.expect("pdf");
    crate::requests::pdf_text(&pdf)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

#[tokio::test]
async fn issue15_defect3_the_letter_gives_the_helpdesk_phone_and_hours() {
    let app = spawn_app_with(|s| {
        s.set_section(
            "helpdesk",
            &serde_json::json!({"phone": "052-400-2911", "first_response_hours": 4, "resolution_hours": 27}),
        )
    })
    .await;
    let text = reissued_letter(&app).await;
    assert!(
        text.contains("ヘルプデスク:052-400-2911（受付平日09:00〜18:00）"),
        "{text}"
    );
    // The configured line replaces the generic one: one contact line, not two.
    assert!(!text.contains("お問い合わせ：ヘルプデスク"), "{text}");
    // Without a number the generic line stands alone (no empty "ヘルプデスク:").
    let app = spawn_app().await;
    let text = reissued_letter(&app).await;
    assert!(!text.contains("ヘルプデスク:"), "{text}");
    assert!(
        text.contains("お問い合わせ：ヘルプデスク（平日9:00〜18:00"),
        "{text}"
    );
}
