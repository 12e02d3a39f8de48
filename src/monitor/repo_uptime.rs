//! The SQL the uptime pages read: results (one row per slot), daily aggregates, the last check
//! of each monitor. The engine writes these tables; the pages only read them (the two writers
//! at the end are for the demo network).

use crate::db::{Conn, Timestamp};

/// One slot of a monitor as the pages see it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ResultRow {
    pub slot_at: Timestamp,
    pub checked_at: Option<Timestamp>,
    pub outcome: String,
    pub response_ms: Option<i64>,
    pub detail: Option<String>,
}

/// A monitor's slots in `[from, to)`, in time order.
pub async fn results_between(
    conn: &mut Conn,
    monitor_id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<ResultRow>> {
    sqlx::query_as(
        "SELECT slot_at, checked_at, outcome, response_ms, detail FROM monitor_results
         WHERE monitor_id = $1 AND slot_at >= $2 AND slot_at < $3 ORDER BY slot_at",
    )
    .bind(monitor_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
}

/// The newest slots of a monitor, newest first.
pub async fn recent_results(
    conn: &mut Conn,
    monitor_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ResultRow>> {
    sqlx::query_as(
        "SELECT slot_at, checked_at, outcome, response_ms, detail FROM monitor_results
         WHERE monitor_id = $1 ORDER BY slot_at DESC LIMIT $2",
    )
    .bind(monitor_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Slots per outcome in `[from, to)`: (monitor_id, outcome, count), for every monitor.
pub async fn outcome_counts(
    conn: &mut Conn,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<(i64, String, i64)>> {
    sqlx::query_as(
        "SELECT monitor_id, outcome, COUNT(*) FROM monitor_results
         WHERE slot_at >= $1 AND slot_at < $2 GROUP BY monitor_id, outcome",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
}

/// A monitor's slots per outcome in `[from, to)`.
pub async fn outcome_counts_of(
    conn: &mut Conn,
    monitor_id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT outcome, COUNT(*) FROM monitor_results
         WHERE monitor_id = $1 AND slot_at >= $2 AND slot_at < $3 GROUP BY outcome",
    )
    .bind(monitor_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
}

/// A daily aggregate (`period = 'day'`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DayAggregate {
    pub period_start: Timestamp,
    pub up: i64,
    pub down: i64,
    pub missed: i64,
}

/// A monitor's daily aggregates of days starting in `[from, to)`, in time order.
pub async fn day_aggregates(
    conn: &mut Conn,
    monitor_id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<DayAggregate>> {
    sqlx::query_as(
        "SELECT period_start, up, down, missed FROM monitor_aggregates
         WHERE monitor_id = $1 AND period = 'day' AND period_start >= $2 AND period_start < $3
         ORDER BY period_start",
    )
    .bind(monitor_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
}

/// The last check of each monitor: (monitor_id, checked_at).
pub async fn last_checks(conn: &mut Conn) -> sqlx::Result<Vec<(i64, Timestamp)>> {
    sqlx::query_as(
        "SELECT monitor_id, MAX(checked_at) FROM monitor_results
         WHERE checked_at IS NOT NULL GROUP BY monitor_id",
    )
    .fetch_all(&mut *conn)
    .await
}

/// Open alerts per monitor: (monitor_id, count).
pub async fn open_alerts_by_monitor(conn: &mut Conn) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT monitor_id, COUNT(*) FROM monitor_alerts
         WHERE acknowledged_at IS NULL AND suppressed_by IS NULL GROUP BY monitor_id",
    )
    .fetch_all(&mut *conn)
    .await
}

/// How many monitors are watched (not paused), and how many of them are down now.
pub async fn watched_and_down(conn: &mut Conn) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'down' THEN 1 ELSE 0 END), 0)
         FROM monitors WHERE paused = 0",
    )
    .fetch_one(&mut *conn)
    .await
}

/// Demo network only: one slot's result (the engine writes the real ones).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_result(
    conn: &mut Conn,
    monitor_id: i64,
    slot_at: Timestamp,
    checked_at: Option<Timestamp>,
    outcome: &str,
    response_ms: Option<i64>,
    detail: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO monitor_results (monitor_id, slot_at, checked_at, outcome, response_ms,
             detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(monitor_id)
    .bind(slot_at)
    .bind(checked_at)
    .bind(outcome)
    .bind(response_ms)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Demo network only: a monitor's state (the engine sets the real one).
pub(crate) async fn set_state(
    conn: &mut Conn,
    monitor_id: i64,
    state: &str,
    since: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE monitors SET state = $1, state_since = $2 WHERE id = $3")
        .bind(state)
        .bind(since)
        .bind(monitor_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
