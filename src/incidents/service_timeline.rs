//! The 経過 of an incident (re-exported by `service`): status moves (with the portal notice
//! following, R17.1/R17.2), dated notes and contacts with vendors and makers (article 17 (2)).

use serde_json::json;

use super::model::{self, Move, Status};
use super::repo::{self, NewVendorContact};
use super::service_edit::{show_time, stale};
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;

/// Moves an incident along its status flow ([`model::check_move`]): a step forward, or one step
/// back with a `reason`. 復旧 sets the 復旧日時 (to `at`) if it is empty; going back from 復旧
/// empties it again (a correction entry keeps the old value); 報告済 needs 復旧日時, 原因 and 処置.
#[allow(clippy::too_many_arguments)]
pub async fn change_status(
    db: &Db,
    id: i64,
    revision: i64,
    to: Status,
    at: Timestamp,
    reason: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let inc = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if inc.revision != revision {
        return Err(stale());
    }
    let from = inc.status();
    let mv = model::check_move(from, to).map_err(|m| DomainError::invalid("status", m))?;
    let reason = reason.trim();
    if mv == Move::Back && reason.is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "前の状態に戻すときは、その理由を入力してください。",
        ));
    }
    let mut recovered_at = inc.recovered_at;
    let mut reported_at = inc.reported_at;
    if to == Status::Reported {
        let missing: Vec<&str> = [
            (inc.recovered_at.is_none(), "復旧日時"),
            (inc.cause.trim().is_empty(), "原因"),
            (inc.action_taken.trim().is_empty(), "処置"),
        ]
        .into_iter()
        .filter_map(|(m, l)| m.then_some(l))
        .collect();
        if !missing.is_empty() {
            return Err(DomainError::invalid(
                "status",
                format!(
                    "報告済にする前に、{}を記入してください。",
                    missing.join("・")
                ),
            ));
        }
        reported_at = Some(now);
    }
    if to == Status::Recovered && recovered_at.is_none() {
        recovered_at = Some(at);
    }
    let mut entries = Vec::new();
    if from == Status::Recovered && mv == Move::Back && inc.recovered_at.is_some() {
        recovered_at = None;
        entries.push((
            "correction",
            model::correction_text("recovered_at", &show_time(inc.recovered_at), ""),
        ));
    }
    if !repo::update_status(&mut tx, id, revision, to, recovered_at, reported_at, now).await? {
        return Err(stale());
    }
    let text = match mv {
        Move::Forward => {
            let mut t = format!("状態を「{}」にしました。", to.label());
            if !reason.is_empty() {
                t.push_str(reason);
            }
            t
        }
        Move::Back => format!(
            "状態を「{}」から「{}」に戻しました。理由：{reason}",
            from.label(),
            to.label()
        ),
    };
    repo::add_timeline(&mut tx, id, at, "status", &text, &actor.login, now).await?;
    for (kind, t) in entries {
        repo::add_timeline(&mut tx, id, now, kind, &t, &actor.login, now).await?;
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.status_changed",
        &format!("incident:{id}"),
        json!({
            "from": from.key(),
            "to": to.key(),
            "back": mv == Move::Back,
            "reason": reason,
            "at": at,
        }),
    )
    .await?;
    // The portal's 障害情報, if one was posted, follows the status (R17.2).
    let changed = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    super::notices::on_status_change(&mut tx, &changed, actor, now).await?;
    tx.commit().await?;
    Ok(())
}

/// A dated entry of the 経過 (what was done or found, and when).
pub async fn add_note(
    db: &Db,
    id: i64,
    at: Timestamp,
    text: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::invalid(
            "text",
            "経過の内容を入力してください。",
        ));
    }
    if at > now {
        return Err(DomainError::invalid(
            "at",
            "経過の日時に未来の日時は入力できません。",
        ));
    }
    let mut tx = db.begin().await?;
    repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let entry = repo::add_timeline(&mut tx, id, at, "note", text, &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.note_added",
        &format!("incident:{id}"),
        json!({ "entry": entry, "at": at }),
    )
    .await?;
    tx.commit().await?;
    Ok(entry)
}

/// A contact with a vendor or maker (article 17 (2)): who, when, their reference number, what
/// was asked and what they answered; also an entry of the 経過.
pub async fn add_vendor_contact(
    db: &Db,
    id: i64,
    v: &NewVendorContact<'_>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    if v.organisation.trim().is_empty() {
        return Err(DomainError::invalid(
            "organisation",
            "連絡先（メーカー・ベンダー名）を入力してください。",
        ));
    }
    if v.contacted_at > now {
        return Err(DomainError::invalid(
            "contacted_at",
            "連絡日時に未来の日時は入力できません。",
        ));
    }
    let mut tx = db.begin().await?;
    repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let cid = repo::insert_vendor_contact(&mut tx, id, v, &actor.login, now).await?;
    let mut text = v.organisation.trim().to_string();
    if !v.person.trim().is_empty() {
        text.push_str(&format!("（{}）", v.person.trim()));
    }
    text.push_str("へ連絡");
    if !v.reference_no.trim().is_empty() {
        text.push_str(&format!("（受付番号 {}）", v.reference_no.trim()));
    }
    text.push('。');
    if !v.request.trim().is_empty() {
        text.push_str(&format!("依頼：{}。", v.request.trim()));
    }
    if !v.answer.trim().is_empty() {
        text.push_str(&format!("回答：{}", v.answer.trim()));
    }
    repo::add_timeline(
        &mut tx,
        id,
        v.contacted_at,
        "vendor",
        &text,
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.vendor_contacted",
        &format!("incident:{id}"),
        json!({
            "contact": cid,
            "organisation": v.organisation,
            "reference_no": v.reference_no,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(cid)
}
