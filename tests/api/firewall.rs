//! R22.2 — the periodic check of the firewall access log: logs read from files and directories
//! (rotated files too, never twice), a weekly review naming the port scan and the brute force of
//! the supplied log, sign-off by a system administrator (audited, frozen), overdue reviews on
//! the dashboard, unreadable lines counted, the demo's sample review.

use std::io::Write;
use std::path::{Path, PathBuf};

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::db::Timestamp;
use rainbownet::firewall::{self, FirewallSettings};
use sqlx::Row;

use crate::helpers::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/firewall")
        .join(name)
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// Wednesday 25 November 2026, 09:00 Japan time: the week of 16–22 November has closed.
const AFTER_THE_WEEK: &str = "2026-11-25T00:00:00Z";
/// That week's start (Monday 16 November, 00:00 Japan time).
const WEEK_START: &str = "2026-11-15T15:00:00Z";

/// An app whose `[firewall] sources` is one directory (returned), empty.
async fn app_reading(dir: &Path) -> TestApp {
    let d = dir.display().to_string();
    let app = spawn_app_with(move |s| {
        s.set_section("firewall", &serde_json::json!({ "sources": [d] }));
    })
    .await;
    app.clock.set(ts(AFTER_THE_WEEK));
    app
}

fn settings(app: &TestApp) -> std::sync::Arc<FirewallSettings> {
    app.state.section::<FirewallSettings>()
}

async fn ingest(app: &TestApp) -> firewall::ingest::IngestSummary {
    firewall::ingest::ingest(app.db(), &settings(app), app.now())
        .await
        .expect("ingest")
}

/// Packets counted: (per hour, per minute).
async fn counted(app: &TestApp) -> (i64, i64) {
    let sum = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(COALESCE(SUM(hits), 0) AS BIGINT) FROM {table}"
        )))
        .fetch_one(app.db().pool())
        .await
        .expect("sum")
    };
    (sum("firewall_hourly").await, sum("firewall_minutes").await)
}

/// An app that has read both fixtures and made the review of their week.
async fn reviewed() -> (TestApp, tempfile::TempDir, i64) {
    let logs = tempfile::tempdir().expect("dir");
    for f in ["kern.log", "edge-syslog.log"] {
        std::fs::copy(fixture(f), logs.path().join(f)).expect("copy fixture");
    }
    let app = app_reading(logs.path()).await;
    let msg = firewall::review_job(&app.state, app.now())
        .await
        .expect("review job");
    assert!(msg.contains("1 件"), "{msg}");
    let id: i64 = sqlx::query_scalar("SELECT id FROM firewall_reviews WHERE period_start = $1")
        .bind(ts(WEEK_START))
        .fetch_one(app.db().pool())
        .await
        .expect("the week's review");
    (app, logs, id)
}

/// The text of an element's id, roughly: the part of the page from `id="…"` to its table's end.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} on the page"));
    let rest = &html[start..];
    let end = rest.find("</table>").unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test]
