//! Audit log (X.2): an append-only, hash-chained and sealed record of every security-relevant
//! action.
//!
//! Rules:
//! - Every state change writes its event with [`record`] on the same connection, inside the same
//!   transaction as the change: either both are kept or neither.
//! - Each row stores the hash of the previous row (`prev_hash`) and its own `hash`, which is its
//!   seal: HMAC-SHA256 under the current key of the `audit` key set (kept outside the database,
//!   `<data_dir>/keys/audit.key` or `RAINBOWNET_KEY_AUDIT`, see `db::keys`), with the key's id in
//!   `key_id`. A rotated key stays in the set (second line) so older rows still verify. Rows
//!   written before sealing began (migration 0009) keep their plain SHA-256 and no `key_id`; they
//!   form a prefix whose length is fixed in `audit_head.unsealed` and in every anchor, and each is
//!   covered by the seal of the first sealed row through the links.
//! - Several chains (issue 16, migration 0039): `audit_head` holds one head (last place, hash)
//!   per chain, 32 of them. [`record_many`] appends a transaction's events to ONE chain: it
//!   claims places by updating that chain's head row (`UPDATE … RETURNING`), whose row lock
//!   holds until the transaction ends, so a chain never forks and its places have no gaps (a
//!   rolled-back claim is rolled back too). On PostgreSQL the chain is the one the transaction
//!   holds already, else the first head row that `FOR UPDATE SKIP LOCKED` can lock at once (a
//!   transaction keeps to one chain however often it writes), so concurrent transactions (of one instance or
//!   of several) take different chains and commit — and wait for their WAL flush — side by
//!   side; only when all 32 are held does a writer wait for one. One global head would make
//!   every writer of every instance wait for the commit flush of the one before it (two
//!   instances measured 0.88-0.96x one). SQLite has one writer at a time: chain 1 only.
//!   Chain 1 is the chain written before 0039; its rows kept their ids as places (`seq` NULL).
//! - Row ids come from the `audit_events_ids` sequence (SQLite: the largest id + 1, under its
//!   writer lock), taken after the chain's lock: ids are unique and increase along each chain
//!   (the chain's next writer takes its ids after this one committed), with gaps where a
//!   transaction rolled back. The seal covers the id; a row's chain and place are bound by the
//!   links (`prev_hash`) and the heads: a row moved, renumbered or removed breaks a link or
//!   a head. Each chain starts at the genesis hash.
//! - Why not one chain sealed later: rows appended unsealed and chained by a sealing job would
//!   stay alterable, undetectably, until sealed, and verification would report an unsealed tail;
//!   several chains keep every row sealed by the transaction that writes it.
//! - The heads are also written OUTSIDE the database as sealed anchors ([`anchor`]:
//!   `<data_dir>/audit/anchor.log`, the daily verification event, backups' manifests); an
//!   anchor records every chain that holds rows (chain 1 in `seq`/`hash` as before, others in
//!   `chains`, in the sealed text too).
//! - Intake idempotency across instances does not rely on the chain: a retried Bundle.identifier
//!   meets the unique key on `documents` (`ON CONFLICT DO NOTHING` waits for the other
//!   transaction and then skips; the retry is then found and answered with the original), a
//!   local ID registered twice meets the one on `patient_links` (the later registration rolls
//!   back to its savepoint and finds the earlier one).
//! - [`verify`] / [`verify_against`] walk every chain (all rows in id order, each to its chain's
//!   check) and name the first row that was altered, removed, cut off, appended or re-hashed
//!   without the key, or the anchor that the database
//!   contradicts; a row or anchor sealed with a key the key file does not hold is reported as
//!   such, naming the key file (`rainbownet audit verify [--anchor FILE]`).
//! - Log-in, failed log-in, lockout, unlock, log-out and session expiry are events (see `auth`).
//! - Nothing in the application updates or deletes audit rows.
//! - Its pages (list, CSV, access log, chain check) are the `audit_ui` domain.

pub mod anchor;
mod check;
pub mod model;
pub mod repo;

pub use model::{Actor, Anchor, BreakKind, Broken, ChainHead, Head, VerifyReport};

use std::path::{Path, PathBuf};

use crate::db::{Conn, Db, KeySet, Timestamp, Tx};

/// Appends one event, on the write transaction that makes the change (a [`Tx`], so an event
/// cannot be written outside one), sealed with the current audit key that the `Tx` carries.
pub async fn record(
    conn: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> sqlx::Result<i64> {
    let event = Event {
        at: now,
        actor,
        action,
        target: target.to_string(),
        details,
    };
    let ids = record_many(conn, std::slice::from_ref(&event)).await?;
    ids.first().copied().ok_or(sqlx::Error::RowNotFound)
}

/// One event of [`record_many`].
pub struct Event<'a> {
    pub at: Timestamp,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target: String,
    pub details: serde_json::Value,
}

