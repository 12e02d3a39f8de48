//! Log-in and session operations on accounts: they span the session store, attempts and the
//! audit log. The account lifecycle (create, disable, reset) is in `lifecycle`. Each runs in
//! one transaction with its audit event(s). `now` is passed in.

use jiff::SignedDuration;
use serde_json::json;

use super::lockout::{lock_if_too_many, record_mfa_failure};
use super::model::Account;
use super::repo;
use super::throttle::note_login_failure;
use crate::audit::{self, Actor};
use crate::auth::{
    self, Password, Principal, Role, SecuritySettings, password, repo as sessions, totp,
};
use crate::db::{Db, Timestamp, Tx};
use crate::error::DomainError;

pub use super::lifecycle::{
    AccountSpec, Created, ONE_TIME_PASSWORD_DAYS, OneTimePassword, Person, PersonAttributes,
    create_account, create_account_in, create_with_reason_in, disable_in, find_person,
    id_by_login_id, mark_letter_issued_in, people_of_facility, person, reset_password,
    reset_password_in, reset_totp, update_attributes_in,
};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong ID, wrong password, locked or disabled: the page says the same for all of them.
    #[error("invalid credentials")]
    Invalid,
    /// The right password of a disabled account: the person may be told (R12.2).
    #[error("account disabled")]
    Disabled,
    #[error("one-time password expired")]
    OneTimePasswordExpired,
    #[error(transparent)]
    Other(#[from] DomainError),
}

impl From<sqlx::Error> for LoginError {
    fn from(e: sqlx::Error) -> Self {
        LoginError::Other(e.into())
    }
}

pub struct Client<'a> {
    pub addr: &'a str,
    pub user_agent: &'a str,
    /// The session this browser already had, if any: a log-in ends it (the new session has a
    /// new token; a token the client brings is never taken over).
    pub replaces: Option<i64>,
}

/// Checks an ID and password; on success opens a session and returns its cookie token.
///
/// The password is verified first, outside any transaction (it costs ~20 ms of CPU, and on
/// SQLite a transaction holds the database's one writer lock); unknown, disabled and locked
/// accounts spend the same time on a dummy verification. The transaction that records the
/// result then reads the account again: a lock, a disabling or a new password that came in
/// meanwhile wins, and failures are counted against the account as it is now.
pub async fn login(
    db: &Db,
    sec: &SecuritySettings,
    login_id: &str,
    pw: &Password,
    client: &Client<'_>,
    now: Timestamp,
) -> Result<String, LoginError> {
    let login_id = login_id.trim();
    let mut retried = false;
    loop {
        let seen = {
            let mut conn = db.pool().acquire().await?;
            repo::find_by_login_id(&mut conn, login_id).await?
        };
        let verified_hash = match &seen {
            // A disabled account's password is checked too: with the right one, the person is told
            // the account is disabled (the wrong one gets the common message).
            Some(a) if !a.is_locked(now) => password::verify_async(pw, &a.password_hash)
                .await
                .then(|| a.password_hash.clone()),
            _ => {
                password::verify_dummy_async(pw).await;
                None
            }
        };
        let mut tx = db.begin().await?;
        let account = repo::find_by_login_id_for_update(&mut tx, login_id).await?;
        let changed = match (&seen, &account) {
            (Some(s), Some(a)) => s.id != a.id || s.password_hash != a.password_hash,
            (None, None) => false,
            _ => true,
        };
        if changed && !retried {
            // The password was changed or reset while it was being checked: check again.
            tx.rollback().await?;
            retried = true;
            continue;
        }
        let verified = match (&account, &verified_hash) {
            (Some(a), Some(h)) => !changed && a.password_hash == *h,
            _ => false,
        };
        let result = finish_login(&mut tx, sec, login_id, account, verified, client, now).await;
        // A refusal is recorded too; only an internal error leaves nothing behind.
        if !matches!(result, Err(LoginError::Other(_))) {
            tx.commit().await?;
        }
        return result;
    }
}

