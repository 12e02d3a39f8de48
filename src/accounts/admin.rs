//! What an administrator does to one account from its page (issue 15 item 4; R12.1, R12.2,
//! X.1): disable, enable, change the role, reset the second factor or the password, end the
//! sessions. Each runs on the caller's transaction (which also sends the notifications), takes
//! the reason the administrator gave and writes it into its audit event.
//!
//! Rules:
//! - The last active system administrator can neither be disabled nor lose the role: the
//!   active administrators are read under lock in the same transaction (`FOR UPDATE` on
//!   PostgreSQL; SQLite write transactions are serialised), so two changes at once cannot both
//!   pass.
//! - Only a system administrator grants or takes away the system administrator role.
//! - A role of a facility (user, facility manager) needs the account's facility.
//! - Disabling, a role change, a reset and "end sessions" end every open session of the account.

use serde_json::json;

use super::lifecycle::OneTimePassword;
use super::model::{Account, Reason};
use super::{repo, repo_admin};
use crate::audit::{self, Actor};
use crate::auth::{Role, repo as sessions};
use crate::db::{Timestamp, Tx};
use crate::error::DomainError;

/// The account as it is (for pages), or None.
pub async fn find(conn: &mut crate::db::Conn, id: i64) -> Result<Option<Account>, DomainError> {
    match repo::find(conn, id).await {
        Ok(a) => Ok(Some(a)),
        Err(sqlx::Error::RowNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The account, locked for the rest of the transaction.
pub async fn lock_account(tx: &mut Tx, id: i64) -> Result<Option<Account>, DomainError> {
    Ok(repo_admin::find_for_update(tx, id).await?)
}

async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    account: &Account,
    reason: &Reason,
    mut details: serde_json::Value,
    now: Timestamp,
) -> Result<(), DomainError> {
    if let Some(d) = details.as_object_mut() {
        d.insert("login_id".into(), json!(account.login_id));
        d.insert("reason".into(), json!(reason.as_str()));
    }
    let target = format!("account:{}", account.id);
    audit::record(tx, now, actor, action, &target, details).await?;
    Ok(())
}

/// Refuses when `account` is the last active system administrator.
async fn keep_one_admin(tx: &mut Tx, account: &Account, what: &str) -> Result<(), DomainError> {
    if account.role != Role::SystemAdmin || account.disabled_at.is_some() {
        return Ok(());
    }
    let admins = repo_admin::active_admins_locked(tx).await?;
    if admins.iter().all(|id| *id == account.id) {
        return Err(DomainError::Conflict(format!(
            "有効なシステム管理者はこのアカウントだけです。ほかのシステム管理者を用意してから{what}してください。"
        )));
    }
    Ok(())
}

async fn end_sessions_of(tx: &mut Tx, id: i64, why: &str, now: Timestamp) -> sqlx::Result<usize> {
    Ok(sessions::end_all_for_account(tx, id, None, now, why)
        .await?
        .len())
}

pub async fn disable_in(
    tx: &mut Tx,
    account: &Account,
    reason: &Reason,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    if account.disabled_at.is_some() {
        return Err(DomainError::Conflict(
            "このアカウントはすでに利用停止中です。".into(),
        ));
    }
    keep_one_admin(tx, account, "利用停止").await?;
    super::lifecycle::disable_in(tx, account.id, actor, now, reason.as_str()).await?;
    Ok(())
}

pub async fn enable_in(
    tx: &mut Tx,
    account: &Account,
    reason: &Reason,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    if !repo_admin::enable(tx, account.id).await? {
        return Err(DomainError::Conflict(
            "このアカウントは利用停止されていません。".into(),
        ));
    }
    record(
        tx,
        actor,
        "account.enabled",
        account,
        reason,
        json!({}),
        now,
    )
    .await
}

pub async fn change_role_in(
    tx: &mut Tx,
    account: &Account,
    role: Role,
    reason: &Reason,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    if role == account.role {
        return Err(DomainError::invalid(
            "role",
            "いまと同じ役割です。変更後の役割を選んでください。",
        ));
    }
    let touches_admin = role == Role::SystemAdmin || account.role == Role::SystemAdmin;
    if touches_admin && actor.role != Role::SystemAdmin.key() {
        return Err(DomainError::Forbidden);
    }
    if role.needs_facility() && account.facility_id.is_none() {
        return Err(DomainError::invalid(
            "role",
            format!(
                "{}には所属施設が必要です。所属施設のないアカウントには選べません。",
                role.label()
            ),
        ));
    }
    keep_one_admin(tx, account, "役割を変更").await?;
    repo_admin::set_role(tx, account.id, role).await?;
    let ended = end_sessions_of(tx, account.id, "role_changed", now).await?;
    let details =
        json!({"before": account.role.key(), "after": role.key(), "sessions_ended": ended});
    record(
        tx,
        actor,
        "account.role_changed",
        account,
        reason,
        details,
        now,
    )
    .await
}

pub async fn reset_totp_in(
    tx: &mut Tx,
    account: &Account,
    reason: &Reason,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    if !repo::reset_totp(tx, account.id).await? {
        return Err(DomainError::Conflict(
            "このアカウントには二要素認証が設定されていません。".into(),
        ));
    }
    let ended = end_sessions_of(tx, account.id, "totp_reset", now).await?;
    let details = json!({"sessions_ended": ended});
    record(
        tx,
        actor,
        "account.totp_reset",
        account,
        reason,
        details,
        now,
    )
    .await
}

pub async fn end_sessions_in(
    tx: &mut Tx,
    account: &Account,
    reason: &Reason,
    actor: &Actor,
    now: Timestamp,
) -> Result<usize, DomainError> {
    let ended = end_sessions_of(tx, account.id, "ended_by_admin", now).await?;
    let details = json!({"sessions_ended": ended});
    record(
        tx,
        actor,
        "account.sessions_ended",
        account,
        reason,
        details,
        now,
    )
    .await?;
    Ok(ended)
}

/// A new one-time password (shown once to the administrator), valid `otp_days`; the old one
/// stops working, a lock is lifted, sessions end, and the person must change it at log-in.
pub async fn reset_password_in(
    tx: &mut Tx,
    account: &Account,
    otp: OneTimePassword,
    otp_days: i64,
    reason: &Reason,
    actor: &Actor,
    now: Timestamp,
) -> Result<(String, Timestamp), DomainError> {
    if account.disabled_at.is_some() {
        return Err(DomainError::Conflict(
            "利用停止中のアカウントのパスワードは再設定できません。先に利用を再開してください。"
                .into(),
        ));
    }
    let expires = now.plus(jiff::SignedDuration::from_hours(24 * otp_days.max(1)));
    repo::reset_password(tx, account.id, otp.hash(), expires, now).await?;
    let ended = end_sessions_of(tx, account.id, "password_reset", now).await?;
    let details = json!({"sessions_ended": ended, "expires_at": expires.to_db()});
    record(
        tx,
        actor,
        "account.password_reset",
        account,
        reason,
        details,
        now,
    )
    .await?;
    Ok((otp.into_clear(), expires))
}
