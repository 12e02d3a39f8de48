//! Backup schedules (R21.2) and the monthly stop with read-only mode (R21.3): proposed by a
//! system administrator, approved by the service operator only, published on the portal; the
//! scheduler runs a due slot once, records a late one as missed (an alert for the
//! administrators); during a stop, writes get a Japanese 503 page / a FHIR 503 with
//! `Retry-After`, pages a banner, and it all returns by itself.

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::backup::readonly;
use rainbownet::db::{Timestamp, tokyo};
use rainbownet::jobs;

use crate::helpers::*;
use crate::records::{A, consent_for, fixture, network, outcome};

const PAGE: &str = "/admin/backup/schedules";
const JOB: &str = "backup.scheduled";

/// Sessions that survive the days these tests move the clock.
async fn long_app() -> TestApp {
    spawn_app_with(|s| {
        s.security.session_idle_minutes = 60 * 24 * 90;
        s.security.session_absolute_hours = 24 * 90;
    })
    .await
}

/// `HH:MM` in Japan time of `t`.
fn hhmm(t: Timestamp) -> String {
    t.as_jiff().to_zoned(tokyo()).strftime("%H:%M").to_string()
}

async fn newest_schedule(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT MAX(id) FROM backup_schedules")
        .fetch_one(app.db().pool())
        .await
        .expect("a schedule")
}

async fn text(c: &TestClient, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.expect("body")
}

async fn propose(admin: &TestClient, fields: &[(&str, &str)]) {
    let res = admin.post_form(PAGE, fields).await;
    assert_eq!(res.status(), 303, "proposed");
}

async fn decide(c: &TestClient, id: i64, verb: &str, note: &str) -> reqwest::Response {
    c.post_form(&format!("{PAGE}/{id}/{verb}"), &[("note", note)])
        .await
}

async fn run_job(app: &TestApp) -> String {
    jobs::run(&app.state, JOB, "test-runner")
        .await
        .expect("the job runs")
}

#[tokio::test]
async fn r21_2_only_the_service_operator_approves_and_an_approved_schedule_is_announced() {
    let app = long_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let ops = app.login_as(Role::OpsManager).await;
    let operator = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;

    propose(
        &admin.client,
        &[("kind", "daily"), ("local_time", "02:00"), ("note", "夜間")],
    )
    .await;
    let id = newest_schedule(&app).await;
    assert_eq!(app.audit_count("backup.schedule_proposed").await, 1);
    // Not yet published, and the service operator is asked on the dashboard.
    assert!(
        !text(&user.client, "/portal")
            .await
            .contains("バックアップの実施予定")
    );
    assert!(
        text(&city.client, "/")
            .await
            .contains("承認をお待ちしている予定があります")
    );
    let page = text(&city.client, PAGE).await;
    assert!(page.contains("提案中") && page.contains("毎日 2:00") && page.contains("承認する"));
    assert!(
        !text(&admin.client, PAGE).await.contains("承認する"),
        "no approve button for the admin"
    );

    // Nobody else decides.
    for (who, c) in [("admin", &admin.client), ("ops", &ops.client)] {
        let res = decide(c, id, "approve", "").await;
        assert_eq!(res.status(), 403, "{who} may not approve");
    }
    assert_eq!(operator.client.get(PAGE).await.status(), 403);
    assert_eq!(user.client.get(PAGE).await.status(), 403);
    assert_eq!(app.audit_count("backup.schedule_approved").await, 0);

    let res = decide(&city.client, id, "approve", "承認します").await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("backup.schedule_approved").await, 1);
    assert_eq!(app.audit_count("portal.announcement_created").await, 1);
    let portal = text(&user.client, "/portal").await;
    assert!(
        portal.contains("バックアップの実施予定"),
        "announced on the portal"
    );
    let login = text(&app.client(), "/login").await;
    assert!(
        login.contains("バックアップの実施予定") && login.contains("毎日 2:00"),
        "the announcement is public: on the log-in page"
    );
    assert_eq!(
        decide(&city.client, id, "approve", "").await.status(),
        409,
        "decided once"
    );

    // A new daily schedule replaces the first: it is retired, the announcement updated.
    propose(&admin.client, &[("kind", "daily"), ("local_time", "03:30")]).await;
    let second = newest_schedule(&app).await;
    assert_eq!(
        decide(&city.client, second, "approve", "").await.status(),
        303
    );
    assert_eq!(app.audit_count("backup.schedule_retired").await, 1);
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM backup_schedules ORDER BY id")
        .fetch_all(app.db().pool())
        .await
        .expect("states");
    assert_eq!(states, ["retired", "approved"]);
    assert_eq!(
        app.count("portal_announcements").await,
        1,
        "one announcement, updated"
    );
    let login = text(&app.client(), "/login").await;
    assert!(login.contains("毎日 3:30") && !login.contains("毎日 2:00"));

    // A rejection needs its reason.
    propose(&admin.client, &[("kind", "daily"), ("local_time", "04:00")]).await;
    let third = newest_schedule(&app).await;
    let res = decide(&city.client, third, "reject", "  ").await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("却下の理由を入力してください")
    );
    assert_eq!(
        decide(&city.client, third, "reject", "時間帯が業務と重なるため")
            .await
            .status(),
        303
    );
    assert_eq!(app.audit_count("backup.schedule_rejected").await, 1);

    // Retiring the last approved schedule takes the announcement down.
    assert_eq!(
        decide(&city.client, second, "retire", "運用見直し")
            .await
            .status(),
        303
    );
    assert!(
        !text(&user.client, "/portal")
            .await
            .contains("バックアップの実施予定")
    );
    assert!(
        !text(&app.client(), "/login")
            .await
            .contains("バックアップの実施予定")
    );
    let page = text(&admin.client, PAGE).await;
    assert!(
        page.contains("廃止") && page.contains("却下") && page.contains("時間帯が業務と重なるため")
    );
}

