//! X.1 — log-in, one-time passwords, TOTP, lockout, sessions.

use rainbownet::auth::{Role, totp};

use crate::helpers::*;

const SAME_MESSAGE: &str = "ログインIDまたはパスワードが正しくありません";

#[tokio::test]
async fn x1_a_wrong_password_and_an_unknown_id_get_the_same_answer() {
    let app = spawn_app().await;
    let (login_id, _otp) = app.create_account(Role::User, "u-wrongpw").await;
    let c = app.client();
    let wrong = c.login(&login_id, "not-the-password1").await;
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    let unknown = c.login("nobody-here", "not-the-password1").await;
    assert_eq!(unknown.status(), 401);
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains(SAME_MESSAGE));
    assert!(unknown_body.contains(SAME_MESSAGE));
    assert!(
        c.cookie("rn_session").is_none(),
        "no session after failures"
    );
    // One address, one window: the first failure is an event, the second is counted for the
    // window's summary (tests/api/throttle.rs).
    assert_eq!(app.audit_count("auth.login_failed").await, 1);
    assert_eq!(app.count("login_attempts").await, 2);
}

#[tokio::test]
async fn x1_a_one_time_password_must_be_changed_before_anything_else() {
    let app = spawn_app().await;
    let (login_id, otp) = app.create_account(Role::User, "u-firsttime").await;
    let c = app.client();
    let res = c.login(&login_id, &otp).await;
    assert_eq!(res.status(), 303);
    let res = c.get("/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/account/password");
    let page = c.get("/account/password").await.text().await.unwrap();
    assert!(page.contains("初回ログインのため"));

    // Too short, then letters only, then a mismatch: each is refused with its reason beside the field.
    for (new, confirm, reason) in [
        ("ab12", "ab12", "8文字以上"),
        ("abcdefghij", "abcdefghij", "英字と数字の両方"),
        ("abcd12345", "abcd12346", "一致しません"),
    ] {
        let res = c
            .post_form(
                "/account/password",
                &[
                    ("current_password", &otp),
                    ("new_password", new),
                    ("confirm_password", confirm),
                ],
            )
            .await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(reason), "{reason}");
    }
    let res = c
        .post_form(
            "/account/password",
            &[
                ("current_password", "wrong"),
                ("new_password", "Good2026pass"),
                ("confirm_password", "Good2026pass"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);

    let res = c
        .post_form(
            "/account/password",
            &[
                ("current_password", &otp),
                ("new_password", "Good2026pass"),
                ("confirm_password", "Good2026pass"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(c.get("/").await.status(), 200);
    assert_eq!(app.audit_count("auth.password_changed").await, 1);

    // The one-time password no longer works; the new one does.
    let c2 = app.client();
    assert_eq!(c2.login(&login_id, &otp).await.status(), 401);
    assert_eq!(c2.login(&login_id, "Good2026pass").await.status(), 303);
    assert_eq!(c2.get("/").await.status(), 200);
}

#[tokio::test]
async fn x1_an_unused_one_time_password_expires_after_thirty_days() {
    let app = spawn_app().await;
    let (login_id, otp) = app.create_account(Role::User, "u-expired").await;
    app.advance_minutes(31 * 24 * 60);
    let res = app.client().login(&login_id, &otp).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("初期パスワードの有効期限が切れています")
    );
}

#[tokio::test]
async fn x1_staff_must_enrol_totp_before_reaching_anything() {
    let app = spawn_app().await;
    let (login_id, otp) = app.create_account(Role::SystemAdmin, "admin-enrol").await;
    let c = app.client();
    c.login(&login_id, &otp).await;
    let pw = "Admin2026secure";
    c.post_form(
        "/account/password",
        &[
            ("current_password", &otp),
            ("new_password", pw),
            ("confirm_password", pw),
        ],
    )
    .await;
    for path in ["/", "/audit", "/admin/accounts"] {
        let res = c.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/account/totp/enroll", "{path}");
    }
    let page = c.get("/account/totp/enroll").await.text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code is shown");
    let secret = attr(&page, "data-secret").unwrap();
    // A reload shows the same secret, so an app that already scanned it keeps working.
    let again = c.get("/account/totp/enroll").await.text().await.unwrap();
    assert_eq!(attr(&again, "data-secret").unwrap(), secret);

    let res = c
        .post_form("/account/totp/enroll", &[("code", "000000")])
        .await;
    assert_eq!(res.status(), 422);
    let code = totp::code_at(&secret, app.now()).unwrap();
    let res = c
        .post_form("/account/totp/enroll", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert_eq!(
        body.matches("<li><code>").count(),
        10,
        "ten recovery codes, shown once"
    );
    assert_eq!(c.get("/audit").await.status(), 200);
    assert_eq!(app.audit_count("auth.totp_enrolled").await, 1);
}

#[tokio::test]
async fn x1_staff_log_in_with_totp_once_per_code_or_with_a_recovery_code() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let secret = admin.totp_secret.clone().unwrap();
    app.advance_minutes(1);

    let c = app.client();
    assert_eq!(
        c.login(&admin.login_id, &admin.password).await.status(),
        303
    );
    let res = c.get("/").await;
    assert_eq!(location(&res), "/login/totp");
    let res = c.post_form("/login/totp", &[("code", "123456")]).await;
    assert_eq!(res.status(), 422);
    let code = totp::code_at(&secret, app.now()).unwrap();
    assert_eq!(
        c.post_form("/login/totp", &[("code", &code)])
            .await
            .status(),
        303
    );
    assert_eq!(c.get("/").await.status(), 200);

    // The same code cannot be used again by someone who watched it being typed.
    let c2 = app.client();
    c2.login(&admin.login_id, &admin.password).await;
    assert_eq!(
        c2.post_form("/login/totp", &[("code", &code)])
            .await
            .status(),
        422
    );
    assert_eq!(c2.get("/").await.status(), 303);
}

#[tokio::test]
async fn x1_a_recovery_code_works_once() {
    let app = spawn_app().await;
    let (login_id, otp) = app
        .create_account(Role::SystemOperator, "op-recovery")
        .await;
    let c = app.client();
    c.login(&login_id, &otp).await;
    let pw = "Operator2026ok";
    c.post_form(
        "/account/password",
        &[
            ("current_password", &otp),
            ("new_password", pw),
            ("confirm_password", pw),
        ],
    )
    .await;
    let page = c.get("/account/totp/enroll").await.text().await.unwrap();
    let secret = attr(&page, "data-secret").unwrap();
    let code = totp::code_at(&secret, app.now()).unwrap();
    let body = c
        .post_form("/account/totp/enroll", &[("code", &code)])
        .await
        .text()
        .await
        .unwrap();
    let first = body
        .split("<li><code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();

    let c2 = app.client();
    c2.login(&login_id, pw).await;
    assert_eq!(
        c2.post_form("/login/totp", &[("code", &first.to_lowercase())])
            .await
            .status(),
        303
    );
    assert_eq!(c2.get("/").await.status(), 200);
    let c3 = app.client();
    c3.login(&login_id, pw).await;
    assert_eq!(
        c3.post_form("/login/totp", &[("code", &first)])
            .await
            .status(),
        422,
        "used up"
    );
}

#[tokio::test]
async fn x1_five_failures_lock_the_account_and_an_administrator_unlocks_it() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let user = app.login_as(Role::User).await;
    let c = app.client();
    for _ in 0..5 {
        assert_eq!(c.login(&user.login_id, "Wrong2026pass").await.status(), 401);
    }
    assert_eq!(app.audit_count("auth.account_locked").await, 1);
    // Even the right password is refused now, with the same message as any failure.
    let res = c.login(&user.login_id, &user.password).await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains(SAME_MESSAGE));

    let list = admin
        .client
        .get("/admin/accounts")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("ロック中"), "the list shows the lock");
    assert!(list.contains("ロック開始"), "and since when");
    let id: i64 = app.account_id(&user.login_id).await;
    let res = admin
        .client
        .post_form(&format!("/admin/accounts/{id}/unlock"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("auth.account_unlocked").await, 1);
    assert_eq!(
        app.client()
            .login(&user.login_id, &user.password)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn x1_a_lock_lifts_by_itself_after_the_lockout_period() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let c = app.client();
    for _ in 0..5 {
        c.login(&user.login_id, "Wrong2026pass").await;
    }
    assert_eq!(c.login(&user.login_id, &user.password).await.status(), 401);
    app.advance_minutes(16);
    assert_eq!(c.login(&user.login_id, &user.password).await.status(), 303);
}

#[tokio::test]
async fn x1_failures_spread_beyond_the_window_do_not_lock() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let c = app.client();
    for _ in 0..4 {
        c.login(&user.login_id, "Wrong2026pass").await;
    }
    app.advance_minutes(16);
    c.login(&user.login_id, "Wrong2026pass").await;
    assert_eq!(app.audit_count("auth.account_locked").await, 0);
    assert_eq!(c.login(&user.login_id, &user.password).await.status(), 303);
}

#[tokio::test]
async fn x1_an_idle_session_expires_and_the_access_log_keeps_its_length() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    app.advance_minutes(20);
    assert_eq!(
        user.client.get("/").await.status(),
        200,
        "20 minutes idle is fine"
    );
    app.advance_minutes(31);
    let res = user.client.get("/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login?expired=1");
    assert_eq!(app.audit_count("auth.session_expired").await, 1);
    let (reason, started, ended): (String, String, String) = sqlx::query_as(
        "SELECT s.end_reason, s.created_at, s.ended_at FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE a.login_id = $1 ORDER BY s.id DESC LIMIT 1",
    )
    .bind(&user.login_id)
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    assert_eq!(reason, "idle_timeout");
    assert!(ended > started, "start and end are both kept");
    let admin = app.login_as(Role::SystemAdmin).await;
    let log = admin
        .client
        .get(&format!("/audit/sessions?login_id={}", user.login_id))
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("無操作タイムアウト"));
    assert!(log.contains("20分"), "the session lasted 20 minutes: {log}");
}

