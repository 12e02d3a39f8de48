//! The incidents' SQL.

use super::model::{Incident, NewIncident, Status};
use crate::db::{Conn, Timestamp};

const COLUMNS: &str = "id, number, title, severity, status, discovered_at, discovered_where,
    occurred_at, description, impact, affects_users, affected_services, recovered_at, cause,
    action_taken, remarks, source, source_ref, revision, created_by, created_at, updated_at,
    reported_at";

/// How many incidents have a number of `year` (the next one is this + 1).
pub async fn count_in_year(conn: &mut Conn, year: i16) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM incidents WHERE number LIKE $1")
        .bind(format!("{year}-%"))
        .fetch_one(&mut *conn)
        .await
}

pub async fn insert(
    conn: &mut Conn,
    number: &str,
    n: &NewIncident,
    created_by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incidents (number, title, severity, status, discovered_at, discovered_where,
             occurred_at, description, impact, affects_users, source, source_ref, created_by,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
         RETURNING id",
    )
    .bind(number)
    .bind(&n.title)
    .bind(n.severity.key())
    .bind(Status::Investigating.key())
    .bind(n.discovered_at)
    .bind(&n.discovered_where)
    .bind(n.occurred_at)
    .bind(&n.description)
    .bind(&n.impact)
    .bind(i64::from(n.affects_users))
    .bind(n.source.key())
    .bind(n.source_ref)
    .bind(created_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Option<Incident>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// Every incident, newest discovery first.
pub async fn list(conn: &mut Conn) -> sqlx::Result<Vec<Incident>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents ORDER BY discovered_at DESC, id DESC"
    )))
    .fetch_all(&mut *conn)
    .await
}

/// A dated entry of the 経過 (`kind` as in the migration's comment).
pub async fn add_timeline(
    conn: &mut Conn,
    incident_id: i64,
    at: Timestamp,
    kind: &str,
    text: &str,
    recorded_by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_timeline (incident_id, at, kind, text, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(incident_id)
    .bind(at)
    .bind(kind)
    .bind(text)
    .bind(recorded_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}
