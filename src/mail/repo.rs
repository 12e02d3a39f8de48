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

/// One row of the outbox.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MailRow {
    pub id: i64,
    pub source: String,
    pub source_ref: Option<String>,
    pub recipients: String,
    pub subject: String,
    pub body: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<Timestamp>,
}

const COLUMNS: &str = "id, source, source_ref, recipients, subject, body, state, attempts, \
     next_attempt_at, created_at, sent_at, last_error, claimed_by, claimed_until";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AttemptRow {
    pub mail_id: i64,
    pub at: Timestamp,
    pub ok: i64,
    pub detail: String,
}

/// The ids of queued mails that are due, oldest first.
pub async fn due_ids(conn: &mut Conn, now: Timestamp, limit: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM mail_outbox WHERE state = 'queued' AND next_attempt_at <= $1
          ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Claims a queued, due mail for `holder` until `until`: a single conditional UPDATE, so of two
/// senders exactly one gets it (PostgreSQL re-checks the condition after the other's commit;
/// SQLite's writers are serialised). Returns the row when this sender got it.
pub async fn claim(
    conn: &mut Conn,
    id: i64,
    holder: &str,
    until: Timestamp,
    now: Timestamp,
) -> sqlx::Result<Option<MailRow>> {
    let done = sqlx::query(
        "UPDATE mail_outbox SET state = 'sending', claimed_by = $1, claimed_until = $2
          WHERE id = $3 AND state = 'queued' AND next_attempt_at <= $4",
    )
    .bind(holder)
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    find(conn, id).await.map(Some)
}

/// Mails left `sending` by a sender whose claim has lapsed (it stopped mid-send).
pub async fn lapsed_claims(conn: &mut Conn, now: Timestamp) -> sqlx::Result<Vec<MailRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE state = 'sending' AND claimed_until < $1"
    )))
    .bind(now)
    .fetch_all(conn)
    .await
}

/// The outcome of one attempt, written with its `mail_attempts` row by [`record_attempt`].
pub enum Outcome<'a> {
    Sent,
    /// Try again at `next`.
    Retry {
        next: Timestamp,
        error: &'a str,
    },
    /// Given up.
    Failed {
        error: &'a str,
    },
}

/// Records an attempt on a mail claimed by `holder`: the `mail_attempts` row and the mail's
/// new state. Returns false (and writes nothing) when the claim is no longer `holder`'s.
pub async fn record_attempt(
    conn: &mut Conn,
    id: i64,
    holder: &str,
    now: Timestamp,
    outcome: &Outcome<'_>,
    detail: &str,
) -> sqlx::Result<bool> {
    let (state, next, sent_at, error) = match outcome {
        Outcome::Sent => ("sent", None, Some(now), None),
        Outcome::Retry { next, error } => ("queued", Some(*next), None, Some(*error)),
        Outcome::Failed { error } => ("failed", None, None, Some(*error)),
    };
    let done = sqlx::query(
        "UPDATE mail_outbox
            SET state = $1, attempts = attempts + 1,
                next_attempt_at = COALESCE($2, next_attempt_at), sent_at = $3,
                last_error = $4, claimed_by = NULL, claimed_until = NULL
          WHERE id = $5 AND state = 'sending' AND claimed_by = $6",
    )
    .bind(state)
    .bind(next)
    .bind(sent_at)
    .bind(error)
    .bind(id)
    .bind(holder)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO mail_attempts (mail_id, at, ok, detail) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(now)
        .bind(i64::from(matches!(outcome, Outcome::Sent)))
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Puts a failed mail back in the queue, due now, with a fresh count of attempts (its earlier
/// attempts stay in `mail_attempts`). False when the mail is not `failed`.
pub async fn requeue_failed(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE mail_outbox SET state = 'queued', attempts = 0, next_attempt_at = $1
          WHERE id = $2 AND state = 'failed'",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<MailRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Which mails a list shows.
#[derive(Clone, Copy, Debug)]
pub enum Which {
    /// Queued and being sent, oldest first.
    Queue,
    /// Given up, newest first.
    Failed,
    /// Sent, newest first.
    Sent,
}

pub async fn list(conn: &mut Conn, which: Which, limit: i64) -> sqlx::Result<Vec<MailRow>> {
    let filter = match which {
        Which::Queue => "state IN ('queued', 'sending') ORDER BY next_attempt_at, id",
        Which::Failed => "state = 'failed' ORDER BY id DESC",
        Which::Sent => "state = 'sent' ORDER BY id DESC",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE {filter} LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn attempts_of(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<Vec<AttemptRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT mail_id, at, ok, detail FROM mail_attempts WHERE mail_id IN ({list})
          ORDER BY at, id"
    )))
    .fetch_all(conn)
    .await
}

/// Counts for the page and the dashboard.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub queued: i64,
    pub failed_since: i64,
    pub oldest_queued: Option<Timestamp>,
}

/// Queued (and being sent) mails, the oldest of them, and mails failed since `since`.
pub async fn counts(conn: &mut Conn, since: Timestamp) -> sqlx::Result<Counts> {
    let (queued, oldest): (i64, Option<Timestamp>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(created_at) FROM mail_outbox WHERE state IN ('queued', 'sending')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let failed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_outbox o WHERE o.state = 'failed'
            AND EXISTS (SELECT 1 FROM mail_attempts a WHERE a.mail_id = o.id AND a.at >= $1)",
    )
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Counts {
        queued,
        failed_since: failed,
        oldest_queued: oldest,
    })
}
