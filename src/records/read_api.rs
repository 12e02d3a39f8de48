//! Reading through the FHIR API: `GET /api/fhir/Bundle/{id}` and the search
//! `GET /api/fhir/Bundle?patient=…&type=…&date=…`. A facility reads what it sent and what the
//! patient's consent lets it read; anything else is 404 like a missing document (direct read) or
//! left out (search), and a refused direct read or patient search is audited (`access.denied`).
//! Every document returned is written to the audit chain in the same transaction as the read.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{ApiClient, fhir};
use super::model::Rejection;
use super::objects;
use super::repo::{self, DocumentRow, Search};
use crate::audit::{self, Actor};
use crate::auth::Scope;
use crate::blobs::BlobStore;
use crate::db::{Timestamp, Tx};
use crate::error::DomainError;
use crate::state::AppState;
use crate::web::{ObjectGuard, RouteName};

/// What was read, by which facility, through which channel (`ui`, `api`, `api-search`).
pub struct Read {
    pub patient_id: i64,
    pub document_id: Option<i64>,
    pub facility_id: i64,
    pub channel: &'static str,
}

/// Writes the read of a patient's data to the audit chain (who, facility, patient, document,
/// channel); call it on the transaction that reads.
pub async fn log_read(
    conn: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    action: &str,
    r: Read,
) -> sqlx::Result<()> {
    audit::record(
        conn,
        now,
        actor,
        action,
        &format!("patient:{}", r.patient_id),
        json!({"document_id": r.document_id, "facility_id": r.facility_id, "channel": r.channel}),
    )
    .await?;
    Ok(())
}

/// The stored Bundle with its attachments put back, as the sender sent it.
pub async fn full_bundle(store: &BlobStore, doc: &DocumentRow) -> Result<Value, Rejection> {
    let mut v: Value = serde_json::from_str(&doc.content).map_err(super::api::internal)?;
    let mut hashes = Vec::new();
    super::attachments::blob_refs(&v, &mut hashes);
    let mut loaded = std::collections::HashMap::new();
    for h in hashes {
        // A missing or corrupt blob (its hash is checked) fails the read: never a Bundle
        // silently without its attachment.
        let bytes = store.get(&h).await.map_err(super::api::internal)?;
        loaded.insert(h, bytes);
    }
    super::attachments::rehydrate(&mut v, &mut |h| loaded.get(h).cloned());
    if let Some(obj) = v.as_object_mut() {
        obj.insert("id".into(), Value::String(doc.id.to_string()));
    }
    Ok(v)
}

/// The facility system's reach, through the one object guard.
fn guard_of(state: &AppState, route: RouteName, client: &ApiClient) -> ObjectGuard {
    ObjectGuard::new(
        state,
        route,
        client.actor(),
        Scope::facility_system(client.facility_id),
    )
}

