//! All SQL of accounts, log-in attempts, recovery codes and (for now) facilities.

use super::model::{Account, RecoveryStatus};
use crate::auth::Role;
use crate::db::{Conn, Timestamp};

pub(super) const ACCOUNT_COLUMNS: &str =
    "id, login_id, display_name, role, facility_id, password_hash,
    must_change_password, password_expires_at, totp_secret, totp_enabled_at, totp_last_step,
    locked_at, locked_until, failures_since, disabled_at, last_login_at, created_at";

pub async fn find_by_login_id(conn: &mut Conn, login_id: &str) -> sqlx::Result<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login_id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(login_id)
        .fetch_optional(&mut *conn)
        .await
}

/// [`find_by_login_id`] in a write transaction that goes on to count the account's failures.
/// PostgreSQL locks the row, so that concurrent log-ins of one account count one after the
/// other (on SQLite the database's writer lock already does).
pub async fn find_by_login_id_for_update(
    conn: &mut Conn,
    login_id: &str,
) -> sqlx::Result<Option<Account>> {
    // Non-portable: SQLite has no FOR UPDATE.
    let lock = match conn.backend_name() {
        "PostgreSQL" => " FOR UPDATE",
        _ => "",
    };
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login_id = $1{lock}");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(login_id)
        .fetch_optional(&mut *conn)
        .await
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Account> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

pub struct NewAccount<'a> {
    pub login_id: &'a str,
    pub display_name: &'a str,
    pub name_kana: &'a str,
    pub job_type: &'a str,
    pub contact: &'a str,
    pub role: Role,
    pub facility_id: Option<i64>,
    pub password_hash: &'a str,
    pub must_change_password: bool,
    pub password_expires_at: Option<Timestamp>,
}

pub async fn insert(conn: &mut Conn, a: &NewAccount<'_>, now: Timestamp) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO accounts (login_id, display_name, role, facility_id, password_hash,
                               must_change_password, password_expires_at, created_at,
                               name_kana, job_type, contact)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(a.login_id)
    .bind(a.display_name)
    .bind(a.role.key())
    .bind(a.facility_id)
    .bind(a.password_hash)
    .bind(i64::from(a.must_change_password))
    .bind(a.password_expires_at)
    .bind(now)
    .bind(a.name_kana)
    .bind(a.job_type)
    .bind(a.contact)
    .fetch_one(&mut *conn)
    .await
}

pub async fn record_attempt(
    conn: &mut Conn,
    account_id: Option<i64>,
    login_id: &str,
    now: Timestamp,
    succeeded: bool,
    client_addr: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO login_attempts (account_id, login_id, at, succeeded, client_addr)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account_id)
    .bind(login_id.chars().take(64).collect::<String>())
    .bind(now)
    .bind(i64::from(succeeded))
    .bind(client_addr)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn count_failures_since(
    conn: &mut Conn,
    account_id: i64,
    since: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM login_attempts WHERE account_id = $1 AND succeeded = 0 AND at >= $2",
    )
    .bind(account_id)
    .bind(since)
    .fetch_one(&mut *conn)
    .await
}

pub async fn lock(conn: &mut Conn, id: i64, now: Timestamp, until: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE accounts SET locked_at = $1, locked_until = $2, failures_since = $1 WHERE id = $3",
    )
    .bind(now)
    .bind(until)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Clears a lock and restarts the failure count.
