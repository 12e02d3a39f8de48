//! The outbox's SQL.

use super::Outgoing;
use crate::db::{Conn, Timestamp};

pub async fn insert(conn: &mut Conn, mail: &Outgoing, now: Timestamp) -> sqlx::Result<i64> {
    let recipients = mail
        .to
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    sqlx::query_scalar(
        "INSERT INTO mail_outbox (source, source_ref, recipients, subject, body, state, attempts,
                                  next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6) RETURNING id",
    )
    .bind(mail.source)
    .bind(mail.source_ref.as_deref())
    .bind(recipients)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}
