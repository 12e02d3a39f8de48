//! Storing what the FHIR intake API accepted (handlers in `intake_api`). Everything is checked
//! before anything is stored; an accepted document, its patient registration, consent and audit event are
//! committed in one transaction before the 201 goes out, so an acknowledged document survives a
//! crash right after. A retried submission (same Bundle.identifier from the same facility, same
//! content) returns the original with 200 and is not stored twice. Which patient a document
//! belongs to is decided in `intake_patients`.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::api::{ApiClient, internal};
use super::fhir::ParsedDocument;
use super::intake_patients::{Known, existing, patient_order, patient_step, read_ahead};
use super::model::{self, PatientMismatch, Rejection, Stored};
use super::repo;
use super::review;
use crate::audit;
use crate::blobs::BlobStore;
use crate::db::{Conn, Timestamp, Tx};
use crate::state::AppState;

fn new_document<'a>(
    client: &ApiClient,
    d: &'a ParsedDocument,
    patient_id: i64,
    now: Timestamp,
) -> repo::NewDocument<'a> {
    repo::NewDocument {
        patient_id,
        facility_id: client.facility_id,
        bundle_type: d.kind.key(),
        identifier_system: &d.identifier_system,
        identifier_value: &d.identifier_value,
        type_code: &d.type_code,
        type_label: &d.type_label,
        title: &d.title,
        doc_date: &d.doc_date,
        content_hash: &d.content_hash,
        content_len: d.content.len(),
        packed: &d.packed,
        sent_at: now,
        expires_at: model::expires_at(now),
    }
}

/// What goes with a newly inserted document besides its search values (stored per chunk,
/// [`repo::insert_search_keys_many`]): its attachments.
async fn insert_attachments(conn: &mut Conn, id: i64, d: &ParsedDocument) -> Result<(), Rejection> {
    for (i, a) in d.attachments.iter().enumerate() {
        repo::insert_attachment(conn, id, i as i64 + 1, a).await?;
    }
    Ok(())
}

/// Stores the attachments of documents about to be stored, BEFORE their transaction begins: an
/// upload (to S3 a network round trip per blob) inside it would hold the transaction's locks and
/// connection for that long. The store is content-addressed, so a blob whose document is then
/// refused or rolled back is an orphan that nothing references, kept for the purge's grace
/// period and then swept (`blobs`); the caller holds `BlobStore::writing` from before the puts
/// until its commit, so a purge in this process cannot take a blob in between.
async fn put_blobs(store: &BlobStore, docs: &[&ParsedDocument]) -> Result<(), Rejection> {
    for d in docs {
        for a in &d.attachments {
            store.put(&a.hash, &a.bytes).await.map_err(internal)?;
        }
    }
    Ok(())
}

fn details(client: &ApiClient, d: &ParsedDocument, id: i64) -> Value {
    json!({"document_id": id, "facility_id": client.facility_id, "facility": client.facility_code,
           "identifier": d.identifier_value, "type": d.type_code, "channel": "api",
           "sha256": d.content_hash, "attachments": d.attachments.len()})
}

/// A single document waiting for the group commit.
struct Pending {
    client: ApiClient,
    doc: ParsedDocument,
    now: Timestamp,
}

type Answer = Result<Stored, Rejection>;

/// One document, committed together with whatever other single documents are waiting (group
/// commit, [`crate::db::GroupCommit`]): the first committer stores every queued document in one
/// transaction, one audit event each, and each request is answered after the commit.
pub async fn ingest_one(
    state: &AppState,
    client: &ApiClient,
    d: ParsedDocument,
    now: Timestamp,
) -> Result<Stored, Rejection> {
    let pending = Pending {
        client: client.clone(),
        doc: d,
        now,
    };
    let committer = state.clone();
    state
        .db
        .group::<Pending, Answer>()
        .submit(pending, move |group| async move {
            match commit_group(&committer, &group).await {
                Ok(results) => results,
                Err(e) => group.iter().map(|_| Err(e.clone())).collect(),
            }
        })
        .await
        .unwrap_or_else(|| Err(internal("group commit ended without an answer")))
}

