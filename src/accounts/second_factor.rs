//! Second-factor secrets at rest (X.1, issue 10): TOTP secrets sealed with the `totp` key kept
//! outside the database, recovery codes as salted argon2id hashes (`auth::totp` has the crypto).
//!
//! - **At each start** ([`on_start`], registered with `Domain::on_start`): every TOTP secret
//!   that is not sealed with the current key — a clear one from before sealing, or one sealed
//!   with an older key after a rotation — is sealed with the current key, and recovery codes of
//!   the old kind (8 characters, unsalted SHA-256) are deleted, noting when on the account so
//!   that its dashboard asks the person to issue new ones; one transaction, audited
//!   (`auth.totp_secrets_sealed`, `auth.recovery_codes_invalidated` per account). A secret
//!   sealed with a key this installation does not hold is left as it is and logged: that
//!   account cannot verify TOTP until the key file is restored (recovery codes still work).
//! - **Rotation** (`rainbownet keys rotate totp`, [`rotate_totp_key`]): a new key goes first in
//!   `keys/totp.key` (the old ones stay, for reading), then every secret is re-sealed with it in
//!   one transaction, audited `keys.rotated`.
//! - **New recovery codes** ([`regenerate_recovery_codes`]): the person confirms with a current
//!   TOTP code (a wrong one counts as a failed second factor towards the lock), then gets ten
//!   new codes, shown once; the old ones stop working.

use serde_json::json;

use super::model::{Account, RecoveryStatus};
use super::repo;
use crate::audit::{self, Actor};
use crate::auth::totp::{self, SecretError};
use crate::auth::{Principal, SecuritySettings};
use crate::db::{Db, KeySet, Timestamp, Tx};
use crate::error::DomainError;
use crate::state::AppState;

/// What the person is told when their TOTP secret cannot be opened with this server's keys.
pub const SECRET_UNREADABLE: &str = "二要素認証の設定をこのサーバーの暗号鍵で読み出せないため、認証アプリのコードを確認できません。リカバリーコードをお持ちの場合は、それを入力してください。お持ちでない場合は、システム管理者に連絡してください。";

/// The clear TOTP secret of an account, if it has one. An unreadable one is logged for the
/// operator and reported as [`SECRET_UNREADABLE`].
pub fn totp_secret(keys: &KeySet, account: &Account) -> Result<Option<String>, DomainError> {
    let Some(stored) = &account.totp_secret else {
        return Ok(None);
    };
    match totp::open_secret(keys, account.id, stored) {
        Ok(secret) => Ok(Some(secret)),
        Err(e) => {
            tracing::error!(
                account_id = account.id,
                key_source = %keys.source,
                "the TOTP secret of an account cannot be opened: {e}"
            );
            Err(DomainError::Conflict(SECRET_UNREADABLE.into()))
        }
    }
}

/// The pending (not yet confirmed) secret of an account if it opens; `None` otherwise, and a
/// fresh one is then shown.
pub fn pending_secret(keys: &KeySet, account: &Account) -> Option<String> {
    let stored = account.totp_secret.as_deref()?;
    totp::open_secret(keys, account.id, stored).ok()
}

/// What a pass over the stored TOTP secrets did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SealReport {
    /// The current key's id.
    pub key_id: String,
    /// Clear secrets now sealed.
    pub sealed_clear: usize,
    /// Secrets of an older key now sealed with the current one.
    pub resealed: usize,
    /// Accounts whose secret opens with no key of the set (left as they are).
    pub unreadable: Vec<i64>,
}

/// Seals with the current key every TOTP secret that is not sealed with it yet.
pub async fn seal_totp_secrets_in(tx: &mut Tx) -> Result<SealReport, DomainError> {
    let keys = tx.keys().totp().clone();
    let current = keys.current().clone();
    let prefix = format!("{}:{}:", totp::SEALED_V1, current.id());
    let mut report = SealReport {
        key_id: current.id().to_string(),
        ..SealReport::default()
    };
    for (id, stored) in repo::totp_secrets_not_sealed_with(tx, &prefix).await? {
        let (secret, was_clear) = match totp::open_secret(&keys, id, &stored) {
            Ok(secret) => (secret, false),
            Err(SecretError::NotSealed) if totp::is_clear_secret(&stored) => (stored.clone(), true),
            Err(e) => {
                tracing::error!(account_id = id, "a TOTP secret cannot be re-sealed: {e}");
                report.unreadable.push(id);
                continue;
            }
        };
        let sealed = totp::seal_secret(&current, id, &secret).map_err(DomainError::Internal)?;
        if repo::reseal_totp_secret(tx, id, &stored, &sealed).await? {
            if was_clear {
                report.sealed_clear += 1;
            } else {
                report.resealed += 1;
            }
        }
    }
    Ok(report)
}

