//! Audit log (X.2): an append-only, hash-chained record of every security-relevant action.
//!
//! Rules:
//! - Every state change writes its event with [`record`] on the same connection, inside the same
//!   transaction as the change: either both are kept or neither.
//! - Each row stores the SHA-256 of the previous row (`prev_hash`) and of itself (`hash`), and the
//!   `audit_head` row stores the last sequence number and hash. [`verify`] walks the whole chain
//!   and names the first row that was altered, removed or cut off (`rainbownet audit verify`).
//! - Log-in, failed log-in, lockout, unlock, log-out and session expiry are events (see `auth`).
//! - Nothing in the application updates or deletes audit rows.
//! - Its pages (list, CSV, access log, chain check) are the `audit_ui` domain.

pub mod model;
pub mod repo;

pub use model::{Actor, Broken, VerifyReport};

use crate::db::{Conn, Db, Timestamp, Tx};

/// Appends one event, on the write transaction that makes the change (a [`Tx`], so an event
/// cannot be written outside one).
pub async fn record(
    conn: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> sqlx::Result<i64> {
    let (id, prev_hash) = repo::claim_next(conn).await?;
    let mut row = model::AuditRow {
        id,
        at: now,
        actor_account_id: actor.account_id,
        actor_login: actor.login.clone(),
        actor_role: actor.role.clone(),
        action: action.to_string(),
        target: target.to_string(),
        details: details.to_string(),
        client_addr: actor.client_addr.clone(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = row.compute_hash();
    repo::insert(conn, &row).await?;
    Ok(id)
}

/// Walks the whole chain, a page at a time, and reports the first broken row.
pub async fn verify(conn: &mut Conn) -> sqlx::Result<VerifyReport> {
    let mut check = model::ChainCheck::default();
    let mut after = 0;
    loop {
        let page = repo::page_after(conn, after, 1000).await?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            if let Err(broken) = check.push(row) {
                return Ok(VerifyReport {
                    rows: check.rows,
                    broken: Some(broken),
                });
            }
            after = row.id;
        }
    }
    let (seq, hash) = repo::head(conn).await?;
    let broken = check.finish(seq, &hash).err();
    Ok(VerifyReport {
        rows: check.rows,
        broken,
    })
}

/// The `audit.verify` job: checks the chain and records the result as an event of its own.
pub async fn verify_and_record(db: &Db, now: Timestamp) -> anyhow::Result<String> {
    let mut tx = db.begin().await?;
    let report = verify(&mut tx).await?;
    let details = match &report.broken {
        None => serde_json::json!({"ok": true, "rows": report.rows}),
        Some(b) => {
            serde_json::json!({"ok": false, "rows": report.rows, "broken_id": b.id, "reason": b.reason})
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
    match report.broken {
        None => Ok(format!("{} 件、改ざんなし", report.rows)),
        Some(b) => anyhow::bail!("監査ログの {} 行目で改ざんを検出: {}", b.id, b.reason),
    }
}
