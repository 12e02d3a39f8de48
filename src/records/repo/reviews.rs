//! SQL of the right-patient review queue (issue 14): documents held because their Patient
//! differs from the registered patient, and their resolution (`super::super::review`).

use crate::db::{Conn, Timestamp};

pub struct NewReview<'a> {
    pub document_id: i64,
    pub facility_id: i64,
    pub patient_id: i64,
    pub local_id: &'a str,
    pub identifier_value: &'a str,
    pub sent_name: &'a str,
    pub sent_kana: &'a str,
    pub sent_birth_date: &'a str,
    pub sent_gender: &'a str,
    pub differs: &'a str,
}

/// Holds a just-stored document and opens its review.
pub async fn hold_document(
    conn: &mut Conn,
    r: &NewReview<'_>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query("UPDATE documents SET review_state = 'held' WHERE id = $1")
        .bind(r.document_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "INSERT INTO document_reviews (document_id, facility_id, patient_id, local_id,
            identifier_value, sent_name, sent_kana, sent_birth_date, sent_gender, differs, state,
            created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) RETURNING id",
    )
    .bind(r.document_id)
    .bind(r.facility_id)
    .bind(r.patient_id)
    .bind(r.local_id)
    .bind(r.identifier_value)
    .bind(r.sent_name)
    .bind(r.sent_kana)
    .bind(r.sent_birth_date)
    .bind(r.sent_gender)
    .bind(r.differs)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

#[derive(sqlx::FromRow)]
pub struct ReviewRow {
    pub id: i64,
    pub document_id: i64,
    pub facility_id: i64,
    pub patient_id: i64,
    pub local_id: String,
    pub identifier_value: String,
    pub sent_name: String,
    pub sent_kana: String,
    pub sent_birth_date: String,
    pub sent_gender: String,
    pub differs: String,
    pub state: String,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub resolved_by: Option<String>,
    pub reason: Option<String>,
    pub type_label: String,
    pub title: String,
    pub doc_date: String,
}

const REVIEW_COLUMNS: &str = "r.id, r.document_id, r.facility_id, r.patient_id, r.local_id,
    r.identifier_value, r.sent_name, r.sent_kana, r.sent_birth_date, r.sent_gender, r.differs,
    r.state, r.created_at, r.resolved_at, r.resolved_by, r.reason, d.type_label, d.title, d.doc_date";

pub async fn find_review(conn: &mut Conn, id: i64) -> sqlx::Result<Option<ReviewRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM document_reviews r JOIN documents d ON d.id = r.document_id
         WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// The review of a document, if it was ever held.
pub async fn review_of_document(
    conn: &mut Conn,
    document_id: i64,
) -> sqlx::Result<Option<ReviewRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM document_reviews r JOIN documents d ON d.id = r.document_id
         WHERE r.document_id = $1"
    )))
    .bind(document_id)
    .fetch_optional(&mut *conn)
    .await
}

/// The reviews of a sending facility: pending ones (oldest first), or resolved ones (latest
/// first).
pub async fn list_reviews(
    conn: &mut Conn,
    facility_id: i64,
    pending: bool,
    limit: i64,
) -> sqlx::Result<Vec<ReviewRow>> {
    let (cond, order) = if pending {
        ("r.state = 'pending'", "r.id")
    } else {
        ("r.state <> 'pending'", "r.resolved_at DESC, r.id DESC")
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM document_reviews r JOIN documents d ON d.id = r.document_id
         WHERE r.facility_id = $1 AND {cond} ORDER BY {order} LIMIT {}",
        limit.clamp(1, 1000)
    )))
    .bind(facility_id)
    .fetch_all(&mut *conn)
    .await
}

/// Sort keys of the held documents on `/records/review` (public key, SQL); the default is the
/// order they arrived in.
pub const PENDING_SORTS: &[(&str, &str)] = &[
    ("received", "r.id"),
    ("date", "d.doc_date"),
    ("type", "d.type_label"),
    ("local_id", "r.local_id"),
];

