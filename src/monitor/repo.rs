//! The monitors' SQL (results, aggregates and alerts have their own repo files).

use super::model::{Monitor, NewMonitor, State};
use crate::db::{Conn, Timestamp};

const COLUMNS: &str = "id, name, kind, target, interval_seconds, timeout_ms, retries,
    expect_status, keyword, json_pointer, json_value, max_response_ms, cert_min_days, asset_ref,
    paused, state, state_since, failures_in_row, note, created_by, created_at, updated_at";

pub async fn insert(
    conn: &mut Conn,
    m: &NewMonitor,
    created_by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO monitors (name, kind, target, interval_seconds, timeout_ms, retries,
             expect_status, keyword, json_pointer, json_value, max_response_ms, cert_min_days,
             asset_ref, paused, state, state_since, failures_in_row, created_by, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $15, 0, $16, $15,
             $15)
         RETURNING id",
    )
    .bind(m.name.as_str())
    .bind(m.kind.key())
    .bind(m.target.as_str())
    .bind(m.interval_seconds)
    .bind(m.timeout_ms)
    .bind(m.retries)
    .bind(m.expect_status)
    .bind(m.keyword.as_deref())
    .bind(m.json_pointer.as_deref())
    .bind(m.json_value.as_deref())
    .bind(m.max_response_ms)
    .bind(m.cert_min_days)
    .bind(m.asset_ref.as_deref())
    .bind(State::Pending.key())
    .bind(now)
    .bind(created_by)
    .fetch_one(&mut *conn)
    .await
}

/// Changes what a monitor checks and how (not its state); false when there is no such monitor.
pub async fn update(
    conn: &mut Conn,
    id: i64,
    m: &NewMonitor,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE monitors SET name = $1, kind = $2, target = $3, interval_seconds = $4,
             timeout_ms = $5, retries = $6, expect_status = $7, keyword = $8, json_pointer = $9,
             json_value = $10, max_response_ms = $11, cert_min_days = $12, asset_ref = $13,
             updated_at = $14
         WHERE id = $15",
    )
    .bind(m.name.as_str())
    .bind(m.kind.key())
    .bind(m.target.as_str())
    .bind(m.interval_seconds)
    .bind(m.timeout_ms)
    .bind(m.retries)
    .bind(m.expect_status)
    .bind(m.keyword.as_deref())
    .bind(m.json_pointer.as_deref())
    .bind(m.json_value.as_deref())
    .bind(m.max_response_ms)
    .bind(m.cert_min_days)
    .bind(m.asset_ref.as_deref())
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pauses a running monitor; false when it was paused already (or does not exist).
pub async fn pause(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE monitors SET paused = 1, updated_at = $1 WHERE id = $2 AND paused = 0")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Resumes a paused monitor as "pending" from `now` (its slots count again from here); false
/// when it was not paused.
pub async fn resume(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE monitors SET paused = 0, state = $1, state_since = $2, failures_in_row = 0,
             updated_at = $2
         WHERE id = $3 AND paused = 1",
    )
    .bind(State::Pending.key())
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Option<Monitor>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM monitors WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// Every monitor, by name.
pub async fn list(conn: &mut Conn) -> sqlx::Result<Vec<Monitor>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM monitors ORDER BY name, id"
    )))
    .fetch_all(&mut *conn)
    .await
}
