//! The helpdesk's team work (issue 15 item 5): assignment and priority, merging duplicates,
//! canned replies. Each change is one transaction with its audit event; the assignee is told
//! through [`crate::notifications`] on the same transaction.

use serde_json::json;

use super::model::{PRIORITIES, Status};
use super::repo::{self, NewEntry};
use super::repo_team;
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;
use crate::notifications::{self, Kind, Notice};

/// Sets who handles an inquiry and its priority; a new assignee (other than the one who assigns)
/// is notified. Only the helpdesk's staff may be assigned.
pub async fn assign(
    db: &Db,
    id: i64,
    assignee: Option<i64>,
    priority: &str,
    by: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    if !PRIORITIES.contains(&priority) {
        return Err(DomainError::invalid("priority", "優先度を選んでください。"));
    }
    let mut tx = db.begin().await?;
    let inq = repo::find(&mut tx, id).await?;
    if let Some(a) = assignee {
        let staff = repo_team::staff(&mut tx, &super::model::staff_role_keys()).await?;
        if !staff.iter().any(|(s, _)| *s == a) {
            return Err(DomainError::invalid(
                "assignee",
                "担当者はヘルプデスクの担当者（システム管理者・システム運用者）から選んでください。",
            ));
        }
    }
    repo_team::set_assignment(&mut tx, id, assignee, priority).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "helpdesk.assigned",
        &format!("inquiry:{id}"),
        json!({
            "assignee_from": inq.assignee_account_id, "assignee_to": assignee,
            "priority_from": inq.priority, "priority_to": priority,
        }),
    )
    .await?;
    if let Some(a) = assignee
        && Some(a) != inq.assignee_account_id
        && a != by
    {
        notifications::notify(
            &mut tx,
            a,
            &Notice {
                kind: Kind::HelpdeskAssigned,
                subject: &format!("問い合わせ #{id} の担当になりました"),
                body: &format!(
                    "問い合わせ #{id}「{}」（{}、優先度 {priority}）の担当に割り当てられました。",
                    inq.subject, inq.requester_name
                ),
                link_path: &format!("/helpdesk/{id}"),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Merges the duplicate `id` into `into`: the duplicate is closed (完了) with an entry naming
/// the kept inquiry and the reason, the kept one gets an entry naming the duplicate; nothing is
/// moved or deleted, so the duplicate's messages stay readable on its page.
pub async fn merge(
    db: &Db,
    id: i64,
    into: i64,
    reason: &str,
    by: (i64, &str),
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "統合の理由を入力してください。",
        ));
    }
    if id == into {
        return Err(DomainError::invalid(
            "into",
            "同じ問い合わせには統合できません。",
        ));
    }
    let mut tx = db.begin().await?;
    let dup = repo::find(&mut tx, id).await?;
    let kept = repo::find(&mut tx, into).await.map_err(|_| {
        DomainError::invalid("into", format!("問い合わせ #{into} が見つかりません。"))
    })?;
    if kept.merged_into_id.is_some() {
        return Err(DomainError::invalid(
            "into",
            format!("問い合わせ #{into} は統合済みです。統合先の問い合わせを指定してください。"),
        ));
    }
    if !repo_team::set_merged_into(&mut tx, id, into).await? {
        return Err(DomainError::conflict(format!(
            "問い合わせ #{id} はすでに統合されています。"
        )));
    }
    let dup_text = format!("問い合わせ #{into} に統合しました（重複）。理由: {reason}");
    let kept_text =
        format!("問い合わせ #{id} を重複としてこの問い合わせに統合しました。理由: {reason}");
    let kept_status = Status::parse(&kept.status).unwrap_or(Status::Received);
    for (inquiry_id, content, status) in [
        (id, dup_text.as_str(), Status::Done),
        (into, kept_text.as_str(), kept_status),
    ] {
        repo::insert_entry(
            &mut tx,
            &NewEntry {
                inquiry_id,
                kind: "merge",
                at: now,
                actor_account_id: Some(by.0),
                actor_name: by.1,
                method: "対応記録",
                content,
                status_after: status.label(),
                public: false,
                corrects_entry_id: None,
            },
        )
        .await?;
    }
    let completed = dup.completed_at.or(Some(now));
    repo::update_state(
        &mut tx,
        id,
        Status::Done.label(),
        dup.first_response_at,
        completed,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "helpdesk.merged",
        &format!("inquiry:{id}"),
        json!({"into": into, "reason": reason, "status_from": dup.status}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn add_canned(
    db: &Db,
    title: &str,
    body: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let (title, body) = (title.trim(), body.trim());
    if title.is_empty() {
        return Err(DomainError::invalid(
            "title",
            "定型文の題名を入力してください。",
        ));
    }
    if body.is_empty() {
        return Err(DomainError::invalid(
            "body",
            "定型文の本文を入力してください。",
        ));
    }
    let mut tx = db.begin().await?;
    let id = repo_team::insert_canned(&mut tx, title, body, &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "helpdesk.canned_added",
        &format!("canned_reply:{id}"),
        json!({"title": title}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn retire_canned(
    db: &Db,
    id: i64,
    reason: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "取り下げの理由を入力してください。",
        ));
    }
    let mut tx = db.begin().await?;
    if !repo_team::retire_canned(&mut tx, id, now).await? {
        return Err(DomainError::NotFound);
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "helpdesk.canned_retired",
        &format!("canned_reply:{id}"),
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
