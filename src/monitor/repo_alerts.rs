//! The SQL of alerts (`monitor_alerts`) and of the on-call list (`monitor_oncall`).

use crate::db::{Conn, Timestamp};

/// An alert as stored, with its monitor's name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub monitor_id: i64,
    pub monitor_name: String,
    pub kind: String,
    pub at: Timestamp,
    pub detail: String,
    pub suppressed_by: Option<i64>,
    pub mail_id: Option<i64>,
    pub acknowledged_by: Option<String>,
    /// The display name of the account that acknowledged it (issue 15 item 6: a person, not a
    /// login ID), when the account still exists.
    pub acknowledged_by_name: Option<String>,
    pub acknowledged_at: Option<Timestamp>,
    pub ack_note: Option<String>,
    /// The incident drafted from it (issue 13) and its number.
    pub incident_id: Option<i64>,
    pub incident_number: Option<String>,
}

const ALERT_COLUMNS: &str = "a.id, a.monitor_id, COALESCE(m.name, '') AS monitor_name, a.kind,
    a.at, a.detail, a.suppressed_by, a.mail_id, a.acknowledged_by, a.acknowledged_at, a.ack_note,
    (SELECT display_name FROM accounts WHERE login_id = a.acknowledged_by) AS acknowledged_by_name,
    a.incident_id, i.number AS incident_number";

/// Open = neither acknowledged nor suppressed by a maintenance window.
const OPEN: &str = "a.acknowledged_at IS NULL AND a.suppressed_by IS NULL";

pub async fn insert(
    conn: &mut Conn,
    monitor_id: i64,
    kind: &str,
    at: Timestamp,
    detail: &str,
    suppressed_by: Option<i64>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO monitor_alerts (monitor_id, kind, at, detail, suppressed_by)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(monitor_id)
    .bind(kind)
    .bind(at)
    .bind(detail)
    .bind(suppressed_by)
    .fetch_one(&mut *conn)
    .await
}

pub async fn set_mail(conn: &mut Conn, id: i64, mail_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE monitor_alerts SET mail_id = $1 WHERE id = $2")
        .bind(mail_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Option<AlertRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM monitor_alerts a LEFT JOIN monitors m ON m.id = a.monitor_id
         LEFT JOIN incidents i ON i.id = a.incident_id
         WHERE a.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// Records the acknowledgement; false when the alert was already acknowledged.
pub async fn acknowledge(
    conn: &mut Conn,
    id: i64,
    by: &str,
    note: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE monitor_alerts SET acknowledged_by = $1, acknowledged_at = $2, ack_note = $3
         WHERE id = $4 AND acknowledged_at IS NULL",
    )
    .bind(by)
    .bind(now)
    .bind(note)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Open alerts first (oldest first: the longest waiting on top), then the newest others.
pub async fn list(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<AlertRow>> {
    let mut open: Vec<AlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM monitor_alerts a LEFT JOIN monitors m ON m.id = a.monitor_id
         LEFT JOIN incidents i ON i.id = a.incident_id
         WHERE {OPEN} ORDER BY a.at, a.id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let rest: Vec<AlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM monitor_alerts a LEFT JOIN monitors m ON m.id = a.monitor_id
         LEFT JOIN incidents i ON i.id = a.incident_id
         WHERE NOT ({OPEN}) ORDER BY a.at DESC, a.id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    open.extend(rest);
    Ok(open)
}

/// A monitor's alerts, newest first.
pub async fn of_monitor(
    conn: &mut Conn,
    monitor_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<AlertRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM monitor_alerts a LEFT JOIN monitors m ON m.id = a.monitor_id
         LEFT JOIN incidents i ON i.id = a.incident_id
         WHERE a.monitor_id = $1 ORDER BY a.at DESC, a.id DESC LIMIT $2"
    )))
    .bind(monitor_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

pub async fn count_open(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM monitor_alerts a WHERE {OPEN}"
    )))
    .fetch_one(&mut *conn)
    .await
}

/// One person of the on-call list.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OnCall {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub active: i64,
    pub created_at: Timestamp,
}

pub async fn oncall_all(conn: &mut Conn) -> sqlx::Result<Vec<OnCall>> {
    sqlx::query_as(
        "SELECT id, name, email, active, created_at FROM monitor_oncall
         ORDER BY active DESC, name, id",
    )
    .fetch_all(&mut *conn)
    .await
}

pub async fn oncall_active(conn: &mut Conn) -> sqlx::Result<Vec<OnCall>> {
    sqlx::query_as(
        "SELECT id, name, email, active, created_at FROM monitor_oncall WHERE active = 1
         ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
}

pub async fn oncall_find(conn: &mut Conn, id: i64) -> sqlx::Result<Option<OnCall>> {
    sqlx::query_as("SELECT id, name, email, active, created_at FROM monitor_oncall WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
}

pub async fn oncall_insert(
    conn: &mut Conn,
    name: &str,
    email: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO monitor_oncall (name, email, active, created_at) VALUES ($1, $2, 1, $3)
         RETURNING id",
    )
    .bind(name)
    .bind(email)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// False when the person was already inactive.
pub async fn oncall_deactivate(conn: &mut Conn, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE monitor_oncall SET active = 0 WHERE id = $1 AND active = 1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether an active entry has this address already (compared case-insensitively).
pub async fn oncall_has_active(conn: &mut Conn, email: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM monitor_oncall WHERE active = 1 AND LOWER(email) = LOWER($1)",
    )
    .bind(email)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}
