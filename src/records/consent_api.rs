//! `GET /api/fhir/Consent?patient=…[&status=active]`: a patient's consents as FHIR Consents,
//! each with the facility whose documents it shares (`organization`), the facilities that may
//! read them (`provision.actor`), its owner, recorder, what it changed, whether it is in force
//! and its withdrawal (extensions `urn:rainbownet:consent:*`). `status=active` leaves only the
//! consents in force: the patient's effective scope. A facility sees the consents of patients it
//! may see (linked, or in the scope of a consent in force); any other patient, or an unknown
//! one, gives an empty searchset (no oracle), and the refusal of a known one is audited
//! (`access.denied`, by `web::ObjectGuard`). A read is audited as `records.consents_read`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiClient, fhir};
use super::consent::{self, Book};
use super::link::NETWORK_ID_SYSTEM;
use super::model::Rejection;
use super::objects;
use super::repo::{self, ConsentRecord};
use crate::audit;
use crate::auth::Scope;
use crate::error::DomainError;
use crate::state::AppState;
use crate::web::{ObjectGuard, RouteName};

/// The system of facility codes in `organization` and `provision.actor` (as the intake reads
/// them: `identifier.value`).
pub const FACILITY_CODE_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConsentQuery {
    patient: Option<String>,
    status: Option<String>,
}

fn ext(name: &str, value: Value) -> Value {
    let mut e = json!({"url": format!("urn:rainbownet:consent:{name}")});
    if let (Some(obj), Value::Object(v)) = (e.as_object_mut(), value) {
        obj.extend(v);
    }
    e
}

/// One consent record as a FHIR Consent.
fn resource(book: &Book, r: &ConsentRecord, network_id: &str) -> Value {
    let in_force = book.is_in_force(r);
    let mut extension = vec![
        ext("owner", json!({"valueCode": r.owner_kind})),
        ext(
            "owner-display",
            json!({"valueString": consent::owner_label(r)}),
        ),
        ext(
            "recorded-at",
            json!({"valueDateTime": r.recorded_at.to_db()}),
        ),
        ext("recorded-by", json!({"valueString": r.recorded_by})),
        ext("change", json!({"valueCode": book.change_of(r).key()})),
        ext("in-force", json!({"valueBoolean": in_force})),
    ];
    if let Some(h) = &r.scan_hash {
        extension.push(ext("scan-sha256", json!({"valueString": h})));
    }
    if let Some(at) = r.withdrawn_at {
        extension.push(ext("withdrawn-at", json!({"valueDateTime": at.to_db()})));
        extension.push(ext(
            "withdrawn-by",
            json!({"valueString": r.withdrawn_by.clone().unwrap_or_default()}),
        ));
        extension.push(ext(
            "withdrawn-kind",
            json!({"valueCode": r.withdrawn_kind.clone().unwrap_or_default()}),
        ));
        if let Some(h) = &r.withdrawn_scan_hash {
            extension.push(ext("withdrawal-scan-sha256", json!({"valueString": h})));
        }
    }
    let actors: Vec<Value> = r
        .listed
        .iter()
        .map(|(code, name)| {
            json!({"role": {"text": "閲覧施設"},
                   "reference": {"identifier": {"system": FACILITY_CODE_SYSTEM, "value": code}, "display": name}})
        })
        .collect();
    let mut provision = json!({"type": "permit"});
    if r.scope != "all" {
        provision["actor"] = Value::Array(actors);
    }
    let mut v = json!({
        "resourceType": "Consent",
        "id": r.id.to_string(),
        "extension": extension,
        "status": if in_force { "active" } else { "inactive" },
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0",
                                  "display": "Patient Consent"}]}],
        "patient": {"identifier": {"system": NETWORK_ID_SYSTEM, "value": network_id}},
        "dateTime": r.signed_on,
        "organization": [{"identifier": {"system": FACILITY_CODE_SYSTEM, "value": r.facility_code},
                          "display": r.facility_name}],
        "provision": provision,
    });
    if let Some(ct) = &r.scan_content_type {
        v["sourceAttachment"] = json!({"contentType": ct, "title": "同意書スキャン"});
    }
    v
}

pub async fn search(
    State(state): State<AppState>,
    client: ApiClient,
    route: RouteName,
    Query(q): Query<ConsentQuery>,
) -> Result<Response, Rejection> {
    let now = state.now();
    let Some(p) = q
        .patient
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    else {
        return Err(Rejection::new(
            400,
            "invalid",
            "patient（地域連携ID、または自施設の患者ID）を指定してください。",
        ));
    };
    let only_in_force = match q.status.as_deref() {
        None | Some("") => false,
        Some("active") => true,
        Some(other) => {
            return Err(Rejection::new(
                400,
                "invalid",
                format!("status「{other}」は指定できません（active = 有効な同意のみ）。"),
            ));
        }
    };
    let mut tx = state.db.begin().await?;
    // A network ID (KR…), or the facility's own local ID as `system|value` or `value`.
    let found = if let Some((_, value)) = p.split_once('|') {
        repo::find_link(&mut tx, client.facility_id, value).await?
    } else if let Some(id) = repo::patient_by_network_id(&mut tx, p).await? {
        Some(id)
    } else {
        repo::find_link(&mut tx, client.facility_id, p).await?
    };
    let mut entries = Vec::new();
    if let Some(id) = found {
        // A patient the facility may not see answers like an unknown one (empty); the object
        // guard audits the refusal (`access.denied`).
        let patient = objects::find_patient(&mut tx, id, client.facility_id).await?;
        let guard = ObjectGuard::new(
            &state,
            route,
            client.actor(),
            Scope::facility_system(client.facility_id),
        );
        let (t, patient) = match guard.check_in(tx, patient).await {
            Ok(found) => found,
            Err(DomainError::NotFound) => return Ok(searchset(Vec::new())),
            Err(e) => return Err(e.into()),
        };
        tx = t;
        let book = Book::load(&mut tx, id).await?;
        for r in &book.records {
            if only_in_force && !book.is_in_force(r) {
                continue;
            }
            entries.push(json!({"fullUrl": format!("urn:rainbownet:consent:{}", r.id),
                "resource": resource(&book, r, &patient.row.network_id), "search": {"mode": "match"}}));
        }
        audit::record(
            &mut tx,
            now,
            &client.actor(),
            "records.consents_read",
            &format!("patient:{id}"),
            json!({"facility_id": client.facility_id, "channel": "api",
                   "consents": entries.len()}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(searchset(entries))
}

fn searchset(entries: Vec<Value>) -> Response {
    fhir(
        StatusCode::OK,
        &json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(),
                "entry": entries}),
    )
}
