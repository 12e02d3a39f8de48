//! SQL of the helpdesk's team work (issue 15 item 5): the searchable list, assignment and
//! priority, canned replies and merging duplicates.

use super::repo::{INQUIRY_COLUMNS, Inquiry};
use crate::db::{Conn, Timestamp};

/// The list's filters, already parsed (see `routes::ListQuery`).
pub struct Filter<'a> {
    /// None: unfinished only; Some(""): every status; Some(label): that status.
    pub status: Option<&'a str>,
    /// 0 any, -1 unassigned, else that account.
    pub assignee: i64,
    pub priority: &'a str,
    pub facility: &'a str,
    /// `%text%` escaped for `LIKE … ESCAPE '\'`, or "".
    pub like: &'a str,
    /// An inquiry number typed in the search box (-1: none).
    pub number: i64,
}

const WHERE: &str = "WHERE ($1 = 'open' AND status <> '完了' OR $1 = '' OR status = $1)
    AND ($2 = 0 OR ($2 = -1 AND assignee_account_id IS NULL) OR assignee_account_id = $2)
    AND ($3 = '' OR priority = $3)
    AND ($4 = '' OR facility_name = $4)
    AND ($5 = '' OR id = $6 OR LOWER(subject) LIKE LOWER($5) ESCAPE '\\'
         OR LOWER(content) LIKE LOWER($5) ESCAPE '\\' OR LOWER(requester_name) LIKE LOWER($5) ESCAPE '\\'
         OR LOWER(facility_name) LIKE LOWER($5) ESCAPE '\\')";

/// Sort keys of the list and their SQL (a whitelist: the key comes from the URL).
pub const SORTS: &[(&str, &str)] = &[
    ("received", "received_at"),
    ("id", "id"),
    ("status", "status"),
    (
        "priority",
        "CASE priority WHEN '緊急' THEN 0 WHEN '高' THEN 1 WHEN '通常' THEN 2 ELSE 3 END",
    ),
];

/// One page of the list and the total that matches.
pub async fn search(
    conn: &mut Conn,
    f: &Filter<'_>,
    order_sql: &str,
    desc: bool,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Inquiry>, i64)> {
    let status = f.status.unwrap_or("open");
    let dir = if desc { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {INQUIRY_COLUMNS} FROM helpdesk_inquiries {WHERE}
         ORDER BY {order_sql} {dir}, id {dir} LIMIT $7 OFFSET $8"
    );
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(f.assignee)
        .bind(f.priority)
        .bind(f.facility)
        .bind(f.like)
        .bind(f.number)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    let total = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM helpdesk_inquiries {WHERE}"
    )))
    .bind(status)
    .bind(f.assignee)
    .bind(f.priority)
    .bind(f.facility)
    .bind(f.like)
    .bind(f.number)
    .fetch_one(&mut *conn)
    .await?;
    Ok((rows, total))
}

/// The facility names inquiries came from (the list's facility filter).
pub async fn facility_names(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT facility_name FROM helpdesk_inquiries WHERE facility_name <> ''
         ORDER BY facility_name",
    )
    .fetch_all(&mut *conn)
    .await
}

/// Active accounts of these roles: (id, name), the people an inquiry may be assigned to.
pub async fn staff(conn: &mut Conn, roles: &[&str]) -> sqlx::Result<Vec<(i64, String)>> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for role in roles {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, display_name FROM accounts WHERE role = $1 AND disabled_at IS NULL
             ORDER BY id",
        )
        .bind(*role)
        .fetch_all(&mut *conn)
        .await?;
        out.extend(rows);
    }
    out.sort();
    Ok(out)
}

pub async fn set_assignment(
    conn: &mut Conn,
    id: i64,
    assignee: Option<i64>,
    priority: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE helpdesk_inquiries SET assignee_account_id = $1, priority = $2 WHERE id = $3",
    )
    .bind(assignee)
    .bind(priority)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_merged_into(conn: &mut Conn, id: i64, into: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE helpdesk_inquiries SET merged_into_id = $1 WHERE id = $2 AND merged_into_id IS NULL",
    )
    .bind(into)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// The inquiries merged into `id` (their messages stay readable on their own pages).
pub async fn merged_from(conn: &mut Conn, id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM helpdesk_inquiries WHERE merged_into_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut *conn)
        .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Canned {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// The canned replies in use, by title.
pub async fn canned(conn: &mut Conn) -> sqlx::Result<Vec<Canned>> {
    sqlx::query_as(
        "SELECT id, title, body, created_by, created_at FROM helpdesk_canned_replies
         WHERE retired_at IS NULL ORDER BY title, id",
    )
    .fetch_all(&mut *conn)
    .await
}

pub async fn insert_canned(
    conn: &mut Conn,
    title: &str,
    body: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO helpdesk_canned_replies (title, body, created_by, created_at)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(title)
    .bind(body)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn retire_canned(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE helpdesk_canned_replies SET retired_at = $1 WHERE id = $2 AND retired_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
