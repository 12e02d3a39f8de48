//! State changes of records made from the UI (and, for links, shared with the API): patient
//! registration with consent, links of local patient IDs, API keys, the retention purge
//! (consents are recorded and withdrawn by [`super::consent`]). Each runs on the caller's transaction (from `Db::begin`, so that writers
//! queue on SQLite) or on the `Db`, writes its audit event there, and fails with a
//! [`DomainError`] — or, for a link, a [`LinkError`] whose refusals both the UI and the FHIR API
//! show with their own message. The API turns either into an `OperationOutcome`
//! (`From<DomainError> for Rejection` in `api.rs`); the UI never sees a `Rejection`.

use rand::RngCore;
use serde_json::json;

use super::fhir::PatientInfo;
use super::intake_patients;
use super::model::{ConsentInfo, Rejection};
use super::repo;
use crate::audit::{self, Actor};
use crate::blobs::BlobStore;
use crate::db::{Constraint, Db, Timestamp, Tx, constraint};
use crate::error::DomainError;
use crate::state::AppState;

/// A database error of a records write: two writers registering the same thing at once
/// (PostgreSQL) is a conflict the sender can retry; anything else is internal.
fn db_error(e: sqlx::Error) -> DomainError {
    if constraint(&e) == Some(Constraint::Unique) {
        tracing::warn!(error = %e, "concurrent duplicate submission");
        return DomainError::conflict(
            "同じ患者または文書が同時に送信されました。何も保存されていません。再送してください。",
        );
    }
    e.into()
}

/// Registers a patient of the facility with the consent the facility manager recorded.
/// A local ID already registered, or patient data the intake rules refuse, is `Invalid`.
pub async fn register_patient(
    conn: &mut Tx,
    facility_id: i64,
    patient: &PatientInfo,
    consent: &ConsentInfo,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let local_id = &patient.local_id;
    if repo::find_link(conn, facility_id, local_id)
        .await?
        .is_some()
    {
        return Err(DomainError::invalid(
            "local_id",
            format!("患者ID {local_id} はすでに登録されています。"),
        ));
    }
    intake_patients::resolve_patient(conn, facility_id, patient, Some(consent), actor, now)
        .await
        .map_err(refused_patient)
}

/// `intake_patients::resolve_patient` answers in FHIR terms (it is the intake path's); a refusal of the
/// patient data is a form error here, a server error stays internal.
fn refused_patient(r: Rejection) -> DomainError {
    if r.status < 500 {
        DomainError::invalid("patient", r.message)
    } else {
        DomainError::Internal(anyhow::anyhow!(r.message))
    }
}

/// Why a link was refused. Each refusal has its own message, for the patient page and for the
/// API's `OperationOutcome` (409, 409, 403); anything else is a [`DomainError`].
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("患者ID {0} は自施設ですでに別の患者に連携されています。何も保存されていません。")]
    LocalIdTaken(String),
    #[error("この患者は自施設の患者ID {0} ですでに連携されています。何も保存されていません。")]
    AlreadyLinked(String),
    #[error("この患者の同意の範囲に自施設が含まれていないため、連携できません。")]
    OutsideConsent,
    #[error(transparent)]
    Other(#[from] DomainError),
}

impl From<sqlx::Error> for LinkError {
    fn from(e: sqlx::Error) -> Self {
        LinkError::Other(db_error(e))
    }
}

impl From<LinkError> for DomainError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::LocalIdTaken(_) | LinkError::AlreadyLinked(_) => {
                DomainError::Conflict(e.to_string())
            }
            LinkError::OutsideConsent => DomainError::Forbidden,
            LinkError::Other(e) => e,
        }
    }
}

impl From<LinkError> for Rejection {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::LocalIdTaken(_) | LinkError::AlreadyLinked(_) => {
                Rejection::new(409, "conflict", e.to_string())
            }
            LinkError::OutsideConsent => Rejection::new(403, "forbidden", e.to_string()),
            LinkError::Other(e) => e.into(),
        }
    }
}

