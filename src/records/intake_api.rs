//! The intake API's handlers: `POST /api/fhir/Bundle` (document or collection),
//! `POST /api/fhir` (batch) and `POST /api/fhir/Consent`, and `POST /api/fhir/Bundle/$validate`
//! (the same checks, nothing stored). They parse and check the body, then
//! hand over to [`super::intake`] (documents) or [`super::consent`] (consents), which store; the
//! answers are FHIR JSON.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::api::{ApiClient, FhirBody, fhir, internal, rejection_outcome};
use super::consent::{self, Act, ConsentError, Party, ScanRef};
use super::fhir::{self as fhirck, ParsedDocument};
use super::fhir_batch as batch;
use super::intake::{ingest_many, ingest_one};
use super::intake_patients::{check_custodian, resolve_patient};
use super::model::{self, ConsentChange, PatientMismatch, Rejection};
use super::patient_match;
use super::repo;
use super::review;
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
    let d = fhirck::with_search_keys(
        v,
        &client.facility_code,
        state.section::<super::RecordsSettings>().max_entries,
        super::search::keys_of,
    )?;
    let s = ingest_one(&state, &client, d, now).await?;
    if let Some(fields) = held(&state, &[Some(s.id)]).await?.pop().flatten() {
        return Ok(review::held_answer(s.id, &fields));
    }
    Ok(accepted(s.id, s.created))
}

/// In review mode, which of the stored documents are held for the right-patient review
/// ([`review`]); in refuse mode nothing is held and nothing is asked.
async fn held(
    state: &AppState,
    ids: &[Option<i64>],
) -> Result<Vec<Option<Vec<patient_match::Field>>>, Rejection> {
    if state.section::<super::RecordsSettings>().patient_mismatch != PatientMismatch::Review {
        return Ok(ids.iter().map(|_| None).collect());
    }
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(match id {
            Some(id) => review::held(&mut conn, *id).await?,
            None => None,
        });
    }
    Ok(out)
}

pub async fn post_batch(
    State(state): State<AppState>,
    client: ApiClient,
    FhirBody(body): FhirBody,
) -> Result<Response, Rejection> {
    let now = state.now();
    let max = state.section::<super::RecordsSettings>().max_entries;
    let sender = client.facility_code.clone();
    // Parsing and checking are CPU work (~10 ms for 100 documents): off the async workers, and
    // below the priority of the writer and of other requests (`background`).
    let docs = tokio::task::spawn_blocking(move || {
        super::background::run(|| {
            let entries = batch::batch_texts(&body, max)?;
            Ok::<_, Rejection>(check_entries(&body, entries, &sender, max))
        })
    })
    .await
    .map_err(internal)??;
    let results = ingest_many(&state, &client, &docs, now).await?;
    let ids: Vec<Option<i64>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(|s| s.id))
        .collect();
    let held = held(&state, &ids).await?;
    let entries: Vec<Value> = results
        .iter()
        .zip(held)
        .map(|(r, held)| match (r, held) {
            (Ok(s), Some(fields)) => json!({"response": {
                "status": "202 Accepted",
                "location": format!("Bundle/{}", s.id),
                "outcome": review::held_outcome(s.id, &fields)}}),
            (Ok(s), None) => json!({"response": {
                "status": if s.created { "201 Created" } else { "200 OK" },
                "location": format!("Bundle/{}", s.id)}}),
            (Err(e), _) => json!({"response": {
                "status": format!("{} {}", e.status,
                    StatusCode::from_u16(e.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("")),
                "outcome": rejection_outcome(e)}}),
        })
        .collect();
    Ok(fhir(
        StatusCode::OK,
        &json!({"resourceType": "Bundle", "type": "batch-response", "entry": entries}),
    ))
}

