//! All SQL of the firewall review: the files read, the per-minute and per-hour traffic, the
//! sources ever seen, and the reviews.

use sqlx::Row;

use super::model::MinuteRow;
use crate::db::{Conn, Timestamp};

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

/// (allowed, denied, distinct sources) within `[start, end)`.
pub async fn totals(
    conn: &mut Conn,
    start: Timestamp,
    end: Timestamp,
) -> sqlx::Result<(i64, i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN action = 'allow' THEN hits ELSE 0 END), 0) AS BIGINT) AS allowed, \
         CAST(COALESCE(SUM(CASE WHEN action = 'deny' THEN hits ELSE 0 END), 0) AS BIGINT) AS denied, \
         COUNT(DISTINCT src) AS sources \
         FROM firewall_hourly WHERE hour >= $1 AND hour < $2",
    )
    .bind(start)
    .bind(end)
    .fetch_one(conn)
    .await?;
    Ok((
        row.try_get("allowed")?,
        row.try_get("denied")?,
        row.try_get("sources")?,
    ))
}

/// The sources with the most denied packets: (source, packets, distinct ports).
pub async fn top_denied_sources(
    conn: &mut Conn,
    start: Timestamp,
    end: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT src, CAST(SUM(hits) AS BIGINT) AS hits, COUNT(DISTINCT dst_port) AS ports FROM firewall_hourly \
         WHERE hour >= $1 AND hour < $2 AND action = 'deny' \
         GROUP BY src ORDER BY hits DESC, src LIMIT $3",
    )
    .bind(start)
    .bind(end)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("src")?, r.try_get("hits")?, r.try_get("ports")?)))
        .collect()
}

/// The destination ports with the most denied packets: (protocol, port, packets, sources).
pub async fn top_denied_ports(
    conn: &mut Conn,
    start: Timestamp,
    end: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<(String, i64, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT proto, dst_port, CAST(SUM(hits) AS BIGINT) AS hits, COUNT(DISTINCT src) AS sources \
         FROM firewall_hourly WHERE hour >= $1 AND hour < $2 AND action = 'deny' \
         GROUP BY proto, dst_port ORDER BY hits DESC, proto, dst_port LIMIT $3",
    )
    .bind(start)
    .bind(end)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("proto")?,
                r.try_get("dst_port")?,
                r.try_get("hits")?,
                r.try_get("sources")?,
            ))
        })
        .collect()
}

/// Sources first seen within `[start, end)`, with their packets in it: (source, first seen,
/// packets), the busiest first.
pub async fn new_sources(
    conn: &mut Conn,
    start: Timestamp,
    end: Timestamp,
) -> sqlx::Result<Vec<(String, Timestamp, i64)>> {
    let rows = sqlx::query(
        "SELECT s.src AS src, s.first_seen_at AS first_seen_at, CAST(SUM(h.hits) AS BIGINT) AS hits \
         FROM firewall_sources s JOIN firewall_hourly h \
           ON h.src = s.src AND h.hour >= $1 AND h.hour < $2 \
         WHERE s.first_seen_at >= $1 AND s.first_seen_at < $2 \
         GROUP BY s.src, s.first_seen_at ORDER BY hits DESC, s.src",
    )
    .bind(start)
    .bind(end)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("src")?,
                r.try_get("first_seen_at")?,
                r.try_get("hits")?,
            ))
        })
        .collect()
}

/// Sources that reached `min_ports` distinct destination ports in the period (only they can
/// have scanned).
pub async fn scan_candidates(
    conn: &mut Conn,
    start: Timestamp,
    end: Timestamp,
    min_ports: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT src FROM firewall_minutes WHERE minute >= $1 AND minute < $2 AND dst_port > 0 \
         GROUP BY src HAVING COUNT(DISTINCT dst_port) >= $3 ORDER BY src",
    )
    .bind(start)
    .bind(end)
    .bind(min_ports)
    .fetch_all(conn)
    .await
}

