//! X.2 (issue 10, ASVS 7.3) — the audit chain against someone who can write the database but not
//! the files beside it: every row is sealed (HMAC) with the audit key kept outside the database,
//! and the chain head is anchored outside it. Each attack is done with SQL directly on the test
//! database; `rainbownet audit verify` (the real binary) and the chain-check page must report it.

use std::path::{Path, PathBuf};

use rainbownet::audit::BreakKind;
use rainbownet::audit::model::{AuditRow, GENESIS};
use rainbownet::auth::Role;
use serde_json::Value;

use crate::helpers::*;

/// Every row, in id order.
async fn all_rows(app: &TestApp) -> Vec<AuditRow> {
    let mut conn = app.db().pool().acquire().await.expect("conn");
    rainbownet::audit::repo::page_after(&mut conn, 0, 1_000_000)
        .await
        .expect("rows")
}

async fn head_seq(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(app.db().pool())
        .await
        .expect("head")
}

/// `audit verify` with `args`: (exit code, stdout + stderr).
fn verify(app: &TestApp, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    let out = app.cli(&all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn anchor_file(app: &TestApp) -> PathBuf {
    rainbownet::audit::anchor::path(app.dir.path())
}

fn anchor_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("an anchor line is JSON"))
        .collect()
}

async fn verify_page(admin: &TestUser) -> String {
    let res = admin.client.get("/audit/verify").await;
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

/// A running app with some history, checked once (which writes the first anchor).
async fn anchored_app() -> (TestApp, TestUser) {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    app.create_account(Role::User, "u-anchor").await;
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(0), "{text}");
    (app, admin)
}

/// Rewrites rows `from..` with `edit` applied, recomputing every plain SHA-256 and link after
/// it and the head, as an attacker without the key would.
async fn rehash_from(app: &TestApp, from: i64, edit: impl Fn(&mut AuditRow)) {
    let rows = all_rows(app).await;
    let mut prev = if from == 1 {
        GENESIS.to_string()
    } else {
        rows[(from - 2) as usize].hash.clone()
    };
    for mut r in rows.into_iter().filter(|r| r.id >= from) {
        edit(&mut r);
        r.prev_hash = prev.clone();
        r.hash = r.compute_hash();
        sqlx::query(
            "UPDATE audit_events SET details = $1, key_id = $2, prev_hash = $3, hash = $4
              WHERE id = $5",
        )
        .bind(&r.details)
        .bind(&r.key_id)
        .bind(&r.prev_hash)
        .bind(&r.hash)
        .bind(r.id)
        .execute(app.db().pool())
        .await
        .expect("rewrite");
        prev = r.hash;
    }
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(app.db().pool())
        .await
        .expect("head");
}

/// Appends a row after the last one with a correctly computed SHA-256 and moves the head to it.
async fn append_forged(app: &TestApp, key_id: Option<String>) -> i64 {
    let last = all_rows(app).await.pop().expect("a last row");
    let mut r = last.clone();
    r.id = last.id + 1;
    r.action = "account.created".into();
    r.target = "account:999".into();
    r.details = "{\"forged\":true}".into();
    r.prev_hash = last.hash.clone();
    r.key_id = key_id;
    r.hash = r.compute_hash();
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_account_id, actor_login, actor_role, action,
                                   target, details, client_addr, prev_hash, hash, key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(r.id)
    .bind(r.at)
    .bind(r.actor_account_id)
    .bind(&r.actor_login)
    .bind(&r.actor_role)
    .bind(&r.action)
    .bind(&r.target)
    .bind(&r.details)
    .bind(&r.client_addr)
    .bind(&r.prev_hash)
    .bind(&r.hash)
    .bind(&r.key_id)
    .execute(app.db().pool())
    .await
    .expect("insert");
    sqlx::query("UPDATE audit_head SET seq = $1, last_hash = $2 WHERE id = 1")
        .bind(r.id)
        .bind(&r.hash)
        .execute(app.db().pool())
        .await
        .expect("head");
    r.id
}

/// Deletes the last `n` rows and rewinds the head to the new last row.
async fn truncate(app: &TestApp, n: i64) -> i64 {
    let rows = all_rows(app).await;
    let keep = &rows[rows.len() - 1 - n as usize];
    sqlx::query("DELETE FROM audit_events WHERE id > $1")
        .bind(keep.id)
        .execute(app.db().pool())
        .await
        .expect("delete");
    sqlx::query("UPDATE audit_head SET seq = $1, last_hash = $2 WHERE id = 1")
        .bind(keep.id)
        .bind(&keep.hash)
        .execute(app.db().pool())
        .await
        .expect("head");
    keep.id
}

