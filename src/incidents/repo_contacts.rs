//! The SQL of the contact tree, the notifications made along it and the incidents' portal
//! notices (R17.2). The outbox's state is read here (`mail_outbox.state`), never written.

use super::contacts::CheckedContact;
use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub level: i64,
    pub position: i64,
    pub organisation: String,
    pub person: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub note: String,
    pub deactivated_at: Option<Timestamp>,
    pub revision: i64,
}

const CONTACT_COLUMNS: &str =
    "id, level, position, organisation, person, phone, fax, email, note, deactivated_at, revision";

/// Every contact, in the order of the tree (level, then position).
pub async fn list_contacts(conn: &mut Conn) -> sqlx::Result<Vec<Contact>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM incident_contacts ORDER BY level, position, id"
    )))
    .fetch_all(&mut *conn)
    .await
}

pub async fn find_contact(conn: &mut Conn, id: i64) -> sqlx::Result<Option<Contact>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM incident_contacts WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// The last position used in a level (0 when empty).
pub async fn max_position(conn: &mut Conn, level: i64) -> sqlx::Result<i64> {
    let max: Option<i64> =
        sqlx::query_scalar("SELECT MAX(position) FROM incident_contacts WHERE level = $1")
            .bind(level)
            .fetch_one(&mut *conn)
            .await?;
    Ok(max.unwrap_or(0))
}

pub async fn insert_contact(
    conn: &mut Conn,
    c: &CheckedContact,
    position: i64,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_contacts (level, position, organisation, person, phone, fax, email,
             note, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(c.level)
    .bind(position)
    .bind(&c.organisation)
    .bind(&c.person)
    .bind(&c.phone)
    .bind(&c.fax)
    .bind(&c.email)
    .bind(&c.note)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// Saves a contact if it is still at `base_revision`; false otherwise.
pub async fn update_contact(
    conn: &mut Conn,
    id: i64,
    base_revision: i64,
    c: &CheckedContact,
    position: i64,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "UPDATE incident_contacts SET level = $1, position = $2, organisation = $3, person = $4,
             phone = $5, fax = $6, email = $7, note = $8, revision = revision + 1, updated_at = $9
         WHERE id = $10 AND revision = $11",
    )
    .bind(c.level)
    .bind(position)
    .bind(&c.organisation)
    .bind(&c.person)
    .bind(&c.phone)
    .bind(&c.fax)
    .bind(&c.email)
    .bind(&c.note)
    .bind(now)
    .bind(id)
    .bind(base_revision)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_position(
    conn: &mut Conn,
    id: i64,
    position: i64,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_contacts SET position = $1, revision = revision + 1, updated_at = $2
         WHERE id = $3",
    )
    .bind(position)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_deactivated(
    conn: &mut Conn,
    id: i64,
    at: Option<Timestamp>,
    position: i64,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_contacts SET deactivated_at = $1, position = $2,
             revision = revision + 1, updated_at = $3
         WHERE id = $4",
    )
    .bind(at)
    .bind(position)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub struct NewNotification<'a> {
    pub incident_id: i64,
    pub contact_id: i64,
    pub means: &'a str,
    pub mail_id: Option<i64>,
    pub result: &'a str,
    pub reached_person: &'a str,
    pub reached_at: Timestamp,
    pub note: &'a str,
}

pub async fn insert_notification(
    conn: &mut Conn,
    n: &NewNotification<'_>,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO incident_notifications (incident_id, contact_id, means, mail_id, result,
             reached_person, reached_at, note, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(n.incident_id)
    .bind(n.contact_id)
    .bind(n.means)
    .bind(n.mail_id)
    .bind(n.result)
    .bind(n.reached_person)
    .bind(n.reached_at)
    .bind(n.note)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// A notification with the state of its mail in the outbox (none for a recorded call).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub incident_id: i64,
    pub contact_id: i64,
    pub means: String,
    pub mail_id: Option<i64>,
    pub mail_state: Option<String>,
    pub result: String,
    pub reached_person: String,
    pub reached_at: Timestamp,
    pub note: String,
    pub recorded_by: String,
}

/// An incident's notifications, oldest first, with their mails' outbox state.
pub async fn list_notifications(
    conn: &mut Conn,
    incident_id: i64,
) -> sqlx::Result<Vec<NotificationRow>> {
    sqlx::query_as(
        "SELECT n.id, n.incident_id, n.contact_id, n.means, n.mail_id, m.state AS mail_state,
                n.result, n.reached_person, n.reached_at, n.note, n.recorded_by
         FROM incident_notifications n
         LEFT JOIN mail_outbox m ON m.id = n.mail_id
         WHERE n.incident_id = $1
         ORDER BY n.reached_at, n.id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

// ---- the portal notice ----

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct NoticeRow {
    pub incident_id: i64,
    pub announcement_id: i64,
    pub expected_recovery: String,
    pub posted_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

pub async fn find_notice(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Option<NoticeRow>> {
    sqlx::query_as(
        "SELECT incident_id, announcement_id, expected_recovery, posted_at, updated_at,
                resolved_at
         FROM incident_notices WHERE incident_id = $1",
    )
    .bind(incident_id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn insert_notice(
    conn: &mut Conn,
    incident_id: i64,
    announcement_id: i64,
    expected_recovery: &str,
    resolved_at: Option<Timestamp>,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO incident_notices (incident_id, announcement_id, expected_recovery,
             posted_at, posted_by, updated_at, resolved_at)
         VALUES ($1, $2, $3, $4, $5, $4, $6)",
    )
    .bind(incident_id)
    .bind(announcement_id)
    .bind(expected_recovery)
    .bind(now)
    .bind(by)
    .bind(resolved_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_notice(
    conn: &mut Conn,
    incident_id: i64,
    expected_recovery: &str,
    resolved_at: Option<Timestamp>,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE incident_notices SET expected_recovery = $1, resolved_at = $2, updated_at = $3
         WHERE incident_id = $4",
    )
    .bind(expected_recovery)
    .bind(resolved_at)
    .bind(now)
    .bind(incident_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
