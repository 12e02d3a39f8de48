//! The intake API's handlers: `POST /api/fhir/Bundle` (document or collection),
//! `POST /api/fhir` (batch) and `POST /api/fhir/Consent`. They parse and check the body, then
//! hand over to [`super::intake`] (documents) or [`super::consent`] (consents), which store; the
//! answers are FHIR JSON.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::api::{ApiClient, FhirBody, fhir, internal, outcome_json};
use super::consent::{self, Act, ConsentError, Party, ScanRef};
use super::fhir::{self as fhirck, ParsedDocument};
use super::intake::{check_custodian, ingest_many, ingest_one, resolve_patient};
use super::model::{self, ConsentChange, Rejection};
use super::repo;
use crate::blobs::BlobStore;
use crate::error::DomainError;
use crate::state::AppState;

fn accepted(id: i64, created: bool) -> Response {
    let (status, msg) = if created {
        (
            StatusCode::CREATED,
            format!("文書を受け付けました（ID {id}）。"),
        )
    } else {
        (
            StatusCode::OK,
            format!("同じ文書はすでに受け付けられています（ID {id}）。"),
        )
    };
    let body = json!({"resourceType": "OperationOutcome", "id": id.to_string(),
        "issue": [{"severity": "information", "code": "informational", "diagnostics": msg}]});
    let mut res = fhir(status, &body);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/fhir/Bundle/{id}")) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}

pub async fn post_bundle(
    State(state): State<AppState>,
    client: ApiClient,
    FhirBody(body): FhirBody,
) -> Result<Response, Rejection> {
    let now = state.now();
    let v = fhirck::parse_json(&body)?;
    let d = fhirck::parse_bundle(
        v,
        &client.facility_code,
        state.section::<super::RecordsSettings>().max_entries,
    )?;
    let s = ingest_one(&state, &client, d, now).await?;
    Ok(accepted(s.id, s.created))
}

pub async fn post_batch(
    State(state): State<AppState>,
    client: ApiClient,
    FhirBody(body): FhirBody,
) -> Result<Response, Rejection> {
    let now = state.now();
    let max = state.section::<super::RecordsSettings>().max_entries;
    let v = fhirck::parse_json(&body)?;
    let docs: Vec<Result<ParsedDocument, Rejection>> = fhirck::batch_entries(v, max)?
        .into_iter()
        .map(|e| e.and_then(|r| fhirck::parse_bundle(r, &client.facility_code, max)))
        .collect();
    let results = ingest_many(&state, &client, &docs, now).await?;
    let entries: Vec<Value> = results
        .iter()
        .map(|r| match r {
            Ok(s) => json!({"response": {
                "status": if s.created { "201 Created" } else { "200 OK" },
                "location": format!("Bundle/{}", s.id)}}),
            Err(e) => json!({"response": {
                "status": format!("{} {}", e.status,
                    StatusCode::from_u16(e.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("")),
                "outcome": outcome_json(e.code, &e.message)}}),
        })
        .collect();
    Ok(fhir(
        StatusCode::OK,
        &json!({"resourceType": "Bundle", "type": "batch-response", "entry": entries}),
    ))
}

/// `POST /api/fhir/Consent`: records the sending facility's consent for its own documents
/// (registering the patient from a contained Patient if needed), or withdraws it (status
/// inactive), under the consent authority's rules ([`consent`]): a Consent naming another
/// facility as its `organization`, or a withdrawal of a consent the sender does not own, is
/// refused with 403 and audited.
pub async fn post_consent(
    State(state): State<AppState>,
    client: ApiClient,
    FhirBody(body): FhirBody,
) -> Result<Response, Rejection> {
    let now = state.now();
    let v = fhirck::parse_json(&body)?;
    let info = model::parse_consent(&v)?;
    let patient_ref = fhirck::str_at(&v, &["patient", "reference"]);
    let patient_value = match patient_ref {
        Some(r) if r.starts_with('#') => v
            .get("contained")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|p| p.get("id").and_then(Value::as_str) == Some(&r[1..]))
            })
            .filter(|p| fhirck::resource_type(p) == Some("Patient"))
            .cloned()
            .ok_or_else(|| {
                Rejection::new(
                    422,
                    "invalid",
                    format!("Consent.patient「{r}」が contained の Patient で解決できません。"),
                )
            })?,
        Some(r) => {
            return Err(Rejection::new(
                422,
                "invalid",
                format!(
                    "Consent.patient「{r}」は解決できません。contained の Patient（#id）か identifier で指定してください。"
                ),
            ));
        }
        None => {
            let identifier = v
                .get("patient")
                .and_then(|p| p.get("identifier"))
                .cloned()
                .ok_or_else(|| Rejection::new(422, "invalid", "Consent.patient がありません。"))?;
            json!({"resourceType": "Patient", "identifier": [identifier]})
        }
    };
    let patient = fhirck::patient_info(&patient_value, &client.facility_code)?;
    let actor = client.actor();
    let scan_hash = info
        .scan
        .as_ref()
        .map(|(_, b)| hex::encode(Sha256::digest(b)));
    let scan = match (&scan_hash, &info.scan) {
        (Some(hash), Some((content_type, _))) => Some(ScanRef { hash, content_type }),
        _ => None,
    };
    let store = BlobStore::of(&state);
    let _gate = store.writing().await;
    let mut tx = state.db.begin().await?;
    let known = repo::find_link(&mut tx, client.facility_id, &patient.local_id).await?;
    if let Err(refused) = check_custodian(&mut tx, &client, &info, known, now).await {
        tx.commit().await?;
        return Err(refused);
    }
    let act = |patient_id| Act {
        party: Party::Facility(client.facility_id),
        patient_id,
        actor: &actor,
        channel: "api",
        now,
    };
    if !info.active {
        let id = known.ok_or_else(|| {
            Rejection::new(
                404,
                "not-found",
                format!("患者ID {} は登録されていません。", patient.local_id),
            )
        })?;
        match consent::withdraw(&mut tx, &act(id), None, scan).await {
            Ok(_) => {}
            Err(e @ ConsentError::NotOwner(_)) => {
                tx.commit().await?;
                return Err(e.into());
            }
            Err(ConsentError::Other(DomainError::Conflict(_))) => {
                return Err(Rejection::new(
                    409,
                    "business-rule",
                    "この患者の自施設の同意はすでに撤回されています。",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        if let (Some(hash), Some((_, bytes))) = (&scan_hash, &info.scan) {
            store.put(hash, bytes).await.map_err(internal)?;
        }
        tx.commit().await?;
        let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information",
            "code": "informational", "diagnostics": "自施設の同意の撤回を記録しました。以後、自施設以外の施設は自施設が送信したこの患者の文書を閲覧できません（他の施設が記録した同意は変わりません）。"}]});
        return Ok(fhir(StatusCode::OK, &body));
    }
    if known.is_none() && patient_value.get("name").is_none() {
        return Err(Rejection::new(
            422,
            "invalid",
            "未登録の患者です。Consent.contained に Patient（氏名・生年月日を含む）を入れて送信してください。",
        ));
    }
    let (patient_id, change) = match known {
        Some(id) => {
            match consent::record(
                &mut tx,
                &act(id),
                client.facility_id,
                &info.signed_on,
                &info.scope,
                scan,
            )
            .await
            {
                Ok((_, change)) => (id, change),
                Err(e @ ConsentError::NotOwner(_)) => {
                    tx.commit().await?;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => (
            resolve_patient(
                &mut tx,
                client.facility_id,
                &patient,
                Some(&info),
                &actor,
                now,
            )
            .await?,
            ConsentChange::Granted,
        ),
    };
    if let (Some(hash), Some((_, bytes))) = (&scan_hash, &info.scan) {
        store.put(hash, bytes).await.map_err(internal)?;
    }
    tx.commit().await?;
    let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information",
        "code": "informational", "diagnostics": format!(
            "自施設の文書についての同意を記録しました（患者 {patient_id}、{}）。他の施設が記録した同意は変わりません。",
            change.label())}]});
    Ok((StatusCode::CREATED, fhir(StatusCode::CREATED, &body)).into_response())
}
