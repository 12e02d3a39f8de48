//! Issue 13, R17.3: recurrence prevention — the report accepted by the service operator only,
//! its committee's minutes (kept by the records purge), and measures flagged past their due date.

use rainbownet::auth::Role;
use rainbownet::incidents::Severity;

use crate::helpers::*;
use crate::incident_contacts::*;
use crate::multipart::{self, Part};

async fn report_state(app: &TestApp, id: i64) -> String {
    text_of(
        app,
        "SELECT state FROM incident_recurrence_reports WHERE id = $1",
        id,
    )
    .await
}

async fn upload_minutes(c: &TestClient, report: i64, bytes: &[u8]) -> reqwest::Response {
    let path = format!("/incidents/recurrence/{report}/committee");
    let parts = [
        Part::Text("convened", "yes"),
        Part::Text("committee_on", "2026-05-20"),
        Part::File {
            field: "minutes",
            name: "minutes.pdf",
            content_type: "application/pdf",
            bytes,
        },
    ];
    multipart::send(c, &path, &parts).await
}

#[tokio::test]
async fn r17_3_the_recurrence_report_is_accepted_by_the_service_operator_only() {
    let app = app_at("2026-05-11T09:00:00+09:00").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let ops = app.login_as(Role::OpsManager).await;
    let committee = app.login_as(Role::Committee).await;
    let inc = incident(
        &app,
        "データセンター電源障害",
        app.now(),
        Severity::Critical,
    )
    .await;
    let res = admin
        .client
        .post_form(
            "/incidents/recurrence",
            &[
                ("incident_id", &inc.to_string()),
                ("title", "電源設備の二重化"),
                (
                    "body",
                    "無停電電源装置の増設は設備更新であり、システム管理業務では対応できません。",
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let report: i64 = location(&res)
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("report id");
    // A report for an incident that does not exist is a form error.
    let res = admin
        .client
        .post_form(
            "/incidents/recurrence",
            &[("incident_id", "999999"), ("title", "x"), ("body", "y")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = admin
        .client
        .post_form(
            &format!("/incidents/recurrence/{report}/measures"),
            &[
                ("description", "無停電電源装置の増設"),
                ("owner", "清須市 企画部"),
                ("due_on", "2026-09-30"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // The city cannot accept a draft.
    let res = city
        .client
        .post_form(&format!("/incidents/recurrence/{report}/accept"), &[])
        .await;
    assert_eq!(res.status(), 409);
    let res = admin
        .client
        .post_form(&format!("/incidents/recurrence/{report}/submit"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(report_state(&app, report).await, "submitted");
    // The dashboard tells the city.
    let dash = body(&city.client, "/").await;
    assert!(dash.contains("再発防止策の報告"), "{dash}");
    assert!(dash.contains("受理待ち 1 件"));
    // Other roles may not decide.
    for who in [&admin, &ops, &committee] {
        let res = who
            .client
            .post_form(&format!("/incidents/recurrence/{report}/accept"), &[])
            .await;
        assert_eq!(res.status(), 403);
    }
    // Returned with a comment (required), corrected, submitted again, accepted.
    let res = city
        .client
        .post_form(&format!("/incidents/recurrence/{report}/return"), &[])
        .await;
    assert_eq!(res.status(), 422);
    let res = city
        .client
        .post_form(
            &format!("/incidents/recurrence/{report}/return"),
            &[("comment", "費用の見込みを追記してください。")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(report_state(&app, report).await, "returned");
    let page = body(&admin.client, &format!("/incidents/recurrence/{report}")).await;
    assert!(page.contains("費用の見込みを追記してください。"));
    let res = admin
        .client
        .post_form(
            &format!("/incidents/recurrence/{report}"),
            &[
                ("title", "電源設備の二重化"),
                ("body", "無停電電源装置の増設（概算 300 万円）。"),
                ("revision", "3"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    admin
        .client
        .post_form(&format!("/incidents/recurrence/{report}/submit"), &[])
        .await;
    let res = city
        .client
        .post_form(&format!("/incidents/recurrence/{report}/accept"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(report_state(&app, report).await, "accepted");
    let page = body(
        &committee.client,
        &format!("/incidents/recurrence/{report}"),
    )
    .await;
    assert!(page.contains("受理済"));
    assert!(page.contains("概算 300 万円"));
    // An accepted report is not edited any more.
    let res = admin
        .client
        .post_form(
            &format!("/incidents/recurrence/{report}"),
            &[("title", "x"), ("body", "y"), ("revision", "5")],
        )
        .await;
    assert_eq!(res.status(), 409);

    // The extraordinary committee: its date and minutes (kept in the blob store).
    let pdf = b"%PDF-1.4\n% minutes of the extraordinary committee\n";
    let res = upload_minutes(&city.client, report, b"not a pdf").await;
    assert_eq!(res.status(), 422);
    let res = upload_minutes(&city.client, report, pdf).await;
    assert_eq!(res.status(), 303);
    let page = body(
        &committee.client,
        &format!("/incidents/recurrence/{report}"),
    )
    .await;
    assert!(page.contains("開催（2026-05-20）"), "{page}");
    let res = committee
        .client
        .get(&format!("/incidents/recurrence/{report}/minutes"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.expect("minutes").as_ref(), pdf);
    // Each step is audited and on the incident's 経過.
    assert_eq!(app.audit_count("incident.recurrence_created").await, 1);
    assert_eq!(app.audit_count("incident.recurrence_submitted").await, 2);
    assert_eq!(app.audit_count("incident.recurrence_returned").await, 1);
    assert_eq!(app.audit_count("incident.recurrence_accepted").await, 1);
    assert_eq!(app.audit_count("incident.recurrence_committee").await, 1);
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT COUNT(*) FROM incident_timeline WHERE incident_id = $1 AND kind = 'note'",
            inc
        )
        .await,
        5
    );
}

#[tokio::test]
async fn r17_3_a_measure_past_its_due_date_is_flagged_until_it_is_done() {
    let app = app_at("2026-05-11T09:00:00+09:00").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let inc = incident(&app, "誤設定による停止", app.now(), Severity::Major).await;
    let res = admin
        .client
        .post_form(
            "/incidents/recurrence",
            &[
                ("incident_id", &inc.to_string()),
                ("title", "変更手順の見直し"),
                ("body", "二人確認の導入"),
            ],
        )
        .await;
    let report: i64 = location(&res)
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("report id");
    admin
        .client
        .post_form(
            &format!("/incidents/recurrence/{report}/measures"),
            &[
                ("description", "変更作業の二人確認"),
                ("owner", "システム管理者"),
                ("due_on", "2026-05-12"),
            ],
        )
        .await;
    let path = format!("/incidents/recurrence/{report}");
    assert!(!body(&city.client, &path).await.contains("measure-late"));
    assert!(!body(&city.client, "/").await.contains("期限を過ぎた対策が"));
    // The due day itself is not late; the day after is.
    app.advance_minutes(24 * 60);
    assert!(!body(&city.client, &path).await.contains("measure-late"));
    app.advance_minutes(24 * 60);
    assert!(body(&city.client, &path).await.contains("measure-late"));
    let list = body(&city.client, "/incidents/recurrence").await;
    assert!(list.contains("期限を過ぎた対策（1 件）"), "{list}");
    assert!(
        body(&city.client, "/")
            .await
            .contains("期限を過ぎた対策が 1 件")
    );
    assert!(
        body(&admin.client, "/")
            .await
            .contains("期限を過ぎた対策が 1 件")
    );
    // Done: no longer flagged.
    let m = scalar_i64(
        &app,
        "SELECT id FROM incident_measures WHERE report_id = $1",
        report,
    )
    .await;
    let res = admin
        .client
        .post_form(
            &format!("/incidents/recurrence/measures/{m}/done"),
            &[("note", "手順書を改訂")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!body(&city.client, &path).await.contains("measure-late"));
    assert!(!body(&city.client, "/").await.contains("期限を過ぎた対策が"));
    assert_eq!(app.audit_count("incident.measure_done").await, 1);
}
#[tokio::test]
async fn r17_3_the_records_purge_keeps_a_blob_that_is_a_committee_s_minutes() {
    let (net, doc) = crate::multipart::referral().await;
    let app = &net.app;
    let hash: String =
        sqlx::query_scalar("SELECT blob_hash FROM document_attachments WHERE document_id = $1")
            .bind(doc)
            .fetch_one(app.db().pool())
            .await
            .expect("attachment");
    let file = app
        .dir
        .path()
        .join("blobs")
        .join(&hash[..2])
        .join(&hash[2..]);
    let pdf = std::fs::read(&file).expect("blob");
    // The same file is filed as the minutes of an incident's committee.
    app.advance_minutes(370 * 24 * 60);
    let admin = app.login_as(Role::SystemAdmin).await;
    let inc = incident(app, "保存期間の確認", app.now(), Severity::Low).await;
    let res = admin
        .client
        .post_form(
            "/incidents/recurrence",
            &[
                ("incident_id", &inc.to_string()),
                ("title", "t"),
                ("body", "b"),
            ],
        )
        .await;
    let report: i64 = location(&res)
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("report id");
    assert_eq!(
        upload_minutes(&admin.client, report, &pdf).await.status(),
        303
    );
    // The document expires and is purged; the minutes stay.
    let res = admin
        .client
        .post_form(
            "/admin/records/purge",
            &[("ids", &doc.to_string()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.count("document_tombstones").await,
        1,
        "the document went"
    );
    assert!(file.exists(), "the minutes' blob is kept");
    let res = admin
        .client
        .get(&format!("/incidents/recurrence/{report}/minutes"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.expect("minutes").as_ref(), pdf.as_slice());
}