/// Records a log-in whose password check is done: `verified` says whether the password matched
/// the account as read in this transaction.
async fn finish_login(
    tx: &mut Tx,
    sec: &SecuritySettings,
    login_id: &str,
    account: Option<Account>,
    verified: bool,
    client: &Client<'_>,
    now: Timestamp,
) -> Result<String, LoginError> {
    let Some(account) = account else {
        repo::record_attempt(tx, None, login_id, now, false, client.addr).await?;
        let actor = Actor::anonymous(login_id, client.addr);
        let target = format!("login:{login_id}");
        let throttle = &sec.throttle;
        note_login_failure(tx, throttle, &actor, &target, login_id, "unknown_id", now).await?;
        return Err(LoginError::Invalid);
    };
    let actor = Actor {
        account_id: Some(account.id),
        login: account.login_id.clone(),
        role: account.role.key().into(),
        client_addr: client.addr.into(),
    };
    let target = format!("account:{}", account.id);
    let refused = if account.disabled_at.is_some() {
        Some("disabled")
    } else if account.is_locked(now) {
        Some("locked")
    } else if !verified {
        Some("wrong_password")
    } else {
        None
    };
    if let Some(reason) = refused {
        repo::record_attempt(tx, Some(account.id), login_id, now, false, client.addr).await?;
        note_login_failure(tx, &sec.throttle, &actor, &target, login_id, reason, now).await?;
        if reason == "wrong_password" {
            lock_if_too_many(tx, sec, &account, &actor, now).await?;
        }
        if reason == "disabled" && verified {
            return Err(LoginError::Disabled);
        }
        return Err(LoginError::Invalid);
    }
    if account.must_change_password && account.password_expires_at.is_some_and(|e| e <= now) {
        audit::record(
            tx,
            now,
            &actor,
            "auth.login_failed",
            &target,
            json!({"reason": "one_time_password_expired"}),
        )
        .await?;
        return Err(LoginError::OneTimePasswordExpired);
    }
    let (token, hash) = auth::new_token();
    let session_id =
        sessions::insert(tx, &hash, account.id, now, client.addr, client.user_agent).await?;
    repo::record_attempt(tx, Some(account.id), login_id, now, true, client.addr).await?;
    repo::mark_login(tx, account.id, now).await?;
    audit::record(
        tx,
        now,
        &actor,
        "auth.login",
        &target,
        json!({"session_id": session_id}),
    )
    .await?;
    let replaces = client.replaces;
    super::service_sessions::after_login(tx, sec, &actor, account.id, session_id, replaces, now)
        .await?;
    Ok(token)
}

/// A second-factor code (TOTP or a recovery code) for a session at the `VerifyTotp` stage.
/// Accepted, the session gets a new token (returned, for the cookie): the token that existed
/// before the second factor must not become a fully authenticated session (session fixation).
///
/// A recovery code is checked against the account's unused codes (argon2, in the password
/// slots) before the transaction; a TOTP code is checked inside it (the secret is opened with
/// the `totp` key, `second_factor::totp_secret`).
pub async fn verify_second_factor(
    db: &Db,
    sec: &SecuritySettings,
    p: &Principal,
    code: &str,
    client: &str,
    now: Timestamp,
) -> Result<Option<String>, DomainError> {
    let recovery = if totp::normalise_recovery_code(code).is_some() {
        let stored = {
            let mut conn = db.pool().acquire().await?;
            repo::unused_recovery_codes(&mut conn, p.account_id).await?
        };
        totp::match_recovery_code(code, stored).await
    } else {
        None
    };
    let mut tx = db.begin().await?;
    let account = repo::find(&mut tx, p.account_id).await?;
    let actor = Actor::of(p, client);
    let target = format!("account:{}", account.id);
    let method = match recovery {
        Some(code_id) => repo::use_recovery_code(&mut tx, account.id, code_id, now)
            .await?
            .then_some("recovery_code"),
        None if totp::normalise_recovery_code(code).is_none() => {
            let secret = super::second_factor::totp_secret(tx.keys().totp(), &account)?;
            match secret.and_then(|s| totp::check(&s, code, now, account.totp_last_step)) {
                // A conditional update: of two requests with the same code (on two instances
                // at once) only one is accepted.
                Some(step) => repo::set_totp_step(&mut tx, account.id, step)
                    .await?
                    .then_some("totp"),
                None => None,
            }
        }
        None => None,
    };
    let token = if let Some(method) = method {
        audit::record(
            &mut tx,
            now,
            &actor,
            "auth.mfa_verified",
            &target,
            json!({"method": method}),
        )
        .await?;
        sessions::mark_mfa(&mut tx, p.session_id, now).await?;
        Some(super::service_sessions::rotate(&mut tx, p, &actor, "mfa_verified", now).await?)
    } else {
        record_mfa_failure(&mut tx, sec, &account, &actor, p, "login", now).await?;
        None
    };
    tx.commit().await?;
    Ok(token)
}

