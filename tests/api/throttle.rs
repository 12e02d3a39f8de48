//! X.1 / X.2 — throttling of credential attempts (ASVS 2.2.1): per client address and for the
//! server, answered 429 with Retry-After before any password hash; failed log-ins aggregated in
//! the audit log; X-Forwarded-For believed only from trusted proxies; password-change, TOTP and
//! recovery-code attempts throttled too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rainbownet::auth::{Role, totp};
use rainbownet::config::Settings;
use serde_json::Value;

use crate::helpers::*;

const REPORT_JOB: &str = "login_failures.report";

/// Short limits, and 127.0.0.1 (the tests' own connection) trusted as a proxy, so that
/// `client_from(addr)` speaks for `addr`.
fn limits(per_address: u32, global: u32) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().expect("proxy")];
        s.security.throttle.per_address_max = per_address;
        s.security.throttle.global_max = global;
    }
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

async fn report(app: &TestApp) -> String {
    rainbownet::jobs::run(&app.state, REPORT_JOB, "test")
        .await
        .expect("report job runs")
}

async fn summaries(app: &TestApp) -> Vec<(String, Value)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT client_addr, details FROM audit_events WHERE action = 'auth.login_failures' ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("summaries");
    rows.into_iter()
        .map(|(a, d)| (a, serde_json::from_str(&d).expect("json details")))
        .collect()
}

async fn attempts_from(app: &TestApp, addr_like: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM login_attempts WHERE client_addr LIKE $1")
        .bind(addr_like)
        .fetch_one(app.db().pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn x1_an_address_is_refused_with_429_and_retry_after_before_any_password_hash() {
    let app = spawn_app_with(limits(3, 0)).await;
    let user = app.login_as(Role::User).await;
    let c = app.client_from("203.0.113.7");
    for _ in 0..3 {
        assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 401);
    }
    let before = app.count("login_attempts").await;
    let res = c.login("nobody-here", "Wrong2026pass").await;
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res);
    assert!((1..=300).contains(&wait), "Retry-After {wait}");
    let body = res.text().await.expect("body");
    assert!(body.contains("受付を一時的に止めています"), "{body}");
    assert!(body.contains("name=\"login_id\""), "the log-in form again");
    // Even the right password is not checked from this address now.
    let res = c.login(&user.login_id, &user.password).await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        app.count("login_attempts").await,
        before,
        "a refused attempt writes nothing"
    );

    // No hash is computed for a refused attempt: with every password slot held, it is still
    // answered at once.
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
                let _ = release.lock().expect("lock").recv();
            },
        )));
    }
    for _ in 0..slots {
        held_rx.recv().await.expect("slot held");
    }
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        c.login("nobody-here", "Wrong2026pass"),
    )
    .await;
    for _ in 0..slots {
        release_tx.send(()).expect("release");
    }
    for h in holders {
        h.await.expect("holder").expect("ran");
    }
    assert_eq!(
        refused
            .expect("answered while every hash slot was busy")
            .status(),
        429
    );

    // The next window admits the address again.
    app.clock
        .advance(jiff::SignedDuration::from_secs(wait as i64));
    assert_eq!(c.login(&user.login_id, &user.password).await.status(), 303);
}

#[tokio::test]
async fn x1_other_addresses_and_other_users_still_log_in_during_a_flood_from_one_address() {
    let app = spawn_app_with(limits(3, 1000)).await;
    let user = app.login_as(Role::User).await;
    let other = app.login_as(Role::User).await;
    let attacker = app.client_from("203.0.113.66");
    let mut refused = 0;
    for _ in 0..12 {
        if attacker
            .login(&user.login_id, "Wrong2026pass")
            .await
            .status()
            == 429
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 9, "three failures, then refused");
    assert_eq!(
        app.audit_count("auth.account_locked").await,
        0,
        "the refused attempts did not reach the account"
    );
    for (who, addr) in [(&user, "198.51.100.20"), (&other, "198.51.100.21")] {
        let c = app.client_from(addr);
        assert_eq!(c.login(&who.login_id, &who.password).await.status(), 303);
    }
    assert_eq!(attempts_from(&app, "198.51.100.2_").await, 2);
}

