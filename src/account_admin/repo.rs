//! SQL of the per-account page: the account's history in the audit log, its open sessions and
//! its account requests (read only; every change goes through `accounts::admin`).

use crate::db::{Conn, Timestamp};

#[derive(sqlx::FromRow)]
pub struct HistoryRow {
    pub at: Timestamp,
    pub actor_login: String,
    pub action: String,
    pub details: String,
}

/// The audit events whose target is exactly `target` (`account:1` never matches
/// `account:12`: equality, not a prefix), the newest first.
pub async fn history(
    conn: &mut Conn,
    target: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as(
        "SELECT at, actor_login, action, details FROM audit_events
          WHERE target = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
    )
    .bind(target)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await
}

pub async fn history_count(conn: &mut Conn, target: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE target = $1")
        .bind(target)
        .fetch_one(&mut *conn)
        .await
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub client_addr: String,
    pub user_agent: String,
}

/// Sessions not ended (an idle one is ended by the `sessions.expire` job within minutes).
pub async fn open_sessions(conn: &mut Conn, account_id: i64) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as(
        "SELECT created_at, last_seen_at, client_addr, user_agent FROM sessions
          WHERE account_id = $1 AND ended_at IS NULL ORDER BY created_at, id",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await
}

#[derive(sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub received_at: Timestamp,
}

/// The account requests about this account: the one that created it and those that changed or
/// ended it.
pub async fn requests(conn: &mut Conn, account_id: i64) -> sqlx::Result<Vec<RequestRow>> {
    sqlx::query_as(
        "SELECT id, kind, state, received_at FROM account_requests
          WHERE target_account_id = $1 OR result_account_id = $1 ORDER BY id DESC",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await
}