/// Sources that sent at least `min_hits` packets to one of `ports` in the period.
pub async fn burst_candidates(
    conn: &mut Conn,
    start: Timestamp,
    end: Timestamp,
    min_hits: i64,
    ports: &[u16],
) -> sqlx::Result<Vec<String>> {
    if ports.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..ports.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT DISTINCT src FROM (SELECT src, dst_port FROM firewall_minutes \
         WHERE minute >= $1 AND minute < $2 AND dst_port IN ({}) \
         GROUP BY src, dst_port HAVING SUM(hits) >= $3) c ORDER BY src",
        list.join(", ")
    );
    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(start)
        .bind(end)
        .bind(min_hits);
    for p in ports {
        q = q.bind(i64::from(*p));
    }
    q.fetch_all(conn).await
}

/// The per-minute rows of one source in the period.
pub async fn minutes_of(
    conn: &mut Conn,
    src: &str,
    start: Timestamp,
    end: Timestamp,
) -> sqlx::Result<Vec<MinuteRow>> {
    let rows = sqlx::query(
        "SELECT minute, src, dst, proto, dst_port, action, hits, first_at, last_at \
         FROM firewall_minutes WHERE src = $1 AND minute >= $2 AND minute < $3 ORDER BY minute",
    )
    .bind(src)
    .bind(start)
    .bind(end)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MinuteRow {
                minute: r.try_get("minute")?,
                src: r.try_get("src")?,
                dst: r.try_get("dst")?,
                proto: r.try_get("proto")?,
                dst_port: r.try_get("dst_port")?,
                action: r.try_get("action")?,
                hits: r.try_get("hits")?,
                first_at: r.try_get("first_at")?,
                last_at: r.try_get("last_at")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: i64,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub generated_at: Timestamp,
    pub allowed: i64,
    pub denied: i64,
    pub findings: i64,
    pub content: String,
    pub signed_at: Option<Timestamp>,
    pub signed_by_account_id: Option<i64>,
    pub signed_by_name: Option<String>,
    pub remarks: Option<String>,
}

const REVIEW_COLUMNS: &str = "id, period_start, period_end, generated_at, allowed, denied, \
     findings, content, signed_at, signed_by_account_id, signed_by_name, remarks";

pub async fn find_review(conn: &mut Conn, id: i64) -> sqlx::Result<Option<ReviewRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM firewall_reviews WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn review_for(conn: &mut Conn, start: Timestamp) -> sqlx::Result<Option<ReviewRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM firewall_reviews WHERE period_start = $1"
    )))
    .bind(start)
    .fetch_optional(conn)
    .await
}

pub async fn list_reviews(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<ReviewRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM firewall_reviews ORDER BY period_start DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub struct NewReview<'a> {
    pub start: Timestamp,
    pub end: Timestamp,
    pub allowed: i64,
    pub denied: i64,
    pub findings: i64,
    pub content: &'a str,
}

pub async fn insert_review(
    conn: &mut Conn,
    r: &NewReview<'_>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO firewall_reviews (period_start, period_end, generated_at, allowed, denied, \
         findings, content) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(r.start)
    .bind(r.end)
    .bind(now)
    .bind(r.allowed)
    .bind(r.denied)
    .bind(r.findings)
    .bind(r.content)
    .fetch_one(conn)
    .await
}

/// Replaces the content of an unsigned review; false when it is signed (frozen).
pub async fn replace_review(
    conn: &mut Conn,
    id: i64,
    r: &NewReview<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE firewall_reviews SET generated_at = $1, allowed = $2, denied = $3, \
         findings = $4, content = $5 WHERE id = $6 AND signed_at IS NULL",
    )
    .bind(now)
    .bind(r.allowed)
    .bind(r.denied)
    .bind(r.findings)
    .bind(r.content)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Signs an unsigned review; false when it was already signed.
pub async fn sign_review(
    conn: &mut Conn,
    id: i64,
    account_id: i64,
    name: &str,
    remarks: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE firewall_reviews SET signed_at = $1, signed_by_account_id = $2, \
         signed_by_name = $3, remarks = $4 WHERE id = $5 AND signed_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .bind(name)
    .bind(remarks)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unsigned reviews: (all, those whose period ended before `due_before`).
pub async fn unsigned_counts(conn: &mut Conn, due_before: Timestamp) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS open, \
         CAST(COALESCE(SUM(CASE WHEN period_end < $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue \
         FROM firewall_reviews WHERE signed_at IS NULL",
    )
    .bind(due_before)
    .fetch_one(conn)
    .await?;
    Ok((row.try_get("open")?, row.try_get("overdue")?))
}