#[tokio::test]
async fn x2_a_clean_chain_is_sealed_verifies_and_is_anchored_outside_the_database() {
    let (app, admin) = anchored_app().await;
    let rows = all_rows(&app).await;
    let key = app.db().keys().audit().current().id().to_string();
    assert!(
        rows.iter()
            .all(|r| r.key_id.as_deref() == Some(key.as_str())),
        "every row names the key that sealed it"
    );
    let sealed_by_sha_only = rows.iter().filter(|r| r.compute_hash() == r.hash).count();
    assert_eq!(sealed_by_sha_only, 0, "the seal is not a plain SHA-256");
    let lines = anchor_lines(&anchor_file(&app));
    assert_eq!(lines.len(), 1, "the first verify writes one anchor");
    assert_eq!(lines[0]["seq"], head_seq(&app).await);
    assert_eq!(
        lines[0]["hash"].as_str(),
        rows.last().map(|r| r.hash.as_str())
    );
    assert_eq!(lines[0]["key"].as_str(), Some(key.as_str()));

    // Checking again against that anchor passes, and does not repeat an identical anchor.
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("アンカー 1 件と一致"), "{text}");
    assert_eq!(anchor_lines(&anchor_file(&app)).len(), 1);

    let body = verify_page(&admin).await;
    assert!(body.contains("正常"), "{body}");
    assert!(body.contains("アンカー 1 件と照合"), "{body}");

    // The anchor log can be downloaded by the readers, as it is.
    let res = admin.client.get("/audit/anchor.log").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.expect("body"),
        std::fs::read_to_string(anchor_file(&app)).expect("file")
    );
}

#[tokio::test]
async fn x2_a_row_appended_with_a_recomputed_sha256_fails_its_seal_and_is_named() {
    let (app, admin) = anchored_app().await;
    // With the last row's key id copied: the hash is right for SHA-256, wrong as a seal.
    let key = app.db().keys().audit().current().id().to_string();
    let forged = append_forged(&app, Some(key)).await;
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("row {forged}:")), "{text}");
    assert!(text.contains("seal"), "{text}");
    let body = verify_page(&admin).await;
    assert!(body.contains(&format!("{forged} 行目")), "{body}");

    // Without a key id (posing as a row from before sealing): refused as well.
    sqlx::query("UPDATE audit_events SET key_id = NULL WHERE id = $1")
        .bind(forged)
        .execute(app.db().pool())
        .await
        .expect("strip");
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("row {forged}:")), "{text}");
    assert_eq!(
        anchor_lines(&anchor_file(&app)).len(),
        1,
        "a broken chain is never anchored"
    );
}

#[tokio::test]
async fn x2_a_truncation_with_the_head_rewound_contradicts_the_anchor() {
    let (app, admin) = anchored_app().await;
    let anchored = head_seq(&app).await;
    let kept = truncate(&app, 3).await;
    assert_eq!(kept, anchored - 3);
    // The database alone is consistent again: only the anchor outside it tells.
    let mut conn = app.db().pool().acquire().await.expect("conn");
    let alone = rainbownet::audit::verify(&mut conn, app.db().keys().audit())
        .await
        .expect("verify");
    assert_eq!(alone.broken, None);
    let anchors = rainbownet::audit::anchor::read_log(app.dir.path()).expect("log");
    let against = rainbownet::audit::verify_against(&mut conn, app.db().keys().audit(), &anchors)
        .await
        .expect("verify");
    let broken = against.broken.expect("the anchor contradicts");
    assert_eq!((broken.id, broken.kind), (kept + 1, BreakKind::Anchor));
    drop(conn);

    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("アンカーと矛盾"), "{text}");
    assert!(text.contains(&format!("row {}:", kept + 1)), "{text}");
    assert!(
        text.contains(&format!("records row {anchored}")),
        "names what the anchor records: {text}"
    );
    assert!(
        text.contains(&anchor_file(&app).display().to_string()),
        "names the anchor: {text}"
    );
    let body = verify_page(&admin).await;
    assert!(body.contains("アンカーと一致しません"), "{body}");

    // The daily check fails too, and records so.
    let res = rainbownet::jobs::run(&app.state, "audit.verify", "test").await;
    assert!(res.is_err(), "{res:?}");
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'audit.verified' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("event");
    let details: Value = serde_json::from_str(&details).expect("json");
    assert_eq!(details["ok"], false);
    assert_eq!(details["kind"], "anchor");
}

