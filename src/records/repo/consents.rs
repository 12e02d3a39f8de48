//! SQL of the consent authority: a patient's consent records (each with the facility whose
//! documents it shares, its owner, its scope and its withdrawal), read whole for the history,
//! the effective scope and the ownership checks.

use std::collections::HashMap;

use sqlx::Row;

use crate::db::{Conn, Timestamp};

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ConsentRecord {
    pub id: i64,
    pub patient_id: i64,
    /// The facility whose documents the consent shares.
    pub facility_id: i64,
    pub facility_code: String,
    pub facility_name: String,
    /// `facility` (owned by `facility_id`) or `staff` (a paper form entered by staff).
    pub owner_kind: String,
    pub signed_on: String,
    /// `all` or `listed`.
    pub scope: String,
    pub scan_hash: Option<String>,
    pub scan_content_type: Option<String>,
    pub recorded_at: Timestamp,
    pub recorded_by: String,
    pub withdrawn_at: Option<Timestamp>,
    pub withdrawn_by: Option<String>,
    /// `facility`, `staff` or `superseded` (by the migration 0011).
    pub withdrawn_kind: Option<String>,
    pub withdrawn_scan_hash: Option<String>,
    pub withdrawn_scan_content_type: Option<String>,
    /// The listed facilities (code, name), filled by a second query.
    #[sqlx(skip)]
    pub listed: Vec<(String, String)>,
}

const COLUMNS: &str =
    "c.id, c.patient_id, c.facility_id, f.code AS facility_code, f.name AS facility_name,
    c.owner_kind, c.signed_on, c.scope, c.scan_hash, c.scan_content_type, c.recorded_at,
    c.recorded_by, c.withdrawn_at, c.withdrawn_by, c.withdrawn_kind, c.withdrawn_scan_hash,
    c.withdrawn_scan_content_type";

/// Every consent record of a patient, oldest first.
pub async fn consent_history(conn: &mut Conn, patient_id: i64) -> sqlx::Result<Vec<ConsentRecord>> {
    let mut records = sqlx::query_as::<_, ConsentRecord>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM consents c JOIN facilities f ON f.id = c.facility_id
         WHERE c.patient_id = $1 ORDER BY c.id"
    )))
    .bind(patient_id)
    .fetch_all(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "SELECT cf.consent_id, f.code, f.name FROM consent_facilities cf
         JOIN consents c ON c.id = cf.consent_id JOIN facilities f ON f.id = cf.facility_id
         WHERE c.patient_id = $1 ORDER BY f.code",
    )
    .bind(patient_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut listed: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for r in rows {
        listed
            .entry(r.try_get("consent_id")?)
            .or_default()
            .push((r.try_get("code")?, r.try_get("name")?));
    }
    for c in &mut records {
        c.listed = listed.remove(&c.id).unwrap_or_default();
    }
    Ok(records)
}

/// A participating facility's code and name by id.
pub async fn facility_label(conn: &mut Conn, id: i64) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query("SELECT code, name FROM facilities WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| Ok((r.try_get("code")?, r.try_get("name")?)))
        .transpose()
}

/// The participating facilities (code, name), by code: the choices of a consent's scope
/// (a withdrawn facility can no longer be named).
pub async fn participating_facilities(conn: &mut Conn) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query("SELECT code, name FROM facilities WHERE withdrawn_at IS NULL ORDER BY code")
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("name")?)))
        .collect()
}

/// The facilities holding a local ID of the patient (code, name), by code.
pub async fn linked_facilities(
    conn: &mut Conn,
    patient_id: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query(
        "SELECT f.code, f.name FROM patient_links l JOIN facilities f ON f.id = l.facility_id
         WHERE l.patient_id = $1 ORDER BY f.code",
    )
    .bind(patient_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Ok((r.try_get("code")?, r.try_get("name")?)))
    .collect()
}