#[tokio::test]
async fn x1_beyond_the_global_limit_only_addresses_without_failures_get_in() {
    let app = spawn_app_with(limits(100, 4)).await;
    let user = app.login_as(Role::User).await;
    for i in 1..=4 {
        let c = app.client_from(&format!("203.0.113.{i}"));
        assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 401);
    }
    let res = app
        .client_from("203.0.113.1")
        .login("nobody-here", "Wrong2026pass")
        .await;
    assert_eq!(res.status(), 429);
    assert!(retry_after(&res) >= 1);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("ログインの試行が集中しているため")
    );
    // A fresh address is admitted: the right password gets in, a wrong one is checked once.
    let c = app.client_from("198.51.100.30");
    assert_eq!(c.login(&user.login_id, &user.password).await.status(), 303);
    let c = app.client_from("198.51.100.31");
    assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 401);
    assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn x1_x2_twenty_clients_flooding_wrong_passwords_leave_log_in_working_and_few_audit_rows() {
    let app = spawn_app_with(limits(5, 60)).await;
    let user = app.login_as(Role::User).await;
    let audit_before = app.count("audit_events").await;
    // Each client goes on until the real user has logged in, and for 30 attempts at least.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for i in 0..20 {
        let c = app.client_from(&format!("10.9.0.{}", i + 1));
        let (stop, answered) = (stop.clone(), answered.clone());
        flood.push(tokio::spawn(async move {
            let (mut failed, mut refused, mut n) = (0, 0, 0);
            while n < 30 || !stop.load(Ordering::Relaxed) {
                n += 1;
                match c
                    .login(&format!("guess-{i}-{n}"), "Wrong2026pass")
                    .await
                    .status()
                    .as_u16()
                {
                    401 => failed += 1,
                    429 => refused += 1,
                    other => panic!("unexpected {other}"),
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
            (failed, refused)
        }));
    }
    // Log in once the flood has run into its limits (100 answers: more than the 80 checks
    // the limits allow).
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::Relaxed) < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let res = app
        .client_from("198.51.100.99")
        .login(&user.login_id, &user.password)
        .await;
    let waited = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(res.status(), 303, "the real user gets in during the flood");
    assert!(
        waited < Duration::from_secs(10),
        "and without waiting long: {waited:?}"
    );
    let (mut failed, mut refused) = (0, 0);
    for t in flood {
        let (f, r) = t.await.expect("flood task");
        failed += f;
        refused += r;
    }
    assert!(
        refused >= 20 * 30 - (60 + 20),
        "most of the flood was refused: {refused}"
    );
    assert!(
        failed <= 60 + 20,
        "checked at most global + one per address: {failed}"
    );
    assert_eq!(attempts_from(&app, "10.9.0.%").await, failed);

    // During the flood: one event per address (its first failure) and the real log-in.
    let during = app.count("audit_events").await - audit_before;
    assert!(during <= 20 + 1, "{during} audit rows during the flood");
    assert!(app.audit_count("auth.login_failed").await <= 20);

    // After the window: one summary per address, together holding every failure and refusal.
    app.advance_minutes(6);
    report(&app).await;
    let sums = summaries(&app).await;
    assert!(sums.len() <= 20, "{} summaries", sums.len());
    let total: i64 = sums
        .iter()
        .map(|(_, d)| d["failures"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, failed);
    let throttled: i64 = sums
        .iter()
        .map(|(_, d)| d["throttled"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(throttled, refused);
    let added = app.count("audit_events").await - audit_before;
    assert!(
        added <= 2 * 20 + 1,
        "{added} audit rows for the whole flood"
    );
    let mut conn = app.db().pool().acquire().await.expect("conn");
    let report = rainbownet::audit::verify(&mut conn, app.db().keys().audit())
        .await
        .expect("verify");
    assert_eq!(report.broken, None);
}

#[tokio::test]
async fn x2_failed_log_ins_are_summarised_once_per_address_and_window() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let c = app.client();
    let long_id = "x".repeat(60);
    for id in ["ghost-1", "ghost-2", long_id.as_str(), "ghost-1"] {
        assert_eq!(c.login(id, "Wrong2026pass").await.status(), 401);
    }
    assert_eq!(c.login(&user.login_id, "Wrong2026pass").await.status(), 401);
    assert_eq!(
        app.audit_count("auth.login_failed").await,
        1,
        "only the window's first failure is an event at once"
    );
    report(&app).await;
    assert!(summaries(&app).await.is_empty(), "the window is still open");

    app.advance_minutes(6);
    // A single failure in the next window is its own event and needs no summary.
    assert_eq!(c.login("ghost-3", "Wrong2026pass").await.status(), 401);
    assert_eq!(app.audit_count("auth.login_failed").await, 2);
    report(&app).await;
    let sums = summaries(&app).await;
    assert_eq!(sums.len(), 1);
    let (addr, d) = &sums[0];
    assert_eq!(addr, "127.0.0.1");
    assert_eq!(d["failures"], 5);
    assert_eq!(d["unknown_id"], 4);
    assert_eq!(d["wrong_password"], 1);
    assert_eq!(d["distinct_login_ids"], 4);
    let ids: Vec<&str> = d["login_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v["login_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids[0], "ghost-1", "most tried first: {ids:?}");
    assert!(ids.contains(&"x".repeat(32).as_str()), "cut to 32: {ids:?}");
    assert!(ids.contains(&user.login_id.as_str()));
    assert!(d["window_start"].as_str().is_some() && d["window_end"].as_str().is_some());

    app.advance_minutes(6);
    report(&app).await;
    assert_eq!(
        summaries(&app).await.len(),
        1,
        "each window is reported once"
    );
    let mut conn = app.db().pool().acquire().await.expect("conn");
    assert_eq!(
        rainbownet::audit::verify(&mut conn, app.db().keys().audit())
            .await
            .expect("verify")
            .broken,
        None
    );
}

#[tokio::test]
async fn x1_forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = spawn_app_with(|s| s.security.throttle.per_address_max = 2).await;
    for _ in 0..2 {
        let c = app.client_from("198.51.100.1");
        assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 401);
    }
    let c = app.client_from("198.51.100.2");
    assert_eq!(
        c.login("nobody-here", "Wrong2026pass").await.status(),
        429,
        "a made-up X-Forwarded-For does not escape the limit"
    );
    assert_eq!(attempts_from(&app, "127.0.0.1").await, 2);
    assert_eq!(attempts_from(&app, "198.51.100.%").await, 0);
}

