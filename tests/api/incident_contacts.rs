//! Issue 13, R17.2 and R17.3: the portal notice of an incident, the contact tree (別紙4) and the
//! contacts made along it, recurrence prevention, and the incident statistics.

use std::io::Read;

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::db::Timestamp;
use rainbownet::incidents::{NewIncident, Severity, Source, Status, notices, repo, service};

use crate::helpers::*;
use crate::multipart::{self, Part};

fn jst(s: &str) -> Timestamp {
    s.parse::<jiff::Timestamp>().expect("time").into()
}

async fn app_at(start: &str) -> TestApp {
    let app = spawn_app_with(|s| {
        s.security.session_idle_minutes = 60 * 24 * 30;
        s.security.session_absolute_hours = 24 * 30;
    })
    .await;
    app.clock.set(jst(start));
    app
}

async fn incident(app: &TestApp, title: &str, discovered: Timestamp, severity: Severity) -> i64 {
    let mut tx = app.db().begin().await.expect("tx");
    let n = NewIncident {
        title: title.into(),
        severity,
        discovered_at: discovered,
        discovered_where: "死活監視".into(),
        occurred_at: None,
        description: "診療情報の閲覧画面が応答しません。".into(),
        impact: "全施設で診療情報を閲覧できません".into(),
        affects_users: true,
        cause_category: rainbownet::incidents::CauseCategory::Unknown,
        source: Source::Manual,
        source_ref: None,
    };
    let id = service::create_in(&mut tx, &n, &Actor::system("test"), app.now())
        .await
        .expect("incident");
    tx.commit().await.expect("commit");
    id
}

/// What the incident's own status change does (its page is another part of issue 13): the new
/// status, then `notices::on_status_change` on the same transaction.
async fn change_status(app: &TestApp, id: i64, status: Status, recovered: Option<Timestamp>) {
    let mut tx = app.db().begin().await.expect("tx");
    sqlx::query("UPDATE incidents SET status = $1, recovered_at = $2 WHERE id = $3")
        .bind(status.key())
        .bind(recovered)
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("status");
    let i = repo::find(&mut tx, id)
        .await
        .expect("find")
        .expect("incident");
    notices::on_status_change(&mut tx, &i, &Actor::system("test"), app.now())
        .await
        .expect("notice follows");
    tx.commit().await.expect("commit");
}

async fn scalar_i64(app: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("scalar")
}

async fn text_of(app: &TestApp, sql: &str, id: i64) -> String {
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("text")
}

async fn body(c: &TestClient, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("body")
}

