//! X.1 sessions: the form token is bound to what the server issued and rotates at log-in and
//! log-out; the session id rotates at log-in and at a password change; everyone sees and ends
//! their own sessions (X.3: only their own); a cap of concurrent sessions; HSTS behind TLS.

use rainbownet::auth::Role;

use crate::helpers::*;

/// A client without a cookie jar: the test writes the `Cookie` header itself.
fn raw() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The `Set-Cookie` value of `name` in a response, if any.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
}

async fn page_token(c: &TestClient, path: &str) -> String {
    let page = c.get(path).await.text().await.expect("body");
    form_token(&page).expect("form token on the page")
}

/// POSTs `fields` with exactly this token (not the helper's current one).
async fn post_with(
    c: &TestClient,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = fields.to_vec();
    all.push(("csrf_token", token));
    c.http
        .post(c.url(path))
        .form(&all)
        .send()
        .await
        .expect("POST")
}

async fn session_count(app: &TestApp, login_id: &str, open: bool) -> i64 {
    let sql = if open {
        "SELECT COUNT(*) FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE a.login_id = $1 AND s.ended_at IS NULL"
    } else {
        "SELECT COUNT(*) FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE a.login_id = $1"
    };
    sqlx::query_scalar(sql)
        .bind(login_id)
        .fetch_one(app.db().pool())
        .await
        .expect("count")
}

async fn end_reasons(app: &TestApp, login_id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT s.end_reason FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE a.login_id = $1 AND s.end_reason IS NOT NULL ORDER BY s.id",
    )
    .bind(login_id)
    .fetch_all(app.db().pool())
    .await
    .expect("reasons")
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<serde_json::Value> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = $1 ORDER BY id")
            .bind(action)
            .fetch_all(app.db().pool())
            .await
            .expect("details");
    rows.iter()
        .map(|d| serde_json::from_str(d).expect("json"))
        .collect()
}

#[tokio::test]
async fn x1_a_self_made_csrf_cookie_and_field_pair_is_refused_on_the_log_in_form() {
    let app = spawn_app().await;
    let (login_id, otp) = app.create_account(Role::User, "u-forged").await;
    let forged = "A".repeat(64);
    let looks_signed = format!("{}.{}", "B".repeat(43), "C".repeat(43));
    for cookie in [forged.as_str(), looks_signed.as_str()] {
        let res = raw()
            .post(format!("{}/login", app.address))
            .header("cookie", format!("rn_csrf={cookie}"))
            .form(&[
                ("login_id", login_id.as_str()),
                ("password", otp.as_str()),
                ("csrf_token", cookie),
            ])
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), 403, "self-made pair {cookie}");
    }
    // Nor is the server's own pre-session value sent back as the token (the old double submit).
    let c = app.client();
    let _ = c.csrf().await;
    let issued = c.cookie("rn_csrf").expect("pre-session cookie");
    let res = post_with(
        &c,
        "/login",
        &issued,
        &[("login_id", &login_id), ("password", &otp)],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("sessions").await, 0, "no log-in got through");
    // The token from the page does work.
    assert_eq!(c.login(&login_id, &otp).await.status(), 303);
}

