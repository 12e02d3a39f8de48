//! All SQL of the backup domain: the facts a snapshot records (counts, schema version) and the
//! `backups` history (the archives on disk are the truth for restore; this is what the admin page,
//! the dashboard and `backup list` read).

use crate::db::{Conn, Timestamp};

use super::model::Counts;

/// What the manifest counts, read on the snapshot's connection.
pub async fn counts(conn: &mut Conn) -> sqlx::Result<Counts> {
    Ok(Counts {
        documents: count(conn, "documents").await?,
        patients: count(conn, "patients").await?,
        accounts: count(conn, "accounts").await?,
        audit_rows: count(conn, "audit_events").await?,
    })
}

async fn count(conn: &mut Conn, table: &'static str) -> sqlx::Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&mut *conn)
        .await
}

/// The newest migration applied.
pub async fn schema_version(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .map(Option::unwrap_or_default)
}

/// The versions of every applied migration, oldest first (for a system backup's description).
pub async fn migrations(conn: &mut Conn) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT version, description FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
}

/// Whether the database has any table of its own (PostgreSQL: a restore needs an empty one).
pub async fn postgres_table_count(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_one(&mut *conn)
    .await
}

/// One row of the history.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BackupRow {
    pub id: String,
    pub kind: String,
    pub chain_id: Option<String>,
    pub parent_id: Option<String>,
    pub trigger: String,
    pub state: String,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub file_count: Option<i64>,
    pub error: Option<String>,
    pub verified_at: Option<Timestamp>,
    pub verify_result: Option<String>,
    pub copied_at: Option<Timestamp>,
    pub copy_result: Option<String>,
    pub drilled_at: Option<Timestamp>,
    pub drill_result: Option<String>,
}

const COLUMNS: &str = "id, kind, chain_id, parent_id, trigger, state, started_at, finished_at,
                       duration_ms, size_bytes, sha256, file_count, error, verified_at,
                       verify_result, copied_at, copy_result, drilled_at, drill_result";

/// The newest `limit` rows, newest first (the history page).
pub async fn recent(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<BackupRow>> {
    let sql = format!("SELECT {COLUMNS} FROM backups ORDER BY started_at DESC, id DESC LIMIT $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// The newest backup of application data (daily or monthly) not pruned, whatever its state.
pub async fn latest_data_backup(conn: &mut Conn) -> sqlx::Result<Option<BackupRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM backups WHERE kind IN ('daily', 'monthly') AND state <> 'pruned' \
         ORDER BY started_at DESC, id DESC LIMIT 1"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_optional(&mut *conn)
        .await
}

/// Every row, oldest first.
pub async fn list(conn: &mut Conn) -> sqlx::Result<Vec<BackupRow>> {
    let sql = format!("SELECT {COLUMNS} FROM backups ORDER BY started_at, id");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
}

pub async fn find(conn: &mut Conn, id: &str) -> sqlx::Result<Option<BackupRow>> {
    let sql = format!("SELECT {COLUMNS} FROM backups WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
}

/// The ids of `running` rows that started before `before` (left behind by a process that
/// stopped) and of those started since (a backup still in progress elsewhere).
pub async fn running(conn: &mut Conn) -> sqlx::Result<Vec<(String, Timestamp)>> {
    sqlx::query_as("SELECT id, started_at FROM backups WHERE state = 'running' ORDER BY started_at")
        .fetch_all(&mut *conn)
        .await
}

pub struct NewRow<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub chain_id: Option<&'a str>,
    pub parent_id: Option<&'a str>,
    pub trigger: &'a str,
    pub started_at: Timestamp,
}

pub async fn insert_running(conn: &mut Conn, r: &NewRow<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO backups (id, kind, chain_id, parent_id, trigger, state, started_at)
         VALUES ($1, $2, $3, $4, $5, 'running', $6)",
    )
    .bind(r.id)
    .bind(r.kind)
    .bind(r.chain_id)
    .bind(r.parent_id)
    .bind(r.trigger)
    .bind(r.started_at)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// What a finished backup records.
pub struct Finished<'a> {
    pub finished_at: Timestamp,
    pub duration_ms: i64,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub file_count: i64,
    pub counts: &'a Counts,
    pub audit_head_seq: i64,
    pub verified_at: Timestamp,
    pub verify_result: &'a str,
    pub chain_id: Option<&'a str>,
    pub parent_id: Option<&'a str>,
}

pub async fn finish_ok(conn: &mut Conn, id: &str, f: &Finished<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backups SET state = 'ok', finished_at = $2, duration_ms = $3, size_bytes = $4,
                sha256 = $5, file_count = $6, documents = $7, patients = $8, accounts = $9,
                audit_rows = $10, audit_head_seq = $11, verified_at = $12, verify_result = $13,
                chain_id = $14, parent_id = $15, error = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(f.finished_at)
    .bind(f.duration_ms)
    .bind(f.size_bytes)
    .bind(f.sha256)
    .bind(f.file_count)
    .bind(f.counts.documents)
    .bind(f.counts.patients)
    .bind(f.counts.accounts)
    .bind(f.counts.audit_rows)
    .bind(f.audit_head_seq)
    .bind(f.verified_at)
    .bind(f.verify_result)
    .bind(f.chain_id)
    .bind(f.parent_id)
    .execute(&mut *conn)
    .await
    .map(drop)
}

pub async fn finish_failed(
    conn: &mut Conn,
    id: &str,
    finished_at: Timestamp,
    duration_ms: i64,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backups SET state = 'failed', finished_at = $2, duration_ms = $3, error = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(finished_at)
    .bind(duration_ms)
    .bind(error)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// SQLite: a consistent copy of the database into a new file, taken on a pooled connection while
/// writers go on (WAL); it holds no write lock.
pub async fn vacuum_into(conn: &mut Conn, file: &str) -> sqlx::Result<()> {
    sqlx::query("VACUUM INTO $1")
        .bind(file)
        .execute(&mut *conn)
        .await
        .map(drop)
}

/// PostgreSQL: the id of this transaction's snapshot, for `pg_dump --snapshot`.
pub async fn export_snapshot(conn: &mut Conn) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *conn)
        .await
}
