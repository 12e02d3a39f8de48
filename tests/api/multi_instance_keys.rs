//! Issue 16: instances on one database must share their keys (audit seal, TOTP secrets, form
//! tokens). The first start records each key set's key id (a hash of the key, never the key);
//! an instance started with other keys is refused with a clear message, and one with the same
//! keys starts. On SQLite and, with TEST_DATABASE_URL, PostgreSQL.

use std::time::{Duration, Instant};

use crate::helpers::*;

/// Starts `rainbownet serve` on the app's database and data directory with `env`, and waits
/// for it to stop by itself (at most 60 s; then it is killed and the test fails): its exit code
/// and what it printed.
fn serve_expecting_exit(app: &TestApp, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("RAINBOWNET__DATABASE__URL", &app.database_url)
        .env("RAINBOWNET__PATHS__DATA_DIR", app.dir.path())
        .env("RAINBOWNET__LOG__FILTER", "error")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start rainbownet serve");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            child.wait().ok();
            panic!("serve started with keys other than the database's");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn x5_issue16_an_instance_with_other_keys_than_the_database_records_is_refused_at_start() {
    let app = spawn_app().await;
    // The first instance records the key ids (the test app shares its data directory's keys).
    let first = app.spawn_instance("", &[]);
    let recorded: Vec<(String, String)> =
        sqlx::query_as("SELECT purpose, key_id FROM key_fingerprints ORDER BY purpose")
            .fetch_all(app.db().pool())
            .await
            .expect("fingerprints");
    let purposes: Vec<&str> = recorded.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(purposes, ["audit", "csrf", "totp"]);
    let audit_key = std::fs::read_to_string(app.dir.path().join("keys/audit.key")).expect("key");
    for (_, id) in &recorded {
        assert_eq!(id.len(), 16, "a short hash, never the key: {id}");
        assert!(!audit_key.contains(id.as_str()));
    }

    // Another machine with its own audit key (a fresh one in the environment).
    let other = rainbownet::db::Key::generate().encoded();
    let (code, out) = serve_expecting_exit(&app, &[("RAINBOWNET_KEY_AUDIT", &other)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("鍵 audit がこのデータベースを使う他のインスタンスと異なります"),
        "{out}"
    );

    // The same keys: a second instance starts and serves.
    let second = app.spawn_instance("", &[]);
    let res = reqwest::get(format!("{}/healthz", second.address))
        .await
        .expect("health");
    assert!(res.status().is_success());
    drop(first);
}
