//! Monitors' state changes made by people (add, change, pause); each one transaction with its
//! audit event. The checks' own state changes are the engine's.

use serde_json::json;

use super::model::{Monitor, NewMonitor};
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

fn describe(m: &NewMonitor) -> serde_json::Value {
    json!({
        "name": m.name.as_str(),
        "kind": m.kind.key(),
        "target": m.target.as_str(),
        "interval_seconds": m.interval_seconds,
        "timeout_ms": m.timeout_ms,
        "retries": m.retries,
        "expect_status": m.expect_status,
        "keyword": m.keyword,
        "json_pointer": m.json_pointer,
        "json_value": m.json_value,
        "max_response_ms": m.max_response_ms,
        "cert_min_days": m.cert_min_days,
        "asset_ref": m.asset_ref,
    })
}

fn before(m: &Monitor) -> serde_json::Value {
    json!({
        "name": m.name,
        "kind": m.kind,
        "target": m.target,
        "interval_seconds": m.interval_seconds,
        "timeout_ms": m.timeout_ms,
        "retries": m.retries,
    })
}

/// Changes what a monitor checks and how; audited with the values before and after. Its state
/// and results stay.
pub async fn update(
    db: &Db,
    id: i64,
    m: &NewMonitor,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let old = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    repo::update(&mut tx, id, m, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "monitor.updated",
        &format!("monitor:{id}"),
        json!({"before": before(&old), "after": describe(m)}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Pauses a monitor: no checks, no slots, no alerts until it is resumed.
pub async fn pause(db: &Db, id: i64, actor: &Actor, now: Timestamp) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let m = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !repo::set_paused(&mut tx, id, true, now).await? {
        return Err(DomainError::Conflict(
            "この監視は既に一時停止しています。".into(),
        ));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "monitor.paused",
        &format!("monitor:{id}"),
        json!({"name": m.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Resumes a paused monitor with a fresh cadence from `now` ("pending" until its first check;
/// the paused time is no slot).
pub async fn resume(db: &Db, id: i64, actor: &Actor, now: Timestamp) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let m = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !repo::set_paused(&mut tx, id, false, now).await? {
        return Err(DomainError::Conflict(
            "この監視は一時停止していません。".into(),
        ));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "monitor.resumed",
        &format!("monitor:{id}"),
        json!({"name": m.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