#[tokio::test]
async fn x1_a_self_made_or_foreign_csrf_token_is_refused_on_a_logged_in_form() {
    let app = spawn_app().await;
    let alice = app.login_as(Role::User).await;
    let bob = app.login_as(Role::User).await;
    let session = alice.client.cookie("rn_session").expect("session");
    let forged = "A".repeat(64);
    let events = app.count("audit_events").await;
    let res = raw()
        .post(format!("{}/account/sessions/end-others", app.address))
        .header("cookie", format!("rn_session={session}; rn_csrf={forged}"))
        .form(&[("csrf_token", forged.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403, "a self-made cookie and field pair");
    // A genuine token, but of another session, is refused too: tokens are bound to a session.
    let bobs = bob.client.csrf().await;
    let res = post_with(&alice.client, "/account/sessions/end-others", &bobs, &[]).await;
    assert_eq!(res.status(), 403, "the token of another session");
    // And the pre-session token of the same browser is no token for a logged-in form.
    let pre = alice.client.cookie("rn_csrf").expect("pre-session cookie");
    let res = raw()
        .get(format!("{}/login", app.address))
        .header("cookie", format!("rn_csrf={pre}"))
        .send()
        .await
        .expect("GET");
    let pre_token = form_token(&res.text().await.expect("body")).expect("token");
    let res = post_with(
        &alice.client,
        "/account/sessions/end-others",
        &pre_token,
        &[],
    )
    .await;
    assert_eq!(res.status(), 403, "the pre-session token with a session");
    assert_eq!(app.count("audit_events").await, events, "nothing written");
    let own = alice.client.csrf().await;
    let res = post_with(&alice.client, "/account/sessions/end-others", &own, &[]).await;
    assert_eq!(res.status(), 303, "the session's own token works");
}

#[tokio::test]
async fn x1_the_form_token_changes_at_log_in_and_at_log_out() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let c = app.client();
    let before = page_token(&c, "/login").await;
    assert_eq!(
        page_token(&c, "/login").await,
        before,
        "stable while nothing changes"
    );
    let res = post_with(
        &c,
        "/login",
        &before,
        &[("login_id", &user.login_id), ("password", &user.password)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let during = page_token(&c, "/account/sessions").await;
    assert_ne!(during, before, "a new token after log-in");
    let res = post_with(&c, "/account/sessions/end-others", &before, &[]).await;
    assert_eq!(
        res.status(),
        403,
        "the token from before log-in is worthless"
    );
    let res = post_with(&c, "/logout", &during, &[]).await;
    assert_eq!(location(&res), "/login?logged_out=1");
    let after = page_token(&c, "/login?logged_out=1").await;
    assert_ne!(after, during, "a new token after log-out");
    assert_ne!(after, before, "not the one from before log-in either");
    for old in [&before, &during] {
        let res = post_with(
            &c,
            "/login",
            old,
            &[("login_id", &user.login_id), ("password", &user.password)],
        )
        .await;
        assert_eq!(res.status(), 403, "an old token is refused after log-out");
    }
    let res = post_with(
        &c,
        "/login",
        &after,
        &[("login_id", &user.login_id), ("password", &user.password)],
    )
    .await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn x1_a_log_in_gets_a_new_session_id_and_ends_the_one_the_browser_had() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let c = app.client();
    // A session id chosen by someone else (fixation) is never taken over.
    let _ = c.csrf().await;
    let planted = "planted-session-id-planted-session-id-0123";
    let url = reqwest::Url::parse(&app.address).expect("url");
    c.jar
        .add_cookie_str(&format!("rn_session={planted}; Path=/"), &url);
    let res = c.login(&user.login_id, &user.password).await;
    assert_eq!(res.status(), 303, "the log-in form still works");
    let first = set_cookie(&res, "rn_session").expect("a session cookie");
    assert_ne!(first, planted);
    let hash = rainbownet::auth::token_hash(planted);
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_hash = $1")
        .bind(&hash)
        .fetch_one(app.db().pool())
        .await
        .expect("count");
    assert_eq!(taken, 0);
    assert_eq!(c.get("/").await.status(), 200);
    // Logging in again from the same browser: a new id, and the old one is over.
    let res = c.login(&user.login_id, &user.password).await;
    assert_eq!(res.status(), 303);
    let second = set_cookie(&res, "rn_session").expect("a session cookie");
    assert_ne!(second, first);
    let replay = raw()
        .get(format!("{}/", app.address))
        .header("cookie", format!("rn_session={first}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(replay.status(), 303);
    assert_eq!(location(&replay), "/login");
    assert!(
        end_reasons(&app, &user.login_id)
            .await
            .contains(&"replaced_by_login".to_string())
    );
    let ended = audit_details(&app, "auth.session_ended").await;
    assert!(
        ended.iter().any(|d| d["reason"] == "replaced_by_login"),
        "{ended:?}"
    );
    assert_eq!(c.get("/").await.status(), 200);
}

#[tokio::test]
async fn x1_a_password_change_gives_a_new_session_id_and_the_old_one_no_longer_works() {
    let app = spawn_app().await;
    // Staff: the new session must keep its second factor, or the person would be sent back to it.
    let admin = app.login_as(Role::SystemAdmin).await;
    let old = admin.client.cookie("rn_session").expect("session");
    let rotated = app.audit_count("auth.session_rotated").await;
    let new_password = "Another2026pw";
    let res = admin
        .client
        .post_form(
            "/account/password",
            &[
                ("current_password", &admin.password),
                ("new_password", new_password),
                ("confirm_password", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/");
    let new = set_cookie(&res, "rn_session").expect("a new session cookie");
    assert_ne!(new, old);
    assert_eq!(
        admin.client.get("/").await.status(),
        200,
        "the person stays logged in, past the second factor"
    );
    let replay = raw()
        .get(format!("{}/", app.address))
        .header("cookie", format!("rn_session={old}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(replay.status(), 303);
    assert_eq!(location(&replay), "/login");
    assert_eq!(app.audit_count("auth.session_rotated").await, rotated + 1);
    let last = audit_details(&app, "auth.session_rotated")
        .await
        .pop()
        .expect("event");
    assert_eq!(last["reason"], "password_changed");
    assert_ne!(last["old_session_id"], last["new_session_id"]);
    assert_eq!(
        end_reasons(&app, &admin.login_id)
            .await
            .last()
            .map(String::as_str),
        Some("rotated")
    );
    // One open session: the old row ended, the new one continues the same log-in.
    assert_eq!(session_count(&app, &admin.login_id, true).await, 1);
}

#[tokio::test]
async fn x1_my_sessions_lists_two_clients_and_ending_the_other_logs_it_out() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let other = app.client_with_agent(firefox);
    assert_eq!(
        other.login(&user.login_id, &user.password).await.status(),
        303
    );
    let home = user.client.get("/").await.text().await.expect("body");
    assert!(
        home.contains("href=\"/account/sessions\""),
        "linked from the header"
    );
    let page = user
        .client
        .get("/account/sessions")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(page.matches("data-session=\"").count(), 2, "{page}");
    assert_eq!(page.matches("この端末</span>").count(), 1);
    assert!(page.contains("Firefox / Linux"), "the device, shortened");
    assert!(page.contains("127.0.0.1"), "the client address");
    let other_id: i64 = sqlx::query_scalar(
        "SELECT s.id FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE a.login_id = $1 AND s.ended_at IS NULL AND s.user_agent = $2",
    )
    .bind(&user.login_id)
    .bind(firefox)
    .fetch_one(app.db().pool())
    .await
    .expect("the other session");
    assert!(page.contains(&format!("action=\"/account/sessions/{other_id}/end\"")));
    let ended = app.audit_count("auth.session_ended").await;
    let res = user
        .client
        .post_form(&format!("/account/sessions/{other_id}/end"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/account/sessions");
    let res = other.get("/").await;
    assert_eq!(res.status(), 303, "the other client is logged out");
    assert_eq!(location(&res), "/login");
    assert_eq!(user.client.get("/").await.status(), 200, "this one stays");
    assert_eq!(app.audit_count("auth.session_ended").await, ended + 1);
    assert!(
        end_reasons(&app, &user.login_id)
            .await
            .contains(&"ended_by_user".to_string())
    );

    // "End all others": two more clients, both logged out, this one stays.
    let (b, c) = (app.client(), app.client());
    for x in [&b, &c] {
        assert_eq!(x.login(&user.login_id, &user.password).await.status(), 303);
    }
    let res = user
        .client
        .post_form("/account/sessions/end-others", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(b.get("/").await.status(), 303);
    assert_eq!(c.get("/").await.status(), 303);
    assert_eq!(user.client.get("/").await.status(), 200);
    assert_eq!(session_count(&app, &user.login_id, true).await, 1);
    assert_eq!(app.audit_count("auth.session_ended").await, ended + 3);
}

#[tokio::test]
async fn x3_ending_a_session_of_another_account_is_refused_and_audited() {
    let app = spawn_app().await;
    let mallory = app.login_as(Role::FacilityManager).await;
    let victim = app.login_as(Role::User).await;
    let victim_session: i64 = sqlx::query_scalar(
        "SELECT s.id FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE a.login_id = $1 AND s.ended_at IS NULL",
    )
    .bind(&victim.login_id)
    .fetch_one(app.db().pool())
    .await
    .expect("victim's session");
    for id in [victim_session.to_string(), "999999".to_string()] {
        let res = mallory
            .client
            .post_form(&format!("/account/sessions/{id}/end"), &[])
            .await;
        assert_eq!(res.status(), 404, "session {id}");
    }
    assert_eq!(
        victim.client.get("/").await.status(),
        200,
        "still logged in"
    );
    assert_eq!(
        app.audit_count("access.denied").await,
        1,
        "another account's session is recorded, a missing one is no object"
    );
    let page = mallory
        .client
        .get("/account/sessions")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(page.matches("data-session=\"").count(), 1, "only one's own");
    assert!(!page.contains(&format!("data-session=\"{victim_session}\"")));
}

#[tokio::test]
async fn x1_a_log_in_beyond_the_cap_ends_the_session_that_started_first() {
    let app = spawn_app_with(|s| s.security.max_sessions_per_account = 2).await;
    let user = app.login_as(Role::User).await;
    app.advance_minutes(1);
    let second = app.client();
    assert_eq!(
        second.login(&user.login_id, &user.password).await.status(),
        303
    );
    assert_eq!(user.client.get("/").await.status(), 200, "two are allowed");
    app.advance_minutes(1);
    let third = app.client();
    assert_eq!(
        third.login(&user.login_id, &user.password).await.status(),
        303
    );
    let res = user.client.get("/").await;
    assert_eq!(res.status(), 303, "the first session ended");
    assert_eq!(location(&res), "/login");
    assert_eq!(second.get("/").await.status(), 200);
    assert_eq!(third.get("/").await.status(), 200);
    assert_eq!(session_count(&app, &user.login_id, true).await, 2);
    assert_eq!(
        end_reasons(&app, &user.login_id)
            .await
            .last()
            .map(String::as_str),
        Some("session_limit")
    );
    let ended = audit_details(&app, "auth.session_ended").await;
    assert!(
        ended
            .iter()
            .any(|d| d["reason"] == "session_limit" && d["limit"] == 2),
        "{ended:?}"
    );
}

#[tokio::test]
async fn x1_hsts_is_sent_only_when_secure_cookies_are_on() {
    let plain = spawn_app().await;
    for path in ["/login", "/healthz", "/static/app.css", "/no-such-page"] {
        let res = plain.client().get(path).await;
        assert!(
            res.headers().get("strict-transport-security").is_none(),
            "{path}: no HSTS over plain HTTP"
        );
    }
    let tls = spawn_app_with(|s| s.server.secure_cookies = true).await;
    for path in ["/login", "/healthz", "/static/app.css", "/no-such-page"] {
        let res = tls.client().get(path).await;
        let hsts = res
            .headers()
            .get("strict-transport-security")
            .unwrap_or_else(|| panic!("{path}: HSTS behind TLS"))
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(hsts.contains("max-age=31536000"), "{hsts}");
        assert!(hsts.contains("includeSubDomains"), "{hsts}");
    }
}

/// Session fixation: the token a browser holds before its second factor (known to anyone who
/// planted it or read it over the person's shoulder) must not become the fully authenticated
/// session. Both the log-in code and the first enrolment give a new session id.
#[tokio::test]
async fn x1_the_second_factor_gives_a_new_session_id_and_the_half_logged_in_one_no_longer_works() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let enrolled = audit_details(&app, "auth.session_rotated").await;
    assert!(
        enrolled.iter().any(|d| d["reason"] == "totp_enrolled"),
        "the enrolment rotated the session: {enrolled:?}"
    );
    let secret = admin.totp_secret.clone().expect("staff enrol TOTP");
    app.advance_minutes(1);

    let c = app.client();
    assert_eq!(
        c.login(&admin.login_id, &admin.password).await.status(),
        303
    );
    let half = c.cookie("rn_session").expect("session after the password");
    let code = rainbownet::auth::totp::code_at(&secret, app.now()).expect("code");
    let res = c.post_form("/login/totp", &[("code", &code)]).await;
    assert_eq!(res.status(), 303);
    let full = set_cookie(&res, "rn_session").expect("a new session cookie");
    assert_ne!(full, half);
    assert_eq!(
        c.get("/").await.status(),
        200,
        "the new session is logged in"
    );
    // A form on the new session works (its form token follows the new session).
    assert_ne!(c.get("/account/sessions").await.status(), 403);

    let replay = raw()
        .get(format!("{}/", app.address))
        .header("cookie", format!("rn_session={half}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(replay.status(), 303);
    assert_eq!(location(&replay), "/login");
    let last = audit_details(&app, "auth.session_rotated")
        .await
        .pop()
        .expect("event");
    assert_eq!(last["reason"], "mfa_verified");
    assert_eq!(session_count(&app, &admin.login_id, true).await, 2);
}
