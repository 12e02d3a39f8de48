//! The SQL of the engine's records: one row per monitor and slot (`monitor_results`), the hourly
//! and daily aggregates and the rollup's watermark.

use super::model::Kind;
use crate::db::{Conn, Timestamp};

/// One slot's record, as the engine writes it.
#[derive(Clone, Debug)]
pub struct NewResult<'a> {
    pub monitor_id: i64,
    pub slot_at: Timestamp,
    pub checked_at: Timestamp,
    pub outcome: &'a str,
    pub response_ms: Option<i64>,
    pub status_code: Option<i64>,
    pub cert_days_left: Option<i64>,
    pub detail: &'a str,
}

/// One stored slot (for charts and lists).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ResultRow {
    pub monitor_id: i64,
    pub slot_at: Timestamp,
    pub checked_at: Option<Timestamp>,
    pub outcome: String,
    pub response_ms: Option<i64>,
    pub status_code: Option<i64>,
    pub cert_days_left: Option<i64>,
    pub detail: Option<String>,
}

/// Slots counted by outcome, with the response times behind the average.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Counts {
    pub slots: i64,
    pub up: i64,
    pub down: i64,
    pub missed: i64,
    pub response_sum: i64,
    pub responses: i64,
    pub max_response_ms: Option<i64>,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.slots += o.slots;
        self.up += o.up;
        self.down += o.down;
        self.missed += o.missed;
        self.response_sum += o.response_sum;
        self.responses += o.responses;
        self.max_response_ms = self.max_response_ms.max(o.max_response_ms);
    }

    pub fn avg_ms(&self) -> Option<i64> {
        (self.responses > 0).then(|| self.response_sum / self.responses)
    }
}

/// An aggregate row (`period` hour or day; `period_start` the hour or the Asia/Tokyo day).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Aggregate {
    pub monitor_id: i64,
    pub period: String,
    pub period_start: Timestamp,
    pub slots: i64,
    pub up: i64,
    pub down: i64,
    pub missed: i64,
    pub avg_response_ms: Option<i64>,
    pub max_response_ms: Option<i64>,
    pub responses: i64,
}

const COUNTS: &str = "COUNT(*) AS slots,
    COALESCE(SUM(CASE WHEN outcome = 'up' THEN 1 ELSE 0 END), 0) AS up,
    COALESCE(SUM(CASE WHEN outcome = 'down' THEN 1 ELSE 0 END), 0) AS down,
    COALESCE(SUM(CASE WHEN outcome = 'missed' THEN 1 ELSE 0 END), 0) AS missed,
    COALESCE(CAST(SUM(response_ms) AS BIGINT), 0) AS response_sum,
    COUNT(response_ms) AS responses,
    MAX(response_ms) AS max_response_ms";

/// Records a checked slot; false when the slot was already recorded.
pub async fn insert(conn: &mut Conn, r: &NewResult<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO monitor_results (monitor_id, slot_at, checked_at, outcome, response_ms,
             status_code, cert_days_left, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (monitor_id, slot_at) DO NOTHING",
    )
    .bind(r.monitor_id)
    .bind(r.slot_at)
    .bind(r.checked_at)
    .bind(r.outcome)
    .bind(r.response_ms)
    .bind(r.status_code)
    .bind(r.cert_days_left)
    .bind(r.detail)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records slots that passed unchecked (several rows a statement).
pub async fn insert_missed(
    conn: &mut Conn,
    monitor_id: i64,
    slots: &[Timestamp],
) -> sqlx::Result<()> {
    for chunk in slots.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, 'missed')", i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO monitor_results (monitor_id, slot_at, outcome) VALUES {}
             ON CONFLICT (monitor_id, slot_at) DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(monitor_id);
        for t in chunk {
            q = q.bind(*t);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A monitor's raw slots in `[from, to)`, counted.
pub async fn counts(
    conn: &mut Conn,
    monitor_id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Counts> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COUNTS} FROM monitor_results
         WHERE monitor_id = $1 AND slot_at >= $2 AND slot_at < $3"
    )))
    .bind(monitor_id)
    .bind(from)
    .bind(to)
    .fetch_one(&mut *conn)
    .await
}

/// The raw slots of every monitor of a kind in `[from, to)`, counted per monitor.
pub async fn counts_by_monitor(
    conn: &mut Conn,
    kind: Kind,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<(i64, Counts)>> {
    let rows: Vec<MonitorCounts> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.monitor_id, {COUNTS} FROM monitor_results r
         JOIN monitors m ON m.id = r.monitor_id
         WHERE m.kind = $1 AND r.slot_at >= $2 AND r.slot_at < $3
         GROUP BY r.monitor_id"
    )))
    .bind(kind.key())
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.monitor_id, r.counts)).collect())
}

#[derive(sqlx::FromRow)]
struct MonitorCounts {
    monitor_id: i64,
    #[sqlx(flatten)]
    counts: Counts,
}

/// The earliest raw slot a monitor still has (older ones live only in the aggregates).
pub async fn earliest(conn: &mut Conn, monitor_id: i64) -> sqlx::Result<Option<Timestamp>> {
    sqlx::query_scalar("SELECT MIN(slot_at) FROM monitor_results WHERE monitor_id = $1")
        .bind(monitor_id)
        .fetch_one(&mut *conn)
        .await
}

