//! The incidents' SQL.

use super::model::{Incident, NewIncident, Status};
use crate::db::{Conn, Timestamp};

const COLUMNS: &str = "id, number, title, severity, status, discovered_at, discovered_where,
    occurred_at, description, impact, affects_users, affected_services, recovered_at, cause,
    cause_category, action_taken, remarks, source, source_ref, revision, created_by, created_at,
    updated_at, reported_at";

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
             created_at, updated_at, cause_category)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)
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
    .bind(n.cause_category.key())
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

/// Incidents with the given status and severity (either may be empty: any), the open ones
/// (not 報告済) first, each part newest discovery first.
pub async fn list_filtered(
    conn: &mut Conn,
    status: &str,
    severity: &str,
    limit: i64,
) -> sqlx::Result<Vec<Incident>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE ($1 = '' OR status = $1) AND ($2 = '' OR severity = $2)
         ORDER BY CASE WHEN status = 'reported' THEN 1 ELSE 0 END, discovered_at DESC, id DESC
         LIMIT $3"
    )))
    .bind(status)
    .bind(severity)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// How many incidents are open (not 報告済), and how many of them are critical.
pub async fn count_open(conn: &mut Conn) -> sqlx::Result<(i64, i64)> {
    let row: (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END), 0)
         FROM incidents WHERE status <> 'reported'",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(row)
}

/// The values of the edit form, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    pub title: String,
    pub severity: String,
    pub discovered_at: Timestamp,
    pub discovered_where: String,
    pub occurred_at: Option<Timestamp>,
    pub description: String,
    pub impact: String,
    pub affects_users: bool,
    pub affected_services: String,
    pub recovered_at: Option<Timestamp>,
    pub cause: String,
    /// A [`super::model::CauseCategory`] key.
    pub cause_category: String,
    pub action_taken: String,
    pub remarks: String,
}

/// Writes the fields if the row is still at `revision`; the revision goes up by one. Returns
/// whether it was (false: someone changed it in between).
pub async fn update_fields(
    conn: &mut Conn,
    id: i64,
    revision: i64,
    f: &Fields,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE incidents SET title = $1, severity = $2, discovered_at = $3,
             discovered_where = $4, occurred_at = $5, description = $6, impact = $7,
             affects_users = $8, affected_services = $9, recovered_at = $10, cause = $11,
             action_taken = $12, remarks = $13, revision = revision + 1, updated_at = $14,
             cause_category = $17
         WHERE id = $15 AND revision = $16",
    )
    .bind(&f.title)
    .bind(&f.severity)
    .bind(f.discovered_at)
    .bind(&f.discovered_where)
    .bind(f.occurred_at)
    .bind(&f.description)
    .bind(&f.impact)
    .bind(i64::from(f.affects_users))
    .bind(&f.affected_services)
    .bind(f.recovered_at)
    .bind(&f.cause)
    .bind(&f.action_taken)
    .bind(&f.remarks)
    .bind(now)
    .bind(id)
    .bind(revision)
    .bind(&f.cause_category)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Sets the status (and 復旧日時 / the time it was reported) if the row is still at
/// `revision`; the revision goes up by one.
pub async fn update_status(
    conn: &mut Conn,
    id: i64,
    revision: i64,
    status: Status,
    recovered_at: Option<Timestamp>,
    reported_at: Option<Timestamp>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE incidents SET status = $1, recovered_at = $2, reported_at = $3,
             revision = revision + 1, updated_at = $4
         WHERE id = $5 AND revision = $6",
    )
    .bind(status.key())
    .bind(recovered_at)
    .bind(reported_at)
    .bind(now)
    .bind(id)
    .bind(revision)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TimelineEntry {
    pub id: i64,
    pub incident_id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub text: String,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
}

