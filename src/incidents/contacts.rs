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

use serde_json::json;

use super::model::Incident;
use super::notices;
use super::repo;
pub use super::repo_contacts::CheckedContact;
use super::repo_contacts::{self as crepo, Contact};
use crate::audit::{self, Actor};
use crate::auth::{Owned, Owner, Role};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;
use crate::mail::{self, Address, Outgoing};

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

/// How a contact was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Means {
    Phone,
    Fax,
    Mail,
}

impl Means {
    pub const ALL: [Means; 3] = [Means::Phone, Means::Fax, Means::Mail];

    pub fn key(self) -> &'static str {
        match self {
            Means::Phone => "phone",
            Means::Fax => "fax",
            Means::Mail => "mail",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Means::Phone => "電話",
            Means::Fax => "FAX",
            Means::Mail => "メール",
        }
    }

    pub fn parse(s: &str) -> Option<Means> {
        Means::ALL.into_iter().find(|m| m.key() == s)
    }
}

/// The result the operator records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Absent,
    Callback,
    Unreachable,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Delivered,
        Outcome::Absent,
        Outcome::Callback,
        Outcome::Unreachable,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Absent => "absent",
            Outcome::Callback => "callback",
            Outcome::Unreachable => "unreachable",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Delivered => "伝達済",
            Outcome::Absent => "不在",
            Outcome::Callback => "折り返し待ち",
            Outcome::Unreachable => "不通・送信できず",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|m| m.key() == s)
    }
}

/// The `result` of a notification queued in the outbox.
pub const QUEUED: &str = "queued";

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

/// The mail to the tree about an incident: status, what is affected, the expected recovery.
pub fn mail_text(i: &Incident, expected_recovery: &str, now: Timestamp) -> (String, String) {
    let subject = format!(
        "【障害連絡】{} {}（{}）",
        i.number,
        i.title,
        i.status().label()
    );
    let mut body = String::new();
    body.push_str("関係各位\n\nレインボーネットで障害が発生しています。状況をお知らせします。\n\n");
    body.push_str(&format!("障害番号: {}\n件名: {}\n", i.number, i.title));
    body.push_str(&format!(
        "状況: {}（{} 時点）\n",
        i.status().label(),
        now.jst()
    ));
    body.push_str(&format!(
        "発生日時: {}\n",
        i.occurred_at.unwrap_or(i.discovered_at).jst()
    ));
    body.push_str(&format!("障害内容: {}\n", i.description));
    let impact = notices::affected_text(i);
    body.push_str(&format!("影響範囲: {impact}\n"));
    if let Some(r) = i.recovered_at {
        body.push_str(&format!("復旧日時: {}\n", r.jst()));
    } else if !expected_recovery.trim().is_empty() {
        body.push_str(&format!("復旧見込み: {}\n", expected_recovery.trim()));
    }
    body.push_str(
        "\nこのメールは送信専用です。ご不明な点はシステム管理者までお問い合わせください。\n",
    );
    (subject, body)
}