/// A monitor's raw slots in `[from, to)`, oldest first.
pub async fn list(
    conn: &mut Conn,
    monitor_id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<ResultRow>> {
    sqlx::query_as(
        "SELECT monitor_id, slot_at, checked_at, outcome, response_ms, status_code,
             cert_days_left, detail
         FROM monitor_results WHERE monitor_id = $1 AND slot_at >= $2 AND slot_at < $3
         ORDER BY slot_at",
    )
    .bind(monitor_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
}

/// A monitor's aggregates of one period (`hour` or `day`) starting in `[from, to)`.
pub async fn aggregates(
    conn: &mut Conn,
    monitor_id: i64,
    period: &str,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<Aggregate>> {
    sqlx::query_as(
        "SELECT monitor_id, period, period_start, slots, up, down, missed, avg_response_ms,
             max_response_ms, responses
         FROM monitor_aggregates
         WHERE monitor_id = $1 AND period = $2 AND period_start >= $3 AND period_start < $4
         ORDER BY period_start",
    )
    .bind(monitor_id)
    .bind(period)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
}

/// Every monitor's daily aggregates of a kind starting in `[from, to)`.
pub async fn daily_by_kind(
    conn: &mut Conn,
    kind: Kind,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<Aggregate>> {
    sqlx::query_as(
        "SELECT a.monitor_id, a.period, a.period_start, a.slots, a.up, a.down, a.missed,
             a.avg_response_ms, a.max_response_ms, a.responses
         FROM monitor_aggregates a JOIN monitors m ON m.id = a.monitor_id
         WHERE m.kind = $1 AND a.period = 'day' AND a.period_start >= $2 AND a.period_start < $3",
    )
    .bind(kind.key())
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
}

/// The earliest raw slot of every monitor of a kind.
pub async fn earliest_by_monitor(
    conn: &mut Conn,
    kind: Kind,
) -> sqlx::Result<Vec<(i64, Timestamp)>> {
    sqlx::query_as(
        "SELECT r.monitor_id, MIN(r.slot_at) FROM monitor_results r
         JOIN monitors m ON m.id = r.monitor_id WHERE m.kind = $1 GROUP BY r.monitor_id",
    )
    .bind(kind.key())
    .fetch_all(&mut *conn)
    .await
}

// ---- the rollup ----

/// Every raw result up to this id is in the aggregates.
pub async fn watermark(conn: &mut Conn) -> sqlx::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT last_result_id FROM monitor_rollup WHERE name = 'results'")
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or(0),
    )
}

pub async fn set_watermark(conn: &mut Conn, id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO monitor_rollup (name, last_result_id) VALUES ('results', $1)
         ON CONFLICT (name) DO UPDATE SET last_result_id = excluded.last_result_id",
    )
    .bind(id)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// The UTC hours (`2026-11-25T01`) that results after `after_id` fall in, and their last id.
pub async fn hours_since(
    conn: &mut Conn,
    after_id: i64,
) -> sqlx::Result<(Vec<String>, Option<i64>)> {
    let hours: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT substr(slot_at, 1, 13) FROM monitor_results WHERE id > $1",
    )
    .bind(after_id)
    .fetch_all(&mut *conn)
    .await?;
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM monitor_results WHERE id > $1")
        .bind(after_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok((hours, last))
}

/// Every monitor's raw slots in `[from, to)`, counted per monitor.
pub async fn counts_all(
    conn: &mut Conn,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<(i64, Counts)>> {
    let rows: Vec<MonitorCounts> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT monitor_id, {COUNTS} FROM monitor_results
         WHERE slot_at >= $1 AND slot_at < $2 GROUP BY monitor_id"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.monitor_id, r.counts)).collect())
}

/// Every monitor's hourly aggregates in `[from, to)`, summed per monitor (a day from its hours).
pub async fn hours_summed(
    conn: &mut Conn,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<(i64, Counts)>> {
    let rows: Vec<MonitorCounts> = sqlx::query_as(
        "SELECT monitor_id, COALESCE(CAST(SUM(slots) AS BIGINT), 0) AS slots,
             COALESCE(CAST(SUM(up) AS BIGINT), 0) AS up,
             COALESCE(CAST(SUM(down) AS BIGINT), 0) AS down,
             COALESCE(CAST(SUM(missed) AS BIGINT), 0) AS missed,
             COALESCE(CAST(SUM(avg_response_ms * responses) AS BIGINT), 0) AS response_sum,
             COALESCE(CAST(SUM(responses) AS BIGINT), 0) AS responses,
             MAX(max_response_ms) AS max_response_ms
         FROM monitor_aggregates
         WHERE period = 'hour' AND period_start >= $1 AND period_start < $2
         GROUP BY monitor_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.monitor_id, r.counts)).collect())
}

pub async fn upsert_aggregate(
    conn: &mut Conn,
    monitor_id: i64,
    period: &str,
    period_start: Timestamp,
    c: &Counts,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO monitor_aggregates (monitor_id, period, period_start, slots, up, down,
             missed, avg_response_ms, max_response_ms, responses)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (monitor_id, period, period_start) DO UPDATE SET
             slots = excluded.slots, up = excluded.up, down = excluded.down,
             missed = excluded.missed, avg_response_ms = excluded.avg_response_ms,
             max_response_ms = excluded.max_response_ms, responses = excluded.responses",
    )
    .bind(monitor_id)
    .bind(period)
    .bind(period_start)
    .bind(c.slots)
    .bind(c.up)
    .bind(c.down)
    .bind(c.missed)
    .bind(c.avg_ms())
    .bind(c.max_response_ms)
    .bind(c.responses)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// Deletes raw results before `cutoff` that the aggregates already hold (id ≤ `upto`).
pub async fn delete_raw(conn: &mut Conn, cutoff: Timestamp, upto: i64) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM monitor_results WHERE slot_at < $1 AND id <= $2")
            .bind(cutoff)
            .bind(upto)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

/// Deletes hourly aggregates of hours before `cutoff` (the daily ones stay).
pub async fn delete_hourly(conn: &mut Conn, cutoff: Timestamp) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM monitor_aggregates WHERE period = 'hour' AND period_start < $1")
            .bind(cutoff)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}
