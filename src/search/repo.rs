//! SQL of the global search (accounts, facilities, inquiries; patients are in
//! `records::find_visible_patients`). Every query takes a `%…%` pattern with the wildcards
//! escaped and a row limit.

use crate::db::Conn;

#[derive(sqlx::FromRow)]
pub struct AccountHit {
    pub id: i64,
    pub login_id: String,
    pub display_name: String,
}

#[derive(sqlx::FromRow)]
pub struct FacilityHit {
    pub id: i64,
    pub code: String,
    pub name: String,
}

#[derive(sqlx::FromRow)]
pub struct InquiryHit {
    pub id: i64,
    pub subject: String,
    pub facility_name: String,
}

/// Accounts whose login ID or name contains the pattern; only those of `facility` when given.
pub async fn accounts(
    conn: &mut Conn,
    like: &str,
    facility: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<AccountHit>> {
    sqlx::query_as(
        "SELECT id, login_id, display_name FROM accounts
         WHERE (LOWER(login_id) LIKE LOWER($1) ESCAPE '\\' OR LOWER(display_name) LIKE LOWER($1) ESCAPE '\\')
           AND ($2 = 0 OR facility_id = $3)
         ORDER BY login_id, id LIMIT $4",
    )
    .bind(like)
    .bind(i64::from(facility.is_some()))
    .bind(facility.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Facilities whose code or name contains the pattern; only `facility` itself when given.
pub async fn facilities(
    conn: &mut Conn,
    like: &str,
    facility: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<FacilityHit>> {
    sqlx::query_as(
        "SELECT id, code, name FROM facilities
         WHERE (LOWER(code) LIKE LOWER($1) ESCAPE '\\' OR LOWER(name) LIKE LOWER($1) ESCAPE '\\')
           AND ($2 = 0 OR id = $3)
         ORDER BY code, id LIMIT $4",
    )
    .bind(like)
    .bind(i64::from(facility.is_some()))
    .bind(facility.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// The inquiry with this number, if any.
pub async fn inquiry(conn: &mut Conn, number: i64) -> sqlx::Result<Option<InquiryHit>> {
    sqlx::query_as("SELECT id, subject, facility_name FROM helpdesk_inquiries WHERE id = $1")
        .bind(number)
        .fetch_optional(&mut *conn)
        .await
}
