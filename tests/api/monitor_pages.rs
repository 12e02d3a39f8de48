//! R22.1 monitoring — alerts and the pages: a state change mails the on-call list through the
//! outbox with a Japanese subject, an approved portal window suppresses it, a system
//! administrator acknowledges it (audited; nobody else may), the monitor page shows the uptime
//! of seeded results and marks the down period in its SVG chart, the monthly summary lists it,
//! and the log-in page says only 正常 / 一部に障害 / メンテナンス中.

use jiff::SignedDuration;
use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::db::Timestamp;
use rainbownet::monitor::alerts::{self, AlertKind};
use rainbownet::monitor::model::{Kind, Name, NewMonitor, Target};
use rainbownet::monitor::{repo, service};
use rainbownet::portal::{self, NewWindow, WindowKind};
use sqlx::Row;

use crate::helpers::*;

const SECRET_NAME: &str = "院内ゲートウェイ";
const SECRET_TARGET: &str = "192.0.2.77";

fn new_monitor(name: &str, kind: Kind, target: &str, interval_seconds: i64) -> NewMonitor {
    NewMonitor {
        name: Name::parse(name).expect("name"),
        kind,
        target: Target::parse(kind, target).expect("target"),
        interval_seconds,
        timeout_ms: 5_000,
        retries: 2,
        expect_status: None,
        keyword: None,
        json_pointer: None,
        json_value: None,
        max_response_ms: None,
        cert_min_days: None,
        asset_ref: None,
    }
}

async fn add_monitor(app: &TestApp, name: &str, target: &str) -> i64 {
    service::add(
        app.db(),
        &new_monitor(name, Kind::Ping, target, 300),
        &Actor::system("test"),
        app.now().minus(SignedDuration::from_hours(24 * 40)),
    )
    .await
    .expect("monitor added")
}

/// What the engine does at a state change: the alert on its transaction.
async fn raise(app: &TestApp, id: i64, kind: AlertKind) -> i64 {
    let mut tx = app.db().begin().await.expect("tx");
    let m = repo::find(&mut tx, id)
        .await
        .expect("find")
        .expect("the monitor");
    let alert = alerts::raise(
        &mut tx,
        &m,
        kind,
        "2 回続けて応答がありませんでした",
        app.now(),
    )
    .await
    .expect("raised");
    tx.commit().await.expect("commit");
    alert
}

async fn set_state(app: &TestApp, id: i64, state: &str) {
    sqlx::query("UPDATE monitors SET state = $1 WHERE id = $2")
        .bind(state)
        .bind(id)
        .execute(app.db().pool())
        .await
        .expect("state");
}

/// An approved portal window from an hour ago to an hour from now.
async fn window_now(app: &TestApp) -> i64 {
    let now = app.now();
    let actor = Actor::system("test");
    let mut tx = app.db().begin().await.expect("tx");
    let id = portal::publish_approved_window(
        &mut tx,
        &NewWindow {
            kind: WindowKind::Maintenance,
            title: "ネットワーク機器の保守",
            starts_at: now.minus(SignedDuration::from_hours(1)),
            ends_at: now.plus(SignedDuration::from_hours(1)),
            services: "全サービス",
            reason: "機器の交換",
            source: "portal",
        },
        "city",
        &actor,
        now,
    )
    .await
    .expect("window");
    tx.commit().await.expect("commit");
    id
}

