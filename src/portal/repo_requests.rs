//! All SQL of change requests (with their history and thread) and of the schedule windows.
//! Split from `repo.rs` only to keep files short.

use sqlx::Row;

use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChangeRequest {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub kind: Option<String>,
    pub requested_by_name: String,
    pub requested_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub lead_minutes: Option<i64>,
}

pub(super) const REQ_COLUMNS: &str =
    "id, title, body, state, kind, requested_by_name, requested_at, done_at, lead_minutes";

pub async fn insert_request(
    conn: &mut Conn,
    title: &str,
    body: &str,
    by_login: &str,
    by_name: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO portal_change_requests (title, body, state, requested_by_login,
            requested_by_name, requested_at)
         VALUES ($1, $2, 'submitted', $3, $4, $5) RETURNING id",
    )
    .bind(title)
    .bind(body)
    .bind(by_login)
    .bind(by_name)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn find_request(conn: &mut Conn, id: i64) -> sqlx::Result<ChangeRequest> {
    let sql = format!("SELECT {REQ_COLUMNS} FROM portal_change_requests WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// Moves a request from `from` to `to` (false if it is no longer in `from`), setting the
/// timestamp column that belongs to the new state.
pub async fn transition(
    conn: &mut Conn,
    id: i64,
    from: &str,
    to: &str,
    kind: Option<&str>,
    lead_minutes: Option<i64>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE portal_change_requests SET state = $1,
            kind = COALESCE($2, kind),
            classified_at = CASE WHEN $2 IS NULL THEN classified_at ELSE $3 END,
            agreed_at = CASE WHEN $1 = 'agreed' THEN $3 ELSE agreed_at END,
            done_at = CASE WHEN $1 = 'done' THEN $3 ELSE done_at END,
            lead_minutes = COALESCE($4, lead_minutes)
         WHERE id = $5 AND state = $6",
    )
    .bind(to)
    .bind(kind)
    .bind(now)
    .bind(lead_minutes)
    .bind(id)
    .bind(from)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
pub struct Entry {
    pub at: Timestamp,
    #[sqlx(rename = "actor_name")]
    pub who: String,
    pub from_state: Option<String>,
    pub to_state: String,
    #[sqlx(rename = "note")]
    pub text: String,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_event(
    conn: &mut Conn,
    request_id: i64,
    actor_login: &str,
    actor_name: &str,
    from_state: Option<&str>,
    to_state: &str,
    note: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO portal_change_request_events (request_id, at, actor_login, actor_name,
            from_state, to_state, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(request_id)
    .bind(now)
    .bind(actor_login)
    .bind(actor_name)
    .bind(from_state)
    .bind(to_state)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn list_events(conn: &mut Conn, request_id: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as(
        "SELECT at, actor_name, from_state, to_state, note FROM portal_change_request_events
         WHERE request_id = $1 ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn insert_message(
    conn: &mut Conn,
    request_id: i64,
    login: &str,
    name: &str,
    role_label: &str,
    body: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO portal_change_request_messages (request_id, at, author_login, author_name,
            author_role, body)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(request_id)
    .bind(now)
    .bind(login)
    .bind(name)
    .bind(role_label)
    .bind(body)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// (at, "name（role）", body), oldest first.
pub async fn list_messages(
    conn: &mut Conn,
    request_id: i64,
) -> sqlx::Result<Vec<(Timestamp, String, String)>> {
    // Hand-written: the second value is composed from two columns.
    let rows = sqlx::query(
        "SELECT at, author_name, author_role, body FROM portal_change_request_messages
         WHERE request_id = $1 ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get("author_name")?;
            let role: String = r.try_get("author_role")?;
            Ok((
                r.try_get("at")?,
                format!("{name}（{role}）"),
                r.try_get("body")?,
            ))
        })
        .collect()
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Window {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub services: String,
    pub reason: String,
    pub state: String,
    pub source: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<Timestamp>,
}

pub(super) const WIN_COLUMNS: &str = "id, kind, title, starts_at, ends_at, services, reason, state, source, approved_by, approved_at";

pub struct NewWindowRow<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub services: &'a str,
    pub reason: &'a str,
    pub source: &'a str,
    pub created_by: &'a str,
}

pub async fn insert_window(
    conn: &mut Conn,
    w: &NewWindowRow<'_>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO portal_schedules (kind, title, starts_at, ends_at, services, reason, state,
            source, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'proposed', $7, $8, $9) RETURNING id",
    )
    .bind(w.kind)
    .bind(w.title)
    .bind(w.starts_at)
    .bind(w.ends_at)
    .bind(w.services)
    .bind(w.reason)
    .bind(w.source)
    .bind(w.created_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn find_window(conn: &mut Conn, id: i64) -> sqlx::Result<Window> {
    let sql = format!("SELECT {WIN_COLUMNS} FROM portal_schedules WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// Approved windows that have not ended at `now`, soonest first.
pub async fn approved_not_ended(conn: &mut Conn, now: Timestamp) -> sqlx::Result<Vec<Window>> {
    let sql = format!(
        "SELECT {WIN_COLUMNS} FROM portal_schedules
         WHERE state = 'approved' AND ends_at > $1 ORDER BY starts_at, id LIMIT 50"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .fetch_all(&mut *conn)
        .await
}

/// Approved windows in progress at `now`.
pub async fn active_windows(conn: &mut Conn, now: Timestamp) -> sqlx::Result<Vec<Window>> {
    let sql = format!(
        "SELECT {WIN_COLUMNS} FROM portal_schedules
         WHERE state = 'approved' AND starts_at <= $1 AND ends_at > $1 ORDER BY starts_at, id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .fetch_all(&mut *conn)
        .await
}

pub async fn approve_window(
    conn: &mut Conn,
    id: i64,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE portal_schedules SET state = 'approved', approved_by = $1, approved_at = $2
         WHERE id = $3 AND state = 'proposed'",
    )
    .bind(by)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a window down before it starts (`withdrawn`); false when it was not an upcoming one.
pub async fn withdraw_window(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE portal_schedules SET state = 'withdrawn'
         WHERE id = $1 AND state IN ('proposed', 'approved') AND starts_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an approved window in progress at `now`; false when it was not in progress.
pub async fn end_window(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE portal_schedules SET ends_at = $1
         WHERE id = $2 AND state = 'approved' AND starts_at < $1 AND ends_at > $1",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