#[tokio::test]
async fn x1_forwarded_for_is_honoured_from_a_trusted_proxy() {
    let app = spawn_app_with(limits(2, 0)).await;
    for _ in 0..2 {
        let c = app.client_from("198.51.100.1");
        assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 401);
    }
    let c = app.client_from("198.51.100.1");
    assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 429);
    let c = app.client_from("198.51.100.2");
    assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 401);
    // A client's own X-Forwarded-For entry is not believed: the proxy's (the rightmost) is.
    let c = app.client_from("203.0.113.250, 198.51.100.3");
    assert_eq!(c.login("nobody-here", "Wrong2026pass").await.status(), 401);
    assert_eq!(attempts_from(&app, "198.51.100.1").await, 2);
    assert_eq!(attempts_from(&app, "198.51.100.3").await, 1);
    assert_eq!(attempts_from(&app, "203.0.113.250").await, 0);
    let addr: String = sqlx::query_scalar(
        "SELECT client_addr FROM audit_events WHERE action = 'auth.login_failed' ORDER BY id LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("event");
    assert_eq!(addr, "198.51.100.1");
}

async fn change(c: &TestClient, current: &str, new: &str) -> reqwest::Response {
    c.post_form(
        "/account/password",
        &[
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await
}

#[tokio::test]
async fn x1_wrong_current_passwords_are_audited_and_lock_the_account_ending_the_session() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let id = app.account_id(&user.login_id).await;
    for _ in 0..4 {
        let res = change(&user.client, "Wrong2026pass", "Another2026pass").await;
        assert_eq!(res.status(), 422);
        assert!(
            res.text()
                .await
                .expect("body")
                .contains("現在のパスワードが正しくありません")
        );
    }
    assert_eq!(app.audit_count("auth.password_change_failed").await, 4);
    let failures: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_attempts WHERE account_id = $1 AND succeeded = 0",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(
        failures, 4,
        "counted toward the lockout like failed log-ins"
    );

    let res = change(&user.client, "Wrong2026pass", "Another2026pass").await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("ログアウトし、アカウントを15分間ロックしました"),
        "{body}"
    );
    assert_eq!(app.audit_count("auth.password_change_failed").await, 5);
    assert_eq!(app.audit_count("auth.account_locked").await, 1);
    assert_eq!(
        location(&user.client.get("/").await),
        "/login",
        "the session has ended"
    );
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT COALESCE(end_reason, 'open') FROM sessions WHERE account_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(app.db().pool())
    .await
    .expect("sessions");
    assert_eq!(open.last().map(String::as_str), Some("locked"), "{open:?}");
    assert!(!open.iter().any(|r| r == "open"), "{open:?}");
    assert_eq!(
        app.client()
            .login(&user.login_id, &user.password)
            .await
            .status(),
        401,
        "locked"
    );
}

