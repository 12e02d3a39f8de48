//! The patient step of the intake (`intake`): which network patient a checked document belongs
//! to — its sender's local ID looked up (read ahead for a batch or a group), registered with a
//! consent that comes with it, or refused — and the sender's consents recorded on the way. The
//! Bundle's Patient is compared with a registered patient first ([`patient_match`]).

use std::collections::HashMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::api::ApiClient;
use super::consent::{self, Act, Party, ScanRef};
use super::fhir::{ParsedDocument, PatientInfo};
use super::model::{ConsentInfo, PatientMismatch, Rejection, Stored};
use super::patient_match;
use super::repo;
use crate::audit::{self, Actor};
use crate::db::{Conn, Timestamp, Tx};

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
pub(super) async fn existing(
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
pub(super) async fn patient_step(
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
pub(super) struct Known {
    resolved: HashMap<String, i64>,
    rows: HashMap<i64, repo::PatientRow>,
    /// Once read ahead: the link of every local ID of the request (absent: not linked then).
    ahead: Option<HashMap<String, repo::LinkedPatient>>,
}

/// Reads the links of all the documents' local IDs, of every sender among them, in a few
/// statements instead of two per document; each sender's [`Known`] gets its own.
pub(super) async fn read_ahead<'a>(
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

/// The order in which a transaction resolves its documents' patients: by facility and local
/// ID (then request order), whatever order they were sent in. Registering a new patient inserts
/// its link, and on PostgreSQL a second transaction inserting the same link waits for the first;
/// two transactions registering the same patients in opposite orders (two instances, two
/// batches) would then wait for each other in a circle — a deadlock that aborts one with a 500.
/// In one order they only queue (issue 16 item 2).
pub(super) fn patient_order<'a>(keys: impl Iterator<Item = Option<(i64, &'a str)>>) -> Vec<usize> {
    let mut order: Vec<(Option<(i64, &str)>, usize)> =
        keys.enumerate().map(|(i, k)| (k, i)).collect();
    order.sort();
    order.into_iter().map(|(_, i)| i).collect()
}
