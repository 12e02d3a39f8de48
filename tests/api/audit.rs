//! X.2 — the audit chain, its verification, the audit page, CSV export, the access log.

use rainbownet::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn x2_log_in_failure_lockout_unlock_and_log_out_are_all_events() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let user = app.login_as(Role::User).await;
    let c = app.client();
    for _ in 0..5 {
        c.login(&user.login_id, "Wrong2026pass").await;
    }
    let id: i64 = app.account_id(&user.login_id).await;
    admin
        .client
        .post_form(&format!("/admin/accounts/{id}/unlock"), &[])
        .await;
    user.client.post_form("/logout", &[]).await;
    for action in [
        "auth.login",
        "auth.login_failed",
        "auth.account_locked",
        "auth.account_unlocked",
        "auth.logout",
        "auth.password_changed",
        "auth.totp_enrolled",
        "account.created",
    ] {
        assert!(app.audit_count(action).await >= 1, "{action} recorded");
    }
    let (actor, role, addr): (String, String, String) = sqlx::query_as("SELECT actor_login, actor_role, client_addr FROM audit_events WHERE action = 'auth.account_unlocked'")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(
        (actor.as_str(), role.as_str(), addr.as_str()),
        (admin.login_id.as_str(), "system_admin", "127.0.0.1")
    );
    let mut conn = app.db().pool().acquire().await.unwrap();
    let report = rainbownet::audit::verify(&mut conn, app.db().keys().audit())
        .await
        .unwrap();
    assert!(report.broken.is_none());
    assert!(report.rows > 10);
}

#[tokio::test]
async fn x2_editing_one_audit_row_makes_verify_fail_and_name_that_row() {
    let app = spawn_app().await;
    let _admin = app.login_as(Role::SystemAdmin).await;
    let out = app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK"));

    sqlx::query("UPDATE audit_events SET details = '{\"tampered\":true}' WHERE id = 3")
        .execute(app.db().pool())
        .await
        .unwrap();
    let out = app.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("row 3"), "{text}");
    let mut conn = app.db().pool().acquire().await.unwrap();
    assert_eq!(
        rainbownet::audit::verify(&mut conn, app.db().keys().audit())
            .await
            .unwrap()
            .broken
            .unwrap()
            .id,
        3
    );
}

#[tokio::test]
async fn x2_deleting_the_last_rows_is_detected_too() {
    let app = spawn_app().await;
    let _admin = app.login_as(Role::SystemAdmin).await;
    let last: i64 = sqlx::query_scalar("SELECT MAX(id) FROM audit_events")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_events WHERE id = $1")
        .bind(last)
        .execute(app.db().pool())
        .await
        .unwrap();
    let out = app.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("row {last}")));
}

#[tokio::test]
async fn x2_concurrent_writers_keep_one_unbroken_chain() {
    // Twelve client addresses (through a trusted proxy), so that each failure is the first of
    // its address's window and writes an event.
    let app = spawn_app_with(|s| {
        s.server.trusted_proxies = vec!["127.0.0.1".parse().expect("proxy")];
    })
    .await;
    let (login_id, _) = app.create_account(Role::User, "u-concurrent").await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let c = app.client_from(&format!("192.0.2.{}", i + 1));
        let id = login_id.clone();
        tasks.push(tokio::spawn(async move {
            c.login(&id, "Wrong2026pass").await.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401);
    }
    let mut conn = app.db().pool().acquire().await.unwrap();
    let report = rainbownet::audit::verify(&mut conn, app.db().keys().audit())
        .await
        .unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(app.audit_count("auth.login_failed").await, 12);
}

#[tokio::test]
async fn x2_the_audit_page_filters_and_exports_csv() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    app.client().login("ghost-user", "whatever1").await;
    let page = admin
        .client
        .get("/audit?action=auth.login_failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("ghost-user"));
    // Codes are shown in words, with the code as the label's title (issue 15).
    assert!(page.contains("title=\"auth.login_failed\""));
    assert!(
        !page.contains("title=\"auth.totp_enrolled\""),
        "filtered out"
    );
    let page = admin
        .client
        .get(&format!("/audit?actor={}", admin.login_id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("title=\"auth.totp_enrolled\""));

    let res = admin.client.get("/audit/export.csv?action=auth.").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert!(
        rows.iter()
            .any(|r| &r[5] == "auth.login_failed" && &r[3] == "ghost-user")
    );
    assert!(rows.iter().all(|r| r[5].starts_with("auth.")));
}

#[tokio::test]
async fn x2_the_verify_page_reports_the_chain() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::OpsManager).await;
    let body = admin
        .client
        .get("/audit/verify")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("正常"), "{body}");
    sqlx::query("UPDATE audit_events SET actor_login = 'someone-else' WHERE id = 2")
        .execute(app.db().pool())
        .await
        .unwrap();
    let body = admin
        .client
        .get("/audit/verify")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("2 行目"), "{body}");
}

/// Issue 16: a transaction that holds its chain open does not stop another from recording and
/// committing (on PostgreSQL it takes another chain; with one chain it would wait here for
/// ever), and the chains verify together. SQLite has one writer: nothing to show there.
#[tokio::test]
async fn x2_issue16_two_open_transactions_record_on_two_chains_and_both_verify() {
    let app = spawn_app().await;
    if app.db().backend() != rainbownet::db::Backend::Postgres {
        return;
    }
    let actor = rainbownet::audit::Actor::system("test");
    let mut first = app.db().begin().await.expect("begin");
    let a = rainbownet::audit::record(&mut first, app.now(), &actor, "test.first", "x", json!({}))
        .await
        .expect("first");
    let mut second = app.db().begin().await.expect("begin");
    let b = rainbownet::audit::record(
        &mut second,
        app.now(),
        &actor,
        "test.second",
        "x",
        json!({}),
    )
    .await
    .expect("second");
    second
        .commit()
        .await
        .expect("second commits while the first is open");
    first.commit().await.expect("first");
    let chains: Vec<i64> =
        sqlx::query_scalar("SELECT chain FROM audit_events WHERE id IN ($1, $2) ORDER BY id")
            .bind(a)
            .bind(b)
            .fetch_all(app.db().pool())
            .await
            .expect("chains");
    assert_eq!(chains.len(), 2);
    assert_ne!(chains[0], chains[1]);
    let out = app.cli(&["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
}