/// A password change as typed into the form.
pub struct PasswordChange {
    pub current: Password,
    pub new: Password,
    pub confirmation: String,
}

/// Changes the password of the logged-in person; other sessions of the account are ended and
/// this one gets a new token (returned, for the cookie): the person stays logged in.
/// A refusal is `Invalid` on `current_password` or `new_password`, to show next to that field.
pub async fn change_password(
    db: &Db,
    sec: &SecuritySettings,
    p: &Principal,
    change: &PasswordChange,
    client: &str,
    now: Timestamp,
) -> Result<String, DomainError> {
    let (current, new, confirmation) = (&change.current, &change.new, change.confirmation.as_str());
    // Verify and hash first, outside the transaction (see `login`).
    let seen = {
        let mut conn = db.pool().acquire().await?;
        repo::find(&mut conn, p.account_id).await?
    };
    if !password::verify_async(current, &seen.password_hash).await {
        return Err(wrong_current_password(db, sec, p, client, now).await?);
    }
    if let Err(e) = password::check_policy(
        &sec.password,
        &seen.login_id,
        &[&seen.display_name],
        new.expose(),
        confirmation,
    ) {
        return Err(DomainError::invalid("new_password", e.to_string()));
    }
    if new.expose() == current.expose() {
        return Err(DomainError::invalid(
            "new_password",
            password::PolicyError::SameAsCurrent.to_string(),
        ));
    }
    let hash = password::hash_async(new)
        .await
        .map_err(DomainError::Internal)?;
    let mut tx = db.begin().await?;
    let account = repo::find(&mut tx, p.account_id).await?;
    if account.password_hash != seen.password_hash {
        // Changed or reset meanwhile: the current password that was checked is no longer it.
        return Err(DomainError::conflict(
            "パスワードが他の操作で変更されました。もう一度お試しください。",
        ));
    }
    repo::set_password(&mut tx, account.id, &hash, now).await?;
    let ended = sessions::end_all_for_account(
        &mut tx,
        account.id,
        Some(p.session_id),
        now,
        "password_changed",
    )
    .await?;
    let actor = Actor::of(p, client);
    let details =
        json!({"was_one_time": account.must_change_password, "other_sessions_ended": ended.len()});
    audit::record(
        &mut tx,
        now,
        &actor,
        "auth.password_changed",
        &format!("account:{}", account.id),
        details,
    )
    .await?;
    let token =
        super::service_sessions::rotate(&mut tx, p, &actor, "password_changed", now).await?;
    tx.commit().await?;
    Ok(token)
}

