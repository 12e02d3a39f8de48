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