/// Stores a group of single documents in one transaction (see [`ingest_one`]): every document's
/// patient first (each registration under its own savepoint), then the documents in multi-row
/// inserts, then one audit event per stored document ([`audit::record_many`]): a handful of
/// statements for the whole group instead of several per document.
async fn commit_group(state: &AppState, group: &[Pending]) -> Result<Vec<Answer>, Rejection> {
    let store = BlobStore::of(state);
    let _gate = store.writing().await;
    // Blobs first, outside the transaction (see `put_blobs`).
    put_blobs(&store, &group.iter().map(|p| &p.doc).collect::<Vec<_>>()).await?;
    let mode = state.section::<model::RecordsSettings>().patient_mismatch;
    let mut tx = state.db.begin().await?;
    let mut known: HashMap<i64, Known> = HashMap::new();
    let docs = group.iter().map(|p| (p.client.facility_id, &p.doc));
    read_ahead(&mut tx, docs, &mut known).await?;
    let mut results: Vec<Option<Answer>> = group.iter().map(|_| None).collect();
    let mut ready = Vec::new();
    let keys = group
        .iter()
        .map(|p| Some((p.client.facility_id, p.doc.patient.local_id.as_str())));
    for index in patient_order(keys) {
        let p = &group[index];
        let cache = known.entry(p.client.facility_id).or_default();
        match patient_step(&mut tx, &p.client, &p.doc, cache, mode, p.now).await {
            Ok(Ok(patient_id)) => {
                ready.push(Ready {
                    index,
                    client: &p.client,
                    doc: &p.doc,
                    patient_id,
                    now: p.now,
                });
            }
            Ok(Err(earlier)) => results[index] = Some(Ok(earlier)),
            Err(e) if e.status >= 500 => return Err(e),
            Err(e) => results[index] = Some(Err(e)),
        }
    }
    ready.sort_by_key(|r| r.index);
    let answers = insert_ready(&mut tx, &ready, mode).await?;
    let created: Vec<(&Ready, i64, i64)> = ready
        .iter()
        .zip(&answers)
        .filter_map(|(r, a)| match a {
            Ok(s) if s.created => Some((r, s.id, s.patient_id)),
            _ => None,
        })
        .collect();
    let actors: Vec<_> = created.iter().map(|(r, ..)| r.client.actor()).collect();
    let events: Vec<audit::Event> = created
        .iter()
        .zip(&actors)
        .map(|((r, id, patient_id), actor)| audit::Event {
            at: r.now,
            actor,
            action: "records.document_received",
            target: format!("patient:{patient_id}"),
            details: details(r.client, r.doc, *id),
        })
        .collect();
    audit::record_many(&mut tx, &events).await?;
    tx.commit().await?;
    state
        .metrics
        .intake_documents
        .with_label_values(&["single"])
        .inc_by(created.len() as u64);
    for (r, a) in ready.iter().zip(answers) {
        results[r.index] = Some(a);
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(internal("document without an answer"))))
        .collect())
}

/// A checked document whose patient is known, ready to be inserted.
struct Ready<'a> {
    /// Its place among the documents of the request or group.
    index: usize,
    client: &'a ApiClient,
    doc: &'a ParsedDocument,
    patient_id: i64,
    now: Timestamp,
}

/// Inserts checked documents in multi-row statements (every sender's together, up to
/// [`crate::db::ROWS_PER_INSERT`] a statement, [`crate::db::pow2_chunks`])
/// with their attachments: each is stored, or recognised as a retry of one stored earlier (in
/// these documents or before) and answered with that one, or refused as different content under
/// a taken Bundle.identifier. One answer per document, in order.
async fn insert_ready(
    tx: &mut Tx,
    ready: &[Ready<'_>],
    mode: PatientMismatch,
) -> Result<Vec<Result<Stored, Rejection>>, Rejection> {
    let mut answers: Vec<Option<Result<Stored, Rejection>>> = ready.iter().map(|_| None).collect();
    // Every sender's documents together (a statement per `ROWS_PER_INSERT` documents, not one
    // round per sender), in identifier order: two transactions inserting some of the same
    // identifiers (a retry sent to two instances) then wait for each other in the same order,
    // never in a circle (a deadlock).
    let mut mine: Vec<usize> = (0..ready.len()).collect();
    mine.sort_by_key(|k| {
        let r = &ready[*k];
        (
            r.client.facility_id,
            &r.doc.identifier_system,
            &r.doc.identifier_value,
        )
    });
    // (sender, identifier) → (id, content hash) of the documents inserted here.
    let mut claimed: HashMap<(i64, &str, &str), (i64, &str)> = HashMap::new();
    // The search values of every document stored, inserted together at the end.
    let mut keys: Vec<(i64, super::search::SearchKeys)> = Vec::new();
    for chunk in crate::db::pow2_chunks(&mine, crate::db::ROWS_PER_INSERT) {
        let rows: Vec<repo::NewDocument> = chunk
            .iter()
            .map(|k| {
                let r = &ready[*k];
                new_document(r.client, r.doc, r.patient_id, r.now)
            })
            .collect();
        let inserted = repo::insert_documents(tx, &rows).await?;
        let mut fresh: HashMap<(i64, String, String), i64> = inserted
            .into_iter()
            .map(|(id, facility, sys, val)| ((facility, sys, val), id))
            .collect();
        for k in chunk {
            let Ready {
                client,
                doc: d,
                patient_id,
                now,
                ..
            } = ready[*k];
            let key = (
                client.facility_id,
                d.identifier_system.as_str(),
                d.identifier_value.as_str(),
            );
            let owned = (
                client.facility_id,
                d.identifier_system.clone(),
                d.identifier_value.clone(),
            );
            let r = if let Some(id) = fresh.remove(&owned) {
                let k = d.search.clone();
                keys.push((id, k.unwrap_or_else(|| super::search::keys(&d.content))));
                insert_attachments(tx, id, d).await?;
                if mode == PatientMismatch::Review {
                    review::hold_if_differs(tx, client, id, patient_id, d, now).await?;
                }
                claimed.insert(key, (id, d.content_hash.as_str()));
                Ok(Stored {
                    id,
                    created: true,
                    patient_id,
                })
            } else if let Some((id, hash)) = claimed.get(&key) {
                if *hash == d.content_hash {
                    Ok(Stored {
                        id: *id,
                        created: false,
                        patient_id: 0,
                    })
                } else {
                    Err(Rejection::new(
                        409,
                        "duplicate",
                        format!(
                            "同じ Bundle.identifier（{}）で内容の異なる文書が同時に送信されています（ID {id}）。",
                            d.identifier_value
                        ),
                    ))
                }
            } else {
                match existing(tx, client, d).await {
                    Ok(Some(s)) => Ok(s),
                    Ok(None) => return Err(internal("identifier taken but no document found")),
                    Err(e) => Err(e),
                }
            };
            answers[*k] = Some(r);
        }
    }
    repo::insert_search_keys_many(tx, &keys).await?;
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(internal("document without an answer"))))
        .collect())
}

