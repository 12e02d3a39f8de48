//! All SQL of job leases and runs.

use crate::db::{Conn, Timestamp};

/// Takes the lease of `name` for `holder` unless another runner holds an unexpired one. With
/// `due_before` (a scheduled run), only when the job's last run started at or before it, so that
/// a job that another runner ran meanwhile is not run again: checking and taking are one
/// statement, which two instances on one database cannot both pass.
pub async fn acquire(
    conn: &mut Conn,
    name: &str,
    holder: &str,
    until: Timestamp,
    now: Timestamp,
    due_before: Option<Timestamp>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO job_leases (name, holder, lease_until, last_started_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE
            SET holder = excluded.holder, lease_until = excluded.lease_until,
                last_started_at = excluded.last_started_at
          WHERE (job_leases.lease_until IS NULL OR job_leases.lease_until < $4)
            AND ($5 = '' OR job_leases.last_started_at IS NULL
                 OR job_leases.last_started_at <= $5)",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .bind(due_before.map(|t| t.to_db()).unwrap_or_default())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Extends `holder`'s lease of `name` to `until` while its run goes on; `false` when the lease
/// is no longer this holder's.
pub async fn renew(
    conn: &mut Conn,
    name: &str,
    holder: &str,
    until: Timestamp,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE job_leases SET lease_until = $1 WHERE name = $2 AND holder = $3")
            .bind(until)
            .bind(name)
            .bind(holder)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn release(
    conn: &mut Conn,
    name: &str,
    holder: &str,
    now: Timestamp,
    status: &str,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE job_leases SET holder = NULL, lease_until = NULL, last_finished_at = $1,
                last_status = $2, last_message = $3
          WHERE name = $4 AND holder = $5",
    )
    .bind(now)
    .bind(status)
    .bind(message)
    .bind(name)
    .bind(holder)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_run(
    conn: &mut Conn,
    name: &str,
    holder: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO job_runs (name, holder, started_at, status) VALUES ($1, $2, $3, 'running') RETURNING id")
        .bind(name)
        .bind(holder)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
}

pub async fn finish_run(
    conn: &mut Conn,
    id: i64,
    now: Timestamp,
    status: &str,
    message: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE job_runs SET finished_at = $1, status = $2, message = $3 WHERE id = $4")
        .bind(now)
        .bind(status)
        .bind(message)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct JobStatus {
    pub holder: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub last_started_at: Option<Timestamp>,
    pub last_finished_at: Option<Timestamp>,
    pub last_status: Option<String>,
    pub last_message: Option<String>,
}

pub async fn status(conn: &mut Conn, name: &str) -> sqlx::Result<JobStatus> {
    let row = sqlx::query_as(
        "SELECT holder, lease_until, last_started_at, last_finished_at, last_status, last_message
           FROM job_leases WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.unwrap_or_default())
}