async fn r22_2_the_supplied_log_yields_a_weekly_review_naming_the_port_scan_and_the_ssh_brute_force()
 {
    let (app, _logs, id) = reviewed().await;
    assert_eq!(
        app.count("firewall_reviews").await,
        1,
        "only the closed week"
    );
    assert_eq!(app.audit_count("firewall.review_generated").await, 1);
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin
        .client
        .get(&format!("/admin/firewall/reviews/{id}"))
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("body");
    assert!(
        html.contains("2026-11-16 00:00 〜 2026-11-22 23:59"),
        "{html}"
    );
    assert!(html.contains(">45 件<"), "allowed: 35 + 10");
    assert!(
        html.contains(">113 件<"),
        "denied: 21 + 40 + 1 (IPv6) + 50 + 1"
    );
    let scans = section(&html, "review-scans");
    assert!(scans.contains("203.0.113.45"), "{scans}");
    assert!(scans.contains("1–40（40 ポート）"), "{scans}");
    assert!(scans.contains("2026-11-18 02:00:00"), "first time: {scans}");
    assert!(scans.contains("2026-11-18 02:01:18"), "last time: {scans}");
    assert!(
        !scans.contains("198.51.100.23"),
        "the brute force is not a scan"
    );
    let bursts = section(&html, "review-bursts");
    assert!(bursts.contains("198.51.100.23"), "{bursts}");
    assert!(bursts.contains("<td>22</td>"), "{bursts}");
    assert!(bursts.contains("50（50／0）"), "{bursts}");
    assert!(
        !bursts.contains("203.0.113.45"),
        "one packet per port is no burst"
    );
    let internal = section(&html, "review-new-internal");
    assert!(internal.contains("192.168.10.77"), "a new internal host");
    let top = section(&html, "review-top-sources");
    assert!(top.contains("198.51.100.23") && top.contains("203.0.113.45"));
    assert!(
        section(&html, "review-top-sources").contains("2001:db8::66"),
        "the IPv6 source, written short"
    );
    let ports = section(&html, "review-top-ports");
    assert!(ports.contains("<td>22</td>"), "{ports}");
    // The CLI prints the same review (the binary, against this database).
    let out = app.cli(&["firewall", "review", "--period", "2026-11-18"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("allowed 45\tdenied 113\tscans 1\tbursts 1"),
        "{text}"
    );
}

#[tokio::test]
async fn r22_2_a_rotated_log_is_continued_and_never_read_twice() {
    let logs = tempfile::tempdir().expect("dir");
    let app = app_reading(logs.path()).await;
    let text = std::fs::read_to_string(fixture("kern.log")).expect("fixture");
    let lines: Vec<&str> = text.lines().collect();
    let live = logs.path().join("kern.log");
    let write = |path: &Path, ls: &[&str], append: bool| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(path)
            .expect("open");
        for l in ls {
            writeln!(f, "{l}").expect("write");
        }
    };
    write(&live, &lines[..60], false);
    let first = ingest(&app).await;
    assert_eq!(first.lines, 60);
    let after_first = counted(&app).await;
    // The rest arrives, then logrotate renames the file and a new one begins.
    write(&live, &lines[60..], true);
    std::fs::rename(&live, logs.path().join("kern.log.1")).expect("rotate");
    let fresh = [
        "Nov 23 10:00:00 fw01 kernel: [UFW ALLOW] IN=eth0 OUT= SRC=198.51.100.200 DST=192.0.2.10 PROTO=TCP SPT=1 DPT=443",
        "Nov 23 10:00:01 fw01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.201 DST=192.0.2.10 PROTO=TCP SPT=1 DPT=23",
    ];
    write(&live, &fresh, false);
    let second = ingest(&app).await;
    assert_eq!(
        second.lines,
        41 + 2,
        "the rest of the old file and the new one"
    );
    let all = counted(&app).await;
    assert_eq!(
        all.0,
        97 + 2,
        "every packet once: kern.log's 97 and the new file's 2"
    );
    assert_eq!(all.0, all.1, "per hour and per minute agree");
    assert!(all.0 > after_first.0);
    // Nothing new: nothing read. Compressing the rotated file changes nothing either.
    let third = ingest(&app).await;
    assert_eq!((third.lines, counted(&app).await), (0, all));
    let old = std::fs::read(logs.path().join("kern.log.1")).expect("read");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(logs.path().join("kern.log.2.gz")).expect("create"),
        flate2::Compression::default(),
    );
    gz.write_all(&old).expect("gzip");
    gz.finish().expect("gzip");
    std::fs::remove_file(logs.path().join("kern.log.1")).expect("remove");
    let fourth = ingest(&app).await;
    assert_eq!((fourth.lines, counted(&app).await), (0, all), "{fourth:?}");
    assert_eq!(
        ingest(&app).await.lines,
        0,
        "the .gz is recognised unchanged"
    );
    // copytruncate: the content is copied away and the live file truncated; only new lines count.
    std::fs::copy(&live, logs.path().join("kern.log.1")).expect("copy");
    let later = "Nov 23 11:00:00 fw01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.202 DST=192.0.2.10 PROTO=UDP SPT=1 DPT=161";
    write(&live, &[later], false);
    let fifth = ingest(&app).await;
    assert_eq!(fifth.lines, 1, "{fifth:?}");
    assert_eq!(counted(&app).await.0, all.0 + 1);
    // The same lines read by a second runner at once are still counted once.
    write(&live, &fresh[1..], true);
    let s = settings(&app);
    let (a, b) = tokio::join!(
        firewall::ingest::ingest(app.db(), &s, app.now()),
        firewall::ingest::ingest(app.db(), &s, app.now())
    );
    assert_eq!(a.expect("a").lines + b.expect("b").lines, 1);
    assert_eq!(counted(&app).await.0, all.0 + 2);
    let unseen: i64 = sqlx::query("SELECT COUNT(*) AS n FROM firewall_files WHERE gz = 1")
        .fetch_one(app.db().pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n");
    assert_eq!(unseen, 1, "the compressed file is the rotated one's row");
}