/// One slot's result as the engine writes it.
async fn result(
    tx: &mut rainbownet::db::Tx,
    id: i64,
    at: Timestamp,
    outcome: &str,
    ms: Option<i64>,
) {
    let checked = (outcome != "missed").then_some(at);
    sqlx::query(
        "INSERT INTO monitor_results (monitor_id, slot_at, checked_at, outcome, response_ms)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(at)
    .bind(checked)
    .bind(outcome)
    .bind(ms)
    .execute(&mut **tx)
    .await
    .expect("result");
}

async fn text(c: &TestClient, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.expect("body")
}

async fn alert_row(app: &TestApp, id: i64) -> sqlx::any::AnyRow {
    sqlx::query(
        "SELECT suppressed_by, mail_id, acknowledged_by, acknowledged_at, ack_note
         FROM monitor_alerts WHERE id = $1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("alert")
}

#[tokio::test]
async fn r22_1_a_down_alert_queues_one_mail_to_the_active_on_call_list_with_a_japanese_subject() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    for (name, email) in [
        ("当番 一郎", "ichiro@example.jp"),
        ("当番 二郎", "jiro@example.jp"),
        ("異動 三郎", "saburo@example.jp"),
    ] {
        let res = admin
            .client
            .post_form(
                "/admin/monitors/oncall",
                &[("name", name), ("email", email)],
            )
            .await;
        assert_eq!(res.status(), 303, "{name} added");
    }
    let bad = admin
        .client
        .post_form(
            "/admin/monitors/oncall",
            &[("name", "x"), ("email", "x@y\r\nBcc: z@example.jp")],
        )
        .await;
    assert_eq!(bad.status(), 422, "a malformed address is refused");
    let saburo: i64 =
        sqlx::query_scalar("SELECT id FROM monitor_oncall WHERE email = 'saburo@example.jp'")
            .fetch_one(app.db().pool())
            .await
            .expect("saburo");
    let res = admin
        .client
        .post_form(&format!("/admin/monitors/oncall/{saburo}/deactivate"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("monitor.oncall_added").await, 3);
    assert_eq!(app.audit_count("monitor.oncall_deactivated").await, 1);

    let id = add_monitor(&app, SECRET_NAME, SECRET_TARGET).await;
    let alert = raise(&app, id, AlertKind::Down).await;

    let mail = sqlx::query(
        "SELECT id, source, source_ref, recipients, subject, body, state FROM mail_outbox",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("outbox");
    assert_eq!(mail.len(), 1, "one mail for the whole list");
    let m = &mail[0];
    assert_eq!(m.get::<String, _>("source"), "monitor.alert");
    assert_eq!(
        m.get::<Option<String>, _>("source_ref"),
        Some(alert.to_string())
    );
    assert_eq!(
        m.get::<String, _>("subject"),
        format!("【きよすレインボーネット】監視異常: {SECRET_NAME} が停止しています")
    );
    let to = m.get::<String, _>("recipients");
    assert!(to.contains("ichiro@example.jp") && to.contains("jiro@example.jp"));
    assert!(!to.contains("saburo"), "a deactivated person is not mailed");
    let body = m.get::<String, _>("body");
    assert!(body.contains(SECRET_TARGET), "{body}");
    assert!(body.contains(&format!("{}（日本時間）", app.now().jst_seconds())));
    assert!(body.contains("2 回続けて応答がありませんでした"));
    // A full address the on-call person can open from a phone, not a bare path.
    let base = app.state.settings.server.public_url.trim_end_matches('/');
    assert!(
        body.contains(&format!("{base}/admin/monitors/alerts")),
        "{body}"
    );
    let row = alert_row(&app, alert).await;
    assert_eq!(
        row.get::<Option<i64>, _>("mail_id"),
        Some(m.get::<i64, _>("id"))
    );
    assert_eq!(row.get::<Option<i64>, _>("suppressed_by"), None);
    assert_eq!(app.audit_count("monitor.alert_raised").await, 1);

    // The recovery is mailed too, with its own subject.
    raise(&app, id, AlertKind::Up).await;
    let subject: String = sqlx::query_scalar("SELECT subject FROM mail_outbox ORDER BY id DESC")
        .fetch_one(app.db().pool())
        .await
        .expect("second mail");
    assert_eq!(
        subject,
        format!("【きよすレインボーネット】監視復旧: {SECRET_NAME} が復旧しました")
    );
}

#[tokio::test]
async fn r22_1_an_approved_portal_window_suppresses_the_alert_and_its_mail() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    admin
        .client
        .post_form(
            "/admin/monitors/oncall",
            &[("name", "当番"), ("email", "oncall@example.jp")],
        )
        .await;
    let id = add_monitor(&app, SECRET_NAME, SECRET_TARGET).await;
    let window = window_now(&app).await;

    let alert = raise(&app, id, AlertKind::Down).await;
    let row = alert_row(&app, alert).await;
    assert_eq!(row.get::<Option<i64>, _>("suppressed_by"), Some(window));
    assert_eq!(row.get::<Option<i64>, _>("mail_id"), None);
    assert_eq!(
        app.count("mail_outbox").await,
        0,
        "no mail during the window"
    );
    let page = text(&admin.client, "/admin/monitors/alerts").await;
    assert!(page.contains("未確認のアラートはありません"), "{page}");
    assert!(page.contains(&format!("停止・保守予定 #{window}")));

    // After the window the same change is mailed.
    app.advance_minutes(90);
    raise(&app, id, AlertKind::Down).await;
    assert_eq!(app.count("mail_outbox").await, 1);
}

#[tokio::test]
async fn r22_1_only_a_system_administrator_acknowledges_and_who_when_and_the_note_are_audited() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let operator = app.login_as(Role::SystemOperator).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let id = add_monitor(&app, SECRET_NAME, SECRET_TARGET).await;
    let alert = raise(&app, id, AlertKind::Down).await;
    let path = format!("/admin/monitors/alerts/{alert}/acknowledge");

    // Readers see it open, without the form.
    let page = text(&operator.client, "/admin/monitors/alerts").await;
    assert!(page.contains("未確認（1 件）") && !page.contains(&path));
    for other in [&operator, &city] {
        let res = other.client.post_form(&path, &[("note", "見ました")]).await;
        assert_eq!(res.status(), 403);
    }
    assert!(
        alert_row(&app, alert)
            .await
            .get::<Option<String>, _>("acknowledged_at")
            .is_none()
    );
    // The dashboard says so, linking to the alerts page.
    let dash = text(&admin.client, "/").await;
    assert!(dash.contains("未確認 1 件") && dash.contains("href=\"/admin/monitors/alerts\""));

    app.advance_minutes(7);
    let res = admin
        .client
        .post_form(&path, &[("note", "回線事業者の工事と確認済み")])
        .await;
    assert_eq!(res.status(), 303);
    let row = alert_row(&app, alert).await;
    assert_eq!(
        row.get::<Option<String>, _>("acknowledged_by").as_deref(),
        Some(admin.login_id.as_str())
    );
    assert_eq!(
        row.get::<Option<String>, _>("acknowledged_at"),
        Some(app.now().to_db())
    );
    assert_eq!(
        row.get::<Option<String>, _>("ack_note").as_deref(),
        Some("回線事業者の工事と確認済み")
    );
    assert_eq!(app.audit_count("monitor.alert_acknowledged").await, 1);
    // Once only.
    let again = admin.client.post_form(&path, &[("note", "二度目")]).await;
    assert_eq!(again.status(), 303);
    assert_eq!(app.audit_count("monitor.alert_acknowledged").await, 1);
    let page = text(&admin.client, "/admin/monitors/alerts").await;
    assert!(page.contains("未確認（0 件）") && page.contains("回線事業者の工事と確認済み"));
    let missing = admin
        .client
        .post_form("/admin/monitors/alerts/99999/acknowledge", &[])
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn r22_1_the_monitor_page_shows_uptime_of_seeded_results_and_marks_the_down_period_in_svg() {
    let app = spawn_app().await;
    let reader = app.login_as(Role::ServiceOperator).await;
    let id = add_monitor(&app, SECRET_NAME, SECRET_TARGET).await;
    let now = app.now();
    // Slot k lies k × 5 minutes (and 150 s) before now: 288 slots in the last 24 hours, of
    // which 3 in a row failed and 1 was missed; 100 good slots two to three days ago; and one
    // daily aggregate 200 days ago.
    let slot = |k: i64| now.minus(SignedDuration::from_secs(k * 300 + 150));
    let mut tx = app.db().begin().await.expect("tx");
    for k in 0..288 {
        let outcome = match k {
            100..=102 => "down",
            200 => "missed",
            _ => "up",
        };
        let ms = (outcome == "up").then_some(20 + k % 7);
        result(&mut tx, id, slot(k), outcome, ms).await;
    }
    for k in 600..700 {
        result(&mut tx, id, slot(k), "up", Some(25)).await;
    }
    sqlx::query(
        "INSERT INTO monitor_aggregates (monitor_id, period, period_start, slots, up, down,
             missed, avg_response_ms, max_response_ms)
         VALUES ($1, 'day', $2, 288, 288, 0, 0, 22, 40)",
    )
    .bind(id)
    .bind(now.minus(SignedDuration::from_hours(24 * 200)))
    .execute(&mut *tx)
    .await
    .expect("aggregate");
    tx.commit().await.expect("commit");

    let page = text(&reader.client, &format!("/admin/monitors/{id}")).await;
    // 24 h: 284 of 287 checked slots; 30 days: 384 of 387; 1 year: 672 of 675 (rounded down).
    assert!(page.contains("98.95 %"), "24 h uptime");
    assert!(page.contains("287 / 288 スロット"), "24 h coverage");
    assert!(page.contains("99.22 %"), "30 day uptime");
    assert!(page.contains("99.55 %"), "1 year uptime");
    let svg_start = page.find("<svg").expect("an inline SVG chart");
    let svg_end = page[svg_start..].find("</svg>").expect("closed") + svg_start;
    let svg = &page[svg_start..svg_end];
    assert_eq!(svg.matches("class=\"down\"").count(), 1, "one down period");
    assert_eq!(svg.matches("class=\"missed\"").count(), 1);
    assert!(
        svg.contains(&format!("応答なし {}", slot(102).jst())),
        "the band names the start of the down period"
    );
    assert!(svg.contains("（15 分）"), "three 5-minute slots");
    assert!(!page.contains("<script"), "no JavaScript");

    // The list and the monthly summary agree; the summary names the period too.
    let list = text(&reader.client, "/admin/monitors").await;
    assert!(list.contains("98.95 %") && list.contains(SECRET_NAME));
    let summary = text(&reader.client, "/admin/monitors/summary").await;
    assert!(summary.contains("稼働状況報告") && summary.contains(SECRET_NAME));
    let month_start = now.as_jiff().to_zoned(rainbownet::db::tokyo()).date().day();
    if i64::from(month_start) > 2 {
        // The whole day lies in this month: the period is listed with its length.
        assert!(summary.contains(&slot(102).jst()), "{summary}");
        assert!(summary.contains("1 回、計 15 分"));
    }
    let missing = reader.client.get("/admin/monitors/99999").await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn r22_1_the_log_in_page_says_maintenance_or_degraded_and_names_no_monitor() {
    let app = spawn_app().await;
    let anon = app.client();
    let page = text(&anon, "/login").await;
    assert!(
        !page.contains("サービスの状態"),
        "nothing watched: no claim"
    );

    let id = add_monitor(&app, SECRET_NAME, SECRET_TARGET).await;
    set_state(&app, id, "up").await;
    let page = text(&anon, "/login").await;
    assert!(page.contains("サービスの状態") && page.contains("正常"));

    set_state(&app, id, "down").await;
    let page = text(&anon, "/login").await;
    assert!(page.contains("一部に障害"), "{page}");
    assert!(!page.contains(SECRET_NAME) && !page.contains(SECRET_TARGET));
    assert!(!page.contains("/admin/monitors"));

    window_now(&app).await;
    let page = text(&anon, "/login").await;
    assert!(page.contains("メンテナンス中") && !page.contains("一部に障害"));
    assert!(!page.contains(SECRET_NAME) && !page.contains(SECRET_TARGET));
}

#[tokio::test]
async fn r22_1_a_system_administrator_adds_changes_pauses_and_resumes_a_monitor_with_audit() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let operator = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;

    let form = text(&admin.client, "/admin/monitors/new").await;
    assert!(form.contains("name=\"interval_minutes\" type=\"text\" value=\"5\""));
    let bad = admin
        .client
        .post_form(
            "/admin/monitors",
            &[
                ("name", "応答確認"),
                ("kind", "http"),
                ("target", "127.0.0.1"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .expect("body")
            .contains("http:// か https:// で始まる URL")
    );
    let res = admin
        .client
        .post_form(
            "/admin/monitors",
            &[
                ("name", "応答確認"),
                ("kind", "http"),
                ("target", "http://127.0.0.1:9/healthz"),
                ("interval_minutes", "15"),
                ("timeout_seconds", "10"),
                ("retries", "2"),
                ("keyword", "ok"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id: i64 = sqlx::query_scalar("SELECT id FROM monitors WHERE name = '応答確認'")
        .fetch_one(app.db().pool())
        .await
        .expect("added");
    assert_eq!(location(&res), format!("/admin/monitors/{id}"));
    assert_eq!(app.audit_count("monitor.added").await, 1);

    let res = admin
        .client
        .post_form(
            &format!("/admin/monitors/{id}"),
            &[
                ("name", "応答確認（本番）"),
                ("kind", "http"),
                ("target", "http://127.0.0.1:9/healthz"),
                ("interval_minutes", "15"),
                ("timeout_seconds", "10"),
                ("retries", "3"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("monitor.updated").await, 1);
    for verb in ["pause", "resume"] {
        let res = operator
            .client
            .post_form(&format!("/admin/monitors/{id}/{verb}"), &[])
            .await;
        assert_eq!(res.status(), 403, "an operator reads only");
        let res = admin
            .client
            .post_form(&format!("/admin/monitors/{id}/{verb}"), &[])
            .await;
        assert_eq!(res.status(), 303);
    }
    assert_eq!(app.audit_count("monitor.paused").await, 1);
    assert_eq!(app.audit_count("monitor.resumed").await, 1);
    let row = sqlx::query("SELECT name, retries, paused, state FROM monitors WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("monitor");
    assert_eq!(row.get::<String, _>("name"), "応答確認（本番）");
    assert_eq!(row.get::<i64, _>("retries"), 3);
    assert_eq!(row.get::<i64, _>("paused"), 0);
    assert_eq!(row.get::<String, _>("state"), "pending");

    // The operator reads the list without the buttons; the dashboard card links to it.
    let list = text(&operator.client, "/admin/monitors").await;
    assert!(list.contains("応答確認（本番）") && !list.contains("/pause\""));
    assert!(
        text(&operator.client, "/")
            .await
            .contains("href=\"/admin/monitors\"")
    );
    // A facility user sees neither the pages nor the cards.
    let dash = text(&user.client, "/").await;
    assert!(!dash.contains("/admin/monitors"));
    assert_eq!(user.client.get("/admin/monitors").await.status(), 403);
}

#[tokio::test]
async fn r22_1_the_demo_network_has_monitors_with_a_day_of_results_an_outage_and_its_acknowledged_alert()
 {
    let app = spawn_app().await;
    rainbownet::demo::prepare(app.db(), app.now())
        .await
        .expect("demo");
    assert_eq!(app.count("monitors").await, 3);
    assert_eq!(app.count("monitor_results").await, 288 + 96);
    assert_eq!(app.count("mail_outbox").await, 0, "the demo mails nobody");
    let acked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM monitor_alerts WHERE kind = 'down' AND acknowledged_at IS NOT NULL",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(acked, 1);
    let reader = app.login_as(Role::ServiceOperator).await;
    let app_monitor: i64 =
        sqlx::query_scalar("SELECT monitor_id FROM monitor_alerts WHERE kind = 'down'")
            .fetch_one(app.db().pool())
            .await
            .expect("the outage's monitor");
    let page = text(&reader.client, &format!("/admin/monitors/{app_monitor}")).await;
    assert_eq!(
        page.matches("class=\"down\"").count(),
        1,
        "the outage is marked"
    );
    assert!(
        page.contains("96 / 96 スロット"),
        "every slot of the day was checked"
    );
    let list = text(&reader.client, "/admin/monitors").await;
    assert!(list.contains("一時停止中"));
}
