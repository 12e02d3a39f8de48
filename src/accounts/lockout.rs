//! Failed credential attempts that count toward an account's lock (R12.1 / X.1): the lock at
//! `lockout_threshold` failures in `lockout_window_minutes`, and a wrong second-factor code.
//! Shared by the log-in, the password change and the recovery-code page.

use jiff::SignedDuration;
use serde_json::json;

use super::model::Account;
use super::repo;
use crate::audit::{self, Actor};
use crate::auth::{Principal, SecuritySettings, repo as sessions};
use crate::db::{Timestamp, Tx};
use crate::error::DomainError;

/// Counts failures inside the window (since the last success or unlock) and locks at the threshold.
pub(super) async fn lock_if_too_many(
    conn: &mut Tx,
    sec: &SecuritySettings,
    account: &Account,
    actor: &Actor,
    now: Timestamp,
) -> sqlx::Result<()> {
    let window_start = now.minus(SignedDuration::from_mins(sec.lockout_window_minutes));
    let since = account
        .failures_since
        .map_or(window_start, |f| f.max(window_start));
    let failures = repo::count_failures_since(conn, account.id, since).await?;
    if failures >= sec.lockout_threshold {
        let until = now.plus_minutes(sec.lockout_minutes);
        repo::lock(conn, account.id, now, until).await?;
        audit::record(
            conn,
            now,
            actor,
            "auth.account_locked",
            &format!("account:{}", account.id),
            json!({"failures": failures, "locked_until": until.to_db()}),
        )
        .await?;
    }
    Ok(())
}

/// A wrong second-factor code: recorded as a failed attempt, audited `auth.mfa_failed`, counted
/// towards the lock; the session ends if the account is now locked.
pub(super) async fn record_mfa_failure(
    tx: &mut Tx,
    sec: &SecuritySettings,
    account: &Account,
    actor: &Actor,
    p: &Principal,
    context: &str,
    now: Timestamp,
) -> Result<(), DomainError> {
    let target = format!("account:{}", account.id);
    repo::record_attempt(
        tx,
        Some(account.id),
        &account.login_id,
        now,
        false,
        &actor.client_addr,
    )
    .await?;
    let details = if context == "login" {
        json!({})
    } else {
        json!({"context": context})
    };
    audit::record(tx, now, actor, "auth.mfa_failed", &target, details).await?;
    lock_if_too_many(tx, sec, account, actor, now).await?;
    let locked = repo::find(tx, account.id).await?.is_locked(now);
    if locked {
        sessions::end(tx, p.session_id, now, "locked").await?;
    }
    Ok(())
}