#[tokio::test]
async fn r22_2_unreadable_lines_are_counted_not_fatal_and_shown() {
    let (app, _logs, _) = reviewed().await;
    let row = sqlx::query(
        "SELECT CAST(SUM(lines) AS BIGINT) AS lines, CAST(SUM(events) AS BIGINT) AS events, \
         CAST(SUM(other) AS BIGINT) AS other, CAST(SUM(errors) AS BIGINT) AS errors \
         FROM firewall_files",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("files");
    let n = |c: &str| row.try_get::<i64, _>(c).expect("column");
    assert_eq!(
        (n("lines"), n("events"), n("other"), n("errors")),
        (163, 158, 2, 3)
    );
    let admin = app.login_as(Role::SystemAdmin).await;
    let html = admin
        .client
        .get("/admin/firewall")
        .await
        .text()
        .await
        .expect("body");
    assert!(html.contains("id=\"firewall-errors\">3 行"), "{html}");
    assert!(
        html.contains("宛先ポートを読めません"),
        "the last bad line and why"
    );
    assert!(html.contains("kern.log") && html.contains("edge-syslog.log"));
    assert!(html.contains("確認待ち"), "the review is listed as waiting");
}

#[tokio::test]
async fn r22_2_a_system_administrator_signs_the_review_off_once_audited_and_others_cannot() {
    let (app, _logs, id) = reviewed().await;
    let path = format!("/admin/firewall/reviews/{id}");
    let sign = format!("{path}/sign");
    // The city reads the review but has no form and may not sign.
    let city = app.login_as(Role::ServiceOperator).await;
    let res = city.client.get(&path).await;
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.expect("body").contains("id=\"sign\""));
    let res = city.client.post_form(&sign, &[("remarks", "確認")]).await;
    assert_eq!(res.status(), 403);
    for role in [Role::SystemOperator, Role::OpsManager, Role::User] {
        let other = app.login_as(role).await;
        assert_eq!(other.client.get(&path).await.status(), 403, "{role:?}");
        let res = other.client.post_form(&sign, &[("remarks", "確認")]).await;
        assert_eq!(res.status(), 403, "{role:?}");
    }
    let admin = app.login_as(Role::SystemAdmin).await;
    // Findings need remarks.
    let res = admin.client.post_form(&sign, &[("remarks", "  ")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("備考に記入"));
    assert_eq!(app.audit_count("firewall.review_signed").await, 0);
    let remarks =
        "203.0.113.45 と 198.51.100.23 は遮断済み。192.168.10.77 は新しい検査端末と確認。";
    let res = admin.client.post_form(&sign, &[("remarks", remarks)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("firewall.review_signed").await, 1);
    let (who, details): (Option<i64>, String) = sqlx::query_as(
        "SELECT actor_account_id, details FROM audit_events WHERE action = 'firewall.review_signed'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("event");
    assert_eq!(who, Some(app.account_id(&admin.login_id).await));
    assert!(details.contains("遮断済み"), "{details}");
    let html = admin.client.get(&path).await.text().await.expect("body");
    let signed = &html[html.find("id=\"review-signoff\"").expect("sign-off shown")..];
    assert!(signed.contains(remarks));
    assert!(html.contains("確認済み") && !html.contains("id=\"sign\""));
    // Signed is frozen: no second sign-off, no regeneration.
    let res = admin
        .client
        .post_form(&sign, &[("remarks", "再確認")])
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.audit_count("firewall.review_signed").await, 1);
    let again = firewall::service::generate(
        app.db(),
        &settings(&app),
        ts(WEEK_START),
        true,
        &Actor::system("test"),
        app.now(),
    )
    .await;
    assert!(again.is_err(), "a signed review is not made again");
    assert_eq!(
        admin
            .client
            .post_form("/admin/firewall/reviews/999/sign", &[("remarks", "x")])
            .await
            .status(),
        404
    );
}

/// The firewall card on `role`'s dashboard, as "value / note", if any.
async fn card(app: &TestApp, role: Role) -> Option<String> {
    let who = app.login_as(role).await;
    let html = who.client.get("/").await.text().await.expect("body");
    let at = html.find("ファイアウォールログの確認")?;
    let rest = &html[at..];
    let end = rest.find("</a>").unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

#[tokio::test]
async fn r22_2_an_unsigned_review_is_flagged_overdue_after_the_grace_and_cleared_by_sign_off() {
    let logs = tempfile::tempdir().expect("dir");
    std::fs::copy(fixture("kern.log"), logs.path().join("kern.log")).expect("copy");
    let app = app_reading(logs.path()).await;
    // Monday 23 November, 09:00 Japan time: the week closed nine hours ago.
    app.clock.set(ts("2026-11-23T00:00:00Z"));
    firewall::review_job(&app.state, app.now())
        .await
        .expect("review job");
    let waiting = card(&app, Role::SystemAdmin).await.expect("admin card");
    assert!(waiting.contains("確認待ち 1 件"), "{waiting}");
    assert!(card(&app, Role::ServiceOperator).await.is_none());
    // Grace: three days after the end (Sunday 24:00) — Wednesday 24:00 Japan time.
    app.advance_minutes(2 * 24 * 60 + 14 * 60 + 59);
    assert!(
        card(&app, Role::SystemAdmin)
            .await
            .expect("card")
            .contains("確認待ち 1 件")
    );
    app.advance_minutes(2);
    let overdue = card(&app, Role::SystemAdmin).await.expect("card");
    assert!(overdue.contains("期限超過 1 件"), "{overdue}");
    let city = card(&app, Role::ServiceOperator).await.expect("city card");
    assert!(city.contains("期限超過 1 件"), "{city}");
    assert!(card(&app, Role::SystemOperator).await.is_none());
    let admin = app.login_as(Role::SystemAdmin).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM firewall_reviews")
        .fetch_one(app.db().pool())
        .await
        .expect("review");
    let list = admin
        .client
        .get("/admin/firewall")
        .await
        .text()
        .await
        .expect("body");
    assert!(list.contains("期限超過"));
    let res = admin
        .client
        .post_form(
            &format!("/admin/firewall/reviews/{id}/sign"),
            &[("remarks", "スキャン元を遮断しました。")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(card(&app, Role::ServiceOperator).await.is_none());
    let done = card(&app, Role::SystemAdmin).await.expect("card");
    assert!(done.contains("確認済み"), "{done}");
}

#[tokio::test]
async fn r22_2_the_demo_network_has_a_sample_log_and_an_unsigned_review() {
    let app = spawn_app().await;
    rainbownet::demo::prepare(app.db(), app.now())
        .await
        .expect("demo");
    assert_eq!(app.count("firewall_reviews").await, 1);
    let admin = app.login_as(Role::SystemAdmin).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM firewall_reviews")
        .fetch_one(app.db().pool())
        .await
        .expect("review");
    let html = admin
        .client
        .get(&format!("/admin/firewall/reviews/{id}"))
        .await
        .text()
        .await
        .expect("body");
    assert!(section(&html, "review-scans").contains("203.0.113.45"));
    assert!(section(&html, "review-bursts").contains("198.51.100.23"));
    assert!(html.contains("id=\"sign\""), "waiting for sign-off");
    let list = admin
        .client
        .get("/admin/firewall")
        .await
        .text()
        .await
        .expect("body");
    assert!(list.contains("デモ: kern.log"));
}