#[tokio::test]
async fn x2_an_edit_and_rehash_of_every_following_row_fails_at_the_edited_row() {
    let (app, admin) = anchored_app().await;
    rehash_from(&app, 3, |r| {
        if r.id == 3 {
            r.details = "{\"tampered\":true}".into();
        }
    })
    .await;
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("row 3:"), "{text}");
    let body = verify_page(&admin).await;
    assert!(body.contains("3 行目"), "{body}");

    // Stripping the key ids as well (every row posing as written before sealing): the anchor
    // records that no row predates the seal.
    rehash_from(&app, 1, |r| r.key_id = None).await;
    sqlx::query("UPDATE audit_head SET unsealed = seq WHERE id = 1")
        .execute(app.db().pool())
        .await
        .expect("head");
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("アンカーと矛盾"), "{text}");
}

#[tokio::test]
async fn x2_verify_against_an_exported_anchor_file() {
    let (app, _admin) = anchored_app().await;
    let outside = tempfile::tempdir().expect("dir");
    let exported = outside.path().join("anchor-export.log");
    let out = app.cli(&[
        "audit",
        "anchor",
        "--out",
        exported.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported_seq = head_seq(&app).await;
    // More history after the export; the export still agrees.
    app.create_account(Role::User, "u-later").await;
    let path = exported.to_str().expect("utf-8");
    let (code, text) = verify(&app, &["--anchor", path]);
    assert_eq!(code, Some(0), "{text}");
    // `audit anchor` without --out prints one anchor line (the status goes to stderr).
    let out = app.cli(&["audit", "anchor"]);
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(printed["seq"], head_seq(&app).await);

    // The database and the anchor log beside it are both replaced by older ones (or the log is
    // lost): the exported anchor still tells that rows were cut.
    truncate(&app, 2 + head_seq(&app).await - exported_seq).await;
    std::fs::remove_file(anchor_file(&app)).expect("log removed");
    let (code, text) = verify(&app, &["--anchor", path]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("{path} line 1")), "{text}");

    // An anchor file edited to claim a shorter chain does not pass its seal.
    let mut line: Value =
        serde_json::from_str(std::fs::read_to_string(&exported).expect("read").trim())
            .expect("json");
    line["seq"] = Value::from(1);
    std::fs::write(&exported, format!("{line}\n")).expect("write");
    let (code, text) = verify(&app, &["--anchor", path]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("does not match its seal"), "{text}");
    // A file that is not an anchor file is a clear error.
    std::fs::write(&exported, "hello\n").expect("write");
    let (code, text) = verify(&app, &["--anchor", path]);
    assert_ne!(code, Some(0));
    assert!(
        text.contains(&format!("{path} line 1 is not an anchor")),
        "{text}"
    );
}

#[tokio::test]
async fn x2_a_database_without_its_key_file_fails_verification_naming_the_key_file() {
    let (app, _admin) = anchored_app().await;
    // The database used from another data directory: no key file there (a fresh one is made).
    let elsewhere = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .args(["audit", "verify"])
        .env("RAINBOWNET__DATABASE__URL", &app.database_url)
        .env("RAINBOWNET__PATHS__DATA_DIR", elsewhere.path())
        .env("RAINBOWNET__LOG__FILTER", "warn")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.starts_with("OK"), "{text}");
    assert!(text.contains("鍵ファイル"), "{text}");
    let key_file = rainbownet::db::keys::key_file(elsewhere.path(), "audit");
    assert!(
        text.contains(&key_file.display().to_string()),
        "names the key file: {text}"
    );
    assert!(text.contains("row 1:"), "{text}");
    assert!(
        !rainbownet::audit::anchor::path(elsewhere.path()).exists(),
        "nothing is anchored"
    );
    // A wrong key from the environment: named too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .args(["audit", "verify"])
        .env("RAINBOWNET__DATABASE__URL", &app.database_url)
        .env("RAINBOWNET__PATHS__DATA_DIR", app.dir.path())
        .env("RAINBOWNET__LOG__FILTER", "warn")
        .env(
            "RAINBOWNET_KEY_AUDIT",
            rainbownet::db::Key::generate().encoded(),
        )
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("RAINBOWNET_KEY_AUDIT"), "{text}");
}

