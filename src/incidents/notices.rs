//! The portal notice of an incident (R17.2): one 障害情報 announcement per incident, public to
//! the network's users (the portal's top page, the log-in page and the feed). It says the status,
//! what is affected and the expected recovery when one is entered; it follows the status
//! ([`on_status_change`]) and is marked 復旧 when the incident recovers or is reported, staying
//! visible for [`RESOLVED_VISIBLE_DAYS`] days. Each post and update is a timeline entry (kind
//! `notice`) and an audit event, on the same transaction as the portal's revision.

use jiff::SignedDuration;
use serde_json::json;

use super::model::{Incident, Status};
use super::repo;
use super::repo_contacts as crepo;
use crate::audit::{self, Actor};
use crate::auth::Role;
use crate::db::{Db, Timestamp, Tx};
use crate::error::DomainError;
use crate::portal::{self, Category, Editor, Notice};

/// How long a resolved notice stays on the portal.
pub const RESOLVED_VISIBLE_DAYS: i64 = 7;

/// 影響範囲 and the services affected as one line (調査中 when nothing is entered yet).
pub fn affected_text(i: &Incident) -> String {
    let services: Vec<&str> = i
        .affected_services
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let impact = i.impact.trim();
    match (impact.is_empty(), services.is_empty()) {
        (true, true) => "調査中です".into(),
        (false, true) => impact.into(),
        (true, false) => services.join("、"),
        (false, false) => format!("{impact}（対象サービス: {}）", services.join("、")),
    }
}

/// Whether the notice of an incident in this status says 復旧.
pub fn is_resolved(s: Status) -> bool {
    s >= Status::Recovered
}

/// The announcement's title and Markdown body. Pure.
pub fn text(i: &Incident, expected_recovery: &str, now: Timestamp) -> (String, String) {
    let resolved = is_resolved(i.status());
    let title = if resolved {
        format!("【復旧】{}", i.title)
    } else {
        format!("【障害情報】{}", i.title)
    };
    let mut body = String::new();
    if resolved {
        body.push_str("次の障害は復旧しました。ご不便をおかけし、申し訳ありませんでした。\n\n");
    } else {
        body.push_str("現在、次の障害が発生しています。ご不便をおかけし、申し訳ありません。\n\n");
    }
    body.push_str(&format!(
        "- 状況: {}（{} 時点）\n",
        i.status().label(),
        now.jst()
    ));
    body.push_str(&format!(
        "- 発生日時: {}\n",
        i.occurred_at.unwrap_or(i.discovered_at).jst()
    ));
    body.push_str(&format!("- 影響範囲: {}\n", affected_text(i)));
    if resolved {
        let at = i.recovered_at.unwrap_or(now);
        body.push_str(&format!("- 復旧日時: {}\n", at.jst()));
    } else if !expected_recovery.trim().is_empty() {
        body.push_str(&format!("- 復旧見込み: {}\n", expected_recovery.trim()));
    }
    body.push_str(&format!("\n障害番号: {}\n", i.number));
    (title, body)
}

fn editor(actor: &Actor) -> Editor<'_> {
    let role_label = actor
        .role
        .parse::<Role>()
        .map(|r| r.label())
        .unwrap_or("システム");
    Editor {
        login_id: &actor.login,
        name: &actor.login,
        role_label,
        actor: actor.clone(),
    }
}

/// Publishes (or brings up to date) the incident's notice on the caller's transaction, with its
/// timeline entry and audit event. `expected_recovery` none keeps the one entered before.
async fn publish_in(
    tx: &mut Tx,
    i: &Incident,
    expected_recovery: Option<&str>,
    why: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let old = crepo::find_notice(tx, i.id).await?;
    let expected = expected_recovery
        .map(|s| s.trim().to_string())
        .or_else(|| old.as_ref().map(|n| n.expected_recovery.clone()))
        .unwrap_or_default();
    if expected.chars().count() > 200 {
        return Err(DomainError::invalid(
            "expected_recovery",
            "復旧見込みは 200 文字以内で入力してください。",
        ));
    }
    let resolved = is_resolved(i.status());
    let (title, body) = text(i, &expected, now);
    let resolved_at = if resolved {
        old.as_ref().and_then(|n| n.resolved_at).or(Some(now))
    } else {
        None
    };
    let notice = Notice {
        category: Category::Failure,
        title: &title,
        body_md: &body,
        is_public: true,
        expires_at: resolved_at
            .map(|t| t.plus(SignedDuration::from_hours(24 * RESOLVED_VISIBLE_DAYS))),
    };
    let e = editor(actor);
    let announcement_id = portal::publish_notice_in(
        tx,
        old.as_ref().map(|n| n.announcement_id),
        &notice,
        &e,
        now,
    )
    .await?;
    let (action, line) = match (&old, resolved) {
        (None, _) => (
            "incident.notice_posted",
            format!(
                "ポータルに障害情報を掲載しました（{}）。",
                i.status().label()
            ),
        ),
        (Some(_), true) => (
            "incident.notice_resolved",
            "ポータルの障害情報を復旧済みとしました。".to_string(),
        ),
        (Some(_), false) => (
            "incident.notice_updated",
            format!(
                "ポータルの障害情報を更新しました（{}）。",
                i.status().label()
            ),
        ),
    };
    match &old {
        None => {
            crepo::insert_notice(
                tx,
                i.id,
                announcement_id,
                &expected,
                resolved_at,
                &actor.login,
                now,
            )
            .await?
        }
        Some(_) => crepo::update_notice(tx, i.id, &expected, resolved_at, now).await?,
    }
    repo::add_timeline(tx, i.id, now, "notice", &line, &actor.login, now).await?;
    audit::record(
        tx,
        now,
        actor,
        action,
        &format!("incident:{}", i.id),
        json!({
            "announcement_id": announcement_id, "status": i.status().key(),
            "expected_recovery": expected, "why": why,
        }),
    )
    .await?;
    Ok(announcement_id)
}

/// The action on the incident page: posts the notice, or updates it (with a new expected
/// recovery). Returns the announcement's id.
pub async fn post(
    db: &Db,
    incident_id: i64,
    expected_recovery: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let i = repo::find(&mut tx, incident_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let id = publish_in(&mut tx, &i, Some(expected_recovery), "posted", actor, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// For the incident's status change (called by it on its transaction, with the incident as
/// changed): brings a posted notice up to date and marks it 復旧 at 復旧 / 報告済. Does nothing
/// when no notice was posted. Returns whether a notice was updated.
pub async fn on_status_change(
    tx: &mut Tx,
    incident: &Incident,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    if crepo::find_notice(tx, incident.id).await?.is_none() {
        return Ok(false);
    }
    publish_in(tx, incident, None, "status_changed", actor, now).await?;
    Ok(true)
}
