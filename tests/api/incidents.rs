//! R17.1 — incidents: the record of 別紙3 (created by hand, from an inquiry, from an alert), the
//! status flow with its timeline and audit, corrections, attachments, links and the printed
//! 障害報告書.

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::monitor::alerts::{self, AlertKind};
use rainbownet::monitor::model::{Name, Target};
use rainbownet::monitor::{Kind, NewMonitor};

use crate::helpers::*;
use crate::multipart::{self, Part, referral};
use crate::records::walk;

/// pdftotext's view of a PDF, without spaces (labels such as 経　過 are spaced in the form).
pub(crate) fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, bytes).expect("write pdf");
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn pdf_pages(bytes: &[u8]) -> usize {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, bytes).expect("write pdf");
    let out = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("page count")
}

pub(crate) const FIELDS: &[(&str, &str)] = &[
    ("title", "文書送信の停止"),
    ("severity", "major"),
    ("discovered_at", "2026-01-10T09:15"),
    ("discovered_where", "データセンター 文書サーバ"),
    ("occurred_at", "2026-01-10T09:00"),
    ("description", "文書サーバが応答しなくなりました。"),
    ("impact", "全施設で文書の送信ができません。"),
    ("affects_users", "1"),
    ("affected_services", "文書送信サービス"),
];

/// A system administrator and the incident they created by hand (its id).
pub(crate) async fn admin_with_incident(app: &TestApp) -> (TestUser, i64) {
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin.client.post_form("/incidents", FIELDS).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.expect("body"));
    let to = location(&res);
    let id = to
        .trim_start_matches("/incidents/")
        .parse()
        .expect("incident id");
    (admin, id)
}

pub(crate) async fn revision(app: &TestApp, id: i64) -> String {
    let r: i64 = sqlx::query_scalar("SELECT revision FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("revision");
    r.to_string()
}

async fn set_status(admin: &TestUser, app: &TestApp, id: i64, to: &str, reason: &str) -> u16 {
    let rev = revision(app, id).await;
    admin
        .client
        .post_form(
            &format!("/incidents/{id}/status"),
            &[("status", to), ("reason", reason), ("revision", &rev)],
        )
        .await
        .status()
        .as_u16()
}

async fn timeline(app: &TestApp, id: i64) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, text FROM incident_timeline WHERE incident_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(app.db().pool())
        .await
        .expect("timeline")
}

async fn upload(
    user: &TestUser,
    id: i64,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let path = format!("/incidents/{id}/attachments");
    let parts = [
        Part::Text("note", "資料"),
        Part::File {
            field: "file",
            name,
            content_type,
            bytes,
        },
    ];
    multipart::send(&user.client, &path, &parts).await
}

#[tokio::test]
async fn r17_1_an_incident_entered_by_hand_keeps_every_field_and_opens_its_timeline() {
    let app = spawn_app().await;
    let (admin, id) = admin_with_incident(&app).await;
    let page = page_text(&admin.client, &format!("/incidents/{id}")).await;
    for (_, v) in FIELDS.iter().filter(|(k, _)| *k != "severity") {
        if v.len() > 2 {
            assert!(
                page.contains(v) || page.contains(&v.replace('T', " ")),
                "{v}"
            );
        }
    }
    assert!(page.contains("調査中") && page.contains("高（一部停止）"));
    assert_eq!(app.audit_count("incident.created").await, 1);
    assert_eq!(timeline(&app, id).await.len(), 1);
    // Missing required fields re-render the form with the errors.
    let res = admin
        .client
        .post_form("/incidents", &[("title", ""), ("severity", "major")])
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("件名を入力してください。") && body.contains("発見箇所を入力してください。")
    );
    // The list shows it, open ones first.
    let list = page_text(&admin.client, "/incidents?status=investigating").await;
    assert!(list.contains("文書送信の停止"));
    let none = page_text(&admin.client, "/incidents?status=reported").await;
    assert!(!none.contains("文書送信の停止"));
}

