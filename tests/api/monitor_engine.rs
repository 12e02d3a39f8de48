//! R22.1 the monitoring engine: checks against services on this machine (a local HTTP service
//! that is stopped and started, ping, TCP connects, HTTPS with a certificate made at test time),
//! the slot scheduler driven by the test clock (coverage, missed slots, restarts, no slot twice),
//! the CLI, and the hourly rollup with its retention.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rainbownet::audit::Actor;
use rainbownet::monitor::model::{Kind, Name, NewMonitor, Target};
use rainbownet::monitor::{
    Monitor, MonitorSettings, repo, rollup, scheduler, service, slot_coverage, uptime,
};
use sqlx::Row;

use crate::helpers::*;

/// A small HTTP service on 127.0.0.1 that a test stops and starts on the same port.
pub(crate) struct Service {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
    healthy: Arc<AtomicBool>,
}

fn router(healthy: Arc<AtomicBool>) -> Router {
    Router::new()
        .route(
            "/health",
            get(move || {
                let ok = healthy.load(Ordering::Relaxed);
                async move {
                    let body = if ok {
                        r#"{"status":"ok","db":{"ok":true},"message":"稼働中"}"#
                    } else {
                        r#"{"status":"ng","db":{"ok":false},"message":"点検中"}"#
                    };
                    ([("content-type", "application/json")], body)
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "遅い応答"
            }),
        )
        .route("/text", get(|| async { "<html>稼働中</html>" }))
}

impl Service {
    pub(crate) async fn start() -> Service {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut s = Service {
            port,
            task: None,
            healthy: Arc::new(AtomicBool::new(true)),
        };
        s.serve(listener);
        s
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = router(Arc::clone(&self.healthy));
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub(crate) async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the same port again");
        self.serve(listener);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port on 127.0.0.1 where nothing listens.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr").port()
}

pub(crate) fn monitor(kind: Kind, name: &str, target: &str) -> NewMonitor {
    let mut m = NewMonitor::with_defaults(
        Name::parse(name).expect("name"),
        kind,
        Target::parse(kind, target).expect("target"),
        &MonitorSettings::default(),
    );
    m.interval_seconds = 60;
    m.timeout_ms = 3_000;
    m
}

pub(crate) async fn add(app: &TestApp, m: &NewMonitor) -> Monitor {
    let id = service::add(app.db(), m, &Actor::cli(), app.now())
        .await
        .expect("monitor added");
    find(app, id).await
}

async fn find(app: &TestApp, id: i64) -> Monitor {
    let mut conn = app.db().pool().acquire().await.expect("conn");
    repo::find(&mut conn, id)
        .await
        .expect("find")
        .expect("monitor")
}

/// Runs the scheduler at the instant slot `k` of `m` is due.
pub(crate) async fn run_slot(app: &TestApp, m: &Monitor, k: i64) -> scheduler::Summary {
    app.clock.set(m.cadence().due(k));
    scheduler::run_due(&app.state, app.now())
        .await
        .expect("run_due")
}

async fn outcomes(app: &TestApp, id: i64) -> Vec<String> {
    sqlx::query("SELECT outcome FROM monitor_results WHERE monitor_id = $1 ORDER BY slot_at")
        .bind(id)
        .fetch_all(app.db().pool())
        .await
        .expect("results")
        .iter()
        .map(|r| r.try_get::<String, _>("outcome").expect("outcome"))
        .collect()
}

async fn last_detail(app: &TestApp, id: i64) -> String {
    sqlx::query(
        "SELECT COALESCE(detail, '') AS d FROM monitor_results WHERE monitor_id = $1
         ORDER BY slot_at DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("result")
    .try_get("d")
    .expect("detail")
}

async fn alert_kinds(app: &TestApp, id: i64) -> Vec<String> {
    sqlx::query("SELECT kind FROM monitor_alerts WHERE monitor_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(app.db().pool())
        .await
        .expect("alerts")
        .iter()
        .map(|r| r.try_get::<String, _>("kind").expect("kind"))
        .collect()
}

#[tokio::test]
async fn r22_1_a_stopped_service_goes_down_after_the_retries_and_up_again_when_it_returns() {
    let app = spawn_app().await;
    let mut svc = Service::start().await;
    let mut new = monitor(Kind::Http, "地域連携サーバ", &svc.url("/health"));
    new.retries = 2;
    let m = add(&app, &new).await;

    run_slot(&app, &m, 0).await;
    assert_eq!(
        find(&app, m.id).await.state,
        "up",
        "pending → up on the first success"
    );
    assert!(
        alert_kinds(&app, m.id).await.is_empty(),
        "the first up is no alert"
    );

    svc.stop();
    run_slot(&app, &m, 1).await;
    let after_one = find(&app, m.id).await;
    assert_eq!(
        (after_one.state.as_str(), after_one.failures_in_row),
        ("up", 1)
    );
    assert!(
        alert_kinds(&app, m.id).await.is_empty(),
        "one failure is not yet down"
    );

    let s = run_slot(&app, &m, 2).await;
    assert_eq!(find(&app, m.id).await.state, "down");
    assert_eq!(alert_kinds(&app, m.id).await, ["down"]);
    assert!(
        s.changes.iter().any(|c| c.contains("停止")),
        "{:?}",
        s.changes
    );
    assert!(last_detail(&app, m.id).await.contains("接続できません"));
    assert_eq!(app.audit_count("monitor.down").await, 1);

    run_slot(&app, &m, 3).await;
    assert_eq!(
        alert_kinds(&app, m.id).await,
        ["down"],
        "still down: no second alert"
    );

    svc.restart().await;
    run_slot(&app, &m, 4).await;
    assert_eq!(find(&app, m.id).await.state, "up");
    assert_eq!(alert_kinds(&app, m.id).await, ["down", "up"]);
    assert_eq!(
        outcomes(&app, m.id).await,
        ["up", "down", "down", "down", "up"]
    );
    // Audit events for the changes of state only (first up, down, recovered), not per check.
    assert_eq!(app.audit_count("monitor.up").await, 2);
    assert_eq!(app.audit_count("monitor.down").await, 1);
}

#[tokio::test]
async fn r22_1_http_checks_judge_status_keyword_json_value_and_response_time() {
    let app = spawn_app().await;
    let svc = Service::start().await;
    let closed = closed_port().await;
    let cases: Vec<(&str, NewMonitor, bool, &str)> = vec![
        (
            "keyword",
            {
                let mut m = monitor(Kind::Http, "k1", &svc.url("/text"));
                m.keyword = Some("稼働中".into());
                m
            },
            true,
            "",
        ),
        (
            "keyword missing",
            {
                let mut m = monitor(Kind::Http, "k2", &svc.url("/text"));
                m.keyword = Some("停止中".into());
                m
            },
            false,
            "「停止中」が含まれていません",
        ),
        (
            "json",
            {
                let mut m = monitor(Kind::Http, "j1", &svc.url("/health"));
                m.json_pointer = Some("/db/ok".into());
                m.json_value = Some("true".into());
                m
            },
            true,
            "",
        ),
        (
            "json other",
            {
                let mut m = monitor(Kind::Http, "j2", &svc.url("/health"));
                m.json_pointer = Some("/status".into());
                m.json_value = Some("ng".into());
                m
            },
            false,
            "/status",
        ),
        (
            "json absent",
            {
                let mut m = monitor(Kind::Http, "j3", &svc.url("/health"));
                m.json_pointer = Some("/nope".into());
                m.json_value = Some("1".into());
                m
            },
            false,
            "/nope がありません",
        ),
        (
            "404",
            monitor(Kind::Http, "s1", &svc.url("/missing")),
            false,
            "ステータス 404",
        ),
        (
            "404 expected",
            {
                let mut m = monitor(Kind::Http, "s2", &svc.url("/missing"));
                m.expect_status = Some(404);
                m
            },
            true,
            "",
        ),
        (
            "200 not 204",
            {
                let mut m = monitor(Kind::Http, "s3", &svc.url("/text"));
                m.expect_status = Some(204);
                m
            },
            false,
            "期待値 204",
        ),
        (
            "slow",
            {
                let mut m = monitor(Kind::Http, "t1", &svc.url("/slow"));
                m.max_response_ms = Some(100);
                m
            },
            false,
            "上限 100 ミリ秒",
        ),
        (
            "slow but fine",
            {
                let mut m = monitor(Kind::Http, "t2", &svc.url("/slow"));
                m.max_response_ms = Some(2_000);
                m
            },
            true,
            "",
        ),
        (
            "timeout",
            {
                let mut m = monitor(Kind::Http, "t3", &svc.url("/slow"));
                m.timeout_ms = 150;
                m
            },
            false,
            "150 ミリ秒以内に応答がありません",
        ),
        (
            "refused",
            monitor(Kind::Http, "c1", &format!("http://127.0.0.1:{closed}/")),
            false,
            "接続できません",
        ),
    ];
    let mut ids = Vec::new();
    for (label, mut m, up, detail) in cases {
        m.retries = 1;
        ids.push((label, add(&app, &m).await.id, up, detail));
    }
    // Every check's offset lies in the first three quarters of the minute.
    app.advance_minutes(1);
    let s = scheduler::run_due(
        &app.state,
        app.now().minus(jiff::SignedDuration::from_secs(14)),
    )
    .await
    .expect("run");
    assert_eq!(s.checked, ids.len());
    for (label, id, up, detail) in ids {
        let got = outcomes(&app, id).await;
        assert_eq!(got, [if up { "up" } else { "down" }], "{label}");
        let d = last_detail(&app, id).await;
        assert!(d.contains(detail), "{label}: {d}");
        if !up {
            assert_eq!(alert_kinds(&app, id).await, ["down"], "{label}: retries 1");
        }
    }
}

#[tokio::test]
async fn r22_1_ping_reaches_this_machine_by_icmp_or_by_the_noted_tcp_fallback() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().expect("port").to_string();
    let m = add(&app, &{
        let mut m = monitor(Kind::Ping, "ループバック", &format!("127.0.0.1:{port}"));
        m.retries = 1;
        m
    })
    .await;
    run_slot(&app, &m, 0).await;
    let after = find(&app, m.id).await;
    assert_eq!(outcomes(&app, m.id).await, ["up"]);
    assert_eq!(after.state, "up");
    let icmp =
        rainbownet::monitor::check::Checker::new(&MonitorSettings::default()).icmp_available();
    if icmp {
        assert_eq!(after.note, None, "ICMP echo needs no note");
    } else {
        assert!(
            after
                .note
                .as_deref()
                .is_some_and(|n| n.contains("TCP 接続")),
            "{:?}",
            after.note
        );
    }
}

#[tokio::test]
async fn r22_1_without_icmp_a_tcp_connect_stands_in_with_a_note_and_a_closed_port_is_down() {
    let app = spawn_app_with(|s| {
        s.sections
            .insert("monitor".into(), serde_json::json!({ "icmp": false }));
    })
    .await;
    let port = app.address.rsplit(':').next().expect("port").to_string();
    let closed = closed_port().await;
    let mut open = monitor(Kind::Ping, "開いている", &format!("127.0.0.1:{port}"));
    open.retries = 1;
    let mut shut = monitor(Kind::Ping, "閉じている", &format!("127.0.0.1:{closed}"));
    shut.retries = 1;
    let open = add(&app, &open).await;
    let shut = add(&app, &shut).await;
    app.advance_minutes(1);
    scheduler::run_due(
        &app.state,
        app.now().minus(jiff::SignedDuration::from_secs(14)),
    )
    .await
    .expect("run");
    let (open, shut) = (find(&app, open.id).await, find(&app, shut.id).await);
    assert_eq!((open.state.as_str(), shut.state.as_str()), ("up", "down"));
    for m in [&open, &shut] {
        let note = m.note.clone().unwrap_or_default();
        assert!(note.contains("ICMP ではなく TCP 接続"), "{note}");
    }
    assert!(last_detail(&app, shut.id).await.contains("拒否"));
    assert_eq!(alert_kinds(&app, shut.id).await, ["down"]);
}

#[tokio::test]
async fn r22_1_slot_coverage_counts_the_slots_run_and_records_the_skipped_ones_missed() {
    let app = spawn_app_with(|s| {
        s.sections
            .insert("monitor".into(), serde_json::json!({ "icmp": false }));
    })
    .await;
    let port = app.address.rsplit(':').next().expect("port").to_string();
    let m = add(
        &app,
        &monitor(Kind::Ping, "coverage", &format!("127.0.0.1:{port}")),
    )
    .await;
    let c = m.cadence();
    for k in [0, 1, 2, 5, 6, 9] {
        run_slot(&app, &m, k).await;
    }
    assert_eq!(
        outcomes(&app, m.id).await,
        [
            "up", "up", "up", "missed", "missed", "up", "up", "missed", "missed", "up"
        ]
    );
    let mut conn = app.db().pool().acquire().await.expect("conn");
    let from = m.created_at;
    assert_eq!(
        slot_coverage(&mut conn, m.id, from, c.start(10))
            .await
            .expect("coverage"),
        (6, 10)
    );
    // Two more slots pass with the engine stopped: expected, not checked, before any record.
    assert_eq!(
        slot_coverage(&mut conn, m.id, from, c.start(12))
            .await
            .expect("coverage"),
        (6, 12)
    );
    assert_eq!(
        rainbownet::monitor::kind_coverage(&mut conn, Kind::Ping, from, c.start(12))
            .await
            .expect("kind coverage"),
        (6, 12)
    );
    assert_eq!(
        rainbownet::monitor::kind_coverage(&mut conn, Kind::Http, from, c.start(12))
            .await
            .expect("kind coverage"),
        (0, 0)
    );
    let u = uptime(&mut conn, m.id, from, c.start(10))
        .await
        .expect("uptime");
    assert_eq!((u.slots, u.up, u.down, u.missed), (10, 6, 0, 4));
    drop(conn);

    // A slot is handed out once: a second claim at the same instant gets nothing.
    app.clock.set(c.due(12));
    let first = scheduler::claim_due(&app.state, app.now(), false)
        .await
        .expect("claim");
    assert_eq!((first.claims.len(), first.missed), (1, 2));
    let again = scheduler::claim_due(&app.state, app.now(), false)
        .await
        .expect("claim");
    assert!(again.claims.is_empty(), "the slot is not handed out twice");
    // Its check never came back (the process stopped): the next run records it missed.
    run_slot(&app, &m, 13).await;
    let got = outcomes(&app, m.id).await;
    assert_eq!(&got[10..], ["missed", "missed", "missed", "up"]);
}

#[tokio::test]
async fn r22_1_a_second_application_on_the_same_database_continues_the_slots() {
    let app = spawn_app_with(|s| {
        s.sections
            .insert("monitor".into(), serde_json::json!({ "icmp": false }));
    })
    .await;
    let port = app.address.rsplit(':').next().expect("port").to_string();
    let m = add(
        &app,
        &monitor(Kind::Ping, "restart", &format!("127.0.0.1:{port}")),
    )
    .await;
    run_slot(&app, &m, 0).await;
    run_slot(&app, &m, 1).await;

    let url = app.database_url.clone();
    let dir = app.dir.path().to_path_buf();
    let second = spawn_app_with(move |s| {
        s.database.url = url;
        s.paths.data_dir = dir;
        s.sections
            .insert("monitor".into(), serde_json::json!({ "icmp": false }));
    })
    .await;
    let m2 = find(&second, m.id).await;
    assert_eq!(
        m2.last_slot_at,
        Some(m.cadence().start(1)),
        "the state is in the database"
    );
    run_slot(&second, &m2, 4).await;
    assert_eq!(
        outcomes(&second, m.id).await,
        ["up", "up", "missed", "missed", "up"]
    );
    let mut conn = second.db().pool().acquire().await.expect("conn");
    assert_eq!(
        slot_coverage(&mut conn, m.id, m.created_at, m.cadence().start(5))
            .await
            .expect("coverage"),
        (3, 5)
    );
}

// The CLI runs as a child process while this test's runtime serves the HTTP service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r22_1_the_cli_adds_lists_and_runs_every_monitor_once() {
    let app = spawn_app().await;
    let mut svc = Service::start().await;
    let out = app.cli(&[
        "monitor",
        "add",
        "--name",
        "ポータル",
        "--http",
        &svc.url("/text"),
        "--interval",
        "15m",
        "--keyword",
        "稼働中",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("監視を登録しました"));
    let bad = app.cli(&[
        "monitor",
        "add",
        "--name",
        "x",
        "--http",
        "ftp://x",
        "--interval",
        "5m",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("http:// か https://"));
    let bad = app.cli(&[
        "monitor",
        "add",
        "--name",
        "x",
        "--ping",
        "127.0.0.1",
        "--interval",
        "5",
    ]);
    assert!(!bad.status.success(), "an interval needs its unit");

    let list = String::from_utf8_lossy(&app.cli(&["monitor", "list"]).stdout).to_string();
    let url = svc.url("/text");
    assert_eq!(list.trim(), format!("1\tポータル\thttp\t{url}\tpending"));

    let run = app.cli(&["monitor", "run", "--once"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let list = String::from_utf8_lossy(&app.cli(&["monitor", "list"]).stdout).to_string();
    assert!(
        list.trim().ends_with("\tup"),
        "{list} {} {}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(app.count("monitor_results").await, 1);

    svc.stop();
    let closed = closed_port().await;
    let out = app.cli(&[
        "monitor",
        "add",
        "--name",
        "閉じた口",
        "--http",
        &format!("http://127.0.0.1:{closed}/"),
        "--retries",
        "1",
        "--interval",
        "5m",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = app.cli(&["monitor", "run", "--once"]);
    assert_eq!(run.status.code(), Some(1), "a monitor is down: exit 1");
    let text = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(text.contains("閉じた口\tdown"), "{text}");
    let list = String::from_utf8_lossy(&app.cli(&["monitor", "list"]).stdout).to_string();
    assert!(list.contains("閉じた口\thttp"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("2\t") && l.ends_with("\tdown")),
        "{list}"
    );
    assert_eq!(alert_kinds(&app, 2).await, ["down"]);
}

#[tokio::test]
async fn r22_1_the_rollup_aggregates_hours_and_days_and_deletes_raw_results_only_after() {
    let app = spawn_app_with(|s| {
        s.sections.insert(
            "monitor".into(),
            serde_json::json!({ "hourly_keep_days": 30 }),
        );
    })
    .await;
    let now = app.now();
    let start = rollup::day_of(now.minus(jiff::SignedDuration::from_hours(24 * 100)));
    app.clock.set(start);
    let mut new = monitor(Kind::Ping, "集計", "192.0.2.1");
    new.interval_seconds = 3600;
    let m = add(&app, &new).await;
    app.clock.set(now);
    // One slot an hour for 100 days, written straight into the results.
    let hours = (now.millis() - start.millis()) / 3_600_000;
    let mut tx = app.db().begin().await.expect("tx");
    for k in 0..hours {
        let outcome = match k % 10 {
            3 => "down",
            7 => "missed",
            _ => "up",
        };
        let ms = (outcome != "missed").then_some(10 + k % 5);
        sqlx::query(
            "INSERT INTO monitor_results (monitor_id, slot_at, checked_at, outcome, response_ms)
             VALUES ($1, $2, $2, $3, $4)",
        )
        .bind(m.id)
        .bind(start.plus(jiff::SignedDuration::from_hours(k)))
        .bind(outcome)
        .bind(ms)
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    let mut conn = app.db().pool().acquire().await.expect("conn");
    let before = uptime(&mut conn, m.id, start, now).await.expect("uptime");
    assert_eq!(before.slots, hours);
    drop(conn);

    rollup::run(&app.state, now).await.expect("rollup");

    let sums = sqlx::query(
        "SELECT period, CAST(SUM(slots) AS BIGINT) AS slots, CAST(SUM(up) AS BIGINT) AS up,
             CAST(SUM(down) AS BIGINT) AS down, CAST(SUM(missed) AS BIGINT) AS missed,
             COUNT(*) AS n
         FROM monitor_aggregates WHERE monitor_id = $1 GROUP BY period ORDER BY period",
    )
    .bind(m.id)
    .fetch_all(app.db().pool())
    .await
    .expect("aggregates");
    let day = &sums[0];
    assert_eq!(day.try_get::<String, _>("period").expect("p"), "day");
    let got: (i64, i64, i64, i64) = (
        day.try_get("slots").expect("s"),
        day.try_get("up").expect("u"),
        day.try_get("down").expect("d"),
        day.try_get("missed").expect("m"),
    );
    assert_eq!(
        got,
        (before.slots, before.up, before.down, before.missed),
        "days hold every slot"
    );
    let hourly: i64 = sums[1].try_get("n").expect("n");
    assert!(
        (29 * 24..=31 * 24).contains(&hourly),
        "hours older than 30 days deleted: {hourly}"
    );

    let cutoff = rollup::day_of(now.minus(jiff::SignedDuration::from_hours(24 * 90)));
    let old: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM monitor_results WHERE monitor_id = $1 AND slot_at < $2",
    )
    .bind(m.id)
    .bind(cutoff)
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(old, 0, "raw results older than 90 days are deleted");
    let kept = app.count("monitor_results").await;
    assert!(kept > 89 * 24 && kept < hours, "{kept}");

    let mut conn = app.db().pool().acquire().await.expect("conn");
    let after = uptime(&mut conn, m.id, start, now).await.expect("uptime");
    assert_eq!(
        (after.slots, after.up, after.down, after.missed),
        (before.slots, before.up, before.down, before.missed),
        "a year's uptime reads the same from raw results and daily aggregates"
    );
    assert_eq!(
        after
            .avg_ms
            .map(|v| (v - before.avg_ms.unwrap_or(0)).abs() <= 1),
        Some(true)
    );

    // A second run changes nothing.
    rollup::run(&app.state, now).await.expect("rollup again");
    let again = uptime(&mut conn, m.id, start, now).await.expect("uptime");
    assert_eq!(again, after);
}

#[tokio::test]
async fn r22_1_https_checks_read_the_days_left_on_the_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "20",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let port = closed_port().await;
    let script = format!(
        "import http.server, ssl\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\n\
         \x20   def log_message(self, *a): pass\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain('{}', '{}')\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         s.serve_forever()\n",
        cert.display(),
        key.display()
    );
    let server = KillOnDrop(
        std::process::Command::new("python3")
            .args(["-c", &script])
            .spawn()
            .expect("python3"),
    );
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ca = cert.display().to_string();
    let app = spawn_app_with(move |s| {
        s.sections
            .insert("monitor".into(), serde_json::json!({ "ca_file": ca }));
    })
    .await;
    let url = format!("https://127.0.0.1:{port}/");
    let mut enough = monitor(Kind::Http, "残り十分", &url);
    enough.cert_min_days = Some(10);
    let mut short = monitor(Kind::Http, "残り不足", &url);
    short.cert_min_days = Some(30);
    short.retries = 1;
    let (enough, short) = (add(&app, &enough).await, add(&app, &short).await);
    app.advance_minutes(1);
    scheduler::run_due(
        &app.state,
        app.now().minus(jiff::SignedDuration::from_secs(14)),
    )
    .await
    .expect("run");
    let days: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT cert_days_left FROM monitor_results ORDER BY monitor_id")
            .fetch_all(app.db().pool())
            .await
            .expect("days");
    assert_eq!(days.len(), 2);
    assert!(days.iter().all(|d| matches!(d, Some(19 | 20))), "{days:?}");
    assert_eq!(outcomes(&app, enough.id).await, ["up"]);
    assert_eq!(outcomes(&app, short.id).await, ["down"]);
    assert!(last_detail(&app, short.id).await.contains("下限 30 日"));

    // Without the CA the certificate is not trusted: down, saying why.
    let plain = spawn_app().await;
    let mut m = monitor(Kind::Http, "未知の CA", &url);
    m.retries = 1;
    let m = add(&plain, &m).await;
    plain.advance_minutes(1);
    scheduler::run_due(
        &plain.state,
        plain.now().minus(jiff::SignedDuration::from_secs(14)),
    )
    .await
    .expect("run");
    assert_eq!(outcomes(&plain, m.id).await, ["down"]);
    let d = last_detail(&plain, m.id).await;
    assert!(d.contains("証明書"), "{d}");
    drop(server);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
