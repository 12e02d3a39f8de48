//! All SQL of account requests.

use super::model::{Channel, PersonData, Request, RequestKind, VerificationMethod};
use crate::db::{Conn, Timestamp};

pub struct NewRequest<'a> {
    pub facility_id: i64,
    pub kind: RequestKind,
    pub channel: Channel,
    pub paper_date: Option<String>,
    pub submitted_by: Option<i64>,
    pub person: Option<&'a PersonData>,
    pub target_account_id: Option<i64>,
    pub reason: &'a str,
}

pub async fn insert(conn: &mut Conn, r: &NewRequest<'_>, now: Timestamp) -> sqlx::Result<i64> {
    let empty = PersonData {
        name: String::new(),
        kana: String::new(),
        job_type: String::new(),
        contact: String::new(),
    };
    let p = r.person.unwrap_or(&empty);
    sqlx::query_scalar(
        "INSERT INTO account_requests (facility_id, kind, state, channel, paper_date, submitted_by, received_at,
                                       person_name, person_kana, job_type, contact, target_account_id, reason)
         VALUES ($1, $2, 'received', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(r.facility_id)
    .bind(r.kind.key())
    .bind(r.channel.key())
    .bind(r.paper_date.clone())
    .bind(r.submitted_by)
    .bind(now)
    .bind(&p.name)
    .bind(&p.kana)
    .bind(&p.job_type)
    .bind(&p.contact)
    .bind(r.target_account_id)
    .bind(r.reason)
    .fetch_one(&mut *conn)
    .await
}

const SELECT: &str = "SELECT r.id, r.facility_id, f.name AS facility_name, r.kind, r.state, r.channel, r.paper_date,
        sb.display_name AS submitted_by_name, r.received_at, r.person_name, r.person_kana, r.job_type, r.contact,
        r.target_account_id, t.login_id AS target_login_id, t.display_name AS target_name, r.reason,
        hb.display_name AS handled_by_name, r.handled_at, r.rejection_reason, r.result_account_id,
        ra.login_id AS result_login_id, r.verification_method, vb.display_name AS verified_by_name,
        r.verified_at, r.verification_note
   FROM account_requests r
   JOIN facilities f ON f.id = r.facility_id
   LEFT JOIN accounts sb ON sb.id = r.submitted_by
   LEFT JOIN accounts t ON t.id = r.target_account_id
   LEFT JOIN accounts hb ON hb.id = r.handled_by
   LEFT JOIN accounts ra ON ra.id = r.result_account_id
   LEFT JOIN accounts vb ON vb.id = r.verified_by";

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Request> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// Moves a received request to processed; false if it was not in `received` any more.
pub async fn mark_processed(
    conn: &mut Conn,
    id: i64,
    by: Option<i64>,
    now: Timestamp,
    result_account_id: Option<i64>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE account_requests SET state = 'processed', handled_by = $1, handled_at = $2, result_account_id = $3
          WHERE id = $4 AND state = 'received'",
    )
    .bind(by)
    .bind(now)
    .bind(result_account_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_rejected(
    conn: &mut Conn,
    id: i64,
    by: Option<i64>,
    now: Timestamp,
    reason: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE account_requests SET state = 'rejected', handled_by = $1, handled_at = $2, rejection_reason = $3
          WHERE id = $4 AND state = 'received'",
    )
    .bind(by)
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_verification(
    conn: &mut Conn,
    id: i64,
    method: VerificationMethod,
    by: i64,
    at: Timestamp,
    note: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE account_requests SET verification_method = $1, verified_by = $2, verified_at = $3, verification_note = $4
          WHERE id = $5 AND state = 'received'",
    )
    .bind(method.key())
    .bind(by)
    .bind(at)
    .bind(note)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Open requests on one account (a second delete request for the same person is a duplicate).
pub async fn open_for_target(conn: &mut Conn, account_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) AS n FROM account_requests WHERE target_account_id = $1 AND state = 'received'")
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await
}

/// Requests still waiting (all facilities when `facility_id` is 0).
pub async fn count_open(conn: &mut Conn, facility_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) AS n FROM account_requests WHERE state = 'received' AND ($1 = 0 OR facility_id = $1)")
        .bind(facility_id)
        .fetch_one(&mut *conn)
        .await
}

