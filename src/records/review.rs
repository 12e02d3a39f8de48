//! The right-patient review queue (issue 14, R21.1, X.3): with `[records] patient_mismatch =
//! "review"`, a document whose Patient differs from the patient registered for the sender's
//! local ID ([`super::patient_match`]) is stored but held: nobody reads it (UI or API, read or
//! search, any facility) until a facility manager of the sending facility resolves it on
//! `/records/review` ([`super::review_ui`]):
//! - accept: the manager confirms it is the registered patient's; the document is filed under
//!   them and readable as the consent says;
//! - reject: it is not filed and stays unreadable (kept as rejected until the retention purge);
//!   its Bundle.identifier is freed so that the sender can resend the corrected document.
//!
//! Each resolution needs a confirmation and a reason, and is audited in its transaction
//! (`records.review_accepted` / `records.review_rejected`); holding is audited too
//! (`records.document_held`). The sender is answered 202 with a warning `OperationOutcome`.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::api::{ApiClient, fhir};
use super::fhir::ParsedDocument;
use super::model::Rejection;
use super::patient_match::{self, Field, Presence, Sent};
use super::repo::{self, ReviewRow};
use crate::audit::{self, Actor};
use crate::auth::{Owned, Owner};
use crate::db::{Conn, Timestamp, Tx};
use crate::error::DomainError;

/// Holds the just-stored document `document_id` for review when its Patient differs from the
/// registered patient (call it only in review mode: in refuse mode such a document never gets
/// here).
pub async fn hold_if_differs(
    conn: &mut Tx,
    client: &ApiClient,
    document_id: i64,
    patient_id: i64,
    d: &ParsedDocument,
    now: Timestamp,
) -> Result<(), Rejection> {
    let sent = Sent::from_info(&d.patient);
    let fields =
        patient_match::differences_for(conn, patient_id, &sent, Presence::Required).await?;
    if fields.is_empty() {
        return Ok(());
    }
    let p = &d.patient;
    let review = repo::hold_document(
        conn,
        &repo::NewReview {
            document_id,
            facility_id: client.facility_id,
            patient_id,
            local_id: &p.local_id,
            identifier_value: &d.identifier_value,
            sent_name: &p.name,
            sent_kana: &p.kana,
            sent_birth_date: &p.birth_date,
            sent_gender: &p.gender,
            differs: &patient_match::keys(&fields),
        },
        now,
    )
    .await?;
    audit::record(
        conn,
        now,
        &client.actor(),
        "records.document_held",
        &format!("patient:{patient_id}"),
        json!({"document_id": document_id, "review_id": review, "facility_id": client.facility_id,
               "local_id": p.local_id, "identifier": d.identifier_value,
               "fields": fields.iter().map(|f| f.key()).collect::<Vec<_>>(), "channel": "api"}),
    )
    .await?;
    Ok(())
}

/// The fields of a stored document still held for review (None when it is not held).
pub async fn held(conn: &mut Conn, document_id: i64) -> Result<Option<Vec<Field>>, Rejection> {
    Ok(repo::held_fields(conn, document_id)
        .await?
        .map(|keys| parse_fields(&keys)))
}

pub fn parse_fields(keys: &str) -> Vec<Field> {
    keys.split(',').filter_map(Field::parse).collect()
}

/// The sender's answer for a held document: 202 with a warning.
pub fn held_outcome(id: i64, fields: &[Field]) -> serde_json::Value {
    json!({"resourceType": "OperationOutcome", "id": id.to_string(),
        "issue": [{"severity": "warning", "code": "business-rule", "diagnostics": held_message(id, fields)}]})
}

pub fn held_message(id: i64, fields: &[Field]) -> String {
    format!(
        "文書を受け付けましたが（ID {id}）、Patient の{}が患者ID で登録されている患者と一致しないため、確認待ちとして保留しました。送信元施設の利用施設管理者が「患者照合の確認」で確認するまで、誰も閲覧できません。",
        patient_match::labels(fields)
    )
}

pub fn held_answer(id: i64, fields: &[Field]) -> Response {
    let mut res = fhir(StatusCode::ACCEPTED, &held_outcome(id, fields));
    if let Ok(v) = HeaderValue::from_str(&format!("/api/fhir/Bundle/{id}")) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

/// A review as one facility sees it: only the sending facility's people reach it.
pub struct ReviewRef {
    pub row: ReviewRow,
}

impl Owned for ReviewRef {
    fn owner(&self) -> Owner {
        Owner::Facility(self.row.facility_id)
    }

    fn audit_target(&self) -> String {
        format!("patient:{}", self.row.patient_id)
    }

    fn audit_details(&self) -> serde_json::Value {
        json!({"review_id": self.row.id, "document_id": self.row.document_id})
    }
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Option<ReviewRef>> {
    Ok(repo::find_review(conn, id)
        .await?
        .map(|row| ReviewRef { row }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
}

impl Decision {
    pub fn action(self) -> &'static str {
        match self {
            Decision::Accept => "records.review_accepted",
            Decision::Reject => "records.review_rejected",
        }
    }
}

/// Resolves a pending review of the caller's facility (the handler has checked the object),
/// with its audit event in the same transaction. A review already resolved is a conflict.
pub async fn resolve(
    conn: &mut Tx,
    review: &ReviewRow,
    decision: Decision,
    reason: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "理由を入力してください（監査ログに残ります）。",
        ));
    }
    let reason: String = reason.chars().take(1000).collect();
    let accepted = decision == Decision::Accept;
    if !repo::resolve_review(conn, review.id, accepted, &actor.login, &reason, now).await? {
        return Err(DomainError::conflict(
            "この確認はすでに処理されています。一覧を開き直してください。",
        ));
    }
    audit::record(
        conn,
        now,
        actor,
        decision.action(),
        &format!("patient:{}", review.patient_id),
        json!({"review_id": review.id, "document_id": review.document_id,
               "facility_id": review.facility_id, "local_id": review.local_id,
               "identifier": review.identifier_value, "fields": review.differs,
               "reason": reason, "channel": "ui"}),
    )
    .await?;
    Ok(())
}
