//! All SQL of the calendar: the operators' extra closed and open days.

use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExtraDay {
    pub id: i64,
    /// `YYYY-MM-DD` (Japan).
    pub day: String,
    /// `closed` or `open`.
    pub kind: String,
    pub reason: String,
    pub created_at: Timestamp,
}

/// Days in force (not withdrawn); a later row for the same day wins.
pub async fn list_active(conn: &mut Conn) -> sqlx::Result<Vec<ExtraDay>> {
    sqlx::query_as(
        "SELECT id, day, kind, reason, created_at FROM calendar_days
         WHERE withdrawn_at IS NULL ORDER BY day, id",
    )
    .fetch_all(&mut *conn)
    .await
}

pub async fn insert(
    conn: &mut Conn,
    day: &str,
    kind: &str,
    reason: &str,
    by: Option<i64>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO calendar_days (day, kind, reason, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(day)
    .bind(kind)
    .bind(reason)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// Withdraws a day; false if it was already withdrawn or does not exist.
pub async fn withdraw(
    conn: &mut Conn,
    id: i64,
    by: Option<i64>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE calendar_days SET withdrawn_at = $1, withdrawn_by = $2
         WHERE id = $3 AND withdrawn_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
