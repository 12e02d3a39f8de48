//! What a user changes: read marks and preferences, each with its audit event.

use serde_json::json;

use super::{Kind, repo};
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;
use crate::mail::Address;

/// Marks one of the user's notifications read (not found when it is someone else's).
pub async fn read_one(
    db: &Db,
    account_id: i64,
    id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    match repo::mark_read(&mut tx, account_id, id, now).await? {
        None => return Err(DomainError::NotFound),
        Some(false) => return Ok(()),
        Some(true) => {}
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "notification.read",
        &format!("notification:{id}"),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn read_all(
    db: &Db,
    account_id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<u64, DomainError> {
    let mut tx = db.begin().await?;
    let n = repo::mark_all_read(&mut tx, account_id, now).await?;
    if n > 0 {
        audit::record(
            &mut tx,
            now,
            actor,
            "notification.read",
            &format!("account:{account_id}"),
            json!({"count": n}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Saves the mail address ('' removes it) and the kinds wanted by mail.
pub async fn save_preferences(
    db: &Db,
    account_id: i64,
    email: &str,
    on: &[Kind],
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let email = email.trim();
    if !email.is_empty() {
        Address::parse(email).map_err(|e| DomainError::invalid("email", e.to_string()))?;
    }
    let off: Vec<&str> = Kind::ALL
        .into_iter()
        .filter(|k| !on.contains(k))
        .map(Kind::key)
        .collect();
    let mut tx = db.begin().await?;
    repo::set_address(&mut tx, account_id, email, now).await?;
    repo::set_kinds_off(&mut tx, account_id, &off).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "notification.preferences_changed",
        &format!("account:{account_id}"),
        json!({"has_address": !email.is_empty(), "mail_off": off}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
