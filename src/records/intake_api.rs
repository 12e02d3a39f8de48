//! The intake API's handlers: `POST /api/fhir/Bundle` (document or collection),
//! `POST /api/fhir` (batch) and `POST /api/fhir/Consent`. They parse and check the body, then
//! hand over to [`super::intake`], which stores; the answers are FHIR JSON.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::api::{ApiClient, FhirBody, fhir, internal, outcome_json};
use super::blobs::BlobStore;
use super::fhir::{self as fhirck, ParsedDocument};
use super::intake::{ingest_many, ingest_one, record_consent, resolve_patient};
use super::model::{self, Rejection};
use super::repo;
use crate::audit;
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

/// `POST /api/fhir/Consent`: records a consent (registering the patient from a contained
/// Patient if needed), or withdraws the patient's consent (status inactive).
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
    let store = BlobStore::new(&state.settings.paths.data_dir);
    let _gate = store.writing().await;
    let mut tx = state.db.begin().await?;
    let known = repo::find_link(&mut tx, client.facility_id, &patient.local_id).await?;
    if !info.active {
        let id = known.ok_or_else(|| {
            Rejection::new(
                404,
                "not-found",
                format!("患者ID {} は登録されていません。", patient.local_id),
            )
        })?;
        let current = repo::current_consent(&mut tx, id)
            .await?
            .filter(|c| c.withdrawn_at.is_none())
            .ok_or_else(|| {
                Rejection::new(
                    409,
                    "business-rule",
                    "この患者の同意はすでに撤回されています。",
                )
            })?;
        repo::withdraw_consent(&mut tx, current.id, &actor.login, now).await?;
        audit::record(
            &mut tx,
            now,
            &actor,
            "records.consent_withdrawn",
            &format!("patient:{id}"),
            json!({"consent_id": current.id, "channel": "api", "facility_id": client.facility_id}),
        )
        .await?;
        tx.commit().await?;
        let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information",
            "code": "informational", "diagnostics": "同意の撤回を記録しました。以後、送信元以外の施設はこの患者の文書を閲覧できません。"}]});
        return Ok(fhir(StatusCode::OK, &body));
    }
    if known.is_none() && patient_value.get("name").is_none() {
        return Err(Rejection::new(
            422,
            "invalid",
            "未登録の患者です。Consent.contained に Patient（氏名・生年月日を含む）を入れて送信してください。",
        ));
    }
    let patient_id = match known {
        Some(id) => {
            let scan_hash = info
                .scan
                .as_ref()
                .map(|(_, b)| hex::encode(Sha256::digest(b)));
            record_consent(
                &mut tx,
                id,
                client.facility_id,
                &info,
                scan_hash.as_deref(),
                &actor,
                now,
            )
            .await?;
            id
        }
        None => {
            resolve_patient(
                &mut tx,
                client.facility_id,
                &patient,
                Some(&info),
                &actor,
                now,
            )
            .await?
        }
    };
    if let Some((_, bytes)) = &info.scan {
        let hash = hex::encode(Sha256::digest(bytes));
        store.put(&hash, bytes).await.map_err(internal)?;
    }
    tx.commit().await?;
    let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information",
        "code": "informational", "diagnostics": format!("同意を記録しました（患者 {patient_id}）。")}]});
    Ok((StatusCode::CREATED, fhir(StatusCode::CREATED, &body)).into_response())
}