/// The 経過 in time order (entries of the same instant in the order they were recorded).
pub async fn timeline(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Vec<TimelineEntry>> {
    sqlx::query_as(
        "SELECT id, incident_id, at, kind, text, recorded_by, recorded_at
         FROM incident_timeline WHERE incident_id = $1 ORDER BY at, id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

/// The ids of the facilities an incident affects.
pub async fn facility_ids(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT facility_id FROM incident_facilities WHERE incident_id = $1 ORDER BY facility_id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

/// Replaces the set of affected facilities (the change itself is a correction entry of the
/// timeline, which keeps the old set).
pub async fn set_facilities(conn: &mut Conn, incident_id: i64, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM incident_facilities WHERE incident_id = $1")
        .bind(incident_id)
        .execute(&mut *conn)
        .await?;
    for f in ids {
        sqlx::query("INSERT INTO incident_facilities (incident_id, facility_id) VALUES ($1, $2)")
            .bind(incident_id)
            .bind(f)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VendorContact {
    pub id: i64,
    pub incident_id: i64,
    pub contacted_at: Timestamp,
    pub organisation: String,
    pub person: String,
    pub reference_no: String,
    pub request: String,
    pub answer: String,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
}

pub struct NewVendorContact<'a> {
    pub contacted_at: Timestamp,
    pub organisation: &'a str,
    pub person: &'a str,
    pub reference_no: &'a str,
    pub request: &'a str,
    pub answer: &'a str,
}

pub async fn insert_vendor_contact(
    conn: &mut Conn,
    incident_id: i64,
    v: &NewVendorContact<'_>,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_vendor_contacts (incident_id, contacted_at, organisation, person,
             reference_no, request, answer, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(incident_id)
    .bind(v.contacted_at)
    .bind(v.organisation)
    .bind(v.person)
    .bind(v.reference_no)
    .bind(v.request)
    .bind(v.answer)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn vendor_contacts(
    conn: &mut Conn,
    incident_id: i64,
) -> sqlx::Result<Vec<VendorContact>> {
    sqlx::query_as(
        "SELECT id, incident_id, contacted_at, organisation, person, reference_no, request,
             answer, recorded_by, recorded_at
         FROM incident_vendor_contacts WHERE incident_id = $1 ORDER BY contacted_at, id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Attachment {
    pub id: i64,
    pub incident_id: i64,
    pub blob_hash: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub note: String,
    pub uploaded_by: String,
    pub uploaded_at: Timestamp,
}

const ATTACHMENT_COLUMNS: &str = "id, incident_id, blob_hash, file_name, content_type, size_bytes,
    note, uploaded_by, uploaded_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert_attachment(
    conn: &mut Conn,
    incident_id: i64,
    hash: &str,
    file_name: &str,
    content_type: &str,
    size: i64,
    note: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_attachments (incident_id, blob_hash, file_name, content_type,
             size_bytes, note, uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(incident_id)
    .bind(hash)
    .bind(file_name)
    .bind(content_type)
    .bind(size)
    .bind(note)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn attachments(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Vec<Attachment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM incident_attachments WHERE incident_id = $1 ORDER BY id"
    )))
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn find_attachment(
    conn: &mut Conn,
    incident_id: i64,
    id: i64,
) -> sqlx::Result<Option<Attachment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM incident_attachments
         WHERE incident_id = $1 AND id = $2"
    )))
    .bind(incident_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Print {
    pub id: i64,
    pub kind: String,
    pub revision: i64,
    pub sha256: String,
    pub printed_by: String,
    pub printed_at: Timestamp,
}

pub async fn insert_print(
    conn: &mut Conn,
    incident_id: i64,
    kind: &str,
    revision: i64,
    sha256: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_prints (incident_id, kind, revision, sha256, printed_by, printed_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(incident_id)
    .bind(kind)
    .bind(revision)
    .bind(sha256)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn prints(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Vec<Print>> {
    sqlx::query_as(
        "SELECT id, kind, revision, sha256, printed_by, printed_at
         FROM incident_prints WHERE incident_id = $1 ORDER BY id",
    )
    .bind(incident_id)
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

/// Sets the affected services of a new incident (later changes go through the edit form).
pub async fn set_affected_services(conn: &mut Conn, id: i64, services: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE incidents SET affected_services = $1 WHERE id = $2")
        .bind(services)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
