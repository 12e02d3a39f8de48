//! All SQL of notifications. Notifications are only inserted and marked read.

use super::Notice;
use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub link_path: String,
    pub mail_id: Option<i64>,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

pub async fn insert(
    conn: &mut Conn,
    account_id: i64,
    n: &Notice<'_>,
    mail_id: Option<i64>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO notifications (account_id, kind, subject, body, link_path, mail_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(account_id)
    .bind(n.kind.key())
    .bind(n.subject)
    .bind(n.body)
    .bind(n.link_path)
    .bind(mail_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// A user's notifications, newest first, and how many there are in all.
pub async fn list(
    conn: &mut Conn,
    account_id: i64,
    unread_only: bool,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Row>, i64)> {
    let rows = sqlx::query_as(
        "SELECT id, kind, subject, body, link_path, mail_id, created_at, read_at
         FROM notifications WHERE account_id = $1 AND ($2 = 0 OR read_at IS NULL)
         ORDER BY id DESC LIMIT $3 OFFSET $4",
    )
    .bind(account_id)
    .bind(i64::from(unread_only))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications
         WHERE account_id = $1 AND ($2 = 0 OR read_at IS NULL)",
    )
    .bind(account_id)
    .bind(i64::from(unread_only))
    .fetch_one(&mut *conn)
    .await?;
    Ok((rows, total))
}

pub async fn unread_count(conn: &mut Conn, account_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND read_at IS NULL",
    )
    .bind(account_id)
    .fetch_one(&mut *conn)
    .await
}

/// Marks one of the user's own notifications read; false when it is not theirs (or unknown).
pub async fn mark_read(
    conn: &mut Conn,
    account_id: i64,
    id: i64,
    now: Timestamp,
) -> sqlx::Result<Option<bool>> {
    let own: Option<Option<Timestamp>> =
        sqlx::query_scalar("SELECT read_at FROM notifications WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .fetch_optional(&mut *conn)
            .await?;
    match own {
        None => Ok(None),
        Some(Some(_)) => Ok(Some(false)),
        Some(None) => {
            sqlx::query("UPDATE notifications SET read_at = $1 WHERE id = $2 AND read_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(Some(true))
        }
    }
}

pub async fn mark_all_read(conn: &mut Conn, account_id: i64, now: Timestamp) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

pub async fn mail_wanted(conn: &mut Conn, account_id: i64, kind: &str) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("SELECT 1 AS x FROM notification_mail_off WHERE account_id = $1 AND kind = $2")
            .bind(account_id)
            .bind(kind)
            .fetch_optional(&mut *conn)
            .await?
            .is_none(),
    )
}

pub async fn kinds_off(conn: &mut Conn, account_id: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT kind FROM notification_mail_off WHERE account_id = $1")
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await
}

pub async fn set_kinds_off(conn: &mut Conn, account_id: i64, off: &[&str]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM notification_mail_off WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    for kind in off {
        sqlx::query("INSERT INTO notification_mail_off (account_id, kind) VALUES ($1, $2)")
            .bind(account_id)
            .bind(*kind)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn address(conn: &mut Conn, account_id: i64) -> sqlx::Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT email FROM notification_addresses WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?
    .filter(|e| !e.is_empty()))
}

pub async fn set_address(
    conn: &mut Conn,
    account_id: i64,
    email: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notification_addresses (account_id, email, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (account_id) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at",
    )
    .bind(account_id)
    .bind(email)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The active accounts of a role at a facility.
pub async fn active_of_role(
    conn: &mut Conn,
    facility_id: i64,
    role: &str,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM accounts WHERE facility_id = $1 AND role = $2 AND disabled_at IS NULL
         ORDER BY id",
    )
    .bind(facility_id)
    .bind(role)
    .fetch_all(&mut *conn)
    .await
}

pub async fn public_url(conn: &mut Conn) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT public_url FROM notification_site WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
}

pub async fn set_public_url(conn: &mut Conn, url: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notification_site (id, public_url, updated_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET public_url = excluded.public_url, updated_at = excluded.updated_at",
    )
    .bind(url)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
