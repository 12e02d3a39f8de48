//! The SQL of recurrence-prevention reports and their measures (R17.3).

use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Report {
    pub id: i64,
    pub incident_id: i64,
    pub incident_number: String,
    pub incident_title: String,
    pub title: String,
    pub body: String,
    pub state: String,
    pub revision: i64,
    pub submitted_at: Option<Timestamp>,
    pub submitted_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub decision_comment: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub committee_convened: bool,
    pub committee_on: Option<String>,
    pub minutes_hash: Option<String>,
    pub minutes_name: Option<String>,
    pub minutes_type: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
}

const REPORT_SELECT: &str = "SELECT r.id, r.incident_id, i.number AS incident_number,
        i.title AS incident_title, r.title, r.body, r.state, r.revision, r.submitted_at,
        r.submitted_by, r.decided_at, r.decided_by, r.decision_comment, r.committee_convened,
        r.committee_on, r.minutes_hash, r.minutes_name, r.minutes_type, r.created_by, r.created_at
    FROM incident_recurrence_reports r JOIN incidents i ON i.id = r.incident_id";

pub async fn insert_report(
    conn: &mut Conn,
    incident_id: i64,
    title: &str,
    body: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_recurrence_reports (incident_id, title, body, state, created_by,
             created_at, updated_at)
         VALUES ($1, $2, $3, 'draft', $4, $5, $5) RETURNING id",
    )
    .bind(incident_id)
    .bind(title)
    .bind(body)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn find_report(conn: &mut Conn, id: i64) -> sqlx::Result<Option<Report>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REPORT_SELECT} WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// Every report, newest first.
pub async fn list_reports(conn: &mut Conn) -> sqlx::Result<Vec<Report>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REPORT_SELECT} ORDER BY r.created_at DESC, r.id DESC"
    )))
    .fetch_all(&mut *conn)
    .await
}

/// The reports of one incident (for its page).
pub async fn list_for_incident(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Vec<Report>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REPORT_SELECT} WHERE r.incident_id = $1 ORDER BY r.id"
    )))
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn update_text(
    conn: &mut Conn,
    id: i64,
    base_revision: i64,
    title: &str,
    body: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE incident_recurrence_reports SET title = $1, body = $2, revision = revision + 1,
             updated_at = $3
         WHERE id = $4 AND revision = $5",
    )
    .bind(title)
    .bind(body)
    .bind(now)
    .bind(id)
    .bind(base_revision)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_submitted(conn: &mut Conn, id: i64, by: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_recurrence_reports SET state = 'submitted', submitted_at = $1,
             submitted_by = $2, revision = revision + 1, updated_at = $1
         WHERE id = $3",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_decided(
    conn: &mut Conn,
    id: i64,
    state: &str,
    by: &str,
    comment: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_recurrence_reports SET state = $1, decided_at = $2, decided_by = $3,
             decision_comment = $4, revision = revision + 1, updated_at = $2
         WHERE id = $5",
    )
    .bind(state)
    .bind(now)
    .bind(by)
    .bind(comment)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the committee; `minutes` (hash, name, type) none keeps the minutes stored before.
pub async fn set_committee(
    conn: &mut Conn,
    id: i64,
    convened: bool,
    on: Option<&str>,
    minutes: Option<(&str, &str, &str)>,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_recurrence_reports SET committee_convened = $1, committee_on = $2,
             minutes_hash = COALESCE($3, minutes_hash), minutes_name = COALESCE($4, minutes_name),
             minutes_type = COALESCE($5, minutes_type), updated_at = $6
         WHERE id = $7",
    )
    .bind(i64::from(convened))
    .bind(on)
    .bind(minutes.map(|m| m.0))
    .bind(minutes.map(|m| m.1))
    .bind(minutes.map(|m| m.2))
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Measure {
    pub id: i64,
    pub report_id: i64,
    pub description: String,
    pub owner: String,
    pub due_on: String,
    pub done_at: Option<Timestamp>,
    pub done_by: Option<String>,
    pub done_note: String,
}

const MEASURE_COLUMNS: &str =
    "id, report_id, description, owner, due_on, done_at, done_by, done_note";

pub async fn insert_measure(
    conn: &mut Conn,
    report_id: i64,
    description: &str,
    owner: &str,
    due_on: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_measures (report_id, description, owner, due_on, created_by,
             created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(report_id)
    .bind(description)
    .bind(owner)
    .bind(due_on)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn find_measure(conn: &mut Conn, id: i64) -> sqlx::Result<Option<Measure>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MEASURE_COLUMNS} FROM incident_measures WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn list_measures(conn: &mut Conn, report_id: i64) -> sqlx::Result<Vec<Measure>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MEASURE_COLUMNS} FROM incident_measures WHERE report_id = $1
         ORDER BY due_on, id"
    )))
    .bind(report_id)
    .fetch_all(&mut *conn)
    .await
}

/// Measures not done yet, earliest due first.
pub async fn list_open_measures(conn: &mut Conn) -> sqlx::Result<Vec<Measure>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MEASURE_COLUMNS} FROM incident_measures WHERE done_at IS NULL
         ORDER BY due_on, id"
    )))
    .fetch_all(&mut *conn)
    .await
}

pub async fn set_measure_done(
    conn: &mut Conn,
    id: i64,
    by: &str,
    note: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_measures SET done_at = $1, done_by = $2, done_note = $3 WHERE id = $4",
    )
    .bind(now)
    .bind(by)
    .bind(note)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
