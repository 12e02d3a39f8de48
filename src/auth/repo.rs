//! All SQL of the session store (and the access log, which is read from it).

use super::{Role, UnknownRole};
use crate::db::{Conn, Timestamp};

/// A role column (`accounts.role`) read as a [`Role`], with `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for Role {
    type Error = UnknownRole;
    fn try_from(key: String) -> Result<Self, UnknownRole> {
        key.parse()
    }
}

/// A session joined with what the request needs to know about its account.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub account_id: i64,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub mfa_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub login_id: String,
    pub display_name: String,
    pub role: String,
    pub facility_id: Option<i64>,
    pub must_change_password: i64,
    pub totp_enabled_at: Option<Timestamp>,
    pub disabled_at: Option<Timestamp>,
    /// The account's page language (`ja` or `en`; see `i18n`).
    pub language: String,
}

const SESSION_SELECT: &str =
    "SELECT s.id, s.account_id, s.created_at, s.last_seen_at, s.mfa_at, s.ended_at,
        a.login_id, a.display_name, a.role, a.facility_id, a.must_change_password,
        a.totp_enabled_at, a.disabled_at, a.language
   FROM sessions s JOIN accounts a ON a.id = s.account_id";

pub async fn find_by_token_hash(conn: &mut Conn, hash: &str) -> sqlx::Result<Option<SessionRow>> {
    let sql = format!("{SESSION_SELECT} WHERE s.token_hash = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await
}

pub async fn insert(
    conn: &mut Conn,
    token_hash: &str,
    account_id: i64,
    now: Timestamp,
    client_addr: &str,
    user_agent: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, client_addr, user_agent)
         VALUES ($1, $2, $3, $3, $4, $5) RETURNING id",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(now)
    .bind(client_addr)
    .bind(user_agent)
    .fetch_one(&mut *conn)
    .await
}

/// A new session row that continues `old` under a new token (rotation): same account, the same
/// log-in time (`created_at`, so the absolute limit is not extended) and second-factor time, the
/// same browser; the client address of the request that rotated it. Returns the new id.
pub async fn insert_rotated(
    conn: &mut Conn,
    old: i64,
    token_hash: &str,
    now: Timestamp,
    client_addr: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, mfa_at,
                               client_addr, user_agent)
         SELECT $1, account_id, created_at, $2, mfa_at, $3, user_agent
           FROM sessions WHERE id = $4 AND ended_at IS NULL
         RETURNING id",
    )
    .bind(token_hash)
    .bind(now)
    .bind(client_addr)
    .bind(old)
    .fetch_one(&mut *conn)
    .await
}

/// One session of an account as its owner sees it (the "my sessions" page).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionLine {
    pub id: i64,
    pub account_id: i64,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub client_addr: String,
    pub user_agent: String,
}

pub async fn find_line(conn: &mut Conn, id: i64) -> sqlx::Result<Option<SessionLine>> {
    sqlx::query_as(
        "SELECT id, account_id, created_at, last_seen_at, ended_at, client_addr, user_agent
           FROM sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// The open sessions of an account still within their limits (used since `idle_after`, started
/// since `started_after`), the one that started first first.
pub async fn list_live_for_account(
    conn: &mut Conn,
    account_id: i64,
    idle_after: Timestamp,
    started_after: Timestamp,
) -> sqlx::Result<Vec<SessionLine>> {
    sqlx::query_as(
        "SELECT id, account_id, created_at, last_seen_at, ended_at, client_addr, user_agent
           FROM sessions
          WHERE account_id = $1 AND ended_at IS NULL AND last_seen_at >= $2 AND created_at >= $3
          ORDER BY created_at, id",
    )
    .bind(account_id)
    .bind(idle_after)
    .bind(started_after)
    .fetch_all(&mut *conn)
    .await
}

pub async fn touch(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn mark_mfa(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET mfa_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends one session; returns whether it was still open.
pub async fn end(conn: &mut Conn, id: i64, now: Timestamp, reason: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every open session of an account except `keep`; returns the ids ended.
pub async fn end_all_for_account(
    conn: &mut Conn,
    account_id: i64,
    keep: Option<i64>,
    now: Timestamp,
    reason: &str,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "UPDATE sessions SET ended_at = $1, end_reason = $2
          WHERE account_id = $3 AND ended_at IS NULL AND id <> $4 RETURNING id",
    )
    .bind(now)
    .bind(reason)
    .bind(account_id)
    .bind(keep.unwrap_or(-1))
    .fetch_all(&mut *conn)
    .await
}

/// Open sessions idle since before `idle_before` or started before `started_before`.
pub async fn list_expired(
    conn: &mut Conn,
    idle_before: Timestamp,
    started_before: Timestamp,
) -> sqlx::Result<Vec<SessionRow>> {
    let sql = format!(
        "{SESSION_SELECT} WHERE s.ended_at IS NULL AND (s.last_seen_at < $1 OR s.created_at < $2)
         ORDER BY s.id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(idle_before)
        .bind(started_before)
        .fetch_all(&mut *conn)
        .await
}

pub async fn count_open(conn: &mut Conn, idle_after: Timestamp) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NULL AND last_seen_at >= $1",
    )
    .bind(idle_after)
    .fetch_one(&mut *conn)
    .await
}

/// One line of the access log (アクセスログ): who logged in when, for how long, how it ended.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct AccessLogRow {
    #[sqlx(rename = "id")]
    pub session_id: i64,
    pub login_id: String,
    pub display_name: String,
    pub role: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<String>,
    pub client_addr: String,
    pub user_agent: String,
}

/// How many sessions [`access_log`] would list without its page limit.
pub async fn access_log_count(
    conn: &mut Conn,
    login_id: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE ($1 = '' OR a.login_id = $1) AND ($2 = '' OR s.created_at >= $2)
            AND ($3 = '' OR s.created_at < $3)",
    )
    .bind(login_id.trim())
    .bind(from.map(|t| t.to_db()).unwrap_or_default())
    .bind(to.map(|t| t.to_db()).unwrap_or_default())
    .fetch_one(&mut *conn)
    .await
}

pub async fn access_log(
    conn: &mut Conn,
    login_id: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AccessLogRow>> {
    sqlx::query_as(
        "SELECT s.id, a.login_id, a.display_name, a.role, s.created_at, s.last_seen_at, s.ended_at,
                s.end_reason, s.client_addr, s.user_agent
           FROM sessions s JOIN accounts a ON a.id = s.account_id
          WHERE ($1 = '' OR a.login_id = $1) AND ($2 = '' OR s.created_at >= $2)
            AND ($3 = '' OR s.created_at < $3)
          ORDER BY s.id DESC LIMIT $4 OFFSET $5",
    )
    .bind(login_id.trim())
    .bind(from.map(|t| t.to_db()).unwrap_or_default())
    .bind(to.map(|t| t.to_db()).unwrap_or_default())
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await
}