pub async fn unlock(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET locked_at = NULL, locked_until = NULL, failures_since = $1
          WHERE id = $2 AND locked_until IS NOT NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_login(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET last_login_at = $1, failures_since = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_password(
    conn: &mut Conn,
    id: i64,
    hash: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE accounts SET password_hash = $1, must_change_password = 0, password_expires_at = NULL,
                             password_changed_at = $2
          WHERE id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces the password with a new one-time password (must be changed at next log-in); also
/// clears a lock, since the person has been re-identified.
pub async fn reset_password(
    conn: &mut Conn,
    id: i64,
    hash: &str,
    expires: Timestamp,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE accounts SET password_hash = $1, must_change_password = 1, password_expires_at = $2,
                             locked_at = NULL, locked_until = NULL, failures_since = $3
          WHERE id = $4",
    )
    .bind(hash)
    .bind(expires)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the account's second factor (secret, enrolment, recovery codes); a staff account
/// enrols again at its next log-in.
pub async fn reset_totp(conn: &mut Conn, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET totp_secret = NULL, totp_enabled_at = NULL,
                             recovery_codes_invalidated_at = NULL
          WHERE id = $1 AND (totp_secret IS NOT NULL OR totp_enabled_at IS NOT NULL)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_pending_totp(conn: &mut Conn, id: i64, secret: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE id = $2 AND totp_enabled_at IS NULL")
        .bind(secret)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn enable_totp(conn: &mut Conn, id: i64, step: i64, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET totp_enabled_at = $1, totp_last_step = $2 WHERE id = $3")
        .bind(now)
        .bind(step)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records `step` as the account's last accepted TOTP step, only if it is later than the one
/// stored: `false` when another request (of any instance) used this step or a later one
/// meanwhile, so that one code is never accepted twice.
pub async fn set_totp_step(conn: &mut Conn, id: i64, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET totp_last_step = $1
          WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the account's recovery codes with these hashes; a notice that old codes were
/// invalidated is cleared with it.
pub async fn replace_recovery_codes(
    conn: &mut Conn,
    account_id: i64,
    hashes: &[String],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    for h in hashes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(account_id)
            .bind(h)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE accounts SET recovery_codes_invalidated_at = NULL WHERE id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The account's unused recovery codes: (row id, stored hash).
pub async fn unused_recovery_codes(
    conn: &mut Conn,
    account_id: i64,
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, code_hash FROM recovery_codes
          WHERE account_id = $1 AND used_at IS NULL ORDER BY id",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await
}

/// Marks one unused recovery code as used; returns whether it was still unused.
pub async fn use_recovery_code(
    conn: &mut Conn,
    account_id: i64,
    code_id: i64,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1
          WHERE id = $2 AND account_id = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(code_id)
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() >= 1)
}

/// Accounts holding recovery codes whose stored hash does not start with `current_prefix`
/// (codes of an older, weaker kind).
pub async fn accounts_with_old_recovery_codes(
    conn: &mut Conn,
    current_prefix: &str,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT DISTINCT account_id FROM recovery_codes
          WHERE code_hash NOT LIKE $1 ORDER BY account_id",
    )
    .bind(format!("{current_prefix}%"))
    .fetch_all(&mut *conn)
    .await
}

/// Deletes the account's recovery codes of an older kind and notes when, so that the person
/// is asked to issue new ones; returns how many were deleted.
pub async fn invalidate_old_recovery_codes(
    conn: &mut Conn,
    account_id: i64,
    current_prefix: &str,
    now: Timestamp,
) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash NOT LIKE $2")
            .bind(account_id)
            .bind(format!("{current_prefix}%"))
            .execute(&mut *conn)
            .await?;
    sqlx::query("UPDATE accounts SET recovery_codes_invalidated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// What a person's second factor looks like now (the dashboard and the recovery-code page).
pub async fn recovery_status(conn: &mut Conn, account_id: i64) -> sqlx::Result<RecoveryStatus> {
    sqlx::query_as(
        "SELECT a.totp_enabled_at, a.recovery_codes_invalidated_at,
                (SELECT COUNT(*) FROM recovery_codes r
                  WHERE r.account_id = a.id AND r.used_at IS NULL) AS unused
           FROM accounts a WHERE a.id = $1",
    )
    .bind(account_id)
    .fetch_one(&mut *conn)
    .await
}

/// TOTP secrets that are not sealed with the key whose values start with `sealed_prefix`
/// (clear secrets, or secrets sealed with an older key): (account id, stored value).
pub async fn totp_secrets_not_sealed_with(
    conn: &mut Conn,
    sealed_prefix: &str,
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, totp_secret FROM accounts
          WHERE totp_secret IS NOT NULL AND totp_secret NOT LIKE $1 ORDER BY id",
    )
    .bind(format!("{sealed_prefix}%"))
    .fetch_all(&mut *conn)
    .await
}

/// Replaces a stored TOTP secret (re-sealed with another key) as long as it is still `old`.
pub async fn reseal_totp_secret(
    conn: &mut Conn,
    id: i64,
    old: &str,
    sealed: &str,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE id = $2 AND totp_secret = $3")
            .bind(sealed)
            .bind(id)
            .bind(old)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn count_locked(conn: &mut Conn, now: Timestamp) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) AS n FROM accounts WHERE locked_until > $1")
        .bind(now)
        .fetch_one(&mut *conn)
        .await
}

pub async fn count(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) AS n FROM accounts")
        .fetch_one(&mut *conn)
        .await
}

pub async fn login_id_exists(conn: &mut Conn, login_id: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("SELECT id FROM accounts WHERE login_id = $1")
        .bind(login_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

pub async fn disable(conn: &mut Conn, id: i64, now: Timestamp, reason: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET disabled_at = $1, disabled_reason = $2 WHERE id = $3 AND disabled_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update_attributes(
    conn: &mut Conn,
    id: i64,
    display_name: &str,
    name_kana: &str,
    job_type: &str,
    contact: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET display_name = $1, name_kana = $2, job_type = $3, contact = $4 WHERE id = $5")
        .bind(display_name)
        .bind(name_kana)
        .bind(job_type)
        .bind(contact)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn mark_letter_issued(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET letter_issued_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Attributes of a person as kept on the account (for requests and letters).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Person {
    pub id: i64,
    pub login_id: String,
    pub display_name: String,
    pub name_kana: String,
    pub job_type: String,
    pub contact: String,
    pub role: String,
    pub facility_id: Option<i64>,
    pub disabled_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// When the last sealed letter (ID and one-time password) was issued.
    pub letter_issued_at: Option<Timestamp>,
}

const PERSON: &str =
    "SELECT id, login_id, display_name, name_kana, job_type, contact, role, facility_id,
        disabled_at, last_login_at, created_at, letter_issued_at FROM accounts";

pub async fn person(conn: &mut Conn, id: i64) -> sqlx::Result<Person> {
    let sql = format!("{PERSON} WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// The accounts of one facility, active first.
pub async fn people_of_facility(conn: &mut Conn, facility_id: i64) -> sqlx::Result<Vec<Person>> {
    let sql = format!(
        "{PERSON} WHERE facility_id = $1
         ORDER BY CASE WHEN disabled_at IS NULL THEN 0 ELSE 1 END, name_kana, id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .fetch_all(&mut *conn)
        .await
}

/// A line of the account inventory.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InventoryRow {
    pub login_id: String,
    pub display_name: String,
    pub role: String,
    pub facility_name: Option<String>,
    pub facility_withdrawn_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub locked_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
    pub must_change_password: i64,
    pub password_expires_at: Option<Timestamp>,
}

/// Every active account with what the inventory needs to classify it.
pub async fn inventory(conn: &mut Conn) -> sqlx::Result<Vec<InventoryRow>> {
    sqlx::query_as(
        "SELECT a.id, a.login_id, a.display_name, a.role, f.name AS facility_name,
                f.withdrawn_at AS facility_withdrawn_at, a.last_login_at, a.created_at, a.locked_at,
                a.locked_until, a.must_change_password, a.password_expires_at
           FROM accounts a LEFT JOIN facilities f ON f.id = a.facility_id
          WHERE a.disabled_at IS NULL
          ORDER BY a.id",
    )
    .fetch_all(&mut *conn)
    .await
}

pub async fn insert_review(
    conn: &mut Conn,
    by: i64,
    now: Timestamp,
    outcome: &str,
    summary: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO account_reviews (reviewed_by, reviewed_at, outcome, summary) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(by)
        .bind(now)
        .bind(outcome)
        .bind(summary)
        .fetch_one(&mut *conn)
        .await
}

/// Past reviews, newest first: (time, reviewer's name, outcome, summary).
pub async fn reviews(
    conn: &mut Conn,
    limit: i64,
) -> sqlx::Result<Vec<(Timestamp, String, String, String)>> {
    sqlx::query_as(
        "SELECT r.reviewed_at, a.display_name, r.outcome, r.summary
           FROM account_reviews r JOIN accounts a ON a.id = r.reviewed_by
          ORDER BY r.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Sets an account's page language; returns the one it had.
pub async fn set_language(
    conn: &mut Conn,
    account_id: i64,
    language: &str,
) -> sqlx::Result<Option<String>> {
    let from: Option<String> = sqlx::query_scalar("SELECT language FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
    sqlx::query("UPDATE accounts SET language = $1 WHERE id = $2")
        .bind(language)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    Ok(from)
}
