//! Issue 13, R17.2: the portal notice of an incident, the contact tree (別紙4) and the contacts
//! made along it. Recurrence prevention (R17.3) is in `incident_recurrence.rs`, the incident
//! statistics in `incident_stats.rs`; both use the helpers here.

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::db::Timestamp;
use rainbownet::incidents::{NewIncident, Severity, Source, Status, notices, repo, service};

use crate::helpers::*;

pub(crate) fn jst(s: &str) -> Timestamp {
    s.parse::<jiff::Timestamp>().expect("time").into()
}

pub(crate) async fn app_at(start: &str) -> TestApp {
    let app = spawn_app_with(|s| {
        s.security.session_idle_minutes = 60 * 24 * 30;
        s.security.session_absolute_hours = 24 * 30;
    })
    .await;
    app.clock.set(jst(start));
    app
}

pub(crate) async fn incident(
    app: &TestApp,
    title: &str,
    discovered: Timestamp,
    severity: Severity,
) -> i64 {
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
pub(crate) async fn change_status(
    app: &TestApp,
    id: i64,
    status: Status,
    recovered: Option<Timestamp>,
) {
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

pub(crate) async fn scalar_i64(app: &TestApp, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("scalar")
}

pub(crate) async fn text_of(app: &TestApp, sql: &str, id: i64) -> String {
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("text")
}

pub(crate) async fn body(c: &TestClient, path: &str) -> String {
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
pub(crate) fn strong(html: &str, id: &str) -> i64 {
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