/// The entries of a batch checked on every core: each is independent of the others. The
/// first chunk runs on the calling thread, the others on scoped threads of their own.
fn check_entries(
    body: &[u8],
    entries: Vec<Result<&RawValue, Rejection>>,
    sender: &str,
    max: usize,
) -> Vec<Result<ParsedDocument, Rejection>> {
    let check = |e: Result<&RawValue, Rejection>| {
        e.and_then(|r| fhirck::parse_json_in(body, r))
            .and_then(|r| fhirck::with_search_keys(r, sender, max, super::search::keys_of))
    };
    // Threads only where each gets enough work to pay for its start (~20 µs against ~100 µs
    // a document).
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(entries.len() / 8)
        .max(1);
    let per = entries.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<_>> = Vec::with_capacity(threads);
    let mut rest = entries.into_iter();
    loop {
        let chunk: Vec<_> = rest.by_ref().take(per).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let mut chunks = chunks.into_iter();
    let Some(first) = chunks.next() else {
        return Vec::new();
    };
    std::thread::scope(|s| {
        let others: Vec<_> = chunks
            .map(|c| s.spawn(move || c.into_iter().map(check).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<_> = first.into_iter().map(check).collect();
        for h in others {
            out.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}

/// `POST /api/fhir/Bundle/$validate`: every check that intake makes before it looks at the
/// database (JSON, FHIR R4 structure and value sets, references, Bundle rules, the sender's own
/// patient ID), nothing stored and nothing audited (no patient data is read or changed). A
/// `Parameters` body with a `resource` parameter is read as that resource. 200 with an
/// information issue when nothing is wrong, else the status intake would answer (400 structure,
/// 422 rules) with every issue found and its FHIRPath.
pub async fn validate_bundle(
    State(state): State<AppState>,
    client: ApiClient,
    FhirBody(body): FhirBody,
) -> Result<Response, Rejection> {
    let max = state.section::<super::RecordsSettings>().max_entries;
    // A batch is read as intake reads it (each entry's resource on its own, so a key repeated
    // inside one entry is that entry's issue); anything else, or a batch whose envelope is
    // wrong, is read whole below and answered from there.
    if let Ok(entries) = batch::batch_texts(&body, max) {
        let entries = entries.into_iter().map(|e| {
            e.and_then(|r| fhirck::parse_json_in(&body, r))
                .and_then(|r| fhirck::parse_bundle(r, &client.facility_code, max))
        });
        return batch_outcome(entries);
    }
    let mut v = fhirck::parse_json(&body)?;
    if fhirck::resource_type(&v) == Some("Parameters") {
        fhirck::validate(&v)?;
        v = v
            .get_mut("parameter")
            .and_then(Value::as_array_mut)
            .and_then(|ps| {
                ps.iter_mut()
                    .find(|p| p.get("name").and_then(Value::as_str) == Some("resource"))
            })
            .and_then(|p| p.get_mut("resource").map(Value::take))
            .ok_or_else(|| {
                Rejection::new(
                    400,
                    "required",
                    "Parameters に resource（検証するリソース）がありません。",
                )
            })?;
    }
    let what = match (fhirck::resource_type(&v), fhirck::str_at(&v, &["type"])) {
        (Some("Bundle"), Some("batch")) => {
            let entries = batch::batch_entries(v, max)?
                .into_iter()
                .map(|e| e.and_then(|r| fhirck::parse_bundle(r, &client.facility_code, max)));
            return batch_outcome(entries);
        }
        (Some("Bundle"), _) => {
            fhirck::parse_bundle(v, &client.facility_code, max)?;
            "Bundle"
        }
        (Some("Consent"), _) => {
            fhirck::validate(&v)?;
            model::parse_consent(&v)?;
            "Consent"
        }
        _ => {
            fhirck::validate(&v)?;
            "リソース"
        }
    };
    Ok(no_issues(what))
}

/// The answer of `$validate` for a batch: every entry's issues, with their place in the batch.
fn batch_outcome<T>(
    entries: impl Iterator<Item = Result<T, Rejection>>,
) -> Result<Response, Rejection> {
    let mut issues = Vec::new();
    let mut status = 200;
    for (i, entry) in entries.enumerate() {
        if let Err(e) = entry {
            status = status.max(e.status);
            issues.extend(entry_issues(i, e));
        }
    }
    if !issues.is_empty() {
        return Err(Rejection::with_issues(status, issues));
    }
    Ok(no_issues("batch の各 Bundle"))
}

fn no_issues(what: &str) -> Response {
    let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information",
        "code": "informational", "diagnostics": format!(
            "{what}に問題は見つかりませんでした（FHIR R4 の構造・データ型・必須要素・値セット、Bundle 内の参照、自施設の患者ID を確認しました）。患者の登録と同意は送信時に確認します。何も保存していません。")}]});
    fhir(StatusCode::OK, &body)
}

/// The issues of a batch entry, with their place in the batch.
fn entry_issues(i: usize, e: Rejection) -> Vec<model::Issue> {
    let at = format!("Bundle.entry[{i}].resource");
    if e.issues.is_empty() {
        return vec![model::Issue {
            severity: "error",
            code: e.code,
            diagnostics: format!("{at}: {}", e.message),
            expression: at,
        }];
    }
    e.issues
        .into_iter()
        .map(|mut issue| {
            let rest = issue.expression.strip_prefix("Bundle").unwrap_or("");
            issue.expression = format!("{at}{rest}");
            issue.diagnostics = format!("entry[{i}]: {}", issue.diagnostics);
            issue
        })
        .collect()
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
    fhirck::validate(&v)?;
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
    // The scan first, outside the transaction, like a document's attachments (`intake::put_blobs`:
    // a slow object store must not hold the transaction; a refused consent leaves an
    // unreferenced blob that the purge sweeps after its grace period).
    if let (Some(hash), Some((_, bytes))) = (&scan_hash, &info.scan) {
        store.put(hash, bytes).await.map_err(internal)?;
    }
    let mut tx = state.db.begin().await?;
    let known = repo::find_link(&mut tx, client.facility_id, &patient.local_id).await?;
    if let Err(refused) = check_custodian(&mut tx, &client, &info, known, now).await {
        tx.commit().await?;
        return Err(refused);
    }
    // Right patient: what the Consent says of its patient must not contradict the registration.
    if let Some(id) = known
        && let Err(refused) = patient_match::screen_consent(
            &mut tx,
            &client,
            &patient_value,
            &patient.local_id,
            id,
            now,
        )
        .await
    {
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
    tx.commit().await?;
    let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information",
        "code": "informational", "diagnostics": format!(
            "自施設の文書についての同意を記録しました（患者 {patient_id}、{}）。他の施設が記録した同意は変わりません。",
            change.label())}]});
    Ok((StatusCode::CREATED, fhir(StatusCode::CREATED, &body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R21.1: a batch's entries are checked on several threads but answered in their order.
    #[test]
    fn entries_checked_in_parallel_keep_their_order() {
        let doc = r#"{"resourceType": "Bundle", "type": "document"}"#;
        let body = format!(
            r#"{{"resourceType": "Bundle", "type": "batch", "entry": [{}]}}"#,
            vec![
                format!(
                    r#"{{"resource": {doc}, "request": {{"method": "POST", "url": "Bundle"}}}}"#
                );
                37
            ]
            .join(",")
        );
        let body = body.as_bytes();
        let entries: Vec<Result<&RawValue, Rejection>> = batch::batch_texts(body, 100)
            .expect("a batch")
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                if i % 2 == 0 {
                    Err(Rejection::new(400, "structure", format!("entry {i}")))
                } else {
                    r
                }
            })
            .collect();
        let out = check_entries(body, entries, "2300000001", 100);
        assert_eq!(out.len(), 37);
        for (i, r) in out.iter().enumerate() {
            let Err(e) = r else {
                panic!("entry {i}: every entry here is refused")
            };
            if i % 2 == 0 {
                assert_eq!(e.message, format!("entry {i}"));
            } else {
                assert_ne!(
                    e.message,
                    format!("entry {i}"),
                    "a checked entry's own reason"
                );
            }
        }
        assert!(check_entries(body, Vec::new(), "2300000001", 100).is_empty());
    }
}
