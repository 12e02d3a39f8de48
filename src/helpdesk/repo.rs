//! All SQL of the helpdesk. Inquiries are never deleted; entries are only appended. The one
//! UPDATE keeps the inquiry row's status and clock columns in step with its newest entry.

use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Inquiry {
    pub id: i64,
    pub received_at: Timestamp,
    pub channel: String,
    pub category: String,
    pub requester_account_id: Option<i64>,
    pub requester_name: String,
    pub facility_id: Option<i64>,
    pub facility_name: String,
    pub contact: String,
    pub subject: String,
    pub content: String,
    pub status: String,
    pub first_response_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub account_request_id: Option<i64>,
    pub incident_id: Option<i64>,
    pub assignee_account_id: Option<i64>,
    pub priority: String,
    pub merged_into_id: Option<i64>,
}

pub struct NewInquiry<'a> {
    pub received_at: Timestamp,
    pub channel: &'a str,
    pub category: &'a str,
    pub requester_account_id: Option<i64>,
    pub requester_name: &'a str,
    pub facility_id: Option<i64>,
    pub facility_name: &'a str,
    pub contact: &'a str,
    pub subject: &'a str,
    pub content: &'a str,
    pub account_request_id: Option<i64>,
    pub incident_id: Option<i64>,
    pub created_by: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub inquiry_id: i64,
    pub kind: String,
    pub at: Timestamp,
    pub actor_name: String,
    pub method: String,
    pub content: String,
    pub status_after: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub public: bool,
    pub corrects_entry_id: Option<i64>,
}

pub struct NewEntry<'a> {
    pub inquiry_id: i64,
    pub kind: &'a str,
    pub at: Timestamp,
    pub actor_account_id: Option<i64>,
    pub actor_name: &'a str,
    pub method: &'a str,
    pub content: &'a str,
    pub status_after: &'a str,
    pub public: bool,
    pub corrects_entry_id: Option<i64>,
}

pub(super) const INQUIRY_COLUMNS: &str = "id, received_at, channel, category, requester_account_id,
    requester_name, facility_id, facility_name, contact, subject, content, status,
    first_response_at, completed_at, account_request_id, incident_id, assignee_account_id, priority,
    merged_into_id";

pub async fn insert_inquiry(
    conn: &mut Conn,
    n: &NewInquiry<'_>,
    status: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO helpdesk_inquiries (received_at, channel, category, requester_account_id,
            requester_name, facility_id, facility_name, contact, subject, content, status,
            account_request_id, incident_id, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(n.received_at)
    .bind(n.channel)
    .bind(n.category)
    .bind(n.requester_account_id)
    .bind(n.requester_name)
    .bind(n.facility_id)
    .bind(n.facility_name)
    .bind(n.contact)
    .bind(n.subject)
    .bind(n.content)
    .bind(status)
    .bind(n.account_request_id)
    .bind(n.incident_id)
    .bind(n.created_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Inquiry> {
    let sql = format!("SELECT {INQUIRY_COLUMNS} FROM helpdesk_inquiries WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// Newest first; only one requester's when `requester` is given; only unfinished when `open`.
pub async fn list(
    conn: &mut Conn,
    requester: Option<i64>,
    open: bool,
    limit: i64,
) -> sqlx::Result<Vec<Inquiry>> {
    let sql = format!(
        "SELECT {INQUIRY_COLUMNS} FROM helpdesk_inquiries
         WHERE ($1 IS NULL OR requester_account_id = $1) AND ($2 = 0 OR status <> '完了')
         ORDER BY received_at DESC, id DESC LIMIT $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(requester)
        .bind(i64::from(open))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// Inquiries received before `to` that were not finished at `from` (so: received in
/// [from, to), or still open at `from`). The report picks from these.
pub async fn list_relevant(
    conn: &mut Conn,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Vec<Inquiry>> {
    let sql = format!(
        "SELECT {INQUIRY_COLUMNS} FROM helpdesk_inquiries
         WHERE received_at < $2 AND (received_at >= $1 OR completed_at IS NULL OR completed_at >= $1)
         ORDER BY received_at, id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await
}

pub async fn entries(conn: &mut Conn, inquiry_id: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as(
        "SELECT id, inquiry_id, kind, at, actor_name, method, content, status_after, public,
                corrects_entry_id
         FROM helpdesk_entries WHERE inquiry_id = $1 ORDER BY id",
    )
    .bind(inquiry_id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn insert_entry(conn: &mut Conn, e: &NewEntry<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO helpdesk_entries (inquiry_id, kind, at, actor_account_id, actor_name, method,
            content, status_after, public, corrects_entry_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(e.inquiry_id)
    .bind(e.kind)
    .bind(e.at)
    .bind(e.actor_account_id)
    .bind(e.actor_name)
    .bind(e.method)
    .bind(e.content)
    .bind(e.status_after)
    .bind(i64::from(e.public))
    .bind(e.corrects_entry_id)
    .fetch_one(&mut *conn)
    .await
}

pub async fn update_state(
    conn: &mut Conn,
    id: i64,
    status: &str,
    first_response_at: Option<Timestamp>,
    completed_at: Option<Timestamp>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE helpdesk_inquiries SET status = $1, first_response_at = $2, completed_at = $3
         WHERE id = $4",
    )
    .bind(status)
    .bind(first_response_at)
    .bind(completed_at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The facility's name, for the requester fields of a portal inquiry.
pub async fn facility_name(conn: &mut Conn, facility_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT name FROM facilities WHERE id = $1")
        .bind(facility_id)
        .fetch_optional(&mut *conn)
        .await
}

// ---- links with incidents (issue 13) ----

/// Sets an inquiry's incident unless it already has one; whether it was set.
pub async fn link_incident(
    conn: &mut Conn,
    inquiry_id: i64,
    incident_id: i64,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE helpdesk_inquiries SET incident_id = $1 WHERE id = $2 AND incident_id IS NULL",
    )
    .bind(incident_id)
    .bind(inquiry_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// The inquiries linked to an incident, oldest first.
pub async fn of_incident(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Vec<Inquiry>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {INQUIRY_COLUMNS} FROM helpdesk_inquiries WHERE incident_id = $1 ORDER BY received_at, id"
    )))
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

/// Whether an incident with this id exists (the inquiry form's "関連する障害").
pub async fn incident_exists(conn: &mut Conn, incident_id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("SELECT 1 AS x FROM incidents WHERE id = $1")
        .bind(incident_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}