/// A document that does not exist and one outside the consent scope answer the same 404
/// (the refusal is audited by the guard).
pub async fn get_bundle(
    State(state): State<AppState>,
    client: ApiClient,
    route: RouteName,
    Path(id): Path<String>,
) -> Result<Response, Rejection> {
    let now = state.now();
    let not_found = || Rejection::new(404, "not-found", format!("Bundle/{id} はありません。"));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let guard = guard_of(&state, route, &client);
    let mut tx = state.db.begin().await?;
    let found = objects::find_document(&mut tx, id, client.facility_id, None).await?;
    let (mut tx, doc) = match guard.check_in(tx, found).await {
        Ok((tx, doc)) => (tx, doc.row),
        Err(DomainError::NotFound) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let store = BlobStore::of(&state);
    let body = full_bundle(&store, &doc).await?;
    log_read(
        &mut tx,
        now,
        &client.actor(),
        "records.document_read",
        Read {
            patient_id: doc.patient_id,
            document_id: Some(doc.id),
            facility_id: client.facility_id,
            channel: "api",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(fhir(StatusCode::OK, &body))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    patient: Option<String>,
    #[serde(rename = "type")]
    type_: Option<String>,
    date: Option<String>,
    #[serde(rename = "_count")]
    count: Option<i64>,
}

/// A FHIR date search value: `2026-11-20`, `ge2026-11-01`, `lt2026-12-01` …
fn date_filter(v: &str) -> Option<(&'static str, String)> {
    let (op, rest) = match v.get(..2) {
        Some("eq") => ("=", &v[2..]),
        Some("ge") => (">=", &v[2..]),
        Some("le") => ("<=", &v[2..]),
        Some("gt") => (">", &v[2..]),
        Some("lt") => ("<", &v[2..]),
        _ => ("=", v),
    };
    super::model::date_part(rest).map(|d| (op, d))
}

fn searchset(entries: Vec<Value>) -> Response {
    fhir(
        StatusCode::OK,
        &json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries}),
    )
}

pub async fn search(
    State(state): State<AppState>,
    client: ApiClient,
    route: RouteName,
    Query(q): Query<SearchQuery>,
) -> Result<Response, Rejection> {
    let now = state.now();
    let bad = |m: String| Rejection::new(400, "invalid", m);
    let mut s = Search {
        limit: q.count.unwrap_or(50).clamp(1, 100),
        ..Search::default()
    };
    let mut tx = state.db.begin().await?;
    if let Some(p) = q
        .patient
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        // A network ID (KR…), or the facility's own local ID as `system|value` or `value`.
        let found = if let Some((_, value)) = p.split_once('|') {
            repo::find_link(&mut tx, client.facility_id, value).await?
        } else if let Some(id) = repo::patient_by_network_id(&mut tx, p).await? {
            Some(id)
        } else {
            repo::find_link(&mut tx, client.facility_id, p).await?
        };
        // An unknown patient gives an empty result rather than an error: no oracle for IDs.
        // So does one the facility may not see, and that refused read is audited.
        if let Some(id) = found {
            let patient = objects::find_patient(&mut tx, id, client.facility_id).await?;
            tx = match guard_of(&state, route, &client).check_in(tx, patient).await {
                Ok((tx, _)) => tx,
                Err(DomainError::NotFound) => return Ok(searchset(Vec::new())),
                Err(e) => return Err(e.into()),
            };
        }
        s.patient_id = Some(found.unwrap_or(-1));
    }
    if let Some(t) = q.type_.as_deref().filter(|t| !t.is_empty()) {
        s.type_code = Some(t.rsplit('|').next().unwrap_or(t).to_string());
    }
    if let Some(d) = q.date.as_deref().filter(|d| !d.is_empty()) {
        for part in d.split(',') {
            s.dates.push(date_filter(part.trim()).ok_or_else(|| {
                bad(format!(
                    "date「{part}」は日付として読めません（例: ge2026-04-01）。"
                ))
            })?);
        }
    }
    let docs = repo::search(&mut tx, client.facility_id, &s).await?;
    let store = BlobStore::of(&state);
    let mut entries = Vec::with_capacity(docs.len());
    for doc in &docs {
        entries.push(json!({"fullUrl": format!("{}/api/fhir/Bundle/{}",
                state.settings.server.public_url.trim_end_matches('/'), doc.id),
            "resource": full_bundle(&store, doc).await?, "search": {"mode": "match"}}));
        log_read(
            &mut tx,
            now,
            &client.actor(),
            "records.document_read",
            Read {
                patient_id: doc.patient_id,
                document_id: Some(doc.id),
                facility_id: client.facility_id,
                channel: "api-search",
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(searchset(entries))
}

pub async fn openapi() -> Response {
    let mut res = fhir(StatusCode::OK, &Value::Null);
    *res.body_mut() = axum::body::Body::from(include_str!("openapi.json"));
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_search_values_take_fhir_prefixes() {
        assert_eq!(
            date_filter("ge2026-04-01"),
            Some((">=", "2026-04-01".into()))
        );
        assert_eq!(date_filter("2026-04-01"), Some(("=", "2026-04-01".into())));
        assert_eq!(date_filter("lt2026-13-01"), None);
    }
}
