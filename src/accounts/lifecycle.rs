//! The life of an account outside log-in: creation with a one-time password (R12.1), disabling
//! (R12.2), attribute changes (R12.4), letters, password resets. Each has an `_in` form that runs
//! on the caller's transaction, so that processing a request is one transaction.

use jiff::SignedDuration;
use serde_json::json;

use super::model::LoginId;
use super::repo::{self, NewAccount};
use crate::audit::{self, Actor};
use crate::auth::{Password, Role, credentials, password, repo as sessions};
use crate::db::{Conn, Constraint, Db, Timestamp, Tx, constraint};
use crate::error::DomainError;

/// How long a one-time password stays valid unused (R12.1: 30 days by default).
pub const ONE_TIME_PASSWORD_DAYS: i64 = 30;

/// What `create_account` hands back: the one-time password exists in clear only here.
pub struct Created {
    pub account_id: i64,
    pub login_id: String,
    pub one_time_password: String,
    pub expires_at: Timestamp,
}

/// An account to create. Without a chosen log-in ID a 10-character ID is generated (R12.1).
pub struct AccountSpec<'a> {
    pub login_id: Option<LoginId>,
    pub display_name: &'a str,
    pub role: Role,
    pub facility_code: Option<&'a str>,
    pub name_kana: &'a str,
    pub job_type: &'a str,
    pub contact: &'a str,
    /// How long the one-time password stays valid unused.
    pub otp_days: i64,
}

impl<'a> AccountSpec<'a> {
    /// An account with the default one-time-password validity and no personal attributes.
    pub fn new(
        login_id: Option<LoginId>,
        display_name: &'a str,
        role: Role,
        facility_code: Option<&'a str>,
    ) -> Self {
        AccountSpec {
            login_id,
            display_name,
            role,
            facility_code,
            name_kana: "",
            job_type: "",
            contact: "",
            otp_days: ONE_TIME_PASSWORD_DAYS,
        }
    }
}

/// A fresh one-time password and its hash. It is made before the transaction that stores it:
/// hashing costs ~20 ms of CPU, which must not be spent holding the writer lock.
pub struct OneTimePassword {
    clear: String,
    hash: String,
}

impl OneTimePassword {
    pub async fn generate() -> Result<OneTimePassword, DomainError> {
        let clear = credentials::generate_password(&mut rand::rngs::OsRng);
        let hash = password::hash_async(&Password::new(clear.clone())).await?;
        Ok(OneTimePassword { clear, hash })
    }

    /// `n` of them, hashed side by side (as many at once as there are cores).
    pub async fn generate_many(n: usize) -> Result<Vec<OneTimePassword>, DomainError> {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            set.spawn(OneTimePassword::generate());
        }
        let mut all = Vec::with_capacity(n);
        while let Some(done) = set.join_next().await {
            all.push(done.map_err(|e| DomainError::Internal(e.into()))??);
        }
        Ok(all)
    }

    pub(super) fn hash(&self) -> &str {
        &self.hash
    }

    pub(super) fn into_clear(self) -> String {
        self.clear
    }
}

/// Creates an account with a one-time password (must be changed at first log-in).
pub async fn create_account(
    db: &Db,
    spec: &AccountSpec<'_>,
    actor: &Actor,
    now: Timestamp,
) -> Result<Created, DomainError> {
    let otp = OneTimePassword::generate().await?;
    let mut tx = db.begin().await?;
    let created = create_account_in(&mut tx, spec, otp, actor, now).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`create_account`] inside the caller's transaction (e.g. processing a request), with a
/// one-time password made beforehand.
pub async fn create_account_in(
    conn: &mut Tx,
    spec: &AccountSpec<'_>,
    otp: OneTimePassword,
    actor: &Actor,
    now: Timestamp,
) -> Result<Created, DomainError> {
    create_with_reason_in(conn, spec, otp, None, actor, now).await
}

