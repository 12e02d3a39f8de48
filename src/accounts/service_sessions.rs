//! The sessions of one's own account (X.1): the session token is rotated when a password is
//! changed, a log-in ends the session the browser had before and the account's oldest sessions
//! beyond `max_sessions_per_account`, and everyone can list and end their own sessions.
//! Each change writes its audit event in the same transaction; `now` is passed in.
//!
//! Audit actions: `auth.session_rotated` (old and new id, why), `auth.session_ended` (a session
//! ended by its owner, by a new log-in in the same browser, or by the cap; the reason says which),
//! `access.denied` (another account's session id: answered 404 like a missing one, through
//! `web::ObjectGuard`).

use jiff::SignedDuration;
use serde_json::json;

use crate::audit::{self, Actor};
use crate::auth::{self, Principal, SecuritySettings, repo as sessions};
use crate::db::{Db, Timestamp, Tx};
use crate::error::DomainError;
use crate::web::ObjectGuard;

pub use crate::auth::repo::SessionLine;

/// Why a session ended, as stored in `sessions.end_reason` (the access log labels them).
pub mod reason {
    /// The token was replaced by a new one (the new row continues the same log-in).
    pub const ROTATED: &str = "rotated";
    /// The browser logged in again while it still had this session.
    pub const REPLACED_BY_LOGIN: &str = "replaced_by_login";
    /// A new log-in went beyond `max_sessions_per_account`: the session that started first ends.
    pub const SESSION_LIMIT: &str = "session_limit";
    /// Ended by its owner on the "my sessions" page.
    pub const ENDED_BY_USER: &str = "ended_by_user";
}

/// (used since, started since): a session older than either has expired, whether or not the
/// `sessions.expire` job has ended its row yet.
fn live_bounds(sec: &SecuritySettings, now: Timestamp) -> (Timestamp, Timestamp) {
    (
        now.minus(SignedDuration::from_mins(sec.session_idle_minutes)),
        now.minus(SignedDuration::from_hours(sec.session_absolute_hours)),
    )
}

async fn record_end(
    tx: &mut Tx,
    actor: &Actor,
    session_id: i64,
    details: serde_json::Value,
    now: Timestamp,
) -> sqlx::Result<()> {
    audit::record(
        tx,
        now,
        actor,
        "auth.session_ended",
        &format!("session:{session_id}"),
        details,
    )
    .await?;
    Ok(())
}

/// In the transaction of a successful log-in that opened `new_session`: ends the session the
/// browser presented (`replaced`, if still open) and then, while the account has more live
/// sessions than `max_sessions_per_account`, the one that started first. The new session is
/// never the one ended: the person who just proved their password is not the one refused, and
/// an old, forgotten browser is (the choice is documented in the example configuration).
pub(super) async fn after_login(
    tx: &mut Tx,
    sec: &SecuritySettings,
    actor: &Actor,
    account_id: i64,
    new_session: i64,
    replaced: Option<i64>,
    now: Timestamp,
) -> sqlx::Result<()> {
    if let Some(old) = replaced.filter(|old| *old != new_session)
        && sessions::end(tx, old, now, reason::REPLACED_BY_LOGIN).await?
    {
        let details = json!({"session_id": old, "reason": reason::REPLACED_BY_LOGIN,
                             "new_session_id": new_session});
        record_end(tx, actor, old, details, now).await?;
    }
    let limit = sec.max_sessions_per_account;
    if limit <= 0 {
        return Ok(());
    }
    let (idle_after, started_after) = live_bounds(sec, now);
    let live = sessions::list_live_for_account(tx, account_id, idle_after, started_after).await?;
    let excess = live
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(usize::MAX));
    let oldest: Vec<i64> = live
        .iter()
        .filter(|s| s.id != new_session)
        .take(excess)
        .map(|s| s.id)
        .collect();
    for id in oldest {
        if sessions::end(tx, id, now, reason::SESSION_LIMIT).await? {
            let details = json!({"session_id": id, "reason": reason::SESSION_LIMIT,
                                 "limit": limit, "new_session_id": new_session});
            record_end(tx, actor, id, details, now).await?;
        }
    }
    Ok(())
}