/// `WHERE` of facility `$1`'s held documents matching `$2` ("" no search) in the title, the
/// type, the patient ID, the identifier or the name and kana as sent.
const PENDING_WHERE: &str = "r.facility_id = $1 AND r.state = 'pending'
    AND ($2 = '' OR LOWER(d.title) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(d.type_label) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(r.local_id) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(r.identifier_value) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(r.sent_name) LIKE LOWER($2) ESCAPE '\\'
         OR LOWER(r.sent_kana) LIKE LOWER($2) ESCAPE '\\')";

/// One page of facility `facility_id`'s held documents (see [`PENDING_WHERE`]) in `order`
/// (one of [`PENDING_SORTS`]; the id breaks ties).
pub async fn page_pending(
    conn: &mut Conn,
    facility_id: i64,
    like: &str,
    order: &crate::web::list::Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ReviewRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM document_reviews r JOIN documents d ON d.id = r.document_id
         WHERE {PENDING_WHERE} ORDER BY {}, r.id LIMIT $3 OFFSET $4",
        order.sql_clause()
    )))
    .bind(facility_id)
    .bind(like)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await
}

/// How many held documents [`page_pending`] pages through.
pub async fn count_pending_matching(
    conn: &mut Conn,
    facility_id: i64,
    like: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM document_reviews r JOIN documents d ON d.id = r.document_id
         WHERE {PENDING_WHERE}"
    )))
    .bind(facility_id)
    .bind(like)
    .fetch_one(&mut *conn)
    .await
}

pub async fn count_pending(conn: &mut Conn, facility_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM document_reviews WHERE facility_id = $1 AND state = 'pending'",
    )
    .bind(facility_id)
    .fetch_one(&mut *conn)
    .await
}

/// How many documents of `patient_id` that `facility_id` sent wait for its review: the
/// patient page says so, since they are left out of the timeline until resolved.
pub async fn count_pending_for_patient(
    conn: &mut Conn,
    facility_id: i64,
    patient_id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM document_reviews r JOIN documents d ON d.id = r.document_id
         WHERE r.facility_id = $1 AND r.state = 'pending' AND d.patient_id = $2",
    )
    .bind(facility_id)
    .bind(patient_id)
    .fetch_one(&mut *conn)
    .await
}

/// Resolves a pending review: `accepted` files its document (readable as the consent says),
/// `rejected` leaves it unreadable and frees its Bundle.identifier for a corrected resend.
/// false when the review was no longer pending (nothing changed).
pub async fn resolve_review(
    conn: &mut Conn,
    id: i64,
    accepted: bool,
    by: &str,
    reason: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let state = if accepted { "accepted" } else { "rejected" };
    let changed = sqlx::query(
        "UPDATE document_reviews SET state = $1, resolved_at = $2, resolved_by = $3, reason = $4
         WHERE id = $5 AND state = 'pending'",
    )
    .bind(state)
    .bind(now)
    .bind(by)
    .bind(reason)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    let sql = if accepted {
        "UPDATE documents SET review_state = NULL
         WHERE id = (SELECT document_id FROM document_reviews WHERE id = $1)"
    } else {
        // The identifier stays in the review row; the document's becomes `…#rejected-{review}`,
        // so that the sender can send the corrected document under its own identifier.
        "UPDATE documents SET review_state = 'rejected',
                identifier_value = identifier_value || '#rejected-' || CAST($1 AS TEXT)
         WHERE id = (SELECT document_id FROM document_reviews WHERE id = $1)"
    };
    sqlx::query(sql).bind(id).execute(&mut *conn).await?;
    Ok(true)
}

/// The fields that differ of a held document (None when it is not held).
pub async fn held_fields(conn: &mut Conn, document_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT r.differs FROM document_reviews r JOIN documents d ON d.id = r.document_id
         WHERE r.document_id = $1 AND d.review_state = 'held'",
    )
    .bind(document_id)
    .fetch_optional(&mut *conn)
    .await
}