/// [`create_account_in`] with the reason an administrator gave (issue 15 item 4: the account
/// page's "new account"), written into the `account.created` event.
pub async fn create_with_reason_in(
    conn: &mut Tx,
    spec: &AccountSpec<'_>,
    otp: OneTimePassword,
    reason: Option<&str>,
    actor: &Actor,
    now: Timestamp,
) -> Result<Created, DomainError> {
    let mut rng = rand::rngs::OsRng;
    let facility_id = match spec.facility_code {
        Some(code) => Some(
            crate::facilities::id_by_code(conn, code)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid(
                        "facility_code",
                        format!("施設コード {code} の施設が見つかりません。"),
                    )
                })?,
        ),
        None => None,
    };
    if spec.role.needs_facility() && facility_id.is_none() {
        return Err(DomainError::invalid(
            "facility_code",
            format!("{}には所属施設が必要です。", spec.role.label()),
        ));
    }
    let login_id = match &spec.login_id {
        Some(id) => {
            if repo::login_id_exists(conn, id.as_str()).await? {
                return Err(DomainError::Conflict(format!(
                    "ログインID {id} はすでに使われています。"
                )));
            }
            id.as_str().to_string()
        }
        // Never reuse an ID: accounts are never deleted, so checking them covers every ID ever
        // issued. Checking first (rather than retrying on a unique error) keeps a PostgreSQL
        // transaction usable.
        None => loop {
            let candidate = credentials::generate_login_id(&mut rng);
            if !repo::login_id_exists(conn, &candidate).await? {
                break candidate;
            }
        },
    };
    let expires = now.plus(SignedDuration::from_hours(24 * spec.otp_days.max(1)));
    let new = NewAccount {
        login_id: &login_id,
        display_name: spec.display_name,
        name_kana: spec.name_kana,
        job_type: spec.job_type,
        contact: spec.contact,
        role: spec.role,
        facility_id,
        password_hash: &otp.hash,
        must_change_password: true,
        password_expires_at: Some(expires),
    };
    let id = match repo::insert(conn, &new, now).await {
        Ok(id) => id,
        Err(e) if constraint(&e) == Some(Constraint::Unique) => {
            return Err(DomainError::Conflict(format!(
                "ログインID {login_id} はすでに使われています。"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let mut details =
        json!({"login_id": login_id, "role": spec.role.key(), "facility_id": facility_id});
    if let (Some(r), Some(d)) = (reason, details.as_object_mut()) {
        d.insert("reason".into(), json!(r));
    }
    audit::record(
        conn,
        now,
        actor,
        "account.created",
        &format!("account:{id}"),
        details,
    )
    .await?;
    Ok(Created {
        account_id: id,
        login_id,
        one_time_password: otp.clear,
        expires_at: expires,
    })
}

/// Disables an account at once: its sessions end and log-in is refused; nothing is deleted (R12.2).
pub async fn disable_in(
    conn: &mut Tx,
    account_id: i64,
    actor: &Actor,
    now: Timestamp,
    reason: &str,
) -> Result<bool, DomainError> {
    let account = repo::find(conn, account_id).await?;
    if !repo::disable(conn, account_id, now, reason).await? {
        return Ok(false);
    }
    let ended =
        sessions::end_all_for_account(conn, account_id, None, now, "account_disabled").await?;
    let details =
        json!({"login_id": account.login_id, "reason": reason, "sessions_ended": ended.len()});
    audit::record(
        conn,
        now,
        actor,
        "account.disabled",
        &format!("account:{account_id}"),
        details,
    )
    .await?;
    Ok(true)
}

pub struct PersonAttributes<'a> {
    pub name: &'a str,
    pub kana: &'a str,
    pub job_type: &'a str,
    pub contact: &'a str,
}

/// Changes name, kana, job type and contact (R12.4; the caller has checked identity verification).
pub async fn update_attributes_in(
    conn: &mut Tx,
    account_id: i64,
    person: &PersonAttributes<'_>,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let before = repo::person(conn, account_id).await?;
    repo::update_attributes(
        conn,
        account_id,
        person.name,
        person.kana,
        person.job_type,
        person.contact,
    )
    .await?;
    let details = json!({
        "before": {"name": before.display_name, "kana": before.name_kana, "job_type": before.job_type, "contact": before.contact},
        "after": {"name": person.name, "kana": person.kana, "job_type": person.job_type, "contact": person.contact},
    });
    audit::record(
        conn,
        now,
        actor,
        "account.attributes_changed",
        &format!("account:{account_id}"),
        details,
    )
    .await?;
    Ok(())
}

/// Records that the sealed letter of an account was produced (never its content), and why.
pub async fn mark_letter_issued_in(
    conn: &mut Tx,
    account_id: i64,
    actor: &Actor,
    now: Timestamp,
    reason: &str,
) -> Result<(), DomainError> {
    repo::mark_letter_issued(conn, account_id, now).await?;
    audit::record(
        conn,
        now,
        actor,
        "account.letter_issued",
        &format!("account:{account_id}"),
        json!({"reason": reason}),
    )
    .await?;
    Ok(())
}

pub use repo::Person;

pub async fn person(conn: &mut Conn, account_id: i64) -> Result<Person, DomainError> {
    Ok(repo::person(conn, account_id).await?)
}

/// The account, or None: for a handler that checks it with `web::ObjectGuard`.
pub async fn find_person(conn: &mut Conn, account_id: i64) -> Result<Option<Person>, DomainError> {
    match repo::person(conn, account_id).await {
        Ok(p) => Ok(Some(p)),
        Err(sqlx::Error::RowNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// An account of a facility (user, facility manager) is the facility's; any other account is
/// the network's (staff).
impl crate::auth::Owned for Person {
    fn owner(&self) -> crate::auth::Owner {
        let facility_role = self.role.parse::<Role>().is_ok_and(Role::needs_facility);
        match self.facility_id {
            Some(f) if facility_role => crate::auth::Owner::Facility(f),
            _ => crate::auth::Owner::Network,
        }
    }

    fn audit_target(&self) -> String {
        format!("account:{}", self.id)
    }
}

pub async fn people_of_facility(
    conn: &mut Conn,
    facility_id: i64,
) -> Result<Vec<Person>, DomainError> {
    Ok(repo::people_of_facility(conn, facility_id).await?)
}

/// Issues a new one-time password (a lost letter, a forgotten password): the old one stops
/// working, a lock is lifted, open sessions end. Returns the new password, shown only once.
pub async fn reset_password(
    db: &Db,
    account_id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<(String, Timestamp), DomainError> {
    let otp = OneTimePassword::generate().await?;
    let mut tx = db.begin().await?;
    let result =
        reset_password_in(&mut tx, account_id, otp, ONE_TIME_PASSWORD_DAYS, actor, now).await?;
    tx.commit().await?;
    Ok(result)
}

/// [`reset_password`] inside the caller's transaction (re-issuing a lost letter), with a
/// one-time password made beforehand.
pub async fn reset_password_in(
    conn: &mut Tx,
    account_id: i64,
    otp: OneTimePassword,
    otp_days: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<(String, Timestamp), DomainError> {
    let account = repo::find(conn, account_id).await?;
    if account.disabled_at.is_some() {
        return Err(DomainError::Conflict(
            "利用停止中のアカウントには再発行できません。".into(),
        ));
    }
    let expires = now.plus(SignedDuration::from_hours(24 * otp_days.max(1)));
    repo::reset_password(conn, account_id, &otp.hash, expires, now).await?;
    let ended =
        sessions::end_all_for_account(conn, account_id, None, now, "password_reset").await?;
    let details = json!({"login_id": account.login_id, "sessions_ended": ended.len(), "expires_at": expires.to_db()});
    audit::record(
        conn,
        now,
        actor,
        "account.password_reset",
        &format!("account:{account_id}"),
        details,
    )
    .await?;
    Ok((otp.clear, expires))
}

/// Removes an account's second factor after the person was identified in person (a lost phone
/// without recovery codes, or a TOTP key that was lost): ends its sessions; staff enrol again
/// at their next log-in. Returns whether there was a second factor to remove.
pub async fn reset_totp(
    db: &Db,
    account_id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let mut tx = db.begin().await?;
    let account = repo::find(&mut tx, account_id).await?;
    let removed = repo::reset_totp(&mut tx, account_id).await?;
    if !removed {
        return Ok(false);
    }
    let ended = sessions::end_all_for_account(&mut tx, account_id, None, now, "totp_reset").await?;
    let details = json!({"login_id": account.login_id, "sessions_ended": ended.len()});
    audit::record(
        &mut tx,
        now,
        actor,
        "account.totp_reset",
        &format!("account:{account_id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The id of an account by log-in ID.
pub async fn id_by_login_id(db: &Db, login_id: &str) -> Result<Option<i64>, DomainError> {
    let mut conn = db.pool().acquire().await?;
    Ok(repo::find_by_login_id(&mut conn, login_id)
        .await?
        .map(|a| a.id))
}
