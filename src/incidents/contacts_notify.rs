//! Notifying the contact tree about an incident (R17.2), re-exported by `contacts`: the means
//! and results of a contact, the outbox mails ([`notify`]) and the checklist's record of a
//! call, FAX or mail made ([`record`]). Each is one transaction with its audit event and an
//! entry of the incident's 経過 (kind `contact`).

use serde_json::json;

use super::model::Incident;
use super::notices;
use super::repo;
use super::repo_contacts::{self as crepo, Contact};
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;
use crate::mail::{self, Address, Outgoing};

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
