//! Reading through the FHIR API: `GET /api/fhir/Bundle/{id}` and the FHIR search
//! `GET /api/fhir/Bundle?identifier=…&type=…&timestamp=…&patient=…` ([`super::search`]). A
//! facility reads what it sent and what the patient's consent lets it read; anything else is 404
//! like a missing document (direct read) or left out of results and totals (search), and a
//! refused direct read or patient search is audited (`access.denied`). Every document returned
//! is written to the audit chain in the same transaction as the read; a search audits only the
//! documents of the page it returns.
//!
//! A read that needs blobs (a Bundle with attachments, an attachment, a consent scan) holds no
//! database transaction while the object store answers (issue 16: a slow S3 must not hold a
//! transaction or a connection): the rows are read and the reach checked first, then the blob
//! is read and its hash verified, and only a read that succeeded is audited, in a short
//! transaction of its own ([`log_read_alone`]) before the bytes are sent.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::api::{ApiClient, fhir};
use super::model::Rejection;
use super::objects;
use super::repo::{self, DocumentRow};
use super::search::{self, Cond, Cursor};
use super::search_values::PatientValue;
use crate::audit::{self, Actor};
use crate::auth::Scope;
use crate::blobs::BlobStore;
use crate::db::{Conn, Timestamp, Tx};
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

/// [`log_read`] in a transaction of its own (for reads that fetched a blob outside any
/// transaction); the response is sent only after it commits.
pub async fn log_read_alone(
    db: &crate::db::Db,
    now: Timestamp,
    actor: &Actor,
    action: &str,
    r: Read,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    log_read(&mut tx, now, actor, action, r).await?;
    tx.commit().await
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
    let (tx, doc) = match guard.check_in(tx, found).await {
        Ok((tx, doc)) => (tx, doc.row),
        Err(DomainError::NotFound) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    // The rows are read and the reach checked: end the transaction before the object store.
    tx.commit().await?;
    let store = BlobStore::of(&state);
    let body = full_bundle(&store, &doc).await?;
    log_read_alone(
        &state.db,
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
    Ok(fhir(StatusCode::OK, &body))
}

/// The network patients a `patient` value names (None: the value names no one patient).
async fn named_patients(
    conn: &mut Conn,
    facility_id: i64,
    v: &PatientValue,
) -> sqlx::Result<Option<Vec<i64>>> {
    let ids = match v {
        PatientValue::Network(n) => repo::patient_by_network_id(conn, n).await?,
        PatientValue::Local {
            facility_code,
            value,
        } => match repo::facility_by_code(conn, facility_code).await? {
            Some((f, _)) => repo::find_link(conn, f, value).await?,
            None => None,
        },
        // A network ID (KR…), or else the caller's own local ID.
        PatientValue::Bare(v) => match repo::patient_by_network_id(conn, v).await? {
            Some(id) => Some(id),
            None => repo::find_link(conn, facility_id, v).await?,
        },
        _ => return Ok(None),
    };
    Ok(Some(ids.into_iter().collect()))
}

/// `GET /api/fhir/Bundle?…`: FHIR search ([`super::search`] reads the request, `repo::search_*`
/// runs it). The total counts only what the caller may read; only the documents of the page
/// returned are read, and each is audited. A named patient the caller may not see matches
/// nothing, as an unknown one does, and the refusal is audited (`access.denied`).
pub async fn search(
    State(state): State<AppState>,
    client: ApiClient,
    route: RouteName,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Rejection> {
    let now = state.now();
    let lenient = search::lenient(headers.get("prefer").and_then(|v| v.to_str().ok()));
    let mut c = search::parse(query.as_deref().unwrap_or(""), lenient, now)?;
    let guard = guard_of(&state, route, &client);
    for alts in &mut c.and {
        for cond in alts.iter_mut() {
            let Cond::Patient(v) = cond else { continue };
            let mut conn = state.db.pool().acquire().await?;
            let Some(ids) = named_patients(&mut conn, client.facility_id, v).await? else {
                continue;
            };
            let mut visible = Vec::new();
            for id in ids {
                let patient = objects::find_patient(&mut conn, id, client.facility_id).await?;
                match guard.check(patient).await {
                    Ok(_) => visible.push(id),
                    Err(DomainError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            *cond = Cond::PatientIds(visible);
        }
    }

    let public = state.settings.server.public_url.trim_end_matches('/');
    let base = format!("{public}/api/fhir/Bundle");
    let mut tx = state.db.begin().await?;
    let total = match c.total {
        true => Some(repo::search_count(&mut tx, client.facility_id, &c.and).await?),
        false => None,
    };
    let mut page = Vec::new();
    let (mut before, mut after) = (false, false);
    if c.count > 0 {
        page = repo::search_page(
            &mut tx,
            client.facility_id,
            &c.and,
            c.sort,
            c.cursor.as_ref(),
            c.count + 1,
        )
        .await?;
        let extra = page.len() as i64 > c.count;
        match &c.cursor {
            Some(cur) if !cur.forward => {
                if extra {
                    page.remove(0);
                }
                (before, after) = (extra, true);
            }
            cur => {
                page.truncate(c.count as usize);
                (before, after) = (cur.is_some(), extra);
            }
        }
    }
    let mut links = vec![
        json!({"relation": "self", "url": c.link(&base, c.cursor.as_ref())}),
        json!({"relation": "first", "url": c.link(&base, None)}),
    ];
    if let (Some(first), true) = (page.first(), before) {
        let cur = Cursor {
            forward: false,
            key: first.sort_key.clone(),
            id: first.row.id,
        };
        links.push(json!({"relation": "previous", "url": c.link(&base, Some(&cur))}));
    }
    if let (Some(last), true) = (page.last(), after) {
        let cur = Cursor {
            forward: true,
            key: last.sort_key.clone(),
            id: last.row.id,
        };
        links.push(json!({"relation": "next", "url": c.link(&base, Some(&cur))}));
    }

    let store = BlobStore::of(&state);
    let mut entries = Vec::with_capacity(page.len() + 1);
    for found in &page {
        let doc = &found.row;
        entries.push(json!({"fullUrl": format!("{base}/{}", doc.id),
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
    if !c.ignored.is_empty() {
        let mut outcome = super::api::outcome_json(
            "not-supported",
            &format!(
                "対応していない検索パラメータを無視しました（Prefer: handling=lenient）: {}",
                c.ignored.join(", ")
            ),
        );
        outcome["issue"][0]["severity"] = json!("warning");
        entries.push(json!({"resource": outcome, "search": {"mode": "outcome"}}));
    }
    let mut bundle = json!({"resourceType": "Bundle", "type": "searchset"});
    if let Some(n) = total {
        bundle["total"] = json!(n);
    }
    bundle["link"] = Value::Array(links);
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    Ok(fhir(StatusCode::OK, &bundle))
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
