//! The backup page, the restore drill and the dashboard cards (issue 11 items 6 and 7; R21.1, X.5).

use std::path::PathBuf;

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use sqlx::Row;

use crate::helpers::*;

/// An app with backups set up (see `backup::keyed_settings`).
async fn app_with_backups() -> (TestApp, PathBuf, tempfile::TempDir) {
    let side = tempfile::tempdir().expect("temp dir");
    let settings = crate::backup::keyed_settings(side.path());
    let backups = PathBuf::from(&settings.dir);
    let app = spawn_app_with(|s| s.set_section("backup", &settings)).await;
    (app, backups, side)
}

async fn wait_for(app: &TestApp, sql: &str) -> String {
    for _ in 0..300 {
        if let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_optional(app.db().pool())
            .await
            .expect("query")
        {
            return row.try_get::<String, _>(0).expect("text");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never true: {sql}");
}

#[tokio::test]
async fn r21_1_x5_a_backup_started_on_the_page_is_verified_drilled_and_shown_on_the_dashboard() {
    let (app, backups, _side) = app_with_backups().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let page = admin.client.get("/").await.text().await.expect("body");
    assert!(page.contains("未実施"), "no backup yet: {page}");

    let res = admin
        .client
        .post_form("/admin/backup/run", &[("kind", "monthly")])
        .await;
    assert_eq!(res.status(), 303);
    let id = wait_for(
        &app,
        "SELECT id FROM backups WHERE state = 'ok' AND verify_result = 'ok'",
    )
    .await;
    let page = admin
        .client
        .get("/admin/backup")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains(&id) && page.contains("正常"), "{page}");

    let res = admin.client.post_form("/admin/backup/drill", &[]).await;
    assert_eq!(res.status(), 303);
    let result = wait_for(&app, "SELECT result FROM backup_drills").await;
    assert_eq!(result, "ok");
    assert_eq!(app.audit_count("backup.drilled").await, 1);
    let page = admin
        .client
        .get("/admin/backup")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("成功"), "{page}");
    let dash = admin.client.get("/").await.text().await.expect("body");
    assert!(
        dash.contains("検証済み") && dash.contains("復元訓練"),
        "{dash}"
    );

    // One flipped byte: the page's check and the next drill both fail, and the dashboard says so.
    let archive = backups.join(format!("{id}.tar.zst.age"));
    let mut bytes = std::fs::read(&archive).expect("archive");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&archive, bytes).expect("write");
    let res = admin
        .client
        .post_form(&format!("/admin/backup/{id}/verify"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let verify: String = sqlx::query("SELECT verify_result FROM backups WHERE id = $1")
        .bind(&id)
        .fetch_one(app.db().pool())
        .await
        .expect("row")
        .get(0);
    assert!(verify.starts_with("failed"), "{verify}");
    assert_eq!(app.audit_count("backup.verify_failed").await, 1);

    let later = app.now().plus(jiff::SignedDuration::from_hours(1));
    let drill = rainbownet::backup::drill::drill(&app.state, &Actor::system("test"), later).await;
    assert!(drill.is_err(), "a damaged archive must fail the drill");
    assert_eq!(app.audit_count("backup.drill_failed").await, 1);
    let dash = admin.client.get("/").await.text().await.expect("body");
    assert!(
        dash.contains("検査で異常") && dash.contains("失敗"),
        "{dash}"
    );
}

#[tokio::test]
async fn x5_the_city_reads_the_history_without_the_actions_and_a_bad_id_is_not_found() {
    let (app, _backups, _side) = app_with_backups().await;
    let city = app.login_as(Role::ServiceOperator).await;
    let page = city.client.get("/admin/backup").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("body");
    assert!(
        page.contains("履歴") && !page.contains("バックアップを開始する"),
        "{page}"
    );
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin
        .client
        .post_form("/admin/backup/..%2F..%2Fetc-daily/verify", &[])
        .await;
    assert_eq!(res.status(), 404);
    // A well-formed id the history does not know: the same 404, and nothing is recorded.
    let res = admin
        .client
        .post_form("/admin/backup/20200101T000000Z-daily/verify", &[])
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.audit_count("backup.verify_failed").await, 0);
    let res = admin
        .client
        .post_form("/admin/backup/run", &[("kind", "weekly")])
        .await;
    assert_eq!(res.status(), 400);
}
