//! SQL of the history page, the dashboard cards and the restore drills.

use crate::db::{Conn, Timestamp};

/// One row of `backups`, as the history page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: String,
    pub kind: String,
    pub trigger: String,
    pub state: String,
    pub started_at: Timestamp,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
    pub verified_at: Option<Timestamp>,
    pub verify_result: Option<String>,
    pub copied_at: Option<Timestamp>,
    pub copy_result: Option<String>,
    pub drilled_at: Option<Timestamp>,
    pub drill_result: Option<String>,
}

const COLUMNS: &str = "id, kind, trigger, state, started_at, duration_ms, size_bytes, \
     error, verified_at, verify_result, copied_at, copy_result, drilled_at, drill_result";

/// The newest `limit` backups, newest first.
pub async fn recent(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM backups ORDER BY started_at DESC, id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The newest backup of application data (daily or monthly), whatever its state.
pub async fn latest_data_backup(conn: &mut Conn) -> sqlx::Result<Option<HistoryRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM backups WHERE kind IN ('daily', 'monthly') AND state <> 'pruned' \
         ORDER BY started_at DESC, id DESC LIMIT 1"
    )))
    .fetch_optional(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DrillRow {
    pub backup_id: String,
    pub started_at: Timestamp,
    pub result: String,
    pub detail: String,
}

pub async fn recent_drills(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<DrillRow>> {
    sqlx::query_as(
        "SELECT backup_id, started_at, result, detail FROM backup_drills \
         ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub struct NewDrill<'a> {
    pub backup_id: &'a str,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub ok: bool,
    pub detail: &'a str,
}

/// Records a drill and marks the backup it restored (if the history knows it).
pub async fn insert_drill(conn: &mut Conn, d: &NewDrill<'_>) -> sqlx::Result<()> {
    let result = if d.ok { "ok" } else { "failed" };
    sqlx::query(
        "INSERT INTO backup_drills (backup_id, started_at, finished_at, result, detail) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(d.backup_id)
    .bind(d.started_at)
    .bind(d.finished_at)
    .bind(result)
    .bind(d.detail)
    .execute(&mut *conn)
    .await?;
    let text = if d.ok {
        "ok".to_string()
    } else {
        format!("failed: {}", d.detail)
    };
    sqlx::query("UPDATE backups SET drilled_at = $1, drill_result = $2 WHERE id = $3")
        .bind(d.finished_at)
        .bind(text)
        .bind(d.backup_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The outcome of a verification asked for on the page.
pub async fn record_verify(
    conn: &mut Conn,
    id: &str,
    ok: bool,
    detail: &str,
    at: Timestamp,
) -> sqlx::Result<()> {
    let result = if ok {
        "ok".to_string()
    } else {
        format!("failed: {detail}")
    };
    sqlx::query("UPDATE backups SET verified_at = $1, verify_result = $2 WHERE id = $3")
        .bind(at)
        .bind(result)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
