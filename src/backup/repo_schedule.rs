//! All SQL of backup schedules (`backup_schedules`) and of read-only periods (`backup_readonly`).

use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: i64,
    pub kind: String,
    pub local_time: String,
    pub day_of_month: Option<i64>,
    #[sqlx(try_from = "crate::db::Flag")]
    pub stop_service: bool,
    pub window_minutes: i64,
    pub state: String,
    pub note: String,
    pub proposed_by: String,
    pub proposed_at: Timestamp,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decision_note: Option<String>,
    pub announcement_id: Option<i64>,
    pub last_slot: Option<Timestamp>,
    pub last_result: Option<String>,
    pub last_detail: Option<String>,
    pub last_result_at: Option<Timestamp>,
    pub published_slot: Option<Timestamp>,
    pub window_id: Option<i64>,
}

const COLUMNS: &str = "id, kind, local_time, day_of_month, stop_service, window_minutes, state,
    note, proposed_by, proposed_at, decided_by, decided_at, decision_note, announcement_id,
    last_slot, last_result, last_detail, last_result_at, published_slot, window_id";

pub struct NewScheduleRow<'a> {
    pub kind: &'a str,
    pub local_time: &'a str,
    pub day_of_month: Option<i64>,
    pub stop_service: bool,
    pub window_minutes: i64,
    pub note: &'a str,
    pub proposed_by: &'a str,
}

pub async fn insert(conn: &mut Conn, s: &NewScheduleRow<'_>, now: Timestamp) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO backup_schedules (kind, local_time, day_of_month, stop_service,
            window_minutes, state, note, proposed_by, proposed_at)
         VALUES ($1, $2, $3, $4, $5, 'proposed', $6, $7, $8) RETURNING id",
    )
    .bind(s.kind)
    .bind(s.local_time)
    .bind(s.day_of_month)
    .bind(i64::from(s.stop_service))
    .bind(s.window_minutes)
    .bind(s.note)
    .bind(s.proposed_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<ScheduleRow> {
    let sql = format!("SELECT {COLUMNS} FROM backup_schedules WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// Every schedule, newest first (the page).
pub async fn list(conn: &mut Conn) -> sqlx::Result<Vec<ScheduleRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_schedules ORDER BY proposed_at DESC, id DESC LIMIT 500"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
}

/// Approved schedules, monthly before daily (a daily builds on the monthly of the same night).
pub async fn list_approved(conn: &mut Conn) -> sqlx::Result<Vec<ScheduleRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_schedules WHERE state = 'approved'
         ORDER BY CASE kind WHEN 'monthly' THEN 0 ELSE 1 END, id"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
}

pub async fn count_proposed(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM backup_schedules WHERE state = 'proposed'")
        .fetch_one(&mut *conn)
        .await
}

/// Decides a proposed schedule (`approved` or `rejected`); false when it was no longer proposed.
pub async fn decide(
    conn: &mut Conn,
    id: i64,
    state: &str,
    by: &str,
    note: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backup_schedules SET state = $1, decided_by = $2, decided_at = $3,
            decision_note = $4
         WHERE id = $5 AND state = 'proposed'",
    )
    .bind(state)
    .bind(by)
    .bind(now)
    .bind(note)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Retires an approved schedule; false when it was not approved. The decision of the retirement
/// replaces the approval's in `decided_*` (the approval stays in the audit chain).
pub async fn retire(
    conn: &mut Conn,
    id: i64,
    by: &str,
    note: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backup_schedules SET state = 'retired', decided_by = $1, decided_at = $2,
            decision_note = $3
         WHERE id = $4 AND state = 'approved'",
    )
    .bind(by)
    .bind(now)
    .bind(note)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The approved schedule of `kind` other than `except`, if any.
pub async fn approved_of_kind(
    conn: &mut Conn,
    kind: &str,
    except: i64,
) -> sqlx::Result<Vec<ScheduleRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM backup_schedules WHERE state = 'approved' AND kind = $1 AND id <> $2"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(kind)
        .bind(except)
        .fetch_all(&mut *conn)
        .await
}

/// Claims `slot` for the schedule: only one runner (and one process) gets it, and never twice.
/// `result` is `running` (about to run) or `missed`.
pub async fn claim_slot(
    conn: &mut Conn,
    id: i64,
    slot: Timestamp,
    result: &str,
    detail: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backup_schedules SET last_slot = $1, last_result = $2, last_detail = $3,
            last_result_at = $4
         WHERE id = $5 AND state = 'approved' AND (last_slot IS NULL OR last_slot < $1)",
    )
    .bind(slot)
    .bind(result)
    .bind(detail)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The outcome of the slot claimed last (`ok` or `failed`).
pub async fn record_result(
    conn: &mut Conn,
    id: i64,
    slot: Timestamp,
    result: &str,
    detail: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backup_schedules SET last_result = $1, last_detail = $2, last_result_at = $3
         WHERE id = $4 AND last_slot = $5",
    )
    .bind(result)
    .bind(detail)
    .bind(now)
    .bind(id)
    .bind(slot)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// The stop occurrence published on the portal, and its window.
pub async fn set_published(
    conn: &mut Conn,
    id: i64,
    slot: Option<Timestamp>,
    window_id: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE backup_schedules SET published_slot = $1, window_id = $2 WHERE id = $3")
        .bind(slot)
        .bind(window_id)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map(drop)
}

/// The portal announcement that publishes the schedules (the newest one any schedule names).
pub async fn current_announcement(conn: &mut Conn) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT announcement_id FROM backup_schedules WHERE announcement_id IS NOT NULL
         ORDER BY decided_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Names the announcement on every approved schedule.
pub async fn set_announcement(conn: &mut Conn, announcement_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE backup_schedules SET announcement_id = $1 WHERE state = 'approved'")
        .bind(announcement_id)
        .execute(&mut *conn)
        .await
        .map(drop)
}

/// A read-only period that has not ended: from when, until when at the latest.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReadOnlyRow {
    pub started_at: Timestamp,
    pub until_at: Timestamp,
}

pub async fn insert_readonly(
    conn: &mut Conn,
    schedule_id: i64,
    slot: Timestamp,
    until: Timestamp,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO backup_readonly (schedule_id, slot, started_at, until_at)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(schedule_id)
    .bind(slot)
    .bind(now)
    .bind(until)
    .fetch_one(&mut *conn)
    .await
}

/// Ends a read-only period; false when it had already ended.
pub async fn end_readonly(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE backup_readonly SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Read-only periods not ended and not past their end at `now` (the layer filters by start).
pub async fn open_readonly(conn: &mut Conn, now: Timestamp) -> sqlx::Result<Vec<ReadOnlyRow>> {
    sqlx::query_as(
        "SELECT started_at, until_at FROM backup_readonly
         WHERE ended_at IS NULL AND until_at > $1 ORDER BY until_at DESC, id DESC LIMIT 10",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await
}
