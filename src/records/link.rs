//! Linking a facility's own local patient ID to an existing network patient (地域連携ID), so
//! that a second facility caring for the patient can send by its own ID (R21.1, X.3).
//!
//! Rules: a consent in force of the patient (for any facility's documents) must cover the
//! facility; a local ID names one network patient per facility, and a facility holds one local
//! ID per patient. Linking gives no say over another facility's consent ([`super::consent`]).
//! The Patient's name, kana, birth date and sex, as far as sent, must agree with the registered
//! patient ([`super::patient_match::screen_link`]), so a mistyped network ID links nobody.
//! A refusal stores nothing (a patient mismatch is audited); a link is audited (`records.patient_linked`) in its transaction.
//! Through the API (`POST /api/fhir/Patient/$link`, a Patient with both identifiers) or, for a
//! facility manager, from the patient page.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiClient, FhirBody, fhir};
use super::fhir as fhirck;
use super::model::Rejection;
use super::repo;
use super::service::{LinkError, link_patient};
use super::views::LinkPage;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect};

pub use super::fhir::NETWORK_ID_SYSTEM;

fn unknown_network_id(network_id: &str) -> Rejection {
    Rejection::new(
        404,
        "not-found",
        format!("地域連携ID {network_id} の患者は登録されていません。"),
    )
}

/// `POST /api/fhir/Patient/$link`: a Patient carrying the network ID (system
/// [`NETWORK_ID_SYSTEM`]) and the sender's own local ID.
pub async fn post_link(
    State(state): State<AppState>,
    client: ApiClient,
    FhirBody(body): FhirBody,
) -> Result<Response, Rejection> {
    let now = state.now();
    let v = fhirck::parse_json(&body)?;
    if fhirck::resource_type(&v) != Some("Patient") {
        return Err(Rejection::new(
            422,
            "invalid",
            "resourceType は Patient を指定してください。",
        ));
    }
    let network_id = v
        .get("identifier")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|i| i.get("system").and_then(Value::as_str) == Some(NETWORK_ID_SYSTEM))
        })
        .and_then(|i| i.get("value").and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .ok_or_else(|| {
            Rejection::new(
                422,
                "invalid",
                format!(
                    "Patient.identifier に地域連携ID（system {NETWORK_ID_SYSTEM}）がありません。"
                ),
            )
        })?
        .to_string();
    let local_id = fhirck::patient_info(&v, &client.facility_code)?.local_id;
    let mut tx = state.db.begin().await?;
    let patient_id = repo::patient_by_network_id(&mut tx, &network_id)
        .await?
        .ok_or_else(|| unknown_network_id(&network_id))?;
    // Outside the consent the link is refused below; comparing first would tell an outsider
    // whether a name and birth date belong to this network ID.
    let in_scope = repo::in_consent_scope(&mut tx, patient_id, client.facility_id).await?;
    if in_scope
        && let Err(refused) = super::patient_match::screen_link(
            &mut tx,
            &client,
            &v,
            &local_id,
            &network_id,
            patient_id,
            now,
        )
        .await
    {
        // Nothing is linked; the refusal's audit event is kept.
        tx.commit().await?;
        return Err(refused);
    }
    let created = link_patient(
        &mut tx,
        patient_id,
        client.facility_id,
        &local_id,
        &client.actor(),
        "api",
        now,
    )
    .await?;
    tx.commit().await?;
    let (status, msg) = if created {
        (
            StatusCode::CREATED,
            format!("患者ID {local_id} を地域連携ID {network_id} に連携しました。"),
        )
    } else {
        (
            StatusCode::OK,
            format!("患者ID {local_id} はすでに地域連携ID {network_id} に連携されています。"),
        )
    };
    let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information",
        "code": "informational", "diagnostics": msg}]});
    Ok(fhir(status, &body))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LinkForm {
    pub local_id: String,
}

/// The facility manager's link from the patient page; errors re-render the form (422).
pub async fn link(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<LinkForm>,
) -> AppResult<Response> {
    let now = state.now();
    let facility = p.facility_id.ok_or(AppError::Forbidden)?;
    let local_id = form.local_id.trim().to_string();
    let mut tx = state.db.begin().await?;
    let found = super::objects::find_patient(&mut tx, id, facility).await?;
    let (mut tx, patient) = guard.check_in(tx, found).await?;
    let patient = patient.row;
    let result = link_patient(&mut tx, id, facility, &local_id, &actor, "ui", now).await;
    let error = match result {
        Ok(_) => {
            tx.commit().await?;
            return Ok(flash_redirect(
                &state,
                &format!("/records/patients/{id}"),
                &format!(
                    "自施設の患者ID {local_id} を連携しました。以後、この患者ID で送信できます。"
                ),
            ));
        }
        Err(
            e @ (LinkError::LocalIdTaken(_)
            | LinkError::AlreadyLinked(_)
            | LinkError::OutsideConsent),
        ) => e.to_string(),
        Err(LinkError::Other(DomainError::Invalid { message, .. })) => message,
        Err(LinkError::Other(e)) => return Err(e.into()),
    };
    drop(tx);
    let t = LinkPage {
        page: page.titled(format!("{} さんの患者ID 連携", patient.name)),
        patient_id: id,
        patient_name: patient.name,
        network_id: patient.network_id,
        local_id,
        error,
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(askama::Template::render(&t)?),
    )
        .into_response())
}
