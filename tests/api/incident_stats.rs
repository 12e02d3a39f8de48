//! Issue 13, R17: the incident statistics equal hand-computed values and download as
//! CSV and Excel.

use std::io::Read;

use rainbownet::auth::Role;
use rainbownet::incidents::Severity;

use crate::helpers::*;
use crate::incident_contacts::*;

async fn set_times(
    app: &TestApp,
    id: i64,
    occurred: Option<&str>,
    recovered: Option<&str>,
    cause: &str,
) {
    sqlx::query(
        "UPDATE incidents SET occurred_at = $1, recovered_at = $2, cause_category = $3 WHERE id = $4",
    )
    .bind(occurred.map(jst))
    .bind(recovered.map(jst))
    .bind(cause)
    .bind(id)
    .execute(app.db().pool())
    .await
    .expect("times");
}

fn xlsx_part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut out = String::new();
    zip.by_name(name)
        .expect("part")
        .read_to_string(&mut out)
        .expect("xml");
    out
}

#[tokio::test]
async fn r17_statistics_equal_hand_computed_values_and_download_as_csv_and_xlsx() {
    let app = app_at("2026-03-20T09:00:00+09:00").await;
    let ops = app.login_as(Role::OpsManager).await;
    // a: January, critical, hardware; 09:00 → 11:00 (120 min); portal notice 30 min after discovery.
    let a = incident(
        &app,
        "a",
        jst("2026-01-10T10:00:00+09:00"),
        Severity::Critical,
    )
    .await;
    set_times(
        &app,
        a,
        Some("2026-01-10T09:00:00+09:00"),
        Some("2026-01-10T11:00:00+09:00"),
        "hardware",
    )
    .await;
    sqlx::query(
        "INSERT INTO incident_notices (incident_id, announcement_id, posted_at, posted_by, updated_at)
         VALUES ($1, 0, $2, 'test', $2)",
    )
    .bind(a)
    .bind(jst("2026-01-10T10:30:00+09:00"))
    .execute(app.db().pool())
    .await
    .expect("notice");
    // b: February, major, network; no 発生日時: discovery 08:00 → 08:30 (30 min); a call
    // recorded 伝達済 60 min after discovery (an earlier 不在 does not count).
    let b = incident(&app, "b", jst("2026-02-05T08:00:00+09:00"), Severity::Major).await;
    set_times(&app, b, None, Some("2026-02-05T08:30:00+09:00"), "network").await;
    for (result, at) in [
        ("absent", "2026-02-05T08:10:00+09:00"),
        ("delivered", "2026-02-05T09:00:00+09:00"),
    ] {
        sqlx::query(
            "INSERT INTO incident_notifications (incident_id, contact_id, means, result, reached_at,
                 recorded_by, recorded_at)
             VALUES ($1, 1, 'phone', $2, $3, 'test', $3)",
        )
        .bind(b)
        .bind(result)
        .bind(jst(at))
        .execute(app.db().pool())
        .await
        .expect("notification");
    }
    // c: February, minor, network; 11:00 → 17:00 (360 min); affects users, nobody told.
    let c = incident(&app, "c", jst("2026-02-20T12:00:00+09:00"), Severity::Minor).await;
    set_times(
        &app,
        c,
        Some("2026-02-20T11:00:00+09:00"),
        Some("2026-02-20T17:00:00+09:00"),
        "network",
    )
    .await;
    // d: March, low, cause unknown, not recovered; a mail sent 10 min after discovery.
    let d = incident(&app, "d", jst("2026-03-01T09:00:00+09:00"), Severity::Low).await;
    let mail: i64 = sqlx::query_scalar(
        "INSERT INTO mail_outbox (source, source_ref, recipients, subject, body, state,
             next_attempt_at, created_at, sent_at)
         VALUES ('incident.contact', 'x', 'a@example.jp', 's', 'b', 'sent', $1, $1, $2) RETURNING id",
    )
    .bind(jst("2026-03-01T09:01:00+09:00"))
    .bind(jst("2026-03-01T09:10:00+09:00"))
    .fetch_one(app.db().pool())
    .await
    .expect("mail");
    sqlx::query(
        "INSERT INTO incident_notifications (incident_id, contact_id, means, mail_id, result,
             reached_at, recorded_by, recorded_at)
         VALUES ($1, 1, 'mail', $2, 'queued', $3, 'test', $3)",
    )
    .bind(d)
    .bind(mail)
    .bind(jst("2026-03-01T09:01:00+09:00"))
    .execute(app.db().pool())
    .await
    .expect("mail notification");
    // e: the last evening of 2025 in Japan: outside the period.
    let e = incident(
        &app,
        "e",
        jst("2025-12-31T23:00:00+09:00"),
        Severity::Critical,
    )
    .await;
    set_times(&app, e, None, Some("2026-01-01T01:00:00+09:00"), "human").await;

    let q = "from=2026-01&to=2026-03";
    let page = body(&ops.client, &format!("/incidents/stats?{q}")).await;
    assert_eq!(strong(&page, "stats-total"), 4);
    assert!(page.contains("<td>2026-01</td><td>1</td>"));
    assert!(page.contains("<td>2026-02</td><td>2</td>"));
    assert!(page.contains("<td>2026-03</td><td>1</td>"));
    // Recovery 120, 30, 360 min: mean 170, median 120, p90 360.
    assert!(
        page.contains("<td>3</td><td>2時間50分</td><td>2時間00分</td><td>6時間00分</td>"),
        "{page}"
    );
    // First notice 30, 60, 10 min: mean 33 min 20 s, median 30, p90 60.
    assert!(page.contains("<td>3</td><td>0時間33分</td><td>0時間30分</td><td>1時間00分</td>"));

    let res = ops
        .client
        .get(&format!("/incidents/stats/export.csv?{q}"))
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.expect("csv");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "BOM for Excel");
    let csv = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let value = |a: &str, b: &str| {
        rows.iter()
            .find(|r| r[0] == a && r[1] == b)
            .map(|r| r[2].to_string())
            .unwrap_or_else(|| panic!("{a}/{b} in {csv}"))
    };
    assert_eq!(value("件数", "合計"), "4");
    assert_eq!(value("月別", "2026-02"), "2");
    assert_eq!(value("重大度別", "重大（全面停止）"), "1");
    assert_eq!(value("原因別", "ネットワーク"), "2");
    assert_eq!(value("原因別", "ハードウェア"), "1");
    assert_eq!(value("原因別", "不明"), "1");
    assert_eq!(value("原因別", "人為的"), "0", "e is outside the period");
    assert_eq!(value("復旧までの時間（分）", "平均"), "170.0");
    assert_eq!(value("復旧までの時間（分）", "中央値"), "120.0");
    assert_eq!(value("復旧までの時間（分）", "90パーセンタイル"), "360.0");
    assert_eq!(
        value("発見から利用者への初回連絡まで（分）", "平均"),
        "33.3"
    );
    assert_eq!(
        value("発見から利用者への初回連絡まで（分）", "中央値"),
        "30.0"
    );
    assert_eq!(
        value("発見から利用者への初回連絡まで（分）", "90パーセンタイル"),
        "60.0"
    );
    assert_eq!(value("利用者への連絡", "影響ありで未連絡"), "1");

    let res = ops
        .client
        .get(&format!("/incidents/stats/export.xlsx?{q}"))
        .await;
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.expect("xlsx");
    let strings = xlsx_part(&bytes, "xl/sharedStrings.xml");
    assert!(strings.contains("障害統計（2026-01 〜 2026-03）"));
    let summary = xlsx_part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(summary.contains("<v>170</v>"), "the mean as a number");
    let list = xlsx_part(&bytes, "xl/worksheets/sheet2.xml");
    assert_eq!(list.matches("<row ").count(), 5, "header + four incidents");
    // Issue 15: 発見日時 is a real date cell (Japan time), the columns have widths.
    crate::logs::assert_date_cell_and_widths(&bytes, "障害一覧", 1, 2);
    // A bad period is a clear error, not a crash.
    let res = ops
        .client
        .get("/incidents/stats/export.csv?from=2026-13&to=2026-01")
        .await;
    assert_eq!(res.status(), 400);
    let res = ops
        .client
        .get("/incidents/stats?from=2026-03&to=2026-01")
        .await;
    assert_eq!(res.status(), 422);
}