#[tokio::test]
async fn x1_password_change_attempts_are_throttled_per_address() {
    let app = spawn_app_with(|s| {
        s.security.throttle.per_address_max = 2;
        s.security.lockout_threshold = 100;
    })
    .await;
    let user = app.login_as(Role::User).await;
    for _ in 0..2 {
        let res = change(&user.client, "Wrong2026pass", "Another2026pass").await;
        assert_eq!(res.status(), 422);
    }
    let res = change(&user.client, &user.password, "Another2026pass").await;
    assert_eq!(res.status(), 429, "refused before the password is checked");
    assert!(retry_after(&res) >= 1);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("受付を一時的に止めています")
    );
    assert_eq!(app.audit_count("auth.password_change_failed").await, 2);
    assert_eq!(
        app.audit_count("auth.password_changed").await,
        1,
        "only login_as's"
    );
    app.advance_minutes(6);
    let res = change(&user.client, &user.password, "Another2026pass").await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn x1_totp_and_recovery_code_attempts_are_throttled() {
    let app = spawn_app_with(|s| {
        s.security.throttle.per_address_max = 3;
        s.security.lockout_threshold = 100;
    })
    .await;
    let (login_id, otp) = app
        .create_account(Role::SystemOperator, "op-throttle")
        .await;
    let c = app.client();
    c.login(&login_id, &otp).await;
    let pw = "Operator2026ok";
    assert_eq!(change(&c, &otp, pw).await.status(), 303);
    let page = c
        .get("/account/totp/enroll")
        .await
        .text()
        .await
        .expect("page");
    let secret = attr(&page, "data-secret").expect("secret");
    let code = totp::code_at(&secret, app.now()).expect("code");
    let body = c
        .post_form("/account/totp/enroll", &[("code", &code)])
        .await
        .text()
        .await
        .expect("codes");
    let recovery = body
        .split("<li><code>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("a recovery code")
        .to_string();
    app.advance_minutes(1);

    let c2 = app.client();
    assert_eq!(c2.login(&login_id, pw).await.status(), 303);
    for _ in 0..3 {
        let res = c2.post_form("/login/totp", &[("code", "000000")]).await;
        assert_eq!(res.status(), 422);
    }
    let code = totp::code_at(&secret, app.now()).expect("code");
    let res = c2.post_form("/login/totp", &[("code", &code)]).await;
    assert_eq!(res.status(), 429, "even the right code waits");
    assert!(retry_after(&res) >= 1);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("受付を一時的に止めています")
    );
    let res = c2.post_form("/login/totp", &[("code", &recovery)]).await;
    assert_eq!(res.status(), 429, "a recovery code too");
    assert_eq!(app.audit_count("auth.mfa_failed").await, 3);

    app.advance_minutes(6);
    let res = c2.post_form("/login/totp", &[("code", &recovery)]).await;
    assert_eq!(
        res.status(),
        303,
        "the recovery code was not used up by the refusal"
    );
    assert_eq!(c2.get("/").await.status(), 200);

    // Issuing new recovery codes checks a TOTP code as well: throttled the same way.
    for _ in 0..3 {
        let res = c2
            .post_form("/account/recovery-codes", &[("code", "000000")])
            .await;
        assert_eq!(res.status(), 422);
    }
    let code = totp::code_at(&secret, app.now()).expect("code");
    let res = c2
        .post_form("/account/recovery-codes", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 429, "the page that issues codes is throttled");
    assert!(retry_after(&res) >= 1);
}
