//! X.1 — secrets people choose and second-factor secrets at rest (issue 10, items 5 and 6):
//! weak new passwords refused with a Japanese reason (ASVS 2.1.7); TOTP secrets sealed with a
//! key kept outside the database, key rotation; recovery codes of 120 bits, salted, single-use.

use rainbownet::auth::password::{self, Password};
use rainbownet::auth::{Role, totp};
use rainbownet::db::{Backend, KeyRing};

use crate::helpers::*;

const STRONG: &str = "Tsushima-lantern-48";

/// A staff member who changed the one-time password and enrolled TOTP, with what the
/// enrolment showed.
struct Enrolled {
    login_id: String,
    secret: String,
    codes: Vec<String>,
}

fn codes_in(body: &str) -> Vec<String> {
    body.split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_string)
        .collect()
}

async fn enrol(app: &TestApp, role: Role, login_id: &str) -> Enrolled {
    let (login_id, otp) = app.create_account(role, login_id).await;
    let c = app.client();
    assert_eq!(c.login(&login_id, &otp).await.status(), 303);
    let res = c
        .post_form(
            "/account/password",
            &[
                ("current_password", &otp),
                ("new_password", STRONG),
                ("confirm_password", STRONG),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "password change");
    let page = c
        .get("/account/totp/enroll")
        .await
        .text()
        .await
        .expect("page");
    let secret = attr(&page, "data-secret").expect("secret on the enrolment page");
    let code = totp::code_at(&secret, app.now()).expect("code");
    let res = c
        .post_form("/account/totp/enroll", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 200, "enrolment");
    let codes = codes_in(&res.text().await.expect("body"));
    assert_eq!(codes.len(), 10, "ten recovery codes");
    Enrolled {
        login_id,
        secret,
        codes,
    }
}

async fn stored_secret(app: &TestApp, login_id: &str) -> String {
    sqlx::query_scalar("SELECT totp_secret FROM accounts WHERE login_id = $1")
        .bind(login_id)
        .fetch_one(app.db().pool())
        .await
        .expect("stored secret")
}

/// Logs in with the password and the second factor `code`; returns the client and the status
/// of the second-factor step.
async fn log_in_with(app: &TestApp, login_id: &str, code: &str) -> (TestClient, u16) {
    let c = app.client();
    assert_eq!(c.login(login_id, STRONG).await.status(), 303, "password");
    let res = c.post_form("/login/totp", &[("code", code)]).await;
    let status = res.status().as_u16();
    (c, status)
}

#[tokio::test]
async fn x1_weak_new_passwords_are_refused_with_a_japanese_reason_and_a_strong_one_is_accepted() {
    let app = spawn_app().await;
    let (login_id, otp) = app.create_account(Role::User, "tanaka-clinic7").await;
    let c = app.client();
    assert_eq!(c.login(&login_id, &otp).await.status(), 303);
    for (new, reason) in [
        // Reproduced in issue 10: accepted before.
        (
            "password1",
            "よく使われるパスワード（流出したパスワードの一覧",
        ),
        // On the bundled list, although the estimator alone would let it pass.
        (
            "Fqrg7cs493",
            "よく使われるパスワード（流出したパスワードの一覧",
        ),
        ("tanaka-clinic7", "ログインIDと同じパスワードは使えません"),
        // The log-in ID counts against the password (zxcvbn user inputs).
        (
            "Tanaka-clinic7x",
            "推測されやすいパスワードです（ログインID・氏名・サービス名などを含んでいます）",
        ),
        ("hjklhjkl9", "推測されやすいパスワードです（"),
    ] {
        let res = c
            .post_form(
                "/account/password",
                &[
                    ("current_password", &otp),
                    ("new_password", new),
                    ("confirm_password", new),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{new} is refused");
        let body = res.text().await.expect("body");
        assert!(body.contains(reason), "{new}: expected 「{reason}」");
    }
    assert_eq!(app.audit_count("auth.password_changed").await, 0);
    assert_eq!(location(&c.get("/").await), "/account/password");

    let res = c
        .post_form(
            "/account/password",
            &[
                ("current_password", &otp),
                ("new_password", STRONG),
                ("confirm_password", STRONG),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "a strong password is accepted");
    assert_eq!(c.get("/").await.status(), 200);
    assert_eq!(app.audit_count("auth.password_changed").await, 1);
}

#[tokio::test]
async fn x1_a_totp_secret_is_stored_sealed_and_a_database_copied_without_the_key_file_cannot_use_it()
 {
    let app = spawn_app().await;
    let admin = enrol(&app, Role::SystemAdmin, "admin-sealed").await;
    let stored = stored_secret(&app, &admin.login_id).await;
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(
        !stored.contains(&admin.secret),
        "the base32 secret is not in the column"
    );
    let key_id = totp::sealed_with(&stored).expect("sealed").to_string();
    let ring = KeyRing::open(app.dir.path()).expect("keys");
    assert_eq!(key_id, ring.totp().current().id());

    // The database copied alone: a new data directory without keys/ (a fresh key there).
    // Started as it is, the copy would be refused (`key_fingerprints`, issue 16: instances on
    // one database share their keys); but whoever holds the database can delete those rows,
    // so the seal itself must hold: the thief's copy has none.
    sqlx::query("DELETE FROM key_fingerprints")
        .execute(app.db().pool())
        .await
        .expect("forget the key ids");
    let copy_dir = tempfile::tempdir().expect("dir");
    let copy_url = match app.db().backend() {
        Backend::Sqlite => {
            let path = copy_dir.path().join("copy.db");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "VACUUM INTO '{}'",
                path.display()
            )))
            .execute(app.db().pool())
            .await
            .expect("copy");
            let bytes = std::fs::read(&path).expect("copied file");
            let clear = admin.secret.as_bytes();
            assert!(
                !bytes.windows(clear.len()).any(|w| w == clear),
                "the secret appears nowhere in the database file"
            );
            format!("sqlite://{}?mode=rwc", path.display())
        }
        Backend::Postgres => app.database_url.clone(),
    };
    let thief = spawn_app_with(|s| s.database.url = copy_url).await;
    assert!(!app.dir.path().starts_with(thief.dir.path()));
    assert_ne!(
        KeyRing::open(thief.dir.path())
            .expect("keys")
            .totp()
            .current()
            .id(),
        key_id
    );
    thief.advance_minutes(1);
    let code = totp::code_at(&admin.secret, thief.now()).expect("code");
    let (c, status) = log_in_with(&thief, &admin.login_id, &code).await;
    assert_eq!(status, 409, "told clearly, not a crash");
    let res = c.get("/").await;
    assert_eq!(
        location(&res),
        "/login/totp",
        "still not past the second factor"
    );
    let res = c.post_form("/login/totp", &[("code", &code)]).await;
    let body = res.text().await.expect("body");
    assert!(
        body.contains("このサーバーの暗号鍵で読み出せない"),
        "the person is told why"
    );
    // The stored value is left as it was: the right key can still open it.
    assert_eq!(stored_secret(&thief, &admin.login_id).await, stored);
    // A recovery code does not depend on the key and still lets the person in.
    let (c, status) = log_in_with(&thief, &admin.login_id, &admin.codes[0]).await;
    assert_eq!(status, 303);
    assert_eq!(c.get("/").await.status(), 200);
}

#[tokio::test]
async fn x1_keys_rotate_totp_reseals_every_secret_and_totp_log_in_keeps_working() {
    let app = spawn_app().await;
    let admin = enrol(&app, Role::SystemAdmin, "admin-rotate").await;
    let operator = enrol(&app, Role::SystemOperator, "op-rotate").await;
    let before = stored_secret(&app, &admin.login_id).await;
    let old_id = totp::sealed_with(&before).expect("sealed").to_string();

    let out = app.cli(&["keys", "rotate", "totp"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("暗号化し直した TOTP の秘密: 2 件"),
        "{stdout}"
    );

    let ring = KeyRing::open(app.dir.path()).expect("keys");
    let new_id = ring.totp().current().id().to_string();
    assert_ne!(new_id, old_id);
    assert!(ring.totp().by_id(&old_id).is_some(), "the old key is kept");
    for who in [&admin, &operator] {
        let after = stored_secret(&app, &who.login_id).await;
        assert_eq!(totp::sealed_with(&after), Some(new_id.as_str()));
        assert!(!after.contains(&who.secret));
    }
    assert_eq!(app.audit_count("keys.rotated").await, 1);

    // The running server finds the new key by itself.
    app.advance_minutes(1);
    let code = totp::code_at(&admin.secret, app.now()).expect("code");
    let (c, status) = log_in_with(&app, &admin.login_id, &code).await;
    assert_eq!(status, 303, "TOTP log-in after the rotation");
    assert_eq!(c.get("/").await.status(), 200);
    let out = app.cli(&["audit", "verify"]);
    assert!(out.status.success(), "the audit chain holds");
}

#[tokio::test]
async fn x1_recovery_codes_have_120_bits_are_stored_salted_and_work_exactly_once() {
    let app = spawn_app().await;
    let a = enrol(&app, Role::SystemOperator, "op-codes-a").await;
    let b = enrol(&app, Role::SystemAdmin, "admin-codes-b").await;
    for code in a.codes.iter().chain(&b.codes) {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 6, "{code}");
        assert!(groups.iter().all(|g| g.len() == 4), "{code}");
        let normalised = totp::normalise_recovery_code(code).expect("valid");
        // 24 characters of a 32-letter alphabet: 120 bits (ASVS asks for at least 112).
        assert_eq!(normalised.len() * 5, 120);
        assert!(
            normalised
                .chars()
                .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c))
        );
    }
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(app.db().pool())
        .await
        .expect("hashes");
    assert_eq!(stored.len(), 20);
    let salts: std::collections::BTreeSet<&str> = stored
        .iter()
        .map(|h| {
            assert!(h.starts_with("$argon2id$"), "{h}");
            h.split('$').nth(4).expect("salt")
        })
        .collect();
    assert_eq!(salts.len(), 20, "every code has its own salt");
    for code in &a.codes {
        let n = totp::normalise_recovery_code(code).expect("valid");
        assert!(stored.iter().all(|h| !h.contains(&n)));
    }
    // The same code stored for two accounts gives two different values, each of which checks.
    let same = totp::normalise_recovery_code(&a.codes[0]).expect("valid");
    let (h1, h2) = (
        password::hash(&Password::new(same.clone())).expect("hash"),
        password::hash(&Password::new(same.clone())).expect("hash"),
    );
    assert_ne!(h1, h2);
    assert!(password::verify(&Password::new(same.clone()), &h1));
    assert!(password::verify(&Password::new(same), &h2));

    // Once, typed in lower case without dashes; then never again; and not for another account.
    let typed = a.codes[3].to_lowercase().replace('-', "");
    let (c, status) = log_in_with(&app, &b.login_id, &typed).await;
    assert_eq!(status, 422, "a's code is not b's");
    drop(c);
    let (c, status) = log_in_with(&app, &a.login_id, &typed).await;
    assert_eq!(status, 303);
    assert_eq!(c.get("/").await.status(), 200);
    let (_, status) = log_in_with(&app, &a.login_id, &a.codes[3]).await;
    assert_eq!(status, 422, "a used code is refused");
    let used: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NOT NULL")
            .fetch_one(app.db().pool())
            .await
            .expect("count");
    assert_eq!(used, 1);
}