#[tokio::test]
async fn r17_2_the_incident_notice_appears_on_the_portal_for_users_follows_the_status_and_is_resolved()
 {
    let app = app_at("2026-05-11T09:00:00+09:00").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let user = app.login_as(Role::User).await;
    let id = incident(&app, "診療情報閲覧の停止", app.now(), Severity::Critical).await;
    // Before the action: nothing on the portal.
    assert!(
        !body(&user.client, "/portal")
            .await
            .contains("診療情報閲覧の停止")
    );

    let res = admin
        .client
        .post_form(
            &format!("/incidents/{id}/notice"),
            &[
                ("expected_recovery", "本日 12 時頃"),
                ("return_to", "contacts"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/incidents/{id}/contacts"));
    let ann = scalar_i64(
        &app,
        "SELECT announcement_id FROM incident_notices WHERE incident_id = $1",
        id,
    )
    .await;
    let portal = body(&user.client, "/portal").await;
    assert!(
        portal.contains("【障害情報】診療情報閲覧の停止"),
        "{portal}"
    );
    let page = body(&user.client, &format!("/portal/announcements/{ann}")).await;
    assert!(page.contains("調査中"), "the status");
    assert!(
        page.contains("全施設で診療情報を閲覧できません"),
        "what is affected"
    );
    assert!(page.contains("本日 12 時頃"), "the expected recovery");
    // Public: on the log-in page too (users may not get in during the incident).
    let login = body(&app.client(), "/login").await;
    assert!(login.contains("【障害情報】診療情報閲覧の停止"), "{login}");

    // The status changes: the notice follows.
    app.advance_minutes(60);
    change_status(&app, id, Status::Recovering, None).await;
    let page = body(&user.client, &format!("/portal/announcements/{ann}")).await;
    assert!(page.contains("復旧作業中"), "updated status");
    assert!(!page.contains("調査中（"), "the old status is gone");
    assert!(
        page.contains("本日 12 時頃"),
        "the expected recovery is kept"
    );

    // Recovered: marked resolved, still visible for a while.
    app.advance_minutes(60);
    let recovered = app.now();
    change_status(&app, id, Status::Recovered, Some(recovered)).await;
    let portal = body(&user.client, "/portal").await;
    assert!(portal.contains("【復旧】診療情報閲覧の停止"), "{portal}");
    let page = body(&user.client, &format!("/portal/announcements/{ann}")).await;
    assert!(page.contains("復旧しました"));
    assert!(page.contains(&recovered.jst()), "the recovery time");
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT COUNT(*) FROM incident_notices WHERE incident_id = $1 AND resolved_at IS NOT NULL",
            id
        )
        .await,
        1
    );
    // Each step is a timeline entry and an audit event; only one announcement.
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT COUNT(*) FROM incident_timeline WHERE incident_id = $1 AND kind = 'notice'",
            id
        )
        .await,
        3
    );
    assert_eq!(app.audit_count("incident.notice_posted").await, 1);
    assert_eq!(app.audit_count("incident.notice_updated").await, 1);
    assert_eq!(app.audit_count("incident.notice_resolved").await, 1);
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT COUNT(*) FROM portal_announcements WHERE category = 'failure' AND id >= $1",
            ann
        )
        .await,
        1
    );
    // A week later it has left the portal.
    app.advance_minutes(8 * 24 * 60);
    assert!(
        !body(&user.client, "/portal")
            .await
            .contains("診療情報閲覧の停止")
    );
    // An incident without a notice is left alone by its status change.
    let other = incident(&app, "別件", app.now(), Severity::Low).await;
    change_status(&app, other, Status::Recovered, Some(app.now())).await;
    assert_eq!(app.count("incident_notices").await, 1);
}

async fn add_contact(c: &TestClient, fields: &[(&str, &str)]) -> reqwest::Response {
    c.post_form("/incidents/contacts", fields).await
}

async fn contact_id(app: &TestApp, organisation: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM incident_contacts WHERE organisation = $1")
        .bind(organisation)
        .fetch_one(app.db().pool())
        .await
        .expect("contact")
}