/// Sort keys of a facility's request history `/requests` (public key, SQL; X.4); the default
/// is the reception time, newest first.
pub const FACILITY_SORTS: &[(&str, &str)] = &[
    ("received", "r.received_at"),
    ("kind", "r.kind"),
    ("state", "r.state"),
];

/// `WHERE` of one facility's requests (`$1`), in state `$2` ("" every state), matching the
/// pattern `$3` ("" no search) in the person's name or kana, the target's name or log-in ID, or
/// the reason. The facility test comes first and always: the list never leaves the caller's
/// facility, whatever the search.
const FACILITY_WHERE: &str = "r.facility_id = $1 AND ($2 = '' OR r.state = $2)
    AND ($3 = '' OR LOWER(r.person_name) LIKE LOWER($3) ESCAPE '\\'
         OR LOWER(r.person_kana) LIKE LOWER($3) ESCAPE '\\'
         OR LOWER(COALESCE(t.display_name, '')) LIKE LOWER($3) ESCAPE '\\'
         OR LOWER(COALESCE(t.login_id, '')) LIKE LOWER($3) ESCAPE '\\'
         OR LOWER(r.reason) LIKE LOWER($3) ESCAPE '\\')";

/// One page of facility `facility_id`'s requests (see [`FACILITY_WHERE`]) in `order` (one of
/// [`FACILITY_SORTS`]; the id breaks ties so pages never overlap).
pub async fn page_of_facility(
    conn: &mut Conn,
    facility_id: i64,
    state: &str,
    like: &str,
    order: &crate::web::list::Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Request>> {
    let sql = format!(
        "{SELECT} WHERE {FACILITY_WHERE} ORDER BY {}, r.id DESC LIMIT $4 OFFSET $5",
        order.sql_clause()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(state)
        .bind(like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
}

/// How many requests [`page_of_facility`] pages through.
pub async fn count_of_facility(
    conn: &mut Conn,
    facility_id: i64,
    state: &str,
    like: &str,
) -> sqlx::Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM account_requests r
           LEFT JOIN accounts t ON t.id = r.target_account_id
          WHERE {FACILITY_WHERE}"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(state)
        .bind(like)
        .fetch_one(&mut *conn)
        .await
}

/// Sort keys of the operators' list `/admin/requests` (public key, SQL; X.4). The default,
/// `waiting`, puts the requests still to process first, newest first within each group.
pub const ADMIN_SORTS: &[(&str, &str)] = &[
    (
        "waiting",
        "CASE WHEN r.state = 'received' THEN 0 ELSE 1 END",
    ),
    ("received", "r.received_at"),
    ("facility", "f.name"),
    ("kind", "r.kind"),
    ("state", "r.state"),
];

/// `WHERE` of every facility's requests in state `$1` ("" every state) matching the pattern
/// `$2` ("" no search) in the facility name, the person's name or kana, the target's or the
/// issued account's log-in ID, the target's name or the reason.
const ADMIN_WHERE: &str = "($1 = '' OR r.state = $1)
    AND ($2 = '' OR LOWER(f.name) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(r.person_name) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(r.person_kana) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(COALESCE(t.display_name, '')) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(COALESCE(t.login_id, '')) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(COALESCE(ra.login_id, '')) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(r.reason) LIKE LOWER($2) ESCAPE '\\')";

/// One page of all requests (see [`ADMIN_WHERE`]) in `order` (one of [`ADMIN_SORTS`]; the id,
/// newest first, breaks ties so pages never overlap).
pub async fn page_all(
    conn: &mut Conn,
    state: &str,
    like: &str,
    order: &crate::web::list::Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Request>> {
    let sql = format!(
        "{SELECT} WHERE {ADMIN_WHERE} ORDER BY {}, r.id DESC LIMIT $3 OFFSET $4",
        order.sql_clause()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(state)
        .bind(like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
}

/// How many requests [`page_all`] pages through.
pub async fn count_all(conn: &mut Conn, state: &str, like: &str) -> sqlx::Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM account_requests r
           JOIN facilities f ON f.id = r.facility_id
           LEFT JOIN accounts t ON t.id = r.target_account_id
           LEFT JOIN accounts ra ON ra.id = r.result_account_id
          WHERE {ADMIN_WHERE}"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(state)
        .bind(like)
        .fetch_one(&mut *conn)
        .await
}
