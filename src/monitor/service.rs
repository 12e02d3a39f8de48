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
