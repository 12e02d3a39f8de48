//! Issue 12, "How it will be checked", end to end (R22.1): a local HTTP service is stopped and
//! started; the engine turns the monitor down after the retries, the alert's mail goes through
//! the outbox's job to a REAL SMTP server on loopback with a readable Japanese subject, the
//! recovery is recorded and mailed; during an approved maintenance window the same outage is
//! recorded but nobody is mailed.

use rainbownet::audit::Actor;
use rainbownet::monitor::alerts;
use rainbownet::monitor::model::Kind;
use rainbownet::portal::{self, NewWindow, WindowKind};

use crate::helpers::*;
use crate::mail::{Sink, mail_settings, run_job, smtp_available};
use crate::monitor_engine::{Service, add, monitor, run_slot};

async fn alert_mails(app: &TestApp) -> Vec<(String, Option<i64>, Option<i64>)> {
    sqlx::query_as("SELECT kind, suppressed_by, mail_id FROM monitor_alerts ORDER BY id")
        .fetch_all(app.db().pool())
        .await
        .expect("alerts")
}

#[tokio::test]
async fn r22_1_a_stopped_service_alerts_the_on_call_list_by_real_mail_and_a_window_suppresses_it() {
    if !smtp_available() {
        return;
    }
    let sink = Sink::start(0, &[]);
    let app = spawn_app_with(|s| mail_settings(s, sink.port)).await;
    let actor = Actor::system("test");
    alerts::add_oncall(
        app.db(),
        "当番 一郎",
        "oncall@example.jp",
        &actor,
        app.now(),
    )
    .await
    .expect("on-call");
    let mut svc = Service::start().await;
    let mut new = monitor(Kind::Http, "地域連携サーバ", &svc.url("/health"));
    new.retries = 2;
    let m = add(&app, &new).await;

    run_slot(&app, &m, 0).await;
    svc.stop();
    run_slot(&app, &m, 1).await;
    assert!(
        alert_mails(&app).await.is_empty(),
        "one failure: no alert yet"
    );
    run_slot(&app, &m, 2).await;
    run_job(&app).await;
    let got = sink.messages();
    assert_eq!(got.len(), 1, "the down alert was mailed once");
    let subject = got[0]["subject"].as_str().unwrap_or_default();
    assert!(
        subject.contains("監視異常") && subject.contains("地域連携サーバ"),
        "a readable Japanese subject: {subject}"
    );
    assert_eq!(got[0]["to"], serde_json::json!(["oncall@example.jp"]));
    assert!(
        got[0]["body"]
            .as_str()
            .unwrap_or_default()
            .contains(&svc.url("/health")),
        "the body names the target: {}",
        got[0]["body"]
    );

    svc.restart().await;
    run_slot(&app, &m, 3).await;
    run_job(&app).await;
    let got = sink.messages();
    assert_eq!(got.len(), 2, "the recovery was mailed too");
    assert!(
        got[1]["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("監視復旧"),
        "{}",
        got[1]["subject"]
    );
    let kinds: Vec<String> = alert_mails(&app).await.into_iter().map(|a| a.0).collect();
    assert_eq!(kinds, ["down", "up"]);

    // An approved maintenance window covering the next outage: recorded, not mailed.
    let starts = m.cadence().due(4).minus(jiff::SignedDuration::from_mins(1));
    let mut tx = app.db().begin().await.expect("tx");
    let window = portal::publish_approved_window(
        &mut tx,
        &NewWindow {
            kind: WindowKind::Maintenance,
            title: "連携サーバの保守",
            starts_at: starts,
            ends_at: starts.plus(jiff::SignedDuration::from_hours(2)),
            services: "地域連携",
            reason: "機器の交換",
            source: "portal",
        },
        "city",
        &actor,
        app.now(),
    )
    .await
    .expect("window");
    tx.commit().await.expect("commit");
    svc.stop();
    run_slot(&app, &m, 4).await;
    run_slot(&app, &m, 5).await;
    run_job(&app).await;
    let alerts = alert_mails(&app).await;
    assert_eq!(
        alerts.len(),
        3,
        "the outage in the window is still an alert"
    );
    assert_eq!(alerts[2].0, "down");
    assert_eq!(alerts[2].1, Some(window), "suppressed by the window");
    assert_eq!(alerts[2].2, None, "and not mailed");
    assert_eq!(
        sink.messages().len(),
        2,
        "nobody was mailed during the window"
    );
}