/// A wrong current password on the password-change form counts against the account like a
/// failed log-in (`login_attempts`, lockout) and is recorded (`auth.password_change_failed`).
/// When it locks the account, this session ends too (someone who has taken over a session must
/// not go on guessing); the answer then says so. Returns the error to show.
async fn wrong_current_password(
    db: &Db,
    sec: &SecuritySettings,
    p: &Principal,
    client: &str,
    now: Timestamp,
) -> Result<DomainError, DomainError> {
    let mut tx = db.begin().await?;
    let account = repo::find_by_login_id_for_update(&mut tx, &p.login_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let actor = Actor::of(p, client);
    let target = format!("account:{}", account.id);
    repo::record_attempt(
        &mut tx,
        Some(account.id),
        &account.login_id,
        now,
        false,
        client,
    )
    .await?;
    let details = json!({"session_id": p.session_id});
    audit::record(
        &mut tx,
        now,
        &actor,
        "auth.password_change_failed",
        &target,
        details,
    )
    .await?;
    lock_if_too_many(&mut tx, sec, &account, &actor, now).await?;
    let locked = repo::find(&mut tx, account.id).await?.is_locked(now);
    if locked {
        sessions::end(&mut tx, p.session_id, now, "locked").await?;
    }
    tx.commit().await?;
    Ok(if locked {
        DomainError::conflict(format!(
            "現在のパスワードの誤りが続いたため、安全のためログアウトし、アカウントを{}分間ロックしました。時間をおいてからログインし直すか、施設の管理者またはシステム管理者にロックの解除を依頼してください。",
            sec.lockout_minutes
        ))
    } else {
        DomainError::invalid("current_password", "現在のパスワードが正しくありません。")
    })
}

/// The pending TOTP secret to show on the enrolment page: the one already stored (so that a
/// reload does not invalidate a code that was just scanned) or a fresh one. It is stored sealed
/// with the `totp` key (`auth::totp`), never in clear.
pub async fn start_totp_enrolment(db: &Db, p: &Principal) -> Result<String, DomainError> {
    let mut conn = db.pool().acquire().await?;
    let account = repo::find(&mut conn, p.account_id).await?;
    if account.totp_enabled_at.is_none()
        && let Some(pending) = super::second_factor::pending_secret(db.keys().totp(), &account)
    {
        return Ok(pending);
    }
    let secret = totp::encode_secret(&totp::new_secret());
    let sealed = totp::seal_secret(db.keys().totp().current(), account.id, &secret)
        .map_err(DomainError::Internal)?;
    repo::set_pending_totp(&mut conn, p.account_id, &sealed).await?;
    Ok(secret)
}

/// Confirms enrolment with a first code; returns the recovery codes to show once and the
/// session's new token (rotated as at every change of authentication level). The code is
/// checked and the recovery codes hashed (argon2) before the transaction.
pub async fn finish_totp_enrolment(
    db: &Db,
    p: &Principal,
    code: &str,
    client: &str,
    now: Timestamp,
) -> Result<Option<(Vec<String>, String)>, DomainError> {
    let already = || DomainError::Conflict("二要素認証はすでに設定されています。".into());
    let seen = {
        let mut conn = db.pool().acquire().await?;
        repo::find(&mut conn, p.account_id).await?
    };
    if seen.totp_enabled_at.is_some() {
        return Err(already());
    }
    let Some(secret) = super::second_factor::pending_secret(db.keys().totp(), &seen) else {
        return Ok(None);
    };
    let Some(step) = totp::check(&secret, code, now, None) else {
        return Ok(None);
    };
    let codes = totp::new_recovery_codes()
        .await
        .map_err(DomainError::Internal)?;
    let mut tx = db.begin().await?;
    let account = repo::find(&mut tx, p.account_id).await?;
    if account.totp_enabled_at.is_some() {
        return Err(already());
    }
    if account.totp_secret != seen.totp_secret {
        // A new pending secret was shown meanwhile (another tab): this code is for the old one.
        return Ok(None);
    }
    repo::enable_totp(&mut tx, account.id, step, now).await?;
    let hashes: Vec<String> = codes.iter().map(|(_, h)| h.clone()).collect();
    repo::replace_recovery_codes(&mut tx, account.id, &hashes).await?;
    sessions::mark_mfa(&mut tx, p.session_id, now).await?;
    let actor = Actor::of(p, client);
    audit::record(
        &mut tx,
        now,
        &actor,
        "auth.totp_enrolled",
        &format!("account:{}", account.id),
        json!({"recovery_codes": codes.len()}),
    )
    .await?;
    let token = super::service_sessions::rotate(&mut tx, p, &actor, "totp_enrolled", now).await?;
    tx.commit().await?;
    Ok(Some((codes.into_iter().map(|(c, _)| c).collect(), token)))
}

pub async fn logout(
    db: &Db,
    p: &Principal,
    client: &str,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    if sessions::end(&mut tx, p.session_id, now, "logout").await? {
        let details = json!({"session_id": p.session_id, "duration_seconds": now.since(p.session_started).as_secs()});
        audit::record(
            &mut tx,
            now,
            &Actor::of(p, client),
            "auth.logout",
            &format!("session:{}", p.session_id),
            details,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An administrator (or the CLI) lifts a lock.
pub async fn unlock(
    db: &Db,
    account_id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let mut tx = db.begin().await?;
    let account = repo::find(&mut tx, account_id).await?;
    let done = repo::unlock(&mut tx, account_id, now).await?;
    if done {
        let details = json!({"login_id": account.login_id, "locked_at": account.locked_at.map(|t| t.to_db())});
        audit::record(
            &mut tx,
            now,
            actor,
            "auth.account_unlocked",
            &format!("account:{account_id}"),
            details,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}

pub async fn unlock_by_login_id(
    db: &Db,
    login_id: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let mut conn = db.pool().acquire().await?;
    let account = repo::find_by_login_id(&mut conn, login_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    drop(conn);
    unlock(db, account.id, actor, now).await
}

/// Records an account inventory review (棚卸し): the outcome the administrator wrote and a
/// summary of the sections as they stand now.
pub async fn review_inventory(
    db: &Db,
    outcome: &str,
    inactive_days: i64,
    reviewer_id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let outcome: String = outcome.trim().chars().take(1000).collect();
    if outcome.is_empty() {
        return Err(DomainError::invalid(
            "outcome",
            "確認の結果を入力してください。",
        ));
    }
    let mut tx = db.begin().await?;
    let rows = repo::inventory(&mut tx).await?;
    let sections = super::review::classify(&rows, now, inactive_days);
    let summary = sections
        .iter()
        .map(|s| format!("{} {}件", s.title, s.lines.len()))
        .collect::<Vec<_>>()
        .join("、");
    let id = repo::insert_review(&mut tx, reviewer_id, now, &outcome, &summary).await?;
    let details = json!({"outcome": outcome, "summary": summary});
    audit::record(
        &mut tx,
        now,
        actor,
        "account.inventory_reviewed",
        &format!("review:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The `sessions.expire` job: ends sessions past their idle or absolute limit, each with its
/// `auth.session_expired` event, so that the access log shows them ended even if nobody returns.
pub async fn expire_sessions(
    state: &crate::state::AppState,
    now: Timestamp,
) -> anyhow::Result<String> {
    let sec = &state.settings.security;
    let idle_before = now.minus(SignedDuration::from_mins(sec.session_idle_minutes));
    let started_before = now.minus(SignedDuration::from_hours(sec.session_absolute_hours));
    let mut tx = state.db.begin().await?;
    let expired = sessions::list_expired(&mut tx, idle_before, started_before).await?;
    for s in &expired {
        let Ok(role) = s.role.parse::<Role>() else {
            continue;
        };
        let reason = if s.last_seen_at < idle_before {
            "idle_timeout"
        } else {
            "absolute_timeout"
        };
        crate::web::session::expire(&mut tx, s, role, now, reason, "local").await?;
    }
    tx.commit().await?;
    Ok(format!("{} 件のセッションを終了しました", expired.len()))
}