/// Deletes recovery codes of the old kind; returns the accounts that had them.
async fn invalidate_old_recovery_codes_in(
    tx: &mut Tx,
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<i64>, DomainError> {
    const CURRENT: &str = "$argon2id$";
    let accounts = repo::accounts_with_old_recovery_codes(tx, CURRENT).await?;
    for &id in &accounts {
        let deleted = repo::invalidate_old_recovery_codes(tx, id, CURRENT, now).await?;
        audit::record(
            tx,
            now,
            actor,
            "auth.recovery_codes_invalidated",
            &format!("account:{id}"),
            json!({"codes": deleted, "reason": "weak_format"}),
        )
        .await?;
    }
    Ok(accounts)
}

/// The start-up pass (see the module docs).
pub async fn on_start(state: &AppState, now: Timestamp) -> anyhow::Result<()> {
    let actor = Actor::system("startup");
    let mut tx = state.db.begin().await?;
    let report = seal_totp_secrets_in(&mut tx).await?;
    if report.sealed_clear + report.resealed > 0 {
        audit::record(
            &mut tx,
            now,
            &actor,
            "auth.totp_secrets_sealed",
            "totp_secrets",
            json!({
                "key_id": report.key_id,
                "sealed_clear": report.sealed_clear,
                "resealed": report.resealed,
                "unreadable": report.unreadable,
            }),
        )
        .await?;
    }
    let invalidated = invalidate_old_recovery_codes_in(&mut tx, &actor, now).await?;
    tx.commit().await?;
    if report.sealed_clear + report.resealed > 0 || !invalidated.is_empty() {
        tracing::info!(
            sealed_clear = report.sealed_clear,
            resealed = report.resealed,
            recovery_codes_invalidated = invalidated.len(),
            "second-factor secrets brought to the current kind"
        );
    }
    if !report.unreadable.is_empty() {
        tracing::error!(
            accounts = ?report.unreadable,
            key_source = %state.db.keys().totp().source,
            "TOTP secrets sealed with keys this installation does not hold: these accounts \
             cannot verify TOTP until the key file is restored"
        );
    }
    Ok(())
}

/// Re-seals every TOTP secret with the current key (just rotated in), in one transaction,
/// audited `keys.rotated`.
pub async fn rotate_totp_key(
    db: &Db,
    actor: &Actor,
    now: Timestamp,
) -> Result<SealReport, DomainError> {
    let mut tx = db.begin().await?;
    let report = seal_totp_secrets_in(&mut tx).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "keys.rotated",
        "keys:totp",
        json!({
            "purpose": "totp",
            "key_id": report.key_id,
            "resealed": report.resealed + report.sealed_clear,
            "unreadable": report.unreadable,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// The person's second factor now (the dashboard card and the recovery-code page).
pub async fn recovery_status(db: &Db, account_id: i64) -> Result<RecoveryStatus, DomainError> {
    let mut conn = db.pool().acquire().await?;
    Ok(repo::recovery_status(&mut conn, account_id).await?)
}

/// Issues ten new recovery codes after a current TOTP code; returns them to show once, or
/// `None` for a wrong code (recorded and counted towards the lock like a failed log-in).
pub async fn regenerate_recovery_codes(
    db: &Db,
    sec: &SecuritySettings,
    p: &Principal,
    code: &str,
    client: &str,
    now: Timestamp,
) -> Result<Option<Vec<String>>, DomainError> {
    let seen = {
        let mut conn = db.pool().acquire().await?;
        repo::find(&mut conn, p.account_id).await?
    };
    if seen.totp_enabled_at.is_none() {
        return Err(DomainError::NotFound);
    }
    let secret = totp_secret(db.keys().totp(), &seen)?.unwrap_or_default();
    let Some(step) = totp::check(&secret, code, now, seen.totp_last_step) else {
        let mut tx = db.begin().await?;
        let account = repo::find(&mut tx, p.account_id).await?;
        let actor = Actor::of(p, client);
        super::lockout::record_mfa_failure(
            &mut tx,
            sec,
            &account,
            &actor,
            p,
            "recovery_codes",
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(None);
    };
    // The codes are hashed before the transaction (argon2, ~20 ms each).
    let codes = totp::new_recovery_codes()
        .await
        .map_err(DomainError::Internal)?;
    let mut tx = db.begin().await?;
    let account = repo::find(&mut tx, p.account_id).await?;
    if account.totp_secret != seen.totp_secret
        || account.totp_last_step.is_some_and(|last| last >= step)
    {
        // The code was used meanwhile (or the secret changed): it does not count twice.
        return Ok(None);
    }
    if !repo::set_totp_step(&mut tx, account.id, step).await? {
        return Ok(None);
    }
    let hashes: Vec<String> = codes.iter().map(|(_, h)| h.clone()).collect();
    repo::replace_recovery_codes(&mut tx, account.id, &hashes).await?;
    audit::record(
        &mut tx,
        now,
        &Actor::of(p, client),
        "auth.recovery_codes_regenerated",
        &format!("account:{}", account.id),
        json!({"recovery_codes": codes.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(codes.into_iter().map(|(c, _)| c).collect()))
}