/// Queues one mail per active contact with an e-mail address, each recorded as a notification
/// with its outbox id; returns how many were queued.
pub async fn notify(
    db: &Db,
    incident_id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<usize, DomainError> {
    let mut tx = db.begin().await?;
    let i = repo::find(&mut tx, incident_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let expected = crepo::find_notice(&mut tx, incident_id)
        .await?
        .map(|n| n.expected_recovery)
        .unwrap_or_default();
    let (subject, body) = mail_text(&i, &expected, now);
    let contacts: Vec<Contact> = crepo::list_contacts(&mut tx)
        .await?
        .into_iter()
        .filter(|c| c.deactivated_at.is_none() && !c.email.is_empty())
        .collect();
    if contacts.is_empty() {
        return Err(DomainError::conflict(
            "メールアドレスのある連絡先がありません。連絡体制に登録してください。",
        ));
    }
    let mut queued = Vec::new();
    for c in &contacts {
        let Ok(to) = Address::parse(&c.email) else {
            continue;
        };
        let mail = Outgoing {
            source: "incident.contact",
            source_ref: Some(format!("incident:{}", i.id)),
            to: vec![to],
            subject: subject.clone(),
            body: body.clone(),
        };
        if let Some(mail_id) = mail::enqueue(&mut tx, &mail, now).await? {
            crepo::insert_notification(
                &mut tx,
                &crepo::NewNotification {
                    incident_id: i.id,
                    contact_id: c.id,
                    means: Means::Mail.key(),
                    mail_id: Some(mail_id),
                    result: QUEUED,
                    reached_person: &c.person,
                    reached_at: now,
                    note: "",
                },
                &actor.login,
                now,
            )
            .await?;
            queued.push((c.id, mail_id));
        }
    }
    repo::add_timeline(
        &mut tx,
        i.id,
        now,
        "contact",
        &format!(
            "連絡体制に沿って {} 件のメールを送信待ちにしました（{}）。",
            queued.len(),
            i.status().label()
        ),
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.contacts_mailed",
        &format!("incident:{}", i.id),
        json!({"mails": queued.iter().map(|(c, m)| json!({"contact_id": c, "mail_id": m})).collect::<Vec<_>>(), "status": i.status().key()}),
    )
    .await?;
    tx.commit().await?;
    Ok(queued.len())
}

/// A contact made by phone, FAX or mail, as the operator records it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RecordFields {
    pub contact_id: String,
    pub means: String,
    pub result: String,
    pub reached_person: String,
    /// `datetime-local` (Japan time); empty: now.
    pub reached_at: String,
    pub note: String,
}

/// Records a contact made (the checklist's tick) with its timeline entry and audit event.
pub async fn record(
    db: &Db,
    incident_id: i64,
    f: &RecordFields,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let means = Means::parse(&f.means)
        .ok_or_else(|| DomainError::invalid("means", "手段を選んでください。"))?;
    let outcome = Outcome::parse(&f.result)
        .ok_or_else(|| DomainError::invalid("result", "結果を選んでください。"))?;
    let reached_at = if f.reached_at.trim().is_empty() {
        now
    } else {
        crate::portal::model::parse_local(&f.reached_at)
            .ok_or_else(|| DomainError::invalid("reached_at", "日時の形式が正しくありません。"))?
    };
    if reached_at > now.plus_minutes(5) {
        return Err(DomainError::invalid(
            "reached_at",
            "未来の日時は記録できません。",
        ));
    }
    let person = f.reached_person.trim();
    if outcome == Outcome::Delivered && person.is_empty() {
        return Err(DomainError::invalid(
            "reached_person",
            "伝達した相手の氏名を入力してください。",
        ));
    }
    if person.chars().count() > 100 || f.note.chars().count() > 1000 {
        return Err(DomainError::invalid("note", "入力が長すぎます。"));
    }
    let contact_id: i64 = f
        .contact_id
        .trim()
        .parse()
        .map_err(|_| DomainError::invalid("contact_id", "連絡先を選んでください。"))?;
    let mut tx = db.begin().await?;
    let i = repo::find(&mut tx, incident_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let c = crepo::find_contact(&mut tx, contact_id)
        .await?
        .ok_or_else(|| DomainError::invalid("contact_id", "連絡先を選んでください。"))?;
    let id = crepo::insert_notification(
        &mut tx,
        &crepo::NewNotification {
            incident_id: i.id,
            contact_id: c.id,
            means: means.key(),
            mail_id: None,
            result: outcome.key(),
            reached_person: person,
            reached_at,
            note: f.note.trim(),
        },
        &actor.login,
        now,
    )
    .await?;
    let who = if person.is_empty() {
        c.organisation.clone()
    } else {
        format!("{}（{}）", c.organisation, person)
    };
    repo::add_timeline(
        &mut tx,
        i.id,
        reached_at,
        "contact",
        &format!("{who}へ{}で連絡: {}", means.label(), outcome.label()),
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.contact_recorded",
        &format!("incident:{}", i.id),
        json!({
            "notification_id": id, "contact_id": c.id, "means": means.key(),
            "result": outcome.key(), "reached_at": reached_at.to_db(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
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
