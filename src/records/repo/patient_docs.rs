//! SQL of a patient's document list on the patient page (`/records/patients/{id}`, X.4:
//! searched, sorted, paged, counted). Which documents appear is the rule the page always had:
//! not held or rejected in the review, and readable by the caller's facility under the consent
//! in force ([`readable`]); only the listing columns are read (the
//! content stays in the database until a document is opened).

use super::scope::readable;
use crate::db::{Conn, Timestamp};
use crate::web::list::Order;

/// One line of the list.
#[derive(sqlx::FromRow)]
pub struct PatientDocRow {
    pub id: i64,
    pub facility_name: String,
    pub type_label: String,
    pub title: String,
    pub doc_date: String,
    pub sent_at: Timestamp,
}

/// Sort keys of the list (public key, SQL); the default is the document date, newest first.
pub const PATIENT_DOC_SORTS: &[(&str, &str)] = &[
    ("date", "d.doc_date"),
    ("sent", "d.sent_at"),
    ("type", "d.type_label"),
    ("facility", "f.name"),
];

/// `WHERE` of the documents of patient `$2` that facility `$1` may read, matching the pattern
/// `$3` ("" no search) in the title, the document type or the sending facility's name.
fn where_clause() -> String {
    format!(
        "d.review_state IS NULL AND d.patient_id = $2 AND {}
         AND ($3 = '' OR LOWER(d.title) LIKE LOWER($3) ESCAPE '\\'
              OR LOWER(d.type_label) LIKE LOWER($3) ESCAPE '\\'
              OR LOWER(f.name) LIKE LOWER($3) ESCAPE '\\')",
        readable("$1", "d.patient_id", "d.facility_id")
    )
}

/// One page of the list in `order` (one of [`PATIENT_DOC_SORTS`]; the id breaks ties, newest
/// first, so pages never overlap).
pub async fn patient_documents(
    conn: &mut Conn,
    facility_id: i64,
    patient_id: i64,
    like: &str,
    order: &Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<PatientDocRow>> {
    let sql = format!(
        "SELECT d.id, f.name AS facility_name, d.type_label, d.title, d.doc_date, d.sent_at
         FROM documents d JOIN facilities f ON f.id = d.facility_id
         WHERE {} ORDER BY {}, d.id DESC LIMIT $4 OFFSET $5",
        where_clause(),
        order.sql_clause()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(patient_id)
        .bind(like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
}

/// How many documents [`patient_documents`] pages through.
pub async fn count_patient_documents(
    conn: &mut Conn,
    facility_id: i64,
    patient_id: i64,
    like: &str,
) -> sqlx::Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM documents d JOIN facilities f ON f.id = d.facility_id WHERE {}",
        where_clause()
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(patient_id)
        .bind(like)
        .fetch_one(&mut *conn)
        .await
}
