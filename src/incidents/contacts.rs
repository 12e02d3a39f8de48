//! The contact tree of 別紙4 and the contacts made along it for an incident (R17.2).
//!
//! - The tree is ordered levels (1 is called first) of organisations and people, each with a
//!   phone, FAX and/or e-mail. System administrators add, edit, reorder and deactivate entries;
//!   nothing is deleted, so every notification keeps the contact it was made to.
//! - For an incident, [`notify`] queues one mail per active contact with an e-mail address in the
//!   outbox and records each as a notification with its mail id. Such a mail counts as
//!   送信待ち until the outbox marks it sent (`mail_outbox.state`), then as 伝達済 (送信済).
//! - Phone and FAX are a checklist: the operator records who was reached, when, by which means
//!   and the result ([`record`]). Nothing counts as notified until it is recorded; the incident
//!   shows who has not been reached yet (`contacts_panel::panel`).
//! - Every change is one transaction with its audit event; contacts made are also entries of the
//!   incident's 経過 (kind `contact`).
//!
//! This file edits the tree (and holds who may do what); notifying along it — [`Means`],
//! [`Outcome`], [`notify`], [`record`] — is in `contacts_notify.rs`, re-exported here.

use serde_json::json;

use super::model::Incident;
pub use super::repo_contacts::CheckedContact;
use super::repo_contacts::{self as crepo, Contact};
use crate::audit::{self, Actor};
use crate::auth::{Owned, Owner, Role};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;
use crate::mail::Address;

pub use super::contacts_notify::{Means, Outcome, QUEUED, RecordFields, notify, record};

/// Who reads the contact tree and an incident's checklist (the staff that follow incidents).
pub const READERS: &[Role] = &[
    Role::SystemAdmin,
    Role::SystemOperator,
    Role::ServiceOperator,
    Role::OpsManager,
];
/// Who edits the tree, posts the portal notice and sends the mails (article 17: the system
/// administrator runs incidents).
pub const EDITORS: &[Role] = &[Role::SystemAdmin];
/// Who records a call, FAX or mail made (the operators on the phone too).
pub const RECORDERS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];

/// The deepest level of the tree.
pub const MAX_LEVEL: i64 = 9;

/// An incident as an object of the whole network (staff-only routes).
pub struct IncidentRef(pub Incident);

impl Owned for IncidentRef {
    fn owner(&self) -> Owner {
        Owner::Network
    }
    fn audit_target(&self) -> String {
        format!("incident:{}", self.0.id)
    }
}

impl Owned for Contact {
    fn owner(&self) -> Owner {
        Owner::Network
    }
    fn audit_target(&self) -> String {
        format!("incident_contact:{}", self.id)
    }
}

/// A contact's fields as entered (trimmed and checked by [`ContactFields::check`]).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ContactFields {
    pub level: String,
    pub organisation: String,
    pub person: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub note: String,
}

fn phone_like(s: &str) -> bool {
    s.len() <= 30
        && s.chars()
            .all(|c| c.is_ascii_digit() || "-()+ 　－（）".contains(c))
        && s.chars().any(|c| c.is_ascii_digit())
}

impl ContactFields {
    pub fn check(&self) -> Result<CheckedContact, DomainError> {
        let level = self
            .level
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LEVEL).contains(l))
            .ok_or_else(|| {
                DomainError::invalid(
                    "level",
                    format!("段階は 1 から {MAX_LEVEL} の数字で入力してください。"),
                )
            })?;
        let organisation = self.organisation.trim().to_string();
        if organisation.is_empty() || organisation.chars().count() > 100 {
            return Err(DomainError::invalid(
                "organisation",
                "連絡先（組織）を 100 文字以内で入力してください。",
            ));
        }
        let person = self.person.trim().to_string();
        if person.chars().count() > 100 {
            return Err(DomainError::invalid(
                "person",
                "担当者は 100 文字以内で入力してください。",
            ));
        }
        let phone = self.phone.trim().to_string();
        if !phone.is_empty() && !phone_like(&phone) {
            return Err(DomainError::invalid(
                "phone",
                "電話番号は数字とハイフンで入力してください。",
            ));
        }
        let fax = self.fax.trim().to_string();
        if !fax.is_empty() && !phone_like(&fax) {
            return Err(DomainError::invalid(
                "fax",
                "FAX 番号は数字とハイフンで入力してください。",
            ));
        }
        let email = self.email.trim().to_string();
        if !email.is_empty() && Address::parse(&email).is_err() {
            return Err(DomainError::invalid(
                "email",
                "メールアドレスの形式が正しくありません。",
            ));
        }
        if phone.is_empty() && fax.is_empty() && email.is_empty() {
            return Err(DomainError::invalid(
                "phone",
                "電話・FAX・メールのいずれかを入力してください。",
            ));
        }
        let note = self.note.trim().to_string();
        if note.chars().count() > 500 {
            return Err(DomainError::invalid(
                "note",
                "備考は 500 文字以内で入力してください。",
            ));
        }
        Ok(CheckedContact {
            level,
            organisation,
            person,
            phone,
            fax,
            email,
            note,
        })
    }
}

