//! The firewall review's SQL, as the review reads it (re-exported by `repo`): totals, top
//! sources and ports, new sources, scan and burst candidates of a period, and the reviews
//! (make, replace while unsigned, sign).

use sqlx::Row;

use super::detect::MinuteRow;
use crate::db::{Conn, Timestamp};

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