#[tokio::test]
async fn r17_1_an_incident_drafted_from_a_helpdesk_inquiry_is_prefilled_and_linked_both_ways() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "電話"),
                ("category", "システム利用"),
                ("requester_name", "清須 花子"),
                ("facility_name", "清須診療所"),
                ("subject", "画像が表示されない"),
                ("content", "今朝から画像が表示されません。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let inquiry = app.count("helpdesk_inquiries").await;
    let q = inquiry.to_string();
    // The inquiry's page offers the action.
    let ip = page_text(&admin.client, &format!("/helpdesk/{q}")).await;
    assert!(ip.contains(&format!("/incidents/new?inquiry={q}")));
    let form = page_text(&admin.client, &format!("/incidents/new?inquiry={q}")).await;
    assert!(form.contains("画像が表示されない") && form.contains("今朝から画像が表示されません。"));
    assert!(form.contains("清須 花子"));
    let res = admin
        .client
        .post_form(
            "/incidents",
            &[
                ("title", "画像が表示されない"),
                ("severity", "minor"),
                ("discovered_at", "2026-01-10T09:15"),
                ("discovered_where", "ヘルプデスクへの問い合わせ"),
                ("description", "今朝から画像が表示されません。"),
                ("inquiry", &q),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = location(&res).trim_start_matches("/incidents/").to_string();
    let linked: Option<i64> =
        sqlx::query_scalar("SELECT incident_id FROM helpdesk_inquiries WHERE id = $1")
            .bind(inquiry)
            .fetch_one(app.db().pool())
            .await
            .expect("inquiry");
    assert_eq!(linked.map(|v| v.to_string()), Some(id.clone()));
    let page = page_text(&admin.client, &format!("/incidents/{id}")).await;
    assert!(page.contains(&format!("問い合わせ #{q}")) && page.contains("問い合わせ #1 から作成"));
    let ip = page_text(&admin.client, &format!("/helpdesk/{q}")).await;
    assert!(ip.contains(&format!("href=\"/incidents/{id}\"")));
    assert_eq!(app.audit_count("incident.linked").await, 1);
    // An inquiry already linked is not drafted twice.
    let again = admin
        .client
        .get(&format!("/incidents/new?inquiry={q}"))
        .await;
    assert_eq!(again.status(), 409);
    // The helpdesk's own field must name an incident that exists.
    let res = admin
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "電話"),
                ("category", "システム利用"),
                ("requester_name", "西 一郎"),
                ("subject", "同じ障害"),
                ("content", "同じく表示されません。"),
                ("incident_id", "999"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("その番号の障害は登録されていません。")
    );
}

#[tokio::test]
async fn r17_1_an_incident_drafted_from_a_monitoring_alert_carries_the_monitor_times_and_results() {
    let app = spawn_app().await;
    let actor = Actor::system("test");
    let m = NewMonitor {
        name: Name::parse("文書サーバ応答").expect("name"),
        kind: Kind::Http,
        target: Target::parse(Kind::Http, "http://127.0.0.1:9/health").expect("target"),
        interval_seconds: 900,
        timeout_ms: 5000,
        retries: 2,
        expect_status: None,
        keyword: None,
        json_pointer: None,
        json_value: None,
        max_response_ms: None,
        cert_min_days: None,
        asset_ref: None,
    };
    let now = app.now();
    let mid = rainbownet::monitor::service::add(app.db(), &m, &actor, now)
        .await
        .expect("monitor");
    for (i, outcome, code) in [(3, "up", 200), (2, "down", 503), (1, "down", 503)] {
        let at = now.minus(jiff::SignedDuration::from_mins(15 * i));
        sqlx::query(
            "INSERT INTO monitor_results (monitor_id, slot_at, checked_at, outcome, response_ms,
                 status_code, detail) VALUES ($1, $2, $2, $3, 20, $4, 'HTTP 応答')",
        )
        .bind(mid)
        .bind(at)
        .bind(outcome)
        .bind(code)
        .execute(app.db().pool())
        .await
        .expect("result");
    }
    let monitor =
        rainbownet::monitor::repo::find(&mut app.db().pool().acquire().await.expect("conn"), mid)
            .await
            .expect("find")
            .expect("monitor");
    let mut tx = app.db().begin().await.expect("tx");
    let alert = alerts::raise(
        &mut tx,
        &monitor,
        AlertKind::Down,
        "HTTP 503 が続きました",
        now,
    )
    .await
    .expect("alert");
    tx.commit().await.expect("commit");

    let admin = app.login_as(Role::SystemAdmin).await;
    let monitor_page = format!("/admin/monitors/{mid}");
    let before = page_text(&admin.client, &monitor_page).await;
    assert!(
        before.contains(&format!("/incidents/new?alert={alert}")),
        "the monitor's page offers 障害として登録 for its down alert"
    );
    let form = page_text(&admin.client, &format!("/incidents/new?alert={alert}")).await;
    assert!(form.contains("文書サーバ応答") && form.contains("http://127.0.0.1:9/health"));
    assert!(
        form.contains("直近の監視結果") && form.contains("HTTP 503"),
        "{form}"
    );
    let occurred = now.minus(jiff::SignedDuration::from_mins(30));
    let local = |t: rainbownet::db::Timestamp| {
        t.as_jiff()
            .to_zoned(rainbownet::db::tokyo())
            .strftime("%Y-%m-%dT%H:%M")
            .to_string()
    };
    assert!(
        form.contains(&local(occurred)),
        "the first failing slot is 発生日時"
    );
    assert!(form.contains(&local(now)), "the alert's time is 発見日時");
    let res = admin
        .client
        .post_form(
            "/incidents",
            &[
                ("title", "文書サーバ応答 の停止"),
                ("severity", "major"),
                ("discovered_at", &local(now)),
                ("discovered_where", "稼働監視"),
                ("description", "HTTP 503"),
                ("alert", &alert.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = location(&res).trim_start_matches("/incidents/").to_string();
    let linked: Option<i64> =
        sqlx::query_scalar("SELECT incident_id FROM monitor_alerts WHERE id = $1")
            .bind(alert)
            .fetch_one(app.db().pool())
            .await
            .expect("alert");
    assert_eq!(linked.map(|v| v.to_string()), Some(id.clone()));
    let page = page_text(&admin.client, &format!("/incidents/{id}")).await;
    assert!(
        page.contains(&format!("監視アラート #{alert}")) && page.contains("HTTP 503 が続きました")
    );
    let after = page_text(&admin.client, &monitor_page).await;
    assert!(
        after.contains(&format!("href=\"/incidents/{id}\""))
            && !after.contains("/incidents/new?alert="),
        "the monitor's page links the alert to its incident"
    );
}

#[tokio::test]
async fn r17_1_the_status_flow_is_recorded_in_the_timeline_and_the_audit_and_goes_back_one_step_with_a_reason()
 {
    let app = spawn_app().await;
    let (admin, id) = admin_with_incident(&app).await;
    assert_eq!(
        set_status(&admin, &app, id, "cause_identified", "").await,
        303
    );
    assert_eq!(set_status(&admin, &app, id, "recovering", "").await, 303);
    assert_eq!(set_status(&admin, &app, id, "monitoring", "").await, 303);
    // Back one step needs a reason.
    assert_eq!(set_status(&admin, &app, id, "recovering", "").await, 422);
    assert_eq!(
        set_status(&admin, &app, id, "recovering", "監視中に再発").await,
        303
    );
    // More than one step back is refused.
    assert_eq!(
        set_status(&admin, &app, id, "investigating", "やり直し").await,
        422
    );
    // 報告済 only after 復旧, and only with 原因 and 処置.
    assert_eq!(set_status(&admin, &app, id, "reported", "").await, 422);
    assert_eq!(set_status(&admin, &app, id, "recovered", "").await, 303);
    let rev = revision(&app, id).await;
    let res = admin
        .client
        .post_form(
            &format!("/incidents/{id}/status"),
            &[("status", "reported"), ("revision", &rev)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("原因・処置を記入してください")
    );
    let status_entries: Vec<String> = timeline(&app, id)
        .await
        .into_iter()
        .filter(|(k, _)| k == "status")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(status_entries.len(), 6, "{status_entries:?}");
    assert!(
        status_entries
            .iter()
            .any(|t| t.contains("理由：監視中に再発"))
    );
    assert_eq!(app.audit_count("incident.status_changed").await, 5);
    let recovered: Option<String> =
        sqlx::query_scalar("SELECT recovered_at FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_one(app.db().pool())
            .await
            .expect("row");
    assert!(recovered.is_some(), "復旧 sets 復旧日時");
    // A system operator may add a note but not move the status.
    let op = app.login_as(Role::SystemOperator).await;
    let res = op
        .client
        .post_form(
            &format!("/incidents/{id}/timeline"),
            &[("text", "施設へ電話で確認")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let rev = revision(&app, id).await;
    let res = op
        .client
        .post_form(
            &format!("/incidents/{id}/status"),
            &[("status", "reported"), ("revision", &rev)],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.audit_count("incident.note_added").await, 1);
}

#[tokio::test]
async fn r17_1_a_correction_keeps_the_old_value_in_the_timeline_and_a_stale_form_gets_409() {
    let app = spawn_app().await;
    let (admin, id) = admin_with_incident(&app).await;
    let edit = page_text(&admin.client, &format!("/incidents/{id}/edit")).await;
    let rev = attr(
        &edit[edit.find("name=\"revision\"").expect("revision field")..],
        "value",
    )
    .expect("revision value");
    let mut fields: Vec<(&str, &str)> = FIELDS.to_vec();
    fields.retain(|(k, _)| *k != "discovered_where");
    fields.push(("discovered_where", "データセンター 文書サーバ2号機"));
    fields.push(("cause", "ディスク障害"));
    fields.push(("revision", &rev));
    let res = admin
        .client
        .post_form(&format!("/incidents/{id}"), &fields)
        .await;
    assert_eq!(res.status(), 303);
    let corrections: Vec<String> = timeline(&app, id)
        .await
        .into_iter()
        .filter(|(k, _)| k == "correction")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(corrections.len(), 2, "{corrections:?}");
    assert!(
        corrections.contains(
            &"発見箇所を訂正：「データセンター 文書サーバ」 → 「データセンター 文書サーバ2号機」"
                .to_string()
        )
    );
    assert!(corrections.contains(&"原因を訂正：（未記入） → 「ディスク障害」".to_string()));
    assert_eq!(app.audit_count("incident.corrected").await, 1);
    // The same form again (its revision is now stale): 409 and nothing written.
    let res = admin
        .client
        .post_form(&format!("/incidents/{id}"), &fields)
        .await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("他の人が更新しました")
    );
    let rev_now = revision(&app, id).await;
    assert_eq!(rev_now, (rev.parse::<i64>().expect("int") + 1).to_string());
    // A stale status form too.
    let res = admin
        .client
        .post_form(
            &format!("/incidents/{id}/status"),
            &[("status", "cause_identified"), ("revision", &rev)],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.audit_count("incident.corrected").await, 1);
}

#[tokio::test]
async fn r17_1_the_cause_category_of_the_form_is_a_correction_is_printed_with_the_cause_and_counted()
 {
    let app = spawn_app().await;
    let (admin, id) = admin_with_incident(&app).await;
    let category = |id: i64| {
        let pool = app.db().pool().clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT cause_category FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("category")
        }
    };
    assert_eq!(category(id).await, "unknown", "not given: 不明");
    // Entered when the incident is created.
    let mut fields: Vec<(&str, &str)> = FIELDS.to_vec();
    fields.push(("cause_category", "hardware"));
    let res = admin.client.post_form("/incidents", &fields).await;
    assert_eq!(res.status(), 303);
    let other: i64 = location(&res)
        .trim_start_matches("/incidents/")
        .parse()
        .expect("id");
    assert_eq!(category(other).await, "hardware");
    let mut bad: Vec<(&str, &str)> = FIELDS.to_vec();
    bad.push(("cause_category", "weather"));
    let res = admin.client.post_form("/incidents", &bad).await;
    assert_eq!(res.status(), 422, "an unknown category is refused");

    // Corrected: a correction entry with the old and new label.
    let rev = revision(&app, id).await;
    let mut fields: Vec<(&str, &str)> = FIELDS.to_vec();
    fields.push(("cause", "回線事業者の設備故障"));
    fields.push(("cause_category", "network"));
    fields.push(("revision", &rev));
    let res = admin
        .client
        .post_form(&format!("/incidents/{id}"), &fields)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(category(id).await, "network");
    assert!(timeline(&app, id).await.contains(&(
        "correction".to_string(),
        "原因区分を訂正：「不明」 → 「ネットワーク」".to_string()
    )));
    // A form without the field keeps it.
    let rev = revision(&app, id).await;
    let mut fields: Vec<(&str, &str)> = FIELDS.to_vec();
    fields.push(("cause", "回線事業者の設備故障"));
    fields.push(("remarks", "回線事業者に報告を依頼"));
    fields.push(("revision", &rev));
    let res = admin
        .client
        .post_form(&format!("/incidents/{id}"), &fields)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(category(id).await, "network");
    let page = page_text(&admin.client, &format!("/incidents/{id}")).await;
    assert!(page.contains("<th scope=\"row\">原因区分</th><td class=\"pre\">ネットワーク</td>"));

    // The report's 原因 starts with the category.
    let pdf = admin
        .client
        .get(&format!("/incidents/{id}/report.pdf?kind=draft"))
        .await
        .bytes()
        .await
        .expect("pdf");
    assert!(pdf_text(&pdf).contains("（ネットワーク）回線事業者の設備故障"));

    // The statistics count what the form entered.
    let stats = page_text(&admin.client, "/incidents/stats?from=2026-01&to=2026-01").await;
    let by_cause = &stats[stats.find("id=\"by-cause\"").expect("by cause")..];
    assert!(
        by_cause.contains("<td>ネットワーク</td><td>1</td>"),
        "{by_cause}"
    );
    assert!(by_cause.contains("<td>ハードウェア</td><td>1</td>"));
    assert!(by_cause.contains("<td>不明</td><td>0</td>"));
}

#[tokio::test]
async fn r17_1_attachments_are_downloads_of_allowed_types_and_survive_the_records_purge() {
    let (net, doc) = referral().await;
    let app = &net.app;
    let (admin, id) = admin_with_incident(app).await;
    // Every blob the document and the consent made is also an incident attachment.
    let blobs = walk(&app.dir.path().join("blobs"));
    assert!(!blobs.is_empty());
    for b in &blobs {
        let bytes = std::fs::read(b).expect("blob");
        assert_eq!(
            upload(&admin, id, "log.pdf", "application/pdf", &bytes)
                .await
                .status(),
            303
        );
    }
    let res = upload(
        &admin,
        id,
        "x.html",
        "text/html",
        b"<script>alert(1)</script>",
    )
    .await;
    assert_eq!(res.status(), 303);
    let html_n: i64 =
        sqlx::query_scalar("SELECT id FROM incident_attachments WHERE file_name = 'x.html'")
            .fetch_one(app.db().pool())
            .await
            .expect("row");
    let res = admin
        .client
        .get(&format!("/incidents/{id}/attachments/{html_n}"))
        .await;
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(
        h["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    let res = admin
        .client
        .get(&format!("/incidents/{id}/attachments/1"))
        .await;
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(
        app.audit_count("incident.attachment_added").await,
        blobs.len() as i64 + 1
    );
    // Each download is a read in the audit log (two so far); a refused one is not.
    assert_eq!(app.audit_count("incident.attachment_read").await, 2);
    // An attachment of another incident is not reachable under this one.
    let res = admin
        .client
        .get(&format!("/incidents/{}/attachments/{html_n}", id + 1))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.audit_count("incident.attachment_read").await, 2);

    // The document expires and is purged; the blobs the incident refers to stay.
    let before = walk(&app.dir.path().join("blobs")).len();
    app.advance_minutes(370 * 24 * 60);
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin
        .client
        .post_form(
            "/admin/records/purge",
            &[("ids", &doc.to_string()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("documents").await, 0, "the document was purged");
    assert_eq!(
        walk(&app.dir.path().join("blobs")).len(),
        before,
        "no blob was removed"
    );
    for n in 1..=blobs.len() {
        let res = admin
            .client
            .get(&format!("/incidents/{id}/attachments/{n}"))
            .await;
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn r17_1_the_report_pdf_has_every_field_of_the_form_a_draft_mark_and_the_final_only_when_reported()
 {
    let app = spawn_app_with(|s| {
        s.sections.insert(
            "incidents".into(),
            serde_json::json!({"report_to": "清須市 サービス運用者 御中", "contractor": "テスト受託株式会社"}),
        );
    })
    .await;
    let (admin, id) = admin_with_incident(&app).await;
    let long = "長い経過の記録です。".repeat(60);
    for _ in 0..6 {
        let res = admin
            .client
            .post_form(&format!("/incidents/{id}/timeline"), &[("text", &long)])
            .await;
        assert_eq!(res.status(), 303);
    }
    let res = admin
        .client
        .get(&format!("/incidents/{id}/report.pdf?kind=final"))
        .await;
    assert_eq!(res.status(), 409, "no final version before 報告済");
    let res = admin
        .client
        .get(&format!("/incidents/{id}/report.pdf?kind=draft"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let draft = res.bytes().await.expect("pdf").to_vec();
    let text = pdf_text(&draft);
    for label in [
        "発見日時",
        "発見箇所",
        "発生日時",
        "障害内容",
        "影響範囲",
        "復旧日時",
        "経過",
        "原因",
        "処置",
        "備考",
        "添付資料",
    ] {
        assert!(text.contains(label), "{label} in {text}");
    }
    assert!(text.contains("清須市サービス運用者御中") && text.contains("テスト受託株式会社"));
    assert!(text.contains("令和") && text.contains("障害報告書"));
    assert!(text.contains("ご査収を宜しくお願いいたします。") && text.contains("敬具"));
    assert!(text.contains("案") && text.contains("DRAFT"));
    assert!(text.contains("データセンター文書サーバ"));
    assert!(
        pdf_pages(&draft) >= 2,
        "the long 経過 continues on a further page"
    );

    // Run it to 報告済 and print the final version.
    let edit = page_text(&admin.client, &format!("/incidents/{id}/edit")).await;
    let rev = attr(
        &edit[edit.find("name=\"revision\"").expect("revision")..],
        "value",
    )
    .expect("rev");
    let mut fields: Vec<(&str, &str)> = FIELDS.to_vec();
    fields.extend([
        ("cause", "電源装置の故障"),
        ("action_taken", "電源装置を交換"),
        ("revision", &rev),
    ]);
    assert_eq!(
        admin
            .client
            .post_form(&format!("/incidents/{id}"), &fields)
            .await
            .status(),
        303
    );
    assert_eq!(set_status(&admin, &app, id, "recovered", "").await, 303);
    assert_eq!(set_status(&admin, &app, id, "reported", "").await, 303);
    let res = admin
        .client
        .get(&format!("/incidents/{id}/report.pdf?kind=final"))
        .await;
    assert_eq!(res.status(), 200);
    let final_text = pdf_text(&res.bytes().await.expect("pdf"));
    assert!(
        !final_text.contains('案') && !final_text.contains("DRAFT"),
        "{final_text}"
    );
    assert!(final_text.contains("電源装置の故障") && final_text.contains("電源装置を交換"));
    assert!(final_text.contains("令和"));
    let prints: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, sha256 FROM incident_prints WHERE incident_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(app.db().pool())
    .await
    .expect("prints");
    assert_eq!(prints.len(), 2, "the refused final was not recorded");
    assert_eq!(prints[0].0, "draft");
    assert_eq!(prints[1].0, "final");
    assert_eq!(prints[0].1.len(), 64);
    assert_eq!(app.audit_count("incident.report_printed").await, 2);
    // The service operator (who receives the report) may print it too.
    let city = app.login_as(Role::ServiceOperator).await;
    let res = city
        .client
        .get(&format!("/incidents/{id}/report.pdf?kind=final"))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn r17_1_facility_roles_and_readers_are_refused_where_they_should_be() {
    let app = spawn_app().await;
    let (_admin, id) = admin_with_incident(&app).await;
    let path = format!("/incidents/{id}");
    let fm = app.login_as(Role::FacilityManager).await;
    assert_eq!(fm.client.get(&path).await.status(), 403);
    assert_eq!(fm.client.get("/incidents").await.status(), 403);
    let user = app.login_as(Role::User).await;
    assert_eq!(
        user.client
            .get(&format!("{path}/report.pdf"))
            .await
            .status(),
        403
    );
    let city = app.login_as(Role::ServiceOperator).await;
    assert_eq!(city.client.get(&path).await.status(), 200);
    let res = city
        .client
        .post_form(&format!("{path}/timeline"), &[("text", "x")])
        .await;
    assert_eq!(
        res.status(),
        403,
        "the city reads, it does not write the record"
    );
    assert_eq!(city.client.get("/incidents/new").await.status(), 403);
    // The dashboard card for the city links to the list.
    let dash = page_text(&city.client, "/").await;
    assert!(dash.contains("対応中の障害") && dash.contains("href=\"/incidents\""));
    let ops = app.login_as(Role::OpsManager).await;
    let dash = page_text(&ops.client, "/").await;
    assert!(!dash.contains("対応中の障害"));
    // A missing incident is a 404.
    assert_eq!(city.client.get("/incidents/9999").await.status(), 404);
}

#[tokio::test]
async fn r17_1_the_demo_network_has_a_closed_incident_from_an_alert_and_an_open_one() {
    let app = spawn_app().await;
    rainbownet::demo::prepare(app.db(), app.now())
        .await
        .expect("demo");
    let rows: Vec<(String, String, Option<i64>)> =
        sqlx::query_as("SELECT status, source, source_ref FROM incidents ORDER BY id")
            .fetch_all(app.db().pool())
            .await
            .expect("incidents");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "reported");
    assert_eq!(rows[0].1, "alert");
    assert_eq!(rows[1].0, "investigating");
    assert_eq!(app.count("incident_vendor_contacts").await, 1);
    let kind: String = sqlx::query_scalar("SELECT kind FROM incident_prints")
        .fetch_one(app.db().pool())
        .await
        .expect("the final report was printed");
    assert_eq!(kind, "final");
    let linked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM monitor_alerts WHERE incident_id = 1")
            .fetch_one(app.db().pool())
            .await
            .expect("alert");
    assert_eq!(linked, 1);
    // R17.2 on the closed one: the notice posted then resolved, the tree of three levels worked
    // through (a phone call among the contacts), and no mail queued to the demo's addresses.
    let (category, resolved): (String, Option<String>) = sqlx::query_as(
        "SELECT i.cause_category, n.resolved_at FROM incidents i
         JOIN incident_notices n ON n.incident_id = i.id WHERE i.id = 1",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("the closed incident's notice");
    assert_eq!(category, "software");
    assert!(resolved.is_some(), "the notice is marked resolved");
    let levels: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT level FROM incident_contacts ORDER BY level")
            .fetch_all(app.db().pool())
            .await
            .expect("tree");
    assert_eq!(levels, vec![1, 2, 3]);
    let phone: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM incident_notifications
         WHERE incident_id = 1 AND means = 'phone' AND result = 'delivered'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("contacts");
    assert_eq!(phone, 1);
    let incident_mails: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM incident_notifications WHERE mail_id IS NOT NULL")
            .fetch_one(app.db().pool())
            .await
            .expect("mails");
    assert_eq!(incident_mails, 0, "the demo queues no incident mail");
    // R17.3: the accepted report with one measure done and one open.
    let state: String =
        sqlx::query_scalar("SELECT state FROM incident_recurrence_reports WHERE incident_id = 1")
            .fetch_one(app.db().pool())
            .await
            .expect("report");
    assert_eq!(state, "accepted");
    let done: Vec<i64> = sqlx::query_scalar(
        "SELECT CASE WHEN done_at IS NULL THEN 0 ELSE 1 END FROM incident_measures ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("measures");
    assert_eq!(done, vec![1, 0]);
    // Everything of the demo happened before now.
    let last: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM incident_timeline WHERE at > $1 OR recorded_at > $1",
    )
    .bind(app.now())
    .fetch_one(app.db().pool())
    .await
    .expect("timeline");
    assert_eq!(last, 0, "no entry of the demo lies in the future");
}