#[tokio::test]
async fn x1_clear_secrets_and_old_recovery_codes_are_brought_up_at_start_and_the_person_is_asked_for_new_codes()
 {
    let app = spawn_app().await;
    let op = enrol(&app, Role::SystemOperator, "op-upgrade").await;
    let id = app.account_id(&op.login_id).await;
    // As a database from before issue 10 held them: the secret in clear, codes of 8 characters
    // as unsalted SHA-256.
    sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE id = $2")
        .bind(&op.secret)
        .bind(id)
        .execute(app.db().pool())
        .await
        .expect("clear secret");
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(id)
        .execute(app.db().pool())
        .await
        .expect("delete");
    let old_code = "K7QX-M3PD";
    let old_hash = "0d8b1ff1ae0d7a8c4fc7e9b0e4ae2b6ddc7ac7b5d7c0bbe0d55e0e6f5b5d6a47";
    for _ in 0..3 {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(id)
            .bind(old_hash)
            .execute(app.db().pool())
            .await
            .expect("old code");
    }

    // The next start (same database, same key file) seals the secret and drops the old codes.
    let url = app.database_url.clone();
    let dir = app.dir.path().to_path_buf();
    let restarted = spawn_app_with(|s| {
        s.database.url = url;
        s.paths.data_dir = dir;
    })
    .await;
    let stored = stored_secret(&restarted, &op.login_id).await;
    assert!(stored.starts_with("v1:") && !stored.contains(&op.secret));
    assert_eq!(restarted.audit_count("auth.totp_secrets_sealed").await, 1);
    assert_eq!(
        restarted
            .audit_count("auth.recovery_codes_invalidated")
            .await,
        1
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1")
        .bind(id)
        .fetch_one(restarted.db().pool())
        .await
        .expect("count");
    assert_eq!(left, 0);

    // TOTP still works with the sealed secret; the old code does not.
    restarted.advance_minutes(1);
    let (_, status) = log_in_with(&restarted, &op.login_id, old_code).await;
    assert_eq!(status, 422);
    let code = totp::code_at(&op.secret, restarted.now()).expect("code");
    let (c, status) = log_in_with(&restarted, &op.login_id, &code).await;
    assert_eq!(status, 303);

    // The dashboard asks for new codes, and the page says why.
    let dash = c.get("/").await.text().await.expect("dashboard");
    assert!(dash.contains("再発行が必要です"), "a card on the dashboard");
    assert!(dash.contains("/account/recovery-codes"));
    let page = c
        .get("/account/recovery-codes")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("以前のリカバリーコード（8文字）を無効にしました"));

    // A wrong code is refused and counted; the current one issues ten new codes.
    let res = c
        .post_form("/account/recovery-codes", &[("code", "000000")])
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(restarted.audit_count("auth.mfa_failed").await, 2);
    restarted.advance_minutes(1);
    let code = totp::code_at(&op.secret, restarted.now()).expect("code");
    let res = c
        .post_form("/account/recovery-codes", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 200);
    let codes = codes_in(&res.text().await.expect("body"));
    assert_eq!(codes.len(), 10);
    assert_eq!(
        restarted
            .audit_count("auth.recovery_codes_regenerated")
            .await,
        1
    );
    let dash = c.get("/").await.text().await.expect("dashboard");
    assert!(!dash.contains("再発行が必要です"), "the card is gone");
    // The same TOTP code cannot issue codes twice.
    let res = c
        .post_form("/account/recovery-codes", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 422);
    let (_, status) = log_in_with(&restarted, &op.login_id, &codes[9]).await;
    assert_eq!(status, 303, "a new code works");
}

