//! SQL of the failed-log-in windows (`login_failure_windows`, `login_failure_ids`): see
//! `throttle.rs`. Split from `repo.rs` only to keep that file about accounts.

use crate::db::{Conn, Timestamp};

/// Why a log-in failed, as counted in its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    UnknownId,
    WrongPassword,
    /// A locked or disabled account.
    RefusedAccount,
}

/// Counts one failure of `client_addr` in the window starting at `start`; returns the window's
/// id and its failures so far (1 = this is the window's first).
pub async fn count_failure(
    conn: &mut Conn,
    client_addr: &str,
    start: Timestamp,
    end: Timestamp,
    reason: Reason,
    now: Timestamp,
) -> sqlx::Result<(i64, i64)> {
    let one = |r: Reason| i64::from(r == reason);
    sqlx::query_as(
        "INSERT INTO login_failure_windows (client_addr, window_start, window_end, failures,
             unknown_id, wrong_password, refused_account, first_at, last_at)
         VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $7)
         ON CONFLICT (client_addr, window_start) DO UPDATE SET
             failures = login_failure_windows.failures + 1,
             unknown_id = login_failure_windows.unknown_id + excluded.unknown_id,
             wrong_password = login_failure_windows.wrong_password + excluded.wrong_password,
             refused_account = login_failure_windows.refused_account + excluded.refused_account,
             last_at = excluded.last_at
         RETURNING id, failures",
    )
    .bind(client_addr)
    .bind(start)
    .bind(end)
    .bind(one(Reason::UnknownId))
    .bind(one(Reason::WrongPassword))
    .bind(one(Reason::RefusedAccount))
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// Counts the log-in ID tried in the window.
pub async fn count_login_id(conn: &mut Conn, window_id: i64, login_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO login_failure_ids (window_id, login_id, failures) VALUES ($1, $2, 1)
         ON CONFLICT (window_id, login_id) DO UPDATE SET failures = login_failure_ids.failures + 1",
    )
    .bind(window_id)
    .bind(login_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FailureWindow {
    pub id: i64,
    pub client_addr: String,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    pub failures: i64,
    pub unknown_id: i64,
    pub wrong_password: i64,
    pub refused_account: i64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
}

/// Windows that have closed by `now` and are not yet reported, oldest first.
pub async fn closed_unreported(
    conn: &mut Conn,
    now: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<FailureWindow>> {
    sqlx::query_as(
        "SELECT id, client_addr, window_start, window_end, failures, unknown_id, wrong_password,
                refused_account, first_at, last_at
         FROM login_failure_windows
         WHERE reported_at IS NULL AND window_end <= $1
         ORDER BY window_end, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// The log-in IDs of a window, most tried first, and how many distinct IDs there were.
pub async fn login_ids(
    conn: &mut Conn,
    window_id: i64,
    limit: i64,
) -> sqlx::Result<(Vec<(String, i64)>, i64)> {
    let ids = sqlx::query_as(
        "SELECT login_id, failures FROM login_failure_ids WHERE window_id = $1
         ORDER BY failures DESC, login_id LIMIT $2",
    )
    .bind(window_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let distinct =
        sqlx::query_scalar("SELECT COUNT(*) AS n FROM login_failure_ids WHERE window_id = $1")
            .bind(window_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok((ids, distinct))
}

pub async fn mark_reported(conn: &mut Conn, window_id: i64, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE login_failure_windows SET reported_at = $1 WHERE id = $2")
        .bind(now)
        .bind(window_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