/// Replaces the caller's session token (in the caller's transaction): the old row ends with
/// reason `rotated`, a new row continues the same log-in (see `repo::insert_rotated`). Returns
/// the new cookie token.
pub(super) async fn rotate(
    tx: &mut Tx,
    p: &Principal,
    actor: &Actor,
    why: &str,
    now: Timestamp,
) -> Result<String, DomainError> {
    let (token, hash) = auth::new_token();
    let new_id = sessions::insert_rotated(tx, p.session_id, &hash, now, &actor.client_addr)
        .await
        .map_err(|e| match e {
            sqlx::Error::RowNotFound => {
                DomainError::conflict("このセッションはすでに終了しています。")
            }
            e => e.into(),
        })?;
    sessions::end(tx, p.session_id, now, reason::ROTATED).await?;
    audit::record(
        tx,
        now,
        actor,
        "auth.session_rotated",
        &format!("session:{new_id}"),
        json!({"old_session_id": p.session_id, "new_session_id": new_id, "reason": why}),
    )
    .await?;
    Ok(token)
}

/// The caller's live sessions, the one that started first first.
pub async fn own_sessions(
    db: &Db,
    sec: &SecuritySettings,
    p: &Principal,
    now: Timestamp,
) -> Result<Vec<SessionLine>, DomainError> {
    let (idle_after, started_after) = live_bounds(sec, now);
    let mut conn = db.pool().acquire().await?;
    Ok(sessions::list_live_for_account(&mut conn, p.account_id, idle_after, started_after).await?)
}

/// A session is its account's own.
impl auth::Owned for SessionLine {
    fn owner(&self) -> auth::Owner {
        auth::Owner::Account(self.account_id)
    }

    fn audit_target(&self) -> String {
        format!("session:{}", self.id)
    }
}

/// Ends one of the caller's other sessions; `Ok(false)` if it had already ended. A session id of
/// another account reads as one that does not exist (`NotFound`), and the attempt is audited
/// (`access.denied`, by the object guard of the request).
pub async fn end_own(
    db: &Db,
    sec: &SecuritySettings,
    (p, guard): (&Principal, &ObjectGuard),
    actor: &Actor,
    id: i64,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let mut tx = db.begin().await?;
    let found = sessions::find_line(&mut tx, id).await?;
    let (mut tx, s) = guard.check_in(tx, found).await?;
    if s.id == p.session_id {
        return Err(DomainError::conflict(
            "このセッションを終了するには「ログアウト」を押してください。",
        ));
    }
    let (idle_after, started_after) = live_bounds(sec, now);
    let live = s.last_seen_at >= idle_after && s.created_at >= started_after;
    // An expired session is left to the `sessions.expire` job, which records the true reason.
    let ended = live && sessions::end(&mut tx, s.id, now, reason::ENDED_BY_USER).await?;
    if ended {
        let details = json!({"session_id": s.id, "reason": reason::ENDED_BY_USER,
                             "by_session_id": p.session_id});
        record_end(&mut tx, actor, s.id, details, now).await?;
    }
    tx.commit().await?;
    Ok(ended)
}

/// Ends every other live session of the caller; returns how many.
pub async fn end_others(
    db: &Db,
    sec: &SecuritySettings,
    p: &Principal,
    actor: &Actor,
    now: Timestamp,
) -> Result<usize, DomainError> {
    let (idle_after, started_after) = live_bounds(sec, now);
    let mut tx = db.begin().await?;
    let live =
        sessions::list_live_for_account(&mut tx, p.account_id, idle_after, started_after).await?;
    let mut n = 0;
    for s in live.iter().filter(|s| s.id != p.session_id) {
        if sessions::end(&mut tx, s.id, now, reason::ENDED_BY_USER).await? {
            let details = json!({"session_id": s.id, "reason": reason::ENDED_BY_USER,
                                 "by_session_id": p.session_id, "all_others": true});
            record_end(&mut tx, actor, s.id, details, now).await?;
            n += 1;
        }
    }
    tx.commit().await?;
    Ok(n)
}