#[tokio::test]
async fn x1_an_administrator_resets_a_lost_second_factor_and_the_person_enrols_again() {
    let app = spawn_app().await;
    let who = enrol(&app, Role::SystemOperator, "op-lost-phone").await;
    app.advance_minutes(1);
    let code = totp::code_at(&who.secret, app.now()).expect("code");
    let (live, status) = log_in_with(&app, &who.login_id, &code).await;
    assert_eq!(status, 303);

    let out = app.cli(&["account", "reset-totp", "--login-id", &who.login_id]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("削除しました"), "{stdout}");
    assert_eq!(app.audit_count("account.totp_reset").await, 1);
    let res = live.get("/").await;
    assert_eq!(res.status(), 303);
    assert!(
        location(&res).starts_with("/login"),
        "the live session was ended"
    );
    let c = app.client();
    assert_eq!(c.login(&who.login_id, STRONG).await.status(), 303);
    let res = c.get("/").await;
    assert_eq!(
        location(&res),
        "/account/totp/enroll",
        "a staff member enrols again"
    );
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes r JOIN accounts a ON a.id = r.account_id
          WHERE a.login_id = $1",
    )
    .bind(&who.login_id)
    .fetch_one(app.db().pool())
    .await
    .expect("count");
    assert_eq!(n, 0, "the old recovery codes are gone");

    let again = app.cli(&["account", "reset-totp", "--login-id", &who.login_id]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("登録されていません"));
    assert_eq!(
        app.audit_count("account.totp_reset").await,
        1,
        "nothing to reset"
    );
}
