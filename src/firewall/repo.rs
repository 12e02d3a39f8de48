//! The firewall review's SQL, as ingest writes it: the files read, the per-minute and per-hour
//! traffic, the sources ever seen, and their purge. The reads of a period and the reviews
//! themselves are in `repo_review.rs`, re-exported here, so callers write `repo::…` for all.

use crate::db::{Conn, Timestamp};

pub use super::repo_review::*;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileRow {
    pub id: i64,
    pub fingerprint: String,
    pub path: String,
    pub dev: i64,
    pub inode: i64,
    pub size: i64,
    pub read_offset: i64,
    pub gz: i64,
    pub lines: i64,
    pub events: i64,
    pub other: i64,
    pub errors: i64,
    pub last_error: Option<String>,
    pub restarts: i64,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub last_read_at: Option<Timestamp>,
}

const FILE_COLUMNS: &str = "id, fingerprint, path, dev, inode, size, read_offset, gz, lines, \
     events, other, errors, last_error, restarts, first_seen_at, last_seen_at, last_read_at";

pub async fn file_by_fingerprint(conn: &mut Conn, fp: &str) -> sqlx::Result<Option<FileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FILE_COLUMNS} FROM firewall_files WHERE fingerprint = $1"
    )))
    .bind(fp)
    .fetch_optional(conn)
    .await
}

/// A compressed file read to its end and not changed since (same device, inode and size).
pub async fn finished_gz(
    conn: &mut Conn,
    dev: i64,
    inode: i64,
    size: i64,
) -> sqlx::Result<Option<FileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FILE_COLUMNS} FROM firewall_files \
         WHERE gz = 1 AND dev = $1 AND inode = $2 AND size = $3"
    )))
    .bind(dev)
    .bind(inode)
    .bind(size)
    .fetch_optional(conn)
    .await
}

pub async fn recent_files(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<FileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FILE_COLUMNS} FROM firewall_files ORDER BY last_seen_at DESC, id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Where a file is now and what was read of it by one batch.
pub struct Progress<'a> {
    pub path: &'a str,
    pub dev: i64,
    pub inode: i64,
    pub size: i64,
    pub gz: bool,
    pub to: i64,
    pub lines: i64,
    pub events: i64,
    pub other: i64,
    pub errors: i64,
    pub last_error: Option<&'a str>,
    pub restarted: bool,
}