fn contact_details(c: &CheckedContact) -> serde_json::Value {
    json!({
        "level": c.level, "organisation": c.organisation, "person": c.person,
        "phone": c.phone, "fax": c.fax, "email": c.email,
    })
}

/// Adds a contact at the end of its level.
pub async fn add(
    db: &Db,
    f: &ContactFields,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let c = f.check()?;
    let mut tx = db.begin().await?;
    let position = crepo::max_position(&mut tx, c.level).await? + 1;
    let id = crepo::insert_contact(&mut tx, &c, position, &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.contact_added",
        &format!("incident_contact:{id}"),
        contact_details(&c),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves a contact based on `base_revision` (a stale form is a `Conflict`). A change of level
/// puts it at the end of its new level.
pub async fn update(
    db: &Db,
    id: i64,
    base_revision: i64,
    f: &ContactFields,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let c = f.check()?;
    let mut tx = db.begin().await?;
    let old = crepo::find_contact(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let position = if old.level == c.level {
        old.position
    } else {
        crepo::max_position(&mut tx, c.level).await? + 1
    };
    if !crepo::update_contact(&mut tx, id, base_revision, &c, position, now).await? {
        return Err(DomainError::conflict(
            "編集中に他の人が保存しました。一覧で最新の内容を確認してから、もう一度保存してください。",
        ));
    }
    let mut details = contact_details(&c);
    details["revision"] = json!(base_revision + 1);
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.contact_updated",
        &format!("incident_contact:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a contact one place up or down within its level (among the active ones).
pub async fn move_within_level(
    db: &Db,
    id: i64,
    up: bool,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let c = crepo::find_contact(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let level: Vec<Contact> = crepo::list_contacts(&mut tx)
        .await?
        .into_iter()
        .filter(|x| x.level == c.level && x.deactivated_at.is_none())
        .collect();
    let Some(i) = level.iter().position(|x| x.id == id) else {
        return Err(DomainError::conflict(
            "使用を停止した連絡先は並べ替えできません。",
        ));
    };
    let j = if up {
        i.checked_sub(1)
    } else {
        (i + 1 < level.len()).then_some(i + 1)
    };
    let Some(j) = j else {
        // Already first (or last): nothing to do.
        return Ok(());
    };
    let other = &level[j];
    crepo::set_position(&mut tx, c.id, other.position, now).await?;
    crepo::set_position(&mut tx, other.id, c.position, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.contact_moved",
        &format!("incident_contact:{id}"),
        json!({"level": c.level, "direction": if up { "up" } else { "down" }, "swapped_with": other.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deactivates (or reactivates) a contact: it is no longer called, and kept.
pub async fn set_active(
    db: &Db,
    id: i64,
    active: bool,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let c = crepo::find_contact(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if c.deactivated_at.is_none() == active {
        return Ok(());
    }
    let position = if active {
        crepo::max_position(&mut tx, c.level).await? + 1
    } else {
        c.position
    };
    crepo::set_deactivated(&mut tx, id, (!active).then_some(now), position, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        if active {
            "incident.contact_reactivated"
        } else {
            "incident.contact_deactivated"
        },
        &format!("incident_contact:{id}"),
        json!({"organisation": c.organisation, "person": c.person}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn r17_2_a_contact_needs_an_organisation_and_one_way_to_reach_it() {
        let mut f = ContactFields {
            level: "1".into(),
            organisation: "清須市 健康福祉部".into(),
            ..Default::default()
        };
        assert!(f.check().is_err(), "no phone, FAX or mail");
        f.phone = "052-400-1234".into();
        assert_eq!(f.check().expect("ok").level, 1);
        f.email = "x@y".into();
        assert!(f.check().is_err(), "bad mail");
        f.email = "kenko@city.kiyosu.example.jp".into();
        f.level = "0".into();
        assert!(f.check().is_err(), "level 0");
        f.level = "2".into();
        f.fax = "=1+1".into();
        assert!(f.check().is_err(), "FAX must look like a number");
    }
}