#[tokio::test]
async fn x1_a_session_ends_after_its_absolute_lifetime_even_when_active() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    for _ in 0..40 {
        app.advance_minutes(20);
        if user.client.get("/").await.status() != 200 {
            break;
        }
    }
    assert_eq!(app.audit_count("auth.session_expired").await, 1);
    let reason: String =
        // The newest ended row: the first one ended when the one-time password was changed.
        sqlx::query_scalar(
            "SELECT end_reason FROM sessions WHERE end_reason IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert_eq!(reason, "absolute_timeout");
}

#[tokio::test]
async fn x1_log_out_ends_the_session_for_good() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let token = user.client.cookie("rn_session").unwrap();
    let res = user.client.post_form("/logout", &[]).await;
    assert_eq!(location(&res), "/login?logged_out=1");
    assert_eq!(app.audit_count("auth.logout").await, 1);
    // Replaying the old cookie does not bring the session back.
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = raw
        .get(format!("{}/", app.address))
        .header("cookie", format!("rn_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
}

#[tokio::test]
async fn x1_changing_the_password_ends_the_other_sessions() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let other = app.client();
    other.login(&user.login_id, &user.password).await;
    assert_eq!(other.get("/").await.status(), 200);
    let new = "Another2026pw";
    let res = user
        .client
        .post_form(
            "/account/password",
            &[
                ("current_password", &user.password),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        user.client.get("/").await.status(),
        200,
        "this session stays"
    );
    assert_eq!(other.get("/").await.status(), 303, "the other one ended");
}

#[tokio::test]
async fn x1_cookies_are_http_only_and_strict_and_secure_behind_tls() {
    let app = spawn_app().await;
    let (login_id, otp) = app.create_account(Role::User, "u-cookies").await;
    let c = app.client();
    let res = c.login(&login_id, &otp).await;
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("rn_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(!session.contains("Secure"));

    let tls = spawn_app_with(|s| s.server.secure_cookies = true).await;
    let (login_id, otp) = tls.create_account(Role::User, "u-cookies2").await;
    let res = tls.client().login(&login_id, &otp).await;
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("rn_session="))
        .unwrap();
    assert!(session.contains("; Secure"), "{session}");
}

#[tokio::test]
async fn x1_pages_carry_security_headers() {
    let app = spawn_app().await;
    let res = app.client().get("/login").await;
    let h = res.headers();
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    let body = res.text().await.unwrap();
    assert!(!body.contains("<script"), "no script on the log-in page");
}

#[tokio::test]
async fn x1_demo_mode_waives_totp_and_says_so_on_every_page() {
    let demo = spawn_app_with(|s| s.security.require_totp = false).await;
    let admin = demo.login_as(Role::SystemAdmin).await;
    assert!(admin.totp_secret.is_none());
    for path in ["/", "/audit", "/admin/accounts", "/audit/sessions"] {
        let body = admin.client.get(path).await.text().await.unwrap();
        assert!(body.contains("デモモード"), "{path}");
    }
    assert!(
        demo.client()
            .get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("デモモード")
    );

    let prod = spawn_app().await;
    assert!(
        !prod
            .client()
            .get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("デモモード")
    );
}

#[tokio::test]
async fn x1_passwords_are_checked_outside_the_write_lock_and_lockout_still_counts() {
    let app = spawn_app().await;
    let (victim, _) = app.create_account(Role::User, "u-flooded").await;
    let (other, other_otp) = app.create_account(Role::User, "u-bystander").await;
    // Hold every password slot, so that the log-ins below wait for verification. While they
    // wait, a write of another task must get the one SQLite writer lock at once: a log-in opens
    // its transaction only after the verification.
    let slots = rainbownet::auth::password::hash_slots();
    let (held_tx, mut held_rx) = tokio::sync::mpsc::channel::<()>(slots);
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Arc::new(std::sync::Mutex::new(release_rx));
    let mut holders = Vec::new();
    for _ in 0..slots {
        let (held, release) = (held_tx.clone(), release_rx.clone());
        holders.push(tokio::spawn(rainbownet::auth::password::in_slot(
            move || {
                let _ = held.blocking_send(());
                let _ = release.lock().unwrap().recv();
            },
        )));
    }
    for _ in 0..slots {
        held_rx.recv().await.unwrap();
    }
    let mut logins = Vec::new();
    for _ in 0..10 {
        let (c, id) = (app.client(), victim.clone());
        let _ = c.csrf().await;
        logins.push(tokio::spawn(async move {
            c.login(&id, "Wrong2026pass").await.status()
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let write = async {
        let mut tx = app.db().begin().await.unwrap();
        rainbownet::audit::record(
            &mut tx,
            app.now(),
            &rainbownet::audit::Actor::system("test"),
            "test.write",
            "test:1",
            serde_json::json!({}),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), write)
        .await
        .expect("the write got the lock while log-ins waited for verification");
    assert_eq!(
        app.audit_count("auth.login_failed").await,
        0,
        "no log-in is decided while its verification waits"
    );
    for _ in 0..slots {
        release_tx.send(()).unwrap();
    }
    for h in holders {
        h.await.unwrap().unwrap();
    }
    for t in logins {
        assert_eq!(t.await.unwrap(), 401);
    }
    // Failures are counted against the account as it is in each transaction: one lock, at the
    // fifth, and the later attempts are refused as locked (counted in the address's window;
    // only the window's first failure is an event of its own).
    assert_eq!(app.audit_count("auth.login_failed").await, 1);
    assert_eq!(app.audit_count("auth.account_locked").await, 1);
    let (failures, wrong, locked): (i64, i64, i64) = sqlx::query_as(
        "SELECT failures, wrong_password, refused_account FROM login_failure_windows",
    )
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    assert_eq!((failures, wrong, locked), (10, 5, 5));
    // Log-in itself still works.
    assert_eq!(app.client().login(&other, &other_otp).await.status(), 303);
}
