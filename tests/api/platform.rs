//! X.5 — configuration, the database layer on both backends, and the command line.

use rainbownet::accounts::LoginId;
use rainbownet::accounts::service::{AccountSpec, create_account};
use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::error::AppError;

use crate::helpers::*;

fn names(dir: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut v: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn x5_sqlite_and_postgres_migrations_are_paired_by_name() {
    let sqlite = names("migrations/sqlite");
    let postgres = names("migrations/postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "every migration exists for both databases"
    );
}

#[tokio::test]
async fn x5_instants_are_stored_as_fixed_format_utc_text() {
    let app = spawn_app().await;
    app.create_account(Role::User, "u-timestamp").await;
    let created: String =
        sqlx::query_scalar("SELECT created_at FROM accounts WHERE login_id = 'u-timestamp'")
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    let re_ok = created.len() == 24
        && created.ends_with('Z')
        && &created[10..11] == "T"
        && &created[19..20] == ".";
    assert!(re_ok, "{created}");
}

#[tokio::test]
async fn x5_a_duplicate_login_id_is_a_conflict_not_a_crash() {
    let app = spawn_app().await;
    app.create_account(Role::SystemAdmin, "dup-admin").await;
    let spec = AccountSpec::new(
        Some(LoginId::parse("dup-admin").unwrap()),
        "x",
        Role::SystemAdmin,
        None,
    );
    let before = app.count("audit_events").await;
    let err = create_account(app.db(), &spec, &Actor::cli(), app.now())
        .await
        .map_err(AppError::from)
        .err()
        .unwrap();
    assert!(matches!(err, AppError::Conflict(_)), "{err:?}");
    assert_eq!(
        app.count("audit_events").await,
        before,
        "the failed insert left no event"
    );
}

#[tokio::test]
async fn x5_facility_roles_need_a_facility() {
    let app = spawn_app().await;
    let spec = AccountSpec::new(
        Some(LoginId::parse("nofacility").unwrap()),
        "x",
        Role::User,
        None,
    );
    assert!(matches!(
        create_account(app.db(), &spec, &Actor::cli(), app.now())
            .await
            .map_err(AppError::from),
        Err(AppError::BadRequest(_))
    ));
    let spec = AccountSpec {
        facility_code: Some("0000000000"),
        ..spec
    };
    assert!(matches!(
        create_account(app.db(), &spec, &Actor::cli(), app.now())
            .await
            .map_err(AppError::from),
        Err(AppError::BadRequest(_))
    ));
}

#[tokio::test]
async fn x5_the_cli_creates_unlocks_and_resets_accounts() {
    let app = spawn_app().await;
    let out = app.cli(&[
        "account",
        "create",
        "--role",
        "system_operator",
        "--login-id",
        "cli-op",
        "--name",
        "運用 次郎",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let otp = text
        .lines()
        .find_map(|l| l.strip_prefix("初期パスワード: "))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(otp.len(), 8);
    assert_eq!(app.client().login("cli-op", &otp).await.status(), 303);
    let actor: String =
        sqlx::query_scalar("SELECT actor_role FROM audit_events WHERE action = 'account.created'")
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert_eq!(actor, "cli");

    let c = app.client();
    for _ in 0..5 {
        c.login("cli-op", "Wrong2026pass").await;
    }
    assert_eq!(c.login("cli-op", &otp).await.status(), 401);
    let out = app.cli(&["account", "unlock", "--login-id", "cli-op"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ロックを解除しました"));
    assert_eq!(c.login("cli-op", &otp).await.status(), 303);

    let out = app.cli(&["account", "reset-password", "--login-id", "cli-op"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let new = text
        .lines()
        .find_map(|l| l.strip_prefix("新しい初期パスワード: "))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        app.client().login("cli-op", &otp).await.status(),
        401,
        "the old password stops working"
    );
    assert_eq!(app.client().login("cli-op", &new).await.status(), 303);

    let out = app.cli(&[
        "account",
        "create",
        "--role",
        "wizard",
        "--login-id",
        "x-wizard",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("不明な役割"));
}

#[tokio::test]
async fn x5_unknown_configuration_keys_are_refused_at_start() {
    let app = spawn_app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .args(["migrate"])
        .env("RAINBOWNET__SERVER__BINDD", "0.0.0.0:1")
        .env("RAINBOWNET__PATHS__DATA_DIR", app.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bindd"));
    // A domain's section: a section no domain owns, and a key its domain does not know.
    for (var, word) in [
        ("RAINBOWNET__HELPDESKK__FIRST_RESPONSE_HOURS", "helpdeskk"),
        (
            "RAINBOWNET__HELPDESK__FIRST_RESPONSE_HOURZ",
            "first_response_hourz",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
            .args(["migrate"])
            .env(var, "4")
            .env("RAINBOWNET__PATHS__DATA_DIR", app.dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(word),
            "{var}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = app.cli(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn x5_the_health_check_answers_without_a_session() {
    let app = spawn_app().await;
    let res = app.client().get("/healthz").await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["status"], "ok");
}

#[tokio::test]
async fn x5_the_suite_runs_on_the_database_it_was_given() {
    let app = spawn_app().await;
    let expected = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => rainbownet::db::Backend::Postgres,
        _ => rainbownet::db::Backend::Sqlite,
    };
    assert_eq!(app.db().backend(), expected);
    let version: String = match expected {
        rainbownet::db::Backend::Postgres => sqlx::query_scalar("SELECT version()")
            .fetch_one(app.db().pool())
            .await
            .unwrap(),
        rainbownet::db::Backend::Sqlite => {
            sqlx::query_scalar("SELECT 'SQLite ' || sqlite_version()")
                .fetch_one(app.db().pool())
                .await
                .unwrap()
        }
    };
    eprintln!("database: {version}");
}

fn sqlite(app: &TestApp) -> bool {
    app.db().backend() == rainbownet::db::Backend::Sqlite
}

/// One audit event in a transaction of its own, optionally held open for `hold`.
async fn audit_write(db: &rainbownet::db::Db, now: rainbownet::db::Timestamp, hold_ms: u64) {
    let mut tx = db.begin().await.unwrap();
    rainbownet::audit::record(
        &mut tx,
        now,
        &Actor::system("test"),
        "test.write",
        "test:1",
        serde_json::json!({}),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(hold_ms)).await;
    tx.commit().await.unwrap();
}

/// X.2 on PostgreSQL (several writers at once; SQLite has one writer and one chain): a
/// transaction that writes the audit log again keeps to the chain it holds, even when a chain
/// with a lower number has come free meanwhile — otherwise each writer could end up holding
/// several chains and leave none for the others.
#[tokio::test]
async fn x2_a_transaction_keeps_to_the_audit_chain_it_holds() {
    let app = spawn_app().await;
    if sqlite(&app) {
        return;
    }
    use rainbownet::audit::repo::claim;
    let mut a = app.db().begin().await.unwrap();
    let first = claim(&mut a, 1).await.unwrap().chain;
    let mut b = app.db().begin().await.unwrap();
    let held = claim(&mut b, 1).await.unwrap().chain;
    assert_ne!(first, held, "a chain is held by one transaction at a time");
    a.rollback().await.unwrap();
    let again = claim(&mut b, 1).await.unwrap();
    assert_eq!(
        again.chain, held,
        "the chain it holds, not the one that came free"
    );
    assert_eq!(
        again.ids.len(),
        1,
        "the places claimed again follow on the same chain"
    );
    b.rollback().await.unwrap();
}

#[tokio::test]
async fn x5_writers_of_every_domain_queue_for_the_one_sqlite_writer() {
    let app = spawn_app().await;
    let now = app.now();
    if sqlite(&app) {
        // A second writer waits in-process while a transaction is open, and gets in once it ends,
        // whether it was committed or dropped.
        let held = app.db().begin().await.unwrap();
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(200), app.db().begin());
        assert!(waiting.await.is_err(), "the writer lock is held by the Tx");
        drop(held);
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), app.db().begin());
        next.await
            .expect("dropping a Tx releases the lock")
            .unwrap();
    }
    // Writers of four domains at once, each transaction reading before it writes (the audit
    // head, ID checks): none fails with SQLITE_BUSY, and the chain stays whole.
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let db = app.db().clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                audit_write(&db, now, 2).await;
            }
            i
        }));
        let db = app.db().clone();
        tasks.push(tokio::spawn(async move {
            let code = format!("99100000{i:02}");
            let f = rainbownet::facilities::NewFacility::minimal(
                rainbownet::facilities::FacilityCode::parse(&code).unwrap(),
                &format!("並行施設{i}"),
                rainbownet::facilities::FacilityKind::Clinic,
            );
            rainbownet::facilities::add(&db, &f, &Actor::system("test"), now)
                .await
                .unwrap();
            rainbownet::records::create_api_key(&db, &code, "k", &Actor::system("test"), now)
                .await
                .unwrap();
            i
        }));
        let db = app.db().clone();
        tasks.push(tokio::spawn(async move {
            let login = LoginId::parse(&format!("u-par-{i}")).unwrap();
            let spec = AccountSpec::new(Some(login), "並行", Role::SystemOperator, None);
            create_account(&db, &spec, &Actor::cli(), now)
                .await
                .unwrap();
            i
        }));
    }
    for t in tasks {
        t.await.expect("no writer failed");
    }
    assert_eq!(app.audit_count("test.write").await, 40);
    let mut conn = app.db().pool().acquire().await.unwrap();
    let report = rainbownet::audit::verify(&mut conn, app.db().keys().audit())
        .await
        .unwrap();
    assert_eq!(report.broken, None);
}

#[tokio::test]
async fn x5_sqlite_syncs_every_commit_unless_configured_normal() {
    let app = spawn_app().await;
    if !sqlite(&app) {
        return;
    }
    let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(level, 2, "FULL by default");
    let app =
        spawn_app_with(|s| s.database.synchronous = rainbownet::config::Synchronous::Normal).await;
    // Every connection of the pool, not only the first.
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut c = app.db().pool().acquire().await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(level, 1, "NORMAL when configured");
        conns.push(c);
    }
}