/// Claims a new file's first batch: fails with a unique violation when another runner has it.
pub async fn insert_file(
    conn: &mut Conn,
    fp: &str,
    p: &Progress<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO firewall_files (fingerprint, path, dev, inode, size, read_offset, gz, lines, \
         events, other, errors, last_error, restarts, first_seen_at, last_seen_at, last_read_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13, $13)",
    )
    .bind(fp)
    .bind(p.path)
    .bind(p.dev)
    .bind(p.inode)
    .bind(p.size)
    .bind(p.to)
    .bind(i64::from(p.gz))
    .bind(p.lines)
    .bind(p.events)
    .bind(p.other)
    .bind(p.errors)
    .bind(p.last_error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a known file's offset from `p.from` to `p.to`; false when the offset was no longer
/// `p.from` (another runner read the same lines first: nothing of this batch may be written).
pub async fn advance_file(
    conn: &mut Conn,
    id: i64,
    stored_offset: i64,
    p: &Progress<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE firewall_files SET path = $1, dev = $2, inode = $3, size = $4, read_offset = $5, \
         gz = $6, lines = lines + $7, events = events + $8, other = other + $9, \
         errors = errors + $10, last_error = COALESCE($11, last_error), \
         restarts = restarts + $12, last_seen_at = $13, last_read_at = $13 \
         WHERE id = $14 AND read_offset = $15",
    )
    .bind(p.path)
    .bind(p.dev)
    .bind(p.inode)
    .bind(p.size)
    .bind(p.to)
    .bind(i64::from(p.gz))
    .bind(p.lines)
    .bind(p.events)
    .bind(p.other)
    .bind(p.errors)
    .bind(p.last_error)
    .bind(i64::from(p.restarted))
    .bind(now)
    .bind(id)
    .bind(stored_offset)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A file found again with nothing new in it.
pub async fn touch_file(
    conn: &mut Conn,
    id: i64,
    path: &str,
    dev: i64,
    inode: i64,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE firewall_files SET path = $1, dev = $2, inode = $3, last_seen_at = $4 \
         WHERE id = $5",
    )
    .bind(path)
    .bind(dev)
    .bind(inode)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A file that could not be read this time.
pub async fn file_error(conn: &mut Conn, id: i64, error: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE firewall_files SET last_error = $1, last_seen_at = $2 WHERE id = $3")
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub struct MinuteAgg {
    pub minute: Timestamp,
    pub src: String,
    pub dst: String,
    pub proto: String,
    pub dst_port: i64,
    pub action: &'static str,
    pub hits: i64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
}

pub struct HourAgg {
    pub hour: Timestamp,
    pub src: String,
    pub proto: String,
    pub dst_port: i64,
    pub action: &'static str,
    pub hits: i64,
}

/// Rows per multi-row INSERT (9 values each: well under both backends' limit of parameters).
const CHUNK: usize = 400;

fn values(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let ps: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", ps.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn add_minutes(conn: &mut Conn, rows: &[MinuteAgg]) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO firewall_minutes (minute, src, dst, proto, dst_port, action, hits, \
             first_at, last_at) VALUES {} \
             ON CONFLICT (minute, src, dst, proto, dst_port, action) DO UPDATE SET \
             hits = firewall_minutes.hits + excluded.hits, \
             first_at = CASE WHEN excluded.first_at < firewall_minutes.first_at \
               THEN excluded.first_at ELSE firewall_minutes.first_at END, \
             last_at = CASE WHEN excluded.last_at > firewall_minutes.last_at \
               THEN excluded.last_at ELSE firewall_minutes.last_at END",
            values(chunk.len(), 9)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.minute)
                .bind(r.src.as_str())
                .bind(r.dst.as_str())
                .bind(r.proto.as_str())
                .bind(r.dst_port)
                .bind(r.action)
                .bind(r.hits)
                .bind(r.first_at)
                .bind(r.last_at);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn add_hours(conn: &mut Conn, rows: &[HourAgg]) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO firewall_hourly (hour, src, proto, dst_port, action, hits) VALUES {} \
             ON CONFLICT (hour, src, proto, dst_port, action) DO UPDATE SET \
             hits = firewall_hourly.hits + excluded.hits",
            values(chunk.len(), 6)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.hour)
                .bind(r.src.as_str())
                .bind(r.proto.as_str())
                .bind(r.dst_port)
                .bind(r.action)
                .bind(r.hits);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Sources with the first and last time they were seen in a batch.
pub async fn add_sources(
    conn: &mut Conn,
    rows: &[(String, Timestamp, Timestamp)],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO firewall_sources (src, first_seen_at, last_seen_at) VALUES {} \
             ON CONFLICT (src) DO UPDATE SET \
             first_seen_at = CASE WHEN excluded.first_seen_at < firewall_sources.first_seen_at \
               THEN excluded.first_seen_at ELSE firewall_sources.first_seen_at END, \
             last_seen_at = CASE WHEN excluded.last_seen_at > firewall_sources.last_seen_at \
               THEN excluded.last_seen_at ELSE firewall_sources.last_seen_at END",
            values(chunk.len(), 3)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (src, first, last) in chunk {
            q = q.bind(src.as_str()).bind(*first).bind(*last);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Drops per-minute rows before `minutes_before` and per-hour rows and sources before
/// `hours_before`; returns the rows removed.
pub async fn purge(
    conn: &mut Conn,
    minutes_before: Timestamp,
    hours_before: Timestamp,
) -> sqlx::Result<u64> {
    let a = sqlx::query("DELETE FROM firewall_minutes WHERE minute < $1")
        .bind(minutes_before)
        .execute(&mut *conn)
        .await?;
    let b = sqlx::query("DELETE FROM firewall_hourly WHERE hour < $1")
        .bind(hours_before)
        .execute(&mut *conn)
        .await?;
    let c = sqlx::query("DELETE FROM firewall_sources WHERE last_seen_at < $1")
        .bind(hours_before)
        .execute(&mut *conn)
        .await?;
    Ok(a.rows_affected() + b.rows_affected() + c.rows_affected())
}

/// The earliest instant anything was recorded: traffic, or a file first found.
pub async fn earliest(conn: &mut Conn) -> sqlx::Result<Option<Timestamp>> {
    let h: Option<Timestamp> = sqlx::query_scalar("SELECT MIN(hour) FROM firewall_hourly")
        .fetch_one(&mut *conn)
        .await?;
    let f: Option<Timestamp> = sqlx::query_scalar("SELECT MIN(first_seen_at) FROM firewall_files")
        .fetch_one(&mut *conn)
        .await?;
    Ok(match (h, f) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

pub async fn any_traffic_before(conn: &mut Conn, t: Timestamp) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT hour FROM firewall_hourly WHERE hour < $1 LIMIT 1) t",
    )
    .bind(t)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}