/// Links `local_id` of a facility to a network patient. `Ok(false)`: the same link existed.
pub async fn link_patient(
    conn: &mut Tx,
    patient_id: i64,
    facility_id: i64,
    local_id: &str,
    actor: &Actor,
    channel: &str,
    now: Timestamp,
) -> Result<bool, LinkError> {
    if local_id.is_empty() || local_id.chars().count() > 64 {
        return Err(DomainError::invalid(
            "local_id",
            "自施設の患者ID を 1〜64 文字で入力してください。",
        )
        .into());
    }
    if let Some(other) = repo::find_link(conn, facility_id, local_id).await? {
        if other == patient_id {
            return Ok(false);
        }
        return Err(LinkError::LocalIdTaken(local_id.to_string()));
    }
    if let Some(own) = repo::local_id(conn, patient_id, facility_id).await? {
        return Err(LinkError::AlreadyLinked(own));
    }
    if !repo::in_consent_scope(conn, patient_id, facility_id).await? {
        return Err(LinkError::OutsideConsent);
    }
    repo::insert_link(conn, patient_id, facility_id, local_id, now).await?;
    audit::record(
        conn,
        now,
        actor,
        "records.patient_linked",
        &format!("patient:{patient_id}"),
        json!({"facility_id": facility_id, "local_id": local_id, "channel": channel}),
    )
    .await?;
    Ok(true)
}

/// Issues an API key for a facility; returns (key id, the key — shown once, never stored).
pub async fn create_api_key(
    db: &Db,
    facility_code: &str,
    label: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(i64, String), DomainError> {
    if facility_code.trim().is_empty() {
        return Err(DomainError::invalid(
            "facility_code",
            "施設コードを入力してください。",
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!(
        "rnk_{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    );
    let mut tx = db.begin().await?;
    let (facility_id, _) = repo::facility_by_code(&mut tx, facility_code.trim())
        .await?
        .ok_or_else(|| {
            DomainError::invalid(
                "facility_code",
                format!("施設コード {facility_code} の参加施設はありません。"),
            )
        })?;
    let label = if label.trim().is_empty() {
        "連携システム"
    } else {
        label.trim()
    };
    let prefix: String = key.chars().take(10).collect();
    let id = repo::insert_api_key(
        &mut tx,
        facility_id,
        label,
        &prefix,
        &crate::auth::token_hash(&key),
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "records.api_key_created",
        &format!("api_key:{id}"),
        json!({"facility": facility_code, "label": label, "prefix": prefix}),
    )
    .await?;
    tx.commit().await?;
    Ok((id, key))
}

/// Revokes an API key; from then on requests with it are answered 401.
pub async fn revoke_api_key(
    conn: &mut Tx,
    id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    if repo::revoke_api_key(conn, id, &actor.login, now).await? == 0 {
        return Err(DomainError::NotFound);
    }
    audit::record(
        conn,
        now,
        actor,
        "records.api_key_revoked",
        &format!("api_key:{id}"),
        json!({}),
    )
    .await?;
    Ok(())
}

/// Purges the reviewed documents that are still expired; returns (documents, blobs removed).
pub async fn purge(
    state: &AppState,
    ids: &[i64],
    actor: &Actor,
    now: Timestamp,
) -> Result<(usize, usize), DomainError> {
    let store = BlobStore::of(state);
    let _gate = store.collecting().await;
    let mut tx = state.db.begin().await?;
    let mut purged = Vec::new();
    let mut hashes = Vec::new();
    for id in ids {
        if let Some(h) = repo::purge_document(&mut tx, *id, &actor.login, now).await? {
            purged.push(*id);
            hashes.extend(h);
        }
    }
    hashes.sort();
    hashes.dedup();
    if !purged.is_empty() {
        audit::record(
            &mut tx,
            now,
            actor,
            "records.purged",
            "documents",
            json!({"document_ids": purged, "blobs": hashes}),
        )
        .await?;
    }
    tx.commit().await?;
    let mut removed = 0;
    let mut conn = state.db.pool().acquire().await?;
    for h in &hashes {
        // The age first, then the references (see `blobs`: a blob renewed after the HEAD is
        // referenced by then, or younger than the grace period).
        if store.collectable(h).await?
            && !repo::blob_referenced(&mut conn, h).await?
            && store.remove(h).await?
        {
            removed += 1;
        }
    }
    Ok((purged.len(), removed))
}