#[tokio::test]
async fn x2_after_a_key_rotation_old_and_new_rows_both_verify() {
    let (app, admin) = anchored_app().await;
    let old = app.db().keys().audit().current().id().to_string();
    let out = app.cli(&["audit", "rotate-key"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ring = rainbownet::db::KeyRing::open(app.dir.path()).expect("keys");
    let new = ring.audit().current().id().to_string();
    assert_ne!(new, old);
    assert!(ring.audit().by_id(&old).is_some(), "the old key stays");
    // The rotation is an event, sealed with the new key by the process that rotated.
    let (key_id, details): (Option<String>, String) =
        sqlx::query_as("SELECT key_id, details FROM audit_events WHERE action = 'keys.rotated'")
            .fetch_one(app.db().pool())
            .await
            .expect("event");
    assert_eq!(key_id.as_deref(), Some(new.as_str()));
    assert!(details.contains(&old), "{details}");
    // The running server has not restarted: it goes on sealing with the old key.
    app.create_account(Role::User, "u-rotated").await;
    let ids: Vec<Option<String>> =
        sqlx::query_scalar("SELECT key_id FROM audit_events ORDER BY id")
            .fetch_all(app.db().pool())
            .await
            .expect("ids");
    assert_eq!(ids.first(), Some(&Some(old.clone())));
    assert_eq!(ids.last(), Some(&Some(old)));
    // Both the CLI (new key first) and the running server's page (old key first, the new one
    // read from the file when a row names it) verify all of it.
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(0), "{text}");
    let body = verify_page(&admin).await;
    assert!(body.contains("正常"), "{body}");
}

#[tokio::test]
async fn x2_rows_from_before_sealing_still_verify_and_new_rows_are_sealed_after_them() {
    let app = spawn_app().await;
    let _admin = app.login_as(Role::SystemAdmin).await;
    // Make the history look as an upgraded installation's does: plain SHA-256 rows, no key id,
    // and migration 0009's count of them in the head.
    rehash_from(&app, 1, |r| r.key_id = None).await;
    sqlx::query("UPDATE audit_head SET unsealed = seq WHERE id = 1")
        .execute(app.db().pool())
        .await
        .expect("head");
    let legacy = head_seq(&app).await;
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("封印導入前の行 {legacy} 行")),
        "{text}"
    );

    app.create_account(Role::User, "u-after").await;
    let rows = all_rows(&app).await;
    assert!(rows[(legacy as usize)..].iter().all(|r| r.key_id.is_some()));
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(0), "{text}");

    // Editing a plain row and re-hashing it and every plain row after it still breaks the link
    // into the first sealed row.
    rehash_from(&app, 2, |r| {
        if r.id == 2 {
            r.details = "{\"tampered\":true}".into();
        }
    })
    .await;
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(1), "{text}");
    // The plain rows cannot be told apart without a key; the first sealed row's seal covers its
    // link to them, so the break is named there.
    assert!(text.contains(&format!("row {}:", legacy + 1)), "{text}");
}

#[tokio::test]
async fn x2_the_daily_check_carries_the_anchor_in_its_event_and_appends_it_to_the_file() {
    let app = spawn_app().await;
    let _admin = app.login_as(Role::OpsManager).await;
    let msg = rainbownet::jobs::run(&app.state, "audit.verify", "test")
        .await
        .expect("job");
    assert!(msg.contains("改ざんなし"), "{msg}");
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'audit.verified' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("event");
    let details: Value = serde_json::from_str(&details).expect("json");
    assert_eq!(details["ok"], true);
    let lines = anchor_lines(&anchor_file(&app));
    assert_eq!(lines.len(), 1);
    assert_eq!(
        details["anchor"], lines[0],
        "the event and the file hold the same anchor"
    );
    // The anchor a backup would write into its manifest is sealed the same way.
    let current = rainbownet::audit::anchor::current(app.db(), app.now())
        .await
        .expect("current");
    assert_eq!(current.seq, head_seq(&app).await);
    current
        .check_seal(app.db().keys().audit())
        .expect("sealed with the audit key");
    let (code, text) = verify(&app, &[]);
    assert_eq!(code, Some(0), "{text}");
    // A second run checks against the first anchor.
    rainbownet::jobs::run(&app.state, "audit.verify", "test")
        .await
        .expect("job");
    assert!(anchor_lines(&anchor_file(&app)).len() >= 2);
}
