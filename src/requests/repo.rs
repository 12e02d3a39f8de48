//! All SQL of account requests.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::model::{Channel, PersonData, Request, RequestKind, RequestState, VerificationMethod};
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
    sqlx::query(
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
    .await?
    .try_get("id")
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

fn bad(what: &str, v: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {v}").into())
}

fn from_row(r: &AnyRow) -> sqlx::Result<Request> {
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    let channel: String = r.try_get("channel")?;
    let method: Option<String> = r.try_get("verification_method")?;
    Ok(Request {
        id: r.try_get("id")?,
        facility_id: r.try_get("facility_id")?,
        facility_name: r.try_get("facility_name")?,
        kind: RequestKind::from_key(&kind).ok_or_else(|| bad("kind", &kind))?,
        state: RequestState::from_key(&state).ok_or_else(|| bad("state", &state))?,
        channel: Channel::from_key(&channel).ok_or_else(|| bad("channel", &channel))?,
        paper_date: r.try_get("paper_date")?,
        submitted_by_name: r.try_get("submitted_by_name")?,
        received_at: r.try_get("received_at")?,
        person: PersonData {
            name: r.try_get("person_name")?,
            kana: r.try_get("person_kana")?,
            job_type: r.try_get("job_type")?,
            contact: r.try_get("contact")?,
        },
        target_account_id: r.try_get("target_account_id")?,
        target_login_id: r.try_get("target_login_id")?,
        target_name: r.try_get("target_name")?,
        reason: r.try_get("reason")?,
        handled_by_name: r.try_get("handled_by_name")?,
        handled_at: r.try_get("handled_at")?,
        rejection_reason: r.try_get("rejection_reason")?,
        result_account_id: r.try_get("result_account_id")?,
        result_login_id: r.try_get("result_login_id")?,
        verification_method: method.as_deref().and_then(VerificationMethod::from_key),
        verified_by_name: r.try_get("verified_by_name")?,
        verified_at: r.try_get("verified_at")?,
        verification_note: r.try_get("verification_note")?,
    })
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Request> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    from_row(
        &sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Requests, newest first; `facility_id` 0 means every facility, `state` "" every state.
pub async fn list(
    conn: &mut Conn,
    facility_id: i64,
    state: &str,
    limit: i64,
) -> sqlx::Result<Vec<Request>> {
    let sql = format!(
        "{SELECT} WHERE ($1 = 0 OR r.facility_id = $1) AND ($2 = '' OR r.state = $2)
         ORDER BY CASE WHEN r.state = 'received' THEN 0 ELSE 1 END, r.id DESC LIMIT $3"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(state)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
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
    sqlx::query("SELECT COUNT(*) AS n FROM account_requests WHERE target_account_id = $1 AND state = 'received'")
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")
}

/// Requests still waiting (all facilities when `facility_id` is 0).
pub async fn count_open(conn: &mut Conn, facility_id: i64) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) AS n FROM account_requests WHERE state = 'received' AND ($1 = 0 OR facility_id = $1)")
        .bind(facility_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")
}