#[tokio::test]
async fn r21_2_a_bad_time_day_or_window_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("kind", "daily"), ("local_time", "25:00")], "時刻は"),
        (
            &[
                ("kind", "monthly"),
                ("local_time", "03:00"),
                ("day_of_month", "31"),
            ],
            "1〜28 日",
        ),
        (
            &[
                ("kind", "monthly"),
                ("local_time", "03:00"),
                ("day_of_month", "1"),
                ("stop_service", "1"),
                ("window_minutes", "5"),
            ],
            "停止時間は",
        ),
        (
            &[("kind", "weekly"), ("local_time", "03:00")],
            "日次か月次か",
        ),
    ];
    for (fields, message) in cases {
        let res = admin.client.post_form(PAGE, fields).await;
        assert_eq!(res.status(), 422, "{fields:?}");
        let body = res.text().await.expect("body");
        assert!(body.contains(message), "{fields:?}: {message}");
    }
    assert_eq!(app.count("backup_schedules").await, 0);
}

#[tokio::test]
async fn r21_2_the_job_runs_a_due_approved_slot_once_and_never_twice() {
    let app = long_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let at = hhmm(app.now().plus_minutes(2));
    propose(&admin.client, &[("kind", "daily"), ("local_time", &at)]).await;
    let id = newest_schedule(&app).await;
    // A proposal that is never approved never runs.
    propose(
        &admin.client,
        &[
            ("kind", "monthly"),
            ("local_time", &at),
            ("day_of_month", "1"),
        ],
    )
    .await;
    assert_eq!(decide(&city.client, id, "approve", "").await.status(), 303);

    run_job(&app).await;
    assert_eq!(
        app.audit_count("backup.scheduled_started").await,
        0,
        "not before its time"
    );

    app.advance_minutes(3);
    run_job(&app).await;
    assert_eq!(
        app.audit_count("backup.scheduled_started").await,
        1,
        "the slot ran"
    );
    assert_eq!(
        app.audit_count("backup.scheduled_finished").await,
        1,
        "its result is recorded"
    );
    let slot: Option<String> =
        sqlx::query_scalar("SELECT last_slot FROM backup_schedules WHERE id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("slot");
    assert!(slot.is_some(), "the slot is recorded in the database");
    for _ in 0..3 {
        run_job(&app).await;
        app.advance_minutes(1);
    }
    assert_eq!(
        app.audit_count("backup.scheduled_started").await,
        1,
        "never twice"
    );
    assert!(
        app.count("backups").await <= 1,
        "never two backups for one slot"
    );
    assert_eq!(app.audit_count("backup.missed").await, 0);

    // The next day's slot runs again, once.
    app.advance_minutes(24 * 60);
    run_job(&app).await;
    run_job(&app).await;
    assert_eq!(app.audit_count("backup.scheduled_started").await, 2);
    let result: String =
        sqlx::query_scalar("SELECT last_result FROM backup_schedules WHERE id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("result");
    assert!(["ok", "failed"].contains(&result.as_str()), "{result}");
    if result == "failed" {
        // A failed scheduled backup is an alert for the administrators.
        let dash = text(&admin.client, "/").await;
        assert!(
            dash.contains(SCHEDULE_ALERT) && dash.contains("失敗しました"),
            "{dash}"
        );
    }
}

/// The scheduled-backup card in its alert tone (other backup cards, e.g. "no recipients", are
/// not this test's subject).
const SCHEDULE_ALERT: &str = "card card-alert\" href=\"/admin/backup/schedules\"";

#[tokio::test]
async fn r21_2_a_slot_more_than_missed_after_late_is_not_run_but_recorded_missed_and_alerted() {
    let app = long_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let at = hhmm(app.now().plus_minutes(5));
    propose(&admin.client, &[("kind", "daily"), ("local_time", &at)]).await;
    let id = newest_schedule(&app).await;
    assert_eq!(decide(&city.client, id, "approve", "").await.status(), 303);
    let dash = text(&admin.client, "/").await;
    assert!(dash.contains("定期バックアップ") && dash.contains("予定どおり"));
    assert!(!dash.contains(SCHEDULE_ALERT));

    // The server (or its jobs) was away past the slot and the grace of 120 minutes.
    app.advance_minutes(5 + 121);
    let dash = text(&admin.client, "/").await;
    assert!(
        dash.contains(SCHEDULE_ALERT) && dash.contains("未実施"),
        "overdue shows before the job records it"
    );
    run_job(&app).await;
    run_job(&app).await;
    assert_eq!(app.audit_count("backup.missed").await, 1, "recorded once");
    assert_eq!(
        app.audit_count("backup.scheduled_started").await,
        0,
        "not run late"
    );
    let dash = text(&admin.client, "/").await;
    assert!(dash.contains(SCHEDULE_ALERT) && dash.contains("未実施です"));
    assert!(text(&admin.client, PAGE).await.contains("未実施（"));
    // The alert links to a page the administrator may open, and only administrators get it.
    assert!(dash.contains(&format!("href=\"{PAGE}\"")));
    assert!(!text(&city.client, "/").await.contains("未実施"));
}

#[tokio::test]
async fn r21_3_a_monthly_stop_is_announced_in_advance_then_bannered_and_returns_by_itself() {
    let app = long_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let user = app.login_as(Role::User).await;
    // A day of the month eight days ahead (or the next month's early days).
    let ahead = app
        .now()
        .plus_minutes(8 * 24 * 60)
        .as_jiff()
        .to_zoned(tokyo());
    let ahead = if ahead.day() > 28 {
        app.now()
            .plus_minutes(12 * 24 * 60)
            .as_jiff()
            .to_zoned(tokyo())
    } else {
        ahead
    };
    let day = ahead.day().to_string();
    propose(
        &admin.client,
        &[
            ("kind", "monthly"),
            ("local_time", "03:00"),
            ("day_of_month", &day),
            ("stop_service", "1"),
            ("window_minutes", "60"),
        ],
    )
    .await;
    let id = newest_schedule(&app).await;
    assert_eq!(decide(&city.client, id, "approve", "").await.status(), 303);
    assert_eq!(
        app.audit_count("portal.window_approved").await,
        1,
        "published approved"
    );
    let starts: String =
        sqlx::query_scalar("SELECT published_slot FROM backup_schedules WHERE id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("published");
    let starts: Timestamp = starts.parse().expect("instant");
    assert!(
        starts > app.now().plus_minutes(7 * 24 * 60),
        "at least seven days ahead"
    );

    // Beforehand: on the portal's top page, the dashboard and the log-in page.
    let portal = text(&user.client, "/portal").await;
    assert!(
        portal.contains("月次バックアップのためのサービス停止") && portal.contains(&starts.jst())
    );
    assert!(text(&user.client, "/").await.contains("次回のサービス停止"));
    let login = text(&app.client(), "/login").await;
    assert!(login.contains("次回のサービス停止") && login.contains("閲覧のみ可能"));
    assert!(
        !portal.contains("id=\"site-banner\""),
        "no banner before the stop"
    );

    // The stop comes: the portal's banner is up, and the job starts the backup read-only.
    let minutes = starts.since(app.now()).as_mins() + 1;
    app.advance_minutes(minutes);
    assert!(text(&user.client, "/").await.contains("id=\"site-banner\""));
    run_job(&app).await;
    assert_eq!(app.audit_count("backup.readonly_started").await, 1);
    assert_eq!(
        app.audit_count("backup.readonly_ended").await,
        1,
        "ended with the backup"
    );
    assert_eq!(
        app.audit_count("portal.window_ended").await,
        1,
        "its banner ended early"
    );
    assert!(!text(&user.client, "/").await.contains("id=\"site-banner\""));
    // Writes work again.
    let res = user
        .client
        .post_form("/account/sessions/end-others", &[])
        .await;
    assert_eq!(res.status(), 303);
    // The next month's stop is on the portal already.
    assert_eq!(app.audit_count("portal.window_approved").await, 2);
    let next: String =
        sqlx::query_scalar("SELECT published_slot FROM backup_schedules WHERE id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("published");
    let next: Timestamp = next.parse().expect("instant");
    assert!(next > starts.plus_minutes(27 * 24 * 60), "a month later");
    assert!(text(&app.client(), "/login").await.contains(
        &rainbownet::backup::schedule::occurrence_label(next, next.plus_minutes(60))
    ));
}

#[tokio::test]
async fn r21_3_while_read_only_forms_get_a_japanese_503_the_api_a_fhir_503_and_pages_a_banner() {
    let net = network().await;
    let app = &net.app;
    let editor = app.login_as(Role::SystemOperator).await;
    let user = net.person(Role::User, A, "ro-user-1").await;
    let now = app.now();
    // Twenty minutes: within the session's idle time of this app.
    let until = now.plus_minutes(20);
    // As the scheduler does when a stop's backup starts (the backup itself is not needed here).
    readonly::begin(app.db(), 0, now, until, &Actor::system("test"), now)
        .await
        .expect("read-only");

    // Pages: served, with the banner.
    for path in ["/", "/portal"] {
        let page = text(&user, path).await;
        assert!(
            page.contains("id=\"site-banner\"") && page.contains("【閲覧のみ】"),
            "{path}"
        );
    }
    // A form: the calm Japanese 503 page, with Retry-After, and nothing saved.
    let res = editor
        .client
        .post_form(
            "/portal/manage",
            &[
                ("category", "notice"),
                ("title", "停止中の投稿"),
                ("body", "本文"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 503);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1100..=1200).contains(&retry), "{retry}");
    let body = res.text().await.expect("body");
    assert!(body.contains("ただいま閲覧のみ可能です") && body.contains("保存されていません"));
    assert!(
        body.contains("id=\"site-banner\""),
        "the error page carries the banner"
    );
    assert_eq!(app.count("portal_announcements").await, 0);

    // The FHIR API: 503, Retry-After, an OperationOutcome; nothing stored.
    let res = net
        .send(A, "/api/fhir/Bundle", fixture("referral_57133-1.json"))
        .await;
    assert!(res.headers().contains_key("retry-after"));
    let (status, diagnostics) = outcome(res).await;
    assert_eq!(status, 503);
    assert!(diagnostics.contains("月次バックアップ"), "{diagnostics}");
    assert_eq!(app.count("documents").await, 0);
    // Reading through the API still works (a 404 for a missing document, not a 503).
    assert_eq!(net.get(A, "/api/fhir/Bundle/999999").await.status(), 404);

    // Log-in and log-out stay allowed, so that staff can read the notice.
    let again = app.client();
    assert_eq!(
        again.login("ro-user-1", "Kiyosu2026rainbow").await.status(),
        303
    );
    assert!(text(&again, "/").await.contains("【閲覧のみ】"));
    assert_eq!(again.post_form("/logout", &[]).await.status(), 303);

    // The window's end: writes work again by themselves (as if the backup's process had died).
    app.advance_minutes(21);
    assert!(!text(&user, "/").await.contains("【閲覧のみ】"));
    let res = editor
        .client
        .post_form(
            "/portal/manage",
            &[
                ("category", "notice"),
                ("title", "再開後の投稿"),
                ("body", "本文"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = net.send(A, "/api/fhir/Consent", consent_for(&[])).await;
    assert_eq!(res.status(), 201);
    net.accept(A, fixture("referral_57133-1.json")).await;
}

#[tokio::test]
async fn r21_3_read_only_ends_as_soon_as_the_backup_finishes() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let now = app.now();
    let id = readonly::begin(
        app.db(),
        0,
        now,
        now.plus_minutes(60),
        &Actor::system("test"),
        now,
    )
    .await
    .expect("read-only");
    let res = user
        .client
        .post_form("/account/sessions/end-others", &[])
        .await;
    assert_eq!(res.status(), 503);
    assert!(
        readonly::end(app.db(), id, &Actor::system("test"), app.now())
            .await
            .expect("ended")
    );
    let res = user
        .client
        .post_form("/account/sessions/end-others", &[])
        .await;
    assert_eq!(
        res.status(),
        303,
        "writable at once, well before the window's end"
    );
    assert_eq!(app.audit_count("backup.readonly_started").await, 1);
    assert_eq!(app.audit_count("backup.readonly_ended").await, 1);
}

#[tokio::test]
async fn r21_3_read_only_started_by_another_process_is_seen_within_a_second() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    // Another process (a cron `job run`) writes the period: this process learns it only from
    // the database, whose answer it keeps for at most a second.
    let res = user
        .client
        .post_form("/account/sessions/end-others", &[])
        .await;
    assert_eq!(res.status(), 303, "writable before");
    let now = app.now();
    sqlx::query(
        "INSERT INTO backup_readonly (schedule_id, slot, started_at, until_at) VALUES (0, $1, $1, $2)",
    )
    .bind(now)
    .bind(now.plus_minutes(20))
    .execute(app.db().pool())
    .await
    .expect("period");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = user
        .client
        .post_form("/account/sessions/end-others", &[])
        .await;
    assert_eq!(res.status(), 503, "seen from the database");
}
