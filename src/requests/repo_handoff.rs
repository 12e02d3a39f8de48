//! The SQL of [`super::handoff`]: letters waiting for their one download.

use crate::db::{Conn, Timestamp};

pub async fn insert(
    conn: &mut Conn,
    token_hash: &str,
    owner: i64,
    until: Timestamp,
    sealed: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO letter_handoffs (token_hash, owner, until, sealed) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(owner)
    .bind(until)
    .bind(sealed)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn forget_expired(conn: &mut Conn, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM letter_handoffs WHERE until <= $1")
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn exists(
    conn: &mut Conn,
    token_hash: &str,
    owner: i64,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM letter_handoffs WHERE token_hash = $1 AND owner = $2 AND until > $3",
    )
    .bind(token_hash)
    .bind(owner)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Deletes the row and returns its sealed content in one statement: one download wins.
pub async fn take(
    conn: &mut Conn,
    token_hash: &str,
    owner: i64,
    now: Timestamp,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "DELETE FROM letter_handoffs WHERE token_hash = $1 AND owner = $2 AND until > $3 \
         RETURNING sealed",
    )
    .bind(token_hash)
    .bind(owner)
    .bind(now)
    .fetch_optional(conn)
    .await
}
