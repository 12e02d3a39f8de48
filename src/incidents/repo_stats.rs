//! The SQL of the incident statistics: the period's incidents with their first user notices.

use crate::db::{Conn, Timestamp};

/// An incident with the times the statistics need.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StatRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub severity: String,
    pub cause_category: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub affects_users: bool,
    pub discovered_at: Timestamp,
    pub occurred_at: Option<Timestamp>,
    pub recovered_at: Option<Timestamp>,
    /// When the portal notice was first posted.
    pub notice_at: Option<Timestamp>,
    /// The first contact recorded as 伝達済.
    pub contact_at: Option<Timestamp>,
    /// The first mail of the contact tree the outbox sent.
    pub mail_at: Option<Timestamp>,
}

/// The incidents discovered in `[start, end)`, oldest first.
pub async fn rows(conn: &mut Conn, start: Timestamp, end: Timestamp) -> sqlx::Result<Vec<StatRow>> {
    sqlx::query_as(
        "SELECT i.id, i.number, i.title, i.severity, i.cause_category, i.affects_users,
                i.discovered_at, i.occurred_at, i.recovered_at,
                (SELECT n.posted_at FROM incident_notices n WHERE n.incident_id = i.id)
                    AS notice_at,
                (SELECT MIN(c.reached_at) FROM incident_notifications c
                  WHERE c.incident_id = i.id AND c.result = 'delivered') AS contact_at,
                (SELECT MIN(m.sent_at) FROM incident_notifications c
                   JOIN mail_outbox m ON m.id = c.mail_id
                  WHERE c.incident_id = i.id AND m.state = 'sent') AS mail_at
         FROM incidents i
         WHERE i.discovered_at >= $1 AND i.discovered_at < $2
         ORDER BY i.discovered_at, i.id",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await
}