/// Many documents in one transaction: each entry succeeds or fails on its own; one audit event
/// lists every document stored.
pub async fn ingest_many(
    state: &AppState,
    client: &ApiClient,
    docs: &[Result<ParsedDocument, Rejection>],
    now: Timestamp,
) -> Result<Vec<Result<Stored, Rejection>>, Rejection> {
    let store = BlobStore::of(state);
    let _gate = store.writing().await;
    // Blobs first, outside the transaction (see `put_blobs`).
    put_blobs(&store, &docs.iter().flatten().collect::<Vec<_>>()).await?;
    let mode = state.section::<model::RecordsSettings>().patient_mismatch;
    let mut tx = state.db.begin().await?;
    let mut known = HashMap::new();
    let mine = docs.iter().flatten().map(|d| (client.facility_id, d));
    read_ahead(&mut tx, mine, &mut known).await?;
    let mut known = known.remove(&client.facility_id).unwrap_or_default();
    let mut results: Vec<Option<Result<Stored, Rejection>>> = docs.iter().map(|_| None).collect();
    // First every entry's patient (and the early answers), then the documents in multi-row
    // inserts: one statement per chunk instead of one per document.
    let mut ready: Vec<(usize, &ParsedDocument, i64)> = Vec::new();
    let keys = docs.iter().map(|d| {
        d.as_ref()
            .ok()
            .map(|d| (client.facility_id, d.patient.local_id.as_str()))
    });
    for i in patient_order(keys) {
        match &docs[i] {
            Err(e) => results[i] = Some(Err(e.clone())),
            Ok(d) => match patient_step(&mut tx, client, d, &mut known, mode, now).await {
                Ok(Ok(patient_id)) => ready.push((i, d, patient_id)),
                Ok(Err(earlier)) => results[i] = Some(Ok(earlier)),
                Err(e) if e.status >= 500 => return Err(e),
                Err(e) => results[i] = Some(Err(e)),
            },
        }
    }
    ready.sort_by_key(|r| r.0);
    let ready: Vec<Ready> = ready
        .into_iter()
        .map(|(index, doc, patient_id)| Ready {
            index,
            client,
            doc,
            patient_id,
            now,
        })
        .collect();
    let answers = insert_ready(&mut tx, &ready, mode).await?;
    let mut created: Vec<&ParsedDocument> = Vec::new();
    let mut stored_ids = Vec::new();
    for (r, a) in ready.iter().zip(answers) {
        if let Ok(s) = &a
            && s.created
        {
            let d = r.doc;
            created.push(d);
            stored_ids.push(
                json!({"document_id": s.id, "identifier": d.identifier_value,
                                   "type": d.type_code, "sha256": d.content_hash}),
            );
        }
        results[r.index] = Some(a);
    }
    if !stored_ids.is_empty() {
        audit::record(
            &mut tx,
            now,
            &client.actor(),
            "records.batch_received",
            &format!("facility:{}", client.facility_id),
            json!({"facility": client.facility_code, "channel": "api", "documents": stored_ids}),
        )
        .await?;
    }
    tx.commit().await?;
    state
        .metrics
        .intake_documents
        .with_label_values(&["batch"])
        .inc_by(created.len() as u64);
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(internal("entry without an answer"))))
        .collect())
}