/// The organisations of the active tree in page order.
fn order_of(html: &str, names: &[&str]) -> Vec<String> {
    let main = html
        .split("<h2>使用を停止した連絡先</h2>")
        .next()
        .unwrap_or(html);
    let mut found: Vec<(usize, String)> = names
        .iter()
        .filter_map(|n| {
            main.find(&format!("<td>{n}</td>"))
                .map(|i| (i, n.to_string()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}

#[tokio::test]
async fn r17_2_the_contact_tree_is_kept_in_levels_edited_reordered_and_deactivated_by_admins() {
    let app = app_at("2026-05-11T09:00:00+09:00").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let ops = app.login_as(Role::OpsManager).await;
    for (level, org, phone, email) in [
        ("1", "清須市 健康福祉部", "052-400-0001", ""),
        (
            "1",
            "清須市 企画部",
            "052-400-0002",
            "kikaku@city.kiyosu.example.jp",
        ),
        ("2", "西春日井医師会", "", "ishikai@example.jp"),
    ] {
        let res = add_contact(
            &admin.client,
            &[
                ("level", level),
                ("organisation", org),
                ("person", "担当者"),
                ("phone", phone),
                ("email", email),
            ],
        )
        .await;
        assert_eq!(res.status(), 303, "{org}");
    }
    // Bad input is refused with the reason, nothing stored.
    let res = add_contact(
        &admin.client,
        &[("level", "1"), ("organisation", "連絡手段なし")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("いずれかを入力"));
    assert_eq!(app.count("incident_contacts").await, 3);

    let names = ["清須市 健康福祉部", "清須市 企画部", "西春日井医師会"];
    let page = body(&ops.client, "/incidents/contacts").await;
    assert_eq!(order_of(&page, &names), names);
    assert!(page.contains("第2段階"));
    assert!(!page.contains("/move"), "readers get no edit buttons");

    // Move 企画部 up within level 1.
    let kikaku = contact_id(&app, "清須市 企画部").await;
    let res = admin
        .client
        .post_form(
            &format!("/incidents/contacts/{kikaku}/move"),
            &[("direction", "up")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&ops.client, "/incidents/contacts").await;
    assert_eq!(
        order_of(&page, &names),
        ["清須市 企画部", "清須市 健康福祉部", "西春日井医師会"]
    );
    // Edit the 医師会 into level 1: it goes to the end of level 1 (still after both).
    let ishikai = contact_id(&app, "西春日井医師会").await;
    let res = admin
        .client
        .post_form(
            &format!("/incidents/contacts/{ishikai}"),
            &[
                ("level", "1"),
                ("organisation", "西春日井医師会"),
                ("person", "事務局長"),
                ("fax", "052-400-9999"),
                ("email", "ishikai@example.jp"),
                ("revision", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&ops.client, "/incidents/contacts").await;
    assert!(page.contains("052-400-9999"));
    assert!(!page.contains("第2段階"), "level 2 is empty now");
    // A stale form is refused.
    let res = admin
        .client
        .post_form(
            &format!("/incidents/contacts/{ishikai}"),
            &[
                ("level", "1"),
                ("organisation", "古い内容"),
                ("phone", "1"),
                ("revision", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409);
    // Deactivate 健康福祉部: kept, listed apart, reactivated at the end of its level.
    let kenko = contact_id(&app, "清須市 健康福祉部").await;
    let res = admin
        .client
        .post_form(&format!("/incidents/contacts/{kenko}/deactivate"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&ops.client, "/incidents/contacts").await;
    assert_eq!(order_of(&page, &names), ["清須市 企画部", "西春日井医師会"]);
    assert!(page.contains("使用を停止した連絡先"));
    assert_eq!(app.count("incident_contacts").await, 3, "nothing deleted");
    let res = admin
        .client
        .post_form(&format!("/incidents/contacts/{kenko}/reactivate"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&ops.client, "/incidents/contacts").await;
    assert_eq!(
        order_of(&page, &names),
        ["清須市 企画部", "西春日井医師会", "清須市 健康福祉部"]
    );
    // Others read but do not edit.
    let res = ops
        .client
        .post_form(&format!("/incidents/contacts/{kenko}/deactivate"), &[])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.audit_count("incident.contact_added").await, 3);
    assert_eq!(app.audit_count("incident.contact_moved").await, 1);
    assert_eq!(app.audit_count("incident.contact_updated").await, 1);
    assert_eq!(app.audit_count("incident.contact_deactivated").await, 1);
    assert_eq!(app.audit_count("incident.contact_reactivated").await, 1);
}

/// The number in `<strong id="{id}">n</strong>`.
fn strong(html: &str, id: &str) -> i64 {
    html.split(&format!("id=\"{id}\">"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{id} in page"))
}

#[tokio::test]
async fn r17_2_notify_queues_mails_to_the_tree_and_unreached_contacts_stay_listed_until_recorded() {
    let app = app_at("2026-05-11T09:00:00+09:00").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let op = app.login_as(Role::SystemOperator).await;
    for (org, phone, fax, email) in [
        ("電話だけの施設", "052-111-1111", "", ""),
        (
            "メールと電話の市",
            "052-222-2222",
            "",
            "city@kiyosu.example.jp",
        ),
        ("FAXの医師会", "", "052-333-3333", ""),
        ("停止した連絡先", "", "", "old@example.jp"),
    ] {
        let res = add_contact(
            &admin.client,
            &[
                ("level", "1"),
                ("organisation", org),
                ("phone", phone),
                ("fax", fax),
                ("email", email),
            ],
        )
        .await;
        assert_eq!(res.status(), 303, "{org}");
    }
    let old = contact_id(&app, "停止した連絡先").await;
    admin
        .client
        .post_form(&format!("/incidents/contacts/{old}/deactivate"), &[])
        .await;
    let id = incident(&app, "ネットワーク障害", app.now(), Severity::Major).await;
    let path = format!("/incidents/{id}/contacts");
    let page = body(&op.client, &path).await;
    assert_eq!(strong(&page, "unreached-count"), 3);
    assert!(
        !page.contains("停止した連絡先"),
        "a deactivated contact is not called"
    );

    // One action queues the mails: one per active e-mail contact, each recorded with its id.
    let res = admin
        .client
        .post_form(
            &format!("/incidents/{id}/contacts/notify"),
            &[("return_to", "contacts")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT id, recipients, COALESCE(source_ref, ''), state FROM mail_outbox ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .expect("outbox");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "city@kiyosu.example.jp");
    assert_eq!(rows[0].2, format!("incident:{id}"));
    let subject = text_of(
        &app,
        "SELECT subject FROM mail_outbox WHERE id = $1",
        rows[0].0,
    )
    .await;
    assert!(subject.contains("ネットワーク障害"), "{subject}");
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT COUNT(*) FROM incident_notifications WHERE incident_id = $1 AND mail_id IS NOT NULL",
            id
        )
        .await,
        1
    );
    // Queued is not notified.
    let page = body(&op.client, &path).await;
    assert_eq!(strong(&page, "unreached-count"), 3);
    assert!(page.contains("送信待ち"));
    assert!(page.contains("メールと電話の市"));
    // The outbox sends it: now it counts.
    sqlx::query("UPDATE mail_outbox SET state = 'sent', sent_at = $1 WHERE id = $2")
        .bind(app.now())
        .bind(rows[0].0)
        .execute(app.db().pool())
        .await
        .expect("sent");
    let page = body(&op.client, &path).await;
    assert_eq!(strong(&page, "unreached-count"), 2);
    assert_eq!(strong(&page, "reached-count"), 1);

    // The phone checklist: an absent call does not count, a delivered one does.
    let phone_only = contact_id(&app, "電話だけの施設").await.to_string();
    let fax_only = contact_id(&app, "FAXの医師会").await.to_string();
    let res = op
        .client
        .post_form(
            &format!("/incidents/{id}/contacts/record"),
            &[
                ("contact_id", &phone_only),
                ("means", "phone"),
                ("result", "absent"),
                ("note", "留守番電話"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&op.client, &path).await;
    assert_eq!(strong(&page, "unreached-count"), 2);
    assert!(page.contains("不在"));
    // 伝達済 needs the person reached.
    let res = op
        .client
        .post_form(
            &format!("/incidents/{id}/contacts/record"),
            &[
                ("contact_id", &phone_only),
                ("means", "fax"),
                ("result", "delivered"),
                ("note", "折り返し待ち"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    // The form comes back as it was sent, the reason inside it (beside the fields).
    let html = res.text().await.expect("body");
    let form = &html[html.find("id=\"contact-record\"").expect("the record form")..];
    let form = &form[..form.find("</form>").expect("form end")];
    assert!(form.contains("class=\"field-error\""), "{form}");
    assert!(
        form.contains("value=\"折り返し待ち\""),
        "the note kept: {form}"
    );
    assert!(
        form.contains(&format!("value=\"{phone_only}\" selected")),
        "{form}"
    );
    assert!(form.contains("value=\"fax\" selected"), "{form}");
    for (contact, means) in [(&phone_only, "phone"), (&fax_only, "fax")] {
        let res = op
            .client
            .post_form(
                &format!("/incidents/{id}/contacts/record"),
                &[
                    ("contact_id", contact),
                    ("means", means),
                    ("result", "delivered"),
                    ("reached_person", "山田"),
                    ("reached_at", "2026-05-11T08:50"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{means}");
    }
    let page = body(&op.client, &path).await;
    assert_eq!(strong(&page, "unreached-count"), 0);
    assert_eq!(strong(&page, "reached-count"), 3);
    assert!(!page.contains("id=\"unreached\""));
    // Every contact made is recorded in the 経過 and the audit chain.
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT COUNT(*) FROM incident_timeline WHERE incident_id = $1 AND kind = 'contact'",
            id
        )
        .await,
        4,
        "the mails and three calls"
    );
    assert_eq!(app.audit_count("incident.contacts_mailed").await, 1);
    assert_eq!(app.audit_count("incident.contact_recorded").await, 3);
    // A deactivated contact with notifications stays in the record (never deleted).
    let kenko = contact_id(&app, "FAXの医師会").await;
    admin
        .client
        .post_form(&format!("/incidents/contacts/{kenko}/deactivate"), &[])
        .await;
    let page = body(&op.client, &path).await;
    assert!(page.contains("FAXの医師会"));
    assert!(page.contains("（使用停止）"));
    // Recording and sending are refused to readers.
    let ops = app.login_as(Role::OpsManager).await;
    let res = ops
        .client
        .post_form(&format!("/incidents/{id}/contacts/notify"), &[])
        .await;
    assert_eq!(res.status(), 403);
}

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
