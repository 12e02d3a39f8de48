//! Monitors' state changes made by people (add, change, pause); each one transaction with its
//! audit event. The checks' own state changes are the engine's.

use serde_json::json;

use super::model::NewMonitor;
use super::repo;
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;

/// Adds a monitor; it starts "pending" and is checked from its first slot on.
pub async fn add(
    db: &Db,
    m: &NewMonitor,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    m.check().map_err(|e| DomainError::invalid("monitor", e))?;
    let mut tx = db.begin().await?;
    let id = repo::insert(&mut tx, m, &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "monitor.added",
        &format!("monitor:{id}"),
        json!({
            "name": m.name.as_str(),
            "kind": m.kind.key(),
            "target": m.target.as_str(),
            "interval_seconds": m.interval_seconds,
            "retries": m.retries,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Pauses a monitor (no slots are expected while paused), or resumes it with a fresh cadence
/// from `now` ("pending" until its first check). Nothing changes when it already is so.
pub async fn set_paused(
    db: &Db,
    id: i64,
    paused: bool,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let mut tx = db.begin().await?;
    if repo::find(&mut tx, id).await?.is_none() {
        return Err(DomainError::NotFound);
    }
    if !repo::set_paused(&mut tx, id, paused, now).await? {
        return Ok(false);
    }
    audit::record(
        &mut tx,
        now,
        actor,
        if paused {
            "monitor.paused"
        } else {
            "monitor.resumed"
        },
        &format!("monitor:{id}"),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
