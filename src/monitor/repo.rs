//! The monitors' SQL (results and aggregates are in `repo_results.rs`; alerts have their own).

use super::model::{Kind, Monitor, NewMonitor, State};
use crate::db::{Conn, Timestamp};

const COLUMNS: &str = "id, name, kind, target, interval_seconds, timeout_ms, retries,
    expect_status, keyword, json_pointer, json_value, max_response_ms, cert_min_days, asset_ref,
    paused, state, state_since, failures_in_row, note, created_by, created_at, updated_at,
    slots_from, due_at, last_slot_at";

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
             updated_at, due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $15, 0, $16, $15,
             $15, $15)
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
/// A new interval starts a new cadence from `now` (the slots of the old one stay as recorded).
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
             updated_at = $14,
             slots_from = CASE WHEN interval_seconds <> $4 THEN $14 ELSE slots_from END,
             due_at = CASE WHEN interval_seconds <> $4 THEN $14 ELSE due_at END,
             last_slot_at = CASE WHEN interval_seconds <> $4 THEN NULL ELSE last_slot_at END
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

/// Monitors of one kind (all when `kind` is None), by id.
pub async fn list_by_kind(conn: &mut Conn, kind: Option<Kind>) -> sqlx::Result<Vec<Monitor>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM monitors WHERE $1 = '' OR kind = $1 ORDER BY id"
    )))
    .bind(kind.map(Kind::key).unwrap_or(""))
    .fetch_all(&mut *conn)
    .await
}

/// Unpaused monitors whose next check is due at `now`, earliest first (`due_at` is set when a
/// monitor is added or resumed, so that this reads the index only).
pub async fn due(conn: &mut Conn, now: Timestamp, limit: i64) -> sqlx::Result<Vec<Monitor>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM monitors
         WHERE due_at <= $1 AND paused = 0
         ORDER BY due_at, id LIMIT $2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Every unpaused monitor (`monitor run --once`).
pub async fn active(conn: &mut Conn) -> sqlx::Result<Vec<Monitor>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM monitors WHERE paused = 0 ORDER BY id"
    )))
    .fetch_all(&mut *conn)
    .await
}

/// The earliest next check of an unpaused monitor (the scheduler sleeps until then).
pub async fn next_due(conn: &mut Conn) -> sqlx::Result<Option<Timestamp>> {
    sqlx::query_scalar("SELECT MIN(due_at) FROM monitors WHERE paused = 0")
        .fetch_one(&mut *conn)
        .await
}

/// Moves a monitor's next check from `seen` (what the caller read) to `due_at`, recording
/// `last_slot_at` when slots were recorded missed; false when another runner moved it first.
pub async fn claim(
    conn: &mut Conn,
    id: i64,
    seen: Option<Timestamp>,
    due_at: Timestamp,
    last_slot_at: Option<Timestamp>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE monitors SET due_at = $1, last_slot_at = COALESCE($2, last_slot_at)
         WHERE id = $3 AND COALESCE(due_at, '') = $4",
    )
    .bind(due_at)
    .bind(last_slot_at)
    .bind(id)
    .bind(seen.map(|t| t.to_db()).unwrap_or_default())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// After a check: the state, the failures in a row, the last slot recorded and the note.
#[allow(clippy::too_many_arguments)]
pub async fn update_after_check(
    conn: &mut Conn,
    id: i64,
    state: State,
    state_since: Timestamp,
    failures_in_row: i64,
    last_slot_at: Timestamp,
    note: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE monitors SET state = $1, state_since = $2, failures_in_row = $3,
             last_slot_at = CASE WHEN last_slot_at IS NULL OR last_slot_at < $4 THEN $4
                                 ELSE last_slot_at END,
             note = $5
         WHERE id = $6",
    )
    .bind(state.key())
    .bind(state_since)
    .bind(failures_in_row)
    .bind(last_slot_at)
    .bind(note)
    .bind(id)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// Pauses, or resumes with a fresh cadence from `now` (the paused time is no slot).
pub async fn set_paused(
    conn: &mut Conn,
    id: i64,
    paused: bool,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE monitors SET paused = $1, updated_at = $2,
             slots_from = CASE WHEN $1 = 0 THEN $2 ELSE slots_from END,
             due_at = $2, last_slot_at = CASE WHEN $1 = 0 THEN NULL ELSE last_slot_at END,
             state = CASE WHEN $1 = 0 THEN 'pending' ELSE state END,
             state_since = CASE WHEN $1 = 0 THEN $2 ELSE state_since END,
             failures_in_row = CASE WHEN $1 = 0 THEN 0 ELSE failures_in_row END
         WHERE id = $3 AND paused <> $1",
    )
    .bind(i64::from(paused))
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
