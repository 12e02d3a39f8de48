//! All SQL of facilities.

use super::model::Facility;
use crate::db::{Conn, Timestamp};

pub struct FacilityFields<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub postal_code: &'a str,
    pub address: &'a str,
    pub phone: &'a str,
    pub fax: &'a str,
}

pub async fn insert(conn: &mut Conn, f: &FacilityFields<'_>, now: Timestamp) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO facilities (code, name, kind, postal_code, address, phone, fax, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(f.code)
    .bind(f.name)
    .bind(f.kind)
    .bind(f.postal_code)
    .bind(f.address)
    .bind(f.phone)
    .bind(f.fax)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

pub async fn update(conn: &mut Conn, id: i64, f: &FacilityFields<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE facilities SET code = $1, name = $2, kind = $3, postal_code = $4, address = $5,
                phone = $6, fax = $7 WHERE id = $8",
    )
    .bind(f.code)
    .bind(f.name)
    .bind(f.kind)
    .bind(f.postal_code)
    .bind(f.address)
    .bind(f.phone)
    .bind(f.fax)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

pub async fn withdraw(conn: &mut Conn, id: i64, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE facilities SET withdrawn_at = $1 WHERE id = $2 AND withdrawn_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn id_by_code(conn: &mut Conn, code: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM facilities WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await
}

const SELECT: &str = "SELECT f.id, f.code, f.name, f.kind, f.postal_code, f.address, f.phone, f.fax, f.withdrawn_at,
        COALESCE((SELECT MIN(a.display_name) FROM accounts a
                   WHERE a.facility_id = f.id AND a.role = 'facility_manager' AND a.disabled_at IS NULL), '') AS managers
   FROM facilities f";

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Facility> {
    let sql = format!("{SELECT} WHERE f.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// All facilities (withdrawn last), or only active ones.
pub async fn list(conn: &mut Conn, active_only: bool) -> sqlx::Result<Vec<Facility>> {
    let sql = format!(
        "{SELECT} WHERE ($1 = 0 OR f.withdrawn_at IS NULL)
         ORDER BY CASE WHEN f.withdrawn_at IS NULL THEN 0 ELSE 1 END, f.kind, f.code"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(active_only))
        .fetch_all(&mut *conn)
        .await
}

/// Sort keys of `/admin/facilities` (X.4); the default puts withdrawn facilities last.
pub const FACILITY_SORTS: &[(&str, &str)] = &[
    (
        "state",
        "CASE WHEN f.withdrawn_at IS NULL THEN 0 ELSE 1 END",
    ),
    ("code", "f.code"),
    ("name", "f.name"),
    ("kind", "f.kind"),
];

/// `WHERE` of the admin list: code or name containing `$1` (already `%…%`, wildcards escaped).
fn matching(like: Option<&str>) -> &'static str {
    match like {
        Some(_) => {
            "LOWER(f.code) LIKE LOWER($1) ESCAPE '\\' OR LOWER(f.name) LIKE LOWER($1) ESCAPE '\\'"
        }
        None => "1 = 1",
    }
}

/// One page of facilities matching `like`, in `order` (one of [`FACILITY_SORTS`]; kind, code
/// and id break ties so pages never overlap).
pub async fn page(
    conn: &mut Conn,
    like: Option<&str>,
    order: &crate::web::list::Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Facility>> {
    let n = usize::from(like.is_some());
    let sql = format!(
        "{SELECT} WHERE {} ORDER BY {}, f.kind, f.code, f.id LIMIT ${} OFFSET ${}",
        matching(like),
        order.sql_clause(),
        n + 1,
        n + 2
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    if let Some(like) = like {
        query = query.bind(like);
    }
    query.bind(limit).bind(offset).fetch_all(&mut *conn).await
}

pub async fn count(conn: &mut Conn, like: Option<&str>) -> sqlx::Result<i64> {
    let sql = format!("SELECT COUNT(*) FROM facilities f WHERE {}", matching(like));
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
    if let Some(like) = like {
        query = query.bind(like);
    }
    query.fetch_one(&mut *conn).await
}
