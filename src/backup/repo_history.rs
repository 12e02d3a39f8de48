//! SQL of the restore drills and of a verification asked for on the page (the history's rows
//! are `repo::BackupRow`).

use crate::db::{Conn, Timestamp};

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

/// A PostgreSQL database for a drill (`name` is made by the drill, never typed by a person).
pub async fn create_scratch_database(conn: &mut Conn, name: &str) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(conn)
        .await?;
    Ok(())
}

/// Drops a drill's database, closing what is still connected to it.
pub async fn drop_scratch_database(conn: &mut Conn, name: &str) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(conn)
    .await?;
    Ok(())
}