/// Appends several events, in order, to one chain, on the write transaction that makes their
/// changes: the same rows, links and seals as one [`record`] per event, in a few statements
/// instead of three per event (the group commit of single documents writes one event per
/// document this way). Returns the events' ids.
pub async fn record_many(conn: &mut Tx, events: &[Event<'_>]) -> sqlx::Result<Vec<i64>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let key = conn.keys().audit().current().clone();
    let claim = repo::claim(conn, events.len() as i64).await?;
    let first = claim.last - events.len() as i64 + 1;
    let mut prev_hash = claim.prev_hash;
    let mut rows = Vec::with_capacity(events.len());
    for ((place, id), e) in (first..).zip(&claim.ids).zip(events) {
        let mut row = model::AuditRow {
            id: *id,
            at: e.at,
            actor_account_id: e.actor.account_id,
            actor_login: e.actor.login.clone(),
            actor_role: e.actor.role.clone(),
            action: e.action.to_string(),
            target: e.target.clone(),
            details: e.details.to_string(),
            client_addr: e.actor.client_addr.clone(),
            prev_hash,
            hash: String::new(),
            key_id: Some(key.id().to_string()),
            chain: claim.chain,
            seq: Some(place),
        };
        row.hash = row.compute_seal(&key);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    repo::insert_many(conn, &rows).await?;
    Ok(claim.ids)
}

/// The chain head as this connection sees it (a backup reads it inside its snapshot, a restore
/// from the restored database).
pub async fn head(conn: &mut Conn) -> sqlx::Result<Head> {
    repo::head(conn).await
}

/// Walks the whole chain, a page at a time, checking every row against `keys` (the `audit` key
/// set), and reports the first broken row.
pub async fn verify(conn: &mut Conn, keys: &KeySet) -> sqlx::Result<VerifyReport> {
    verify_against(conn, keys, &[]).await
}

/// [`verify`], and then checks the chain against `anchors` kept outside the database.
pub async fn verify_against(
    conn: &mut Conn,
    keys: &KeySet,
    anchors: &[Anchor],
) -> sqlx::Result<VerifyReport> {
    // The head first: rows appended while walking lie after it and are checked like the others.
    let head = repo::head(conn).await?;
    let mut check = check::ChainCheck::new(keys, head.clone(), anchors);
    let mut after = 0;
    let mut broken = None;
    'walk: loop {
        let page = repo::page_after(conn, after, 1000).await?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            if let Err(b) = check.push(row) {
                broken = Some(b);
                break 'walk;
            }
            after = row.id;
        }
    }
    let broken = match broken {
        Some(b) => Some(b),
        None => check.finish(anchors).err(),
    };
    Ok(VerifyReport {
        rows: check.rows,
        unsealed: check.unsealed,
        head,
        anchors: anchors.len(),
        broken,
    })
}

/// A verification against the anchor log (and any `extra` anchors), and the anchor it wrote.
pub struct Anchored {
    pub report: VerifyReport,
    /// The new anchor of the verified head, appended to `file` (`None` when the chain is broken:
    /// a broken chain is never anchored).
    pub anchor: Option<Anchor>,
    pub file: PathBuf,
}

/// What `rainbownet audit verify` does: checks the chain against `data_dir`'s anchor log and
/// `extra` anchors (an exported file); if it is intact, appends the anchor of its head to the log
/// (unless the last line already records that head).
pub async fn verify_and_anchor(
    db: &Db,
    data_dir: &Path,
    extra: &[Anchor],
    now: Timestamp,
) -> anyhow::Result<Anchored> {
    let file = anchor::path(data_dir);
    let mut anchors = anchor::read_log(data_dir)?;
    let last = anchors.last().map(Anchor::marks);
    anchors.extend(extra.iter().cloned());
    let mut conn = db.pool().acquire().await?;
    let report = verify_against(&mut conn, db.keys().audit(), &anchors).await?;
    drop(conn);
    let mut new = None;
    if report.broken.is_none() {
        let a = Anchor::seal(&report.head, db.keys().audit().current(), now);
        if last != Some(a.marks()) {
            anchor::append(&file, &a)?;
        }
        new = Some(a);
    }
    Ok(Anchored {
        report,
        anchor: new,
        file,
    })
}

/// The `audit.verify` job: checks the chain against the anchor log, records the result as an
/// event of its own (with the new anchor: the daily report carries it) and, if the chain is
/// intact, appends that anchor to the log.
pub async fn verify_and_record(db: &Db, data_dir: &Path, now: Timestamp) -> anyhow::Result<String> {
    let file = anchor::path(data_dir);
    let anchors = anchor::read_log(data_dir);
    let mut tx = db.begin().await?;
    let (details, result) = match &anchors {
        Err(e) => (
            serde_json::json!({"ok": false, "reason": format!("{e:#}"), "anchor_file": file}),
            Err(anyhow::anyhow!("監査ログのアンカーを読めません: {e:#}")),
        ),
        Ok(anchors) => {
            let report = verify_against(&mut tx, db.keys().audit(), anchors).await?;
            match &report.broken {
                None => {
                    let a = Anchor::seal(&report.head, db.keys().audit().current(), now);
                    let details = serde_json::json!({
                        "ok": true,
                        "rows": report.rows,
                        "unsealed": report.unsealed,
                        "anchors_checked": report.anchors,
                        "anchor": a,
                        "anchor_file": file,
                    });
                    let msg = format!(
                        "{} 件、改ざんなし（アンカー {} 件と一致、{} 件までを記録）",
                        report.rows,
                        report.anchors,
                        report.head.rows()
                    );
                    (details, Ok((a, msg)))
                }
                Some(b) => (
                    serde_json::json!({
                        "ok": false,
                        "rows": report.rows,
                        "broken_id": b.id,
                        "kind": b.kind,
                        "reason": b.reason,
                        "anchors_checked": report.anchors,
                        "anchor_file": file,
                    }),
                    Err(anyhow::anyhow!(
                        "監査ログの {} 行目で改ざんを検出: {}",
                        b.id,
                        b.reason
                    )),
                ),
            }
        }
    };
    record(
        &mut tx,
        now,
        &Actor::system("audit.verify"),
        "audit.verified",
        "audit_events",
        details,
    )
    .await?;
    tx.commit().await?;
    let (a, msg) = result?;
    anchor::append(&file, &a)?;
    Ok(msg)
}
