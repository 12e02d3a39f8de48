//! SQL of the shared throttle counters (`throttle_counts`, see `throttle.rs`): used when the
//! counters are kept in the database (PostgreSQL, several instances). Every statement is one
//! atomic step on its own (autocommit), so that instances never wait on each other's
//! transactions and a refusal decided here is final for the attempt.

use crate::db::{Conn, Timestamp};

/// The failures of the whole server in the window starting at `window` (0 when none yet).
pub async fn global(conn: &mut Conn, window: Timestamp) -> sqlx::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar(
        "SELECT failures FROM throttle_counts WHERE window_start = $1 AND client_key = ''",
    )
    .bind(window)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(n.unwrap_or(0))
}

/// Counts one attempt of `key` in `window` and decides it in the same statement: returns
/// (outcome, refused so far), where outcome 1 = admitted (counted as a failure), 2 = refused by
/// the address limit, 3 = refused by the global limit (the address has failed already and the
/// server is over its limit). `per_address_max` 0 means no address limit.
pub async fn attempt(
    conn: &mut Conn,
    window: Timestamp,
    key: &str,
    per_address_max: i64,
    global_full: bool,
) -> sqlx::Result<(i64, i64)> {
    // In an upsert's SET, `throttle_counts.…` is the row before this statement.
    sqlx::query_as(
        "INSERT INTO throttle_counts (window_start, client_key, failures, refused, outcome)
         VALUES ($1, $2, 1, 0, 1)
         ON CONFLICT (window_start, client_key) DO UPDATE SET
             outcome = CASE
                 WHEN $3 > 0 AND throttle_counts.failures >= $3 THEN 2
                 WHEN $4 = 1 AND throttle_counts.failures > 0 THEN 3
                 ELSE 1 END,
             failures = CASE
                 WHEN $3 > 0 AND throttle_counts.failures >= $3 THEN throttle_counts.failures
                 WHEN $4 = 1 AND throttle_counts.failures > 0 THEN throttle_counts.failures
                 ELSE throttle_counts.failures + 1 END,
             refused = CASE
                 WHEN $3 > 0 AND throttle_counts.failures >= $3 THEN throttle_counts.refused + 1
                 WHEN $4 = 1 AND throttle_counts.failures > 0 THEN throttle_counts.refused + 1
                 ELSE throttle_counts.refused END
         RETURNING outcome, refused",
    )
    .bind(window)
    .bind(key)
    .bind(per_address_max)
    .bind(i64::from(global_full))
    .fetch_one(&mut *conn)
    .await
}

/// Counts one admitted attempt for the whole server.
pub async fn count_global(conn: &mut Conn, window: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO throttle_counts (window_start, client_key, failures) VALUES ($1, '', 1)
         ON CONFLICT (window_start, client_key) DO UPDATE
            SET failures = throttle_counts.failures + 1",
    )
    .bind(window)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes an admitted attempt back (the credential was right): for `key` and for the server.
pub async fn succeeded(conn: &mut Conn, window: Timestamp, key: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE throttle_counts SET failures = failures - 1
          WHERE window_start = $1 AND (client_key = '' OR client_key = $2) AND failures > 0",
    )
    .bind(window)
    .bind(key.unwrap_or(""))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes (deletes) the rows of the windows that started before `before` and returns the
/// refusals they counted: (key, window start, refused), for addresses with refusals only.
pub async fn take_closed(
    conn: &mut Conn,
    before: Timestamp,
) -> sqlx::Result<Vec<(String, Timestamp, i64)>> {
    let rows: Vec<(String, Timestamp, i64)> = sqlx::query_as(
        "DELETE FROM throttle_counts WHERE window_start < $1
         RETURNING client_key, window_start, refused",
    )
    .bind(before)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(key, _, refused)| !key.is_empty() && *refused > 0)
        .collect())
}
