//! Storing what the FHIR intake API accepted (handlers in `intake_api`). Everything is checked
//! before anything is stored; an accepted document, its patient registration, consent and audit event are
//! committed in one transaction before the 201 goes out, so an acknowledged document survives a
//! crash right after. A retried submission (same Bundle.identifier from the same facility, same
//! content) returns the original with 200 and is not stored twice.

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::api::{ApiClient, internal};
use super::consent::{self, Act, Party, ScanRef};
use super::fhir::{ParsedDocument, PatientInfo};
use super::model::{self, ConsentInfo, PatientMismatch, Rejection};
use super::patient_match;
use super::repo;
use super::review;
use crate::audit::{self, Actor};
use crate::blobs::BlobStore;
use crate::db::{Conn, Timestamp, Tx};
use crate::state::AppState;

pub struct Stored {
    pub id: i64,
    pub created: bool,
    /// The patient of a newly stored document (0 for a repeated one).
    pub patient_id: i64,
}

fn new_network_id() -> String {
    format!("KR{:010}", rand::random::<u64>() % 10_000_000_000)
}

/// Records a facility's own consent, for its own documents (listed facilities must be
/// participating facilities), under the consent authority's rules ([`consent::record`]).
pub async fn record_consent(
    conn: &mut Tx,
    patient_id: i64,
    facility_id: i64,
    info: &ConsentInfo,
    scan_hash: Option<&str>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, Rejection> {
    let scan = match (scan_hash, &info.scan) {
        (Some(hash), Some((content_type, _))) => Some(ScanRef { hash, content_type }),
        _ => None,
    };
    let act = Act {
        party: Party::Facility(facility_id),
        patient_id,
        actor,
        channel: if actor.role == "api_key" { "api" } else { "ui" },
        now,
    };
    let (id, _) =
        consent::record(conn, &act, facility_id, &info.signed_on, &info.scope, scan).await?;
    Ok(id)
}

/// A Consent may name as its custodian (`organization`) only the facility that sends it: naming
/// another is an attempt on that facility's consent, refused (403) and audited on `conn`.
pub async fn check_custodian(
    conn: &mut Tx,
    client: &ApiClient,
    info: &ConsentInfo,
    patient_id: Option<i64>,
    now: Timestamp,
) -> Result<(), Rejection> {
    let Some(other) = info.custodians.iter().find(|c| **c != client.facility_code) else {
        return Ok(());
    };
    audit::record(
        conn,
        now,
        &client.actor(),
        "records.consent_refused",
        &patient_id.map_or_else(
            || format!("facility:{}", client.facility_id),
            |p| format!("patient:{p}"),
        ),
        json!({"facility_id": client.facility_id, "consent_facility": other,
               "attempt": if info.active { "record" } else { "withdrawn" }, "channel": "api"}),
    )
    .await?;
    Err(Rejection::new(
        403,
        "forbidden",
        format!(
            "Consent.organization の施設（{other}）は送信元の施設ではありません。他の施設の同意は記録・拡大・縮小・撤回できません。自施設の文書を共有する範囲は、organization に自施設を指定して（または省略して）自施設の同意として送信してください。"
        ),
    ))
}

/// The `code` of the refusal of a registration that another transaction made first (the local
/// ID's link was committed meanwhile): the intake rolls back to its savepoint and looks again.
const RACED: &str = "transient";

/// The network patient of a local ID, registered now when a consent comes with it.
pub async fn resolve_patient(
    conn: &mut Tx,
    facility_id: i64,
    patient: &PatientInfo,
    consent: Option<&ConsentInfo>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, Rejection> {
    let scan_hash = consent
        .and_then(|c| c.scan.as_ref())
        .map(|(_, b)| hex::encode(Sha256::digest(b)));
    if let Some(id) = repo::find_link(conn, facility_id, &patient.local_id).await? {
        // The sender's own consent (for its own documents) is recorded when it has none in
        // force; another facility's consent is never touched here.
        let (own, covered) = repo::may_send(conn, id, facility_id).await?;
        match consent {
            Some(c) if c.active && !own => {
                record_consent(conn, id, facility_id, c, scan_hash.as_deref(), actor, now).await?;
            }
            _ if !(own || covered) => {
                return Err(Rejection::new(
                    422,
                    "business-rule",
                    "この患者の同意は撤回されているか、記録されていません。同意書（Consent）を登録してから送信してください。",
                ));
            }
            _ => {}
        }
        return Ok(id);
    }
    let Some(c) = consent.filter(|c| c.active) else {
        return Err(Rejection::new(
            422,
            "business-rule",
            format!(
                "患者ID {} はまだ登録されていません。同意書（Consent, status active）を Bundle に含めるか、先に POST /api/fhir/Consent で同意を登録してください。",
                patient.local_id
            ),
        ));
    };
    let id = repo::insert_patient(conn, &new_network_id(), patient, now).await?;
    if !repo::insert_link(conn, id, facility_id, &patient.local_id, now).await? {
        return Err(Rejection::new(
            409,
            RACED,
            "同じ患者IDの登録が同時に行われました。もう一度送信してください。",
        ));
    }
    audit::record(
        conn,
        now,
        actor,
        "records.patient_registered",
        &format!("patient:{id}"),
        json!({"facility_id": facility_id, "local_id": patient.local_id}),
    )
    .await?;
    record_consent(conn, id, facility_id, c, scan_hash.as_deref(), actor, now).await?;
    Ok(id)
}

/// The document the sender already stored under this Bundle.identifier: the same content is
/// a retry (answered with the original), different content is refused.
async fn existing(
    conn: &mut Conn,
    client: &ApiClient,
    d: &ParsedDocument,
) -> Result<Option<Stored>, Rejection> {
    let Some((id, hash)) = repo::find_by_identifier(
        conn,
        client.facility_id,
        &d.identifier_system,
        &d.identifier_value,
    )
    .await?
    else {
        return Ok(None);
    };
    if hash == d.content_hash {
        return Ok(Some(Stored {
            id,
            created: false,
            patient_id: 0,
        }));
    }
    Err(Rejection::new(
        409,
        "duplicate",
        format!(
            "同じ Bundle.identifier（{}）で内容の異なる文書がすでに受け付けられています（ID {id}）。",
            d.identifier_value
        ),
    ))
}

/// The patient a checked document belongs to, inside the caller's transaction — or, when the
/// sender already stored this Bundle.identifier, that earlier document. The common case (a known
/// patient whose consent is in force, read ahead or resolved earlier in the transaction) needs
/// no statement; a retry is otherwise recognised by the insert finding the identifier
/// taken, and it is checked before any patient is registered. The Bundle's Patient is compared
/// with an already registered patient first ([`patient_match::screen`]).
async fn patient_step(
    conn: &mut Tx,
    client: &ApiClient,
    d: &ParsedDocument,
    known: &mut Known,
    mode: PatientMismatch,
    now: Timestamp,
) -> Result<Result<i64, Stored>, Rejection> {
    if d.consent.as_ref().is_some_and(|c| !c.active) {
        return Err(Rejection::new(
            422,
            "business-rule",
            "同意の撤回は POST /api/fhir/Consent で送信してください（文書と一緒には受け付けられません）。",
        ));
    }
    if let Some(id) = known.resolved.get(&d.patient.local_id).copied() {
        match known.rows.get(&id) {
            Some(row) => patient_match::screen_row(conn, client, d, row, mode, now).await?,
            None => patient_match::screen(conn, client, d, id, mode, now).await?,
        }
        return Ok(Ok(id));
    }
    match patient_lookup(conn, client, d, known, mode, now, true).await {
        // Another transaction registered this local ID first: now it is there to be found.
        Err(e) if e.status == 409 && e.code == RACED => {
            patient_lookup(conn, client, d, known, mode, now, false).await
        }
        r => r,
    }
}

/// What a transaction knows of one sender's patients: the local IDs it resolved, their
/// registered details, and — for a batch or a group — the links read ahead ([`read_ahead`]).
#[derive(Default)]
struct Known {
    resolved: HashMap<String, i64>,
    rows: HashMap<i64, repo::PatientRow>,
    /// Once read ahead: the link of every local ID of the request (absent: not linked then).
    ahead: Option<HashMap<String, repo::LinkedPatient>>,
}

/// Reads the links of all the documents' local IDs, of every sender among them, in a few
/// statements instead of two per document; each sender's [`Known`] gets its own.
async fn read_ahead<'a>(
    conn: &mut Conn,
    docs: impl Iterator<Item = (i64, &'a ParsedDocument)>,
    known: &mut HashMap<i64, Known>,
) -> sqlx::Result<()> {
    let mut pairs: Vec<(i64, &str)> = docs
        .map(|(facility, d)| (facility, d.patient.local_id.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    for (facility, _) in &pairs {
        let k = known.entry(*facility).or_default();
        k.ahead.get_or_insert_with(HashMap::new);
    }
    for ((facility, local_id), linked) in repo::patients_for(conn, &pairs).await? {
        let k = known.entry(facility).or_default();
        k.ahead
            .get_or_insert_with(HashMap::new)
            .insert(local_id, linked);
    }
    Ok(())
}

/// [`patient_step`] for a local ID not resolved earlier in the transaction; `ahead`: whether
/// the links read ahead may answer (not after a race, which the read-ahead did not see).
async fn patient_lookup(
    conn: &mut Tx,
    client: &ApiClient,
    d: &ParsedDocument,
    known: &mut Known,
    mode: PatientMismatch,
    now: Timestamp,
    ahead: bool,
) -> Result<Result<i64, Stored>, Rejection> {
    let found = match (&known.ahead, ahead) {
        (Some(links), true) => links.get(&d.patient.local_id).cloned(),
        _ => repo::patient_for(conn, client.facility_id, &d.patient.local_id).await?,
    };
    if let Some(c) = &d.consent {
        // Outside the savepoint below, so that the refusal stays audited.
        check_custodian(conn, client, c, found.as_ref().map(|f| f.row.id), now).await?;
    }
    if let Some(f) = &found {
        patient_match::screen_row(conn, client, d, &f.row, mode, now).await?;
    }
    let id = match &found {
        // A facility sends under its own consent or one that covers it; a Consent in the Bundle
        // is recorded (as the sender's own) only when the sender has none in force.
        Some(f) if f.own || (f.covered && d.consent.is_none()) => f.row.id,
        _ => {
            if let Some(s) = existing(conn, client, d).await? {
                return Ok(Err(s));
            }
            // Registration writes several rows before it can fail (an unknown facility in the
            // consent): a savepoint keeps a failed entry of a batch from leaving any behind.
            conn.savepoint().await?;
            let r = resolve_patient(
                conn,
                client.facility_id,
                &d.patient,
                d.consent.as_ref(),
                &client.actor(),
                now,
            )
            .await;
            match r {
                Ok(id) => {
                    conn.release_savepoint().await?;
                    id
                }
                Err(e) => {
                    conn.rollback_to_savepoint().await?;
                    return Err(e);
                }
            }
        }
    };
    if let Some(f) = found
        && f.row.id == id
    {
        known.rows.insert(id, f.row);
    }
    known.resolved.insert(d.patient.local_id.clone(), id);
    Ok(Ok(id))
}

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
        content: &d.content,
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

/// The order in which a transaction resolves its documents' patients: by facility and local
/// ID (then request order), whatever order they were sent in. Registering a new patient inserts
/// its link, and on PostgreSQL a second transaction inserting the same link waits for the first;
/// two transactions registering the same patients in opposite orders (two instances, two
/// batches) would then wait for each other in a circle — a deadlock that aborts one with a 500.
/// In one order they only queue (issue 16 item 2).
fn patient_order<'a>(keys: impl Iterator<Item = Option<(i64, &'a str)>>) -> Vec<usize> {
    let mut order: Vec<(Option<(i64, &str)>, usize)> =
        keys.enumerate().map(|(i, k)| (k, i)).collect();
    order.sort();
    order.into_iter().map(|(_, i)| i).collect()
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

/// Inserts checked documents in multi-row statements (every sender's together, up to 16 a
/// statement on SQLite and 64 on PostgreSQL, [`crate::db::pow2_chunks`])
/// with their attachments: each is stored, or recognised as a retry of one stored earlier (in
/// these documents or before) and answered with that one, or refused as different content under
/// a taken Bundle.identifier. One answer per document, in order.
async fn insert_ready(
    tx: &mut Tx,
    ready: &[Ready<'_>],
    mode: PatientMismatch,
) -> Result<Vec<Result<Stored, Rejection>>, Rejection> {
    let mut answers: Vec<Option<Result<Stored, Rejection>>> = ready.iter().map(|_| None).collect();
    // Every sender's documents together (a statement per 16 documents on SQLite, per 64 on
    // PostgreSQL; not one round per sender), in identifier order: two transactions inserting some
    // of the same identifiers (a retry sent to two instances) then wait for each other in the same
    // order, never in a circle (a deadlock).
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
    // 16 documents a statement on SQLite (binding cost, see `rows_per_insert`), 64 on PostgreSQL.
    let max = crate::db::rows_per_insert(tx).max(16);
    for chunk in crate::db::pow2_chunks(&mine, max) {
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
