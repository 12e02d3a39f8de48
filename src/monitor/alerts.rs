//! Alerts: a monitor's state change (up → down after the retries, down → up), raised by the
//! engine on the transaction that records the check; acknowledged by a system administrator;
//! mailed to the on-call list through the outbox unless a portal maintenance window covers it.

use serde_json::json;

use super::model::Monitor;
use super::repo_alerts;
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp, Tx};
use crate::error::DomainError;
use crate::mail::{self, Address, Outgoing};

/// The page the mail points to.
pub const ALERTS_PATH: &str = "/admin/monitors/alerts";
/// `mail_outbox.source` of alert mails.
pub const MAIL_SOURCE: &str = "monitor.alert";

/// Which way a monitor changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    Down,
    Up,
}

impl AlertKind {
    pub fn key(self) -> &'static str {
        match self {
            AlertKind::Down => "down",
            AlertKind::Up => "up",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        match s {
            "down" => Some(AlertKind::Down),
            "up" => Some(AlertKind::Up),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AlertKind::Down => "停止",
            AlertKind::Up => "復旧",
        }
    }
}

/// Records the alert of `monitor`'s change on the caller's transaction and returns its id.
/// During an approved portal window the alert is kept with `suppressed_by` (the window) and no
/// mail; otherwise one mail to the active on-call list is queued in the outbox (none when the
/// list is empty). Audited as `monitor.alert_raised`.
pub async fn raise(
    tx: &mut Tx,
    monitor: &Monitor,
    kind: AlertKind,
    detail: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    let window = crate::portal::maintenance_window_at(tx, now).await?;
    let id = repo_alerts::insert(tx, monitor.id, kind.key(), now, detail, window).await?;
    let mut mail_id = None;
    if window.is_none() {
        let to: Vec<Address> = repo_alerts::oncall_active(tx)
            .await?
            .iter()
            .filter_map(|o| Address::parse(&o.email).ok())
            .collect();
        let link = crate::notifications::page_url(tx, ALERTS_PATH).await?;
        let (subject, body) = compose(monitor, kind, detail, &link, now);
        let mail = Outgoing {
            source: MAIL_SOURCE,
            source_ref: Some(id.to_string()),
            to,
            subject,
            body,
        };
        mail_id = mail::enqueue(tx, &mail, now).await?;
        if let Some(m) = mail_id {
            repo_alerts::set_mail(tx, id, m).await?;
        }
    }
    audit::record(
        tx,
        now,
        &Actor::system("monitor"),
        "monitor.alert_raised",
        &format!("monitor_alert:{id}"),
        json!({"monitor_id": monitor.id, "kind": kind.key(), "suppressed_by": window,
            "mail_id": mail_id}),
    )
    .await?;
    Ok(id)
}

/// The mail's subject and body: plain Japanese, readable on a phone.
pub fn compose(
    monitor: &Monitor,
    kind: AlertKind,
    detail: &str,
    link: &str,
    now: Timestamp,
) -> (String, String) {
    let (subject, what) = match kind {
        AlertKind::Down => (
            format!(
                "【きよすレインボーネット】監視異常: {} が停止しています",
                monitor.name
            ),
            format!(
                "監視「{}」が停止と判定されました（{} 回続けて確認に失敗しました）。",
                monitor.name,
                monitor.retries.max(1)
            ),
        ),
        AlertKind::Up => (
            format!(
                "【きよすレインボーネット】監視復旧: {} が復旧しました",
                monitor.name
            ),
            format!("監視「{}」が正常に戻りました。", monitor.name),
        ),
    };
    let body = format!(
        "きよすレインボーネット 運用管理システムからの自動通知です。\n\n\
         {what}\n\n\
         監視名: {name}\n\
         種類: {kind}\n\
         監視先: {target}\n\
         日時: {at}（日本時間）\n\
         内容: {detail}\n\n\
         確認と対応の記録は、運用管理システムの「監視 › アラート」で行ってください。\n\
         {link}\n\n\
         このメールは送信専用です。\n",
        name = monitor.name,
        kind = monitor.kind().label(),
        target = monitor.target,
        at = now.jst_seconds(),
        detail = if detail.trim().is_empty() {
            "—"
        } else {
            detail.trim()
        },
    );
    (subject, body)
}

/// A note of at most 500 characters.
fn note_text(note: &str) -> Result<String, DomainError> {
    let t = note.trim();
    if t.chars().count() > 500 {
        return Err(DomainError::invalid(
            "note",
            "対応メモは 500 文字以内で入力してください。",
        ));
    }
    Ok(t.to_string())
}

/// Records who acknowledged the alert, when, and their note; audited as
/// `monitor.alert_acknowledged`. An alert is acknowledged once.
pub async fn acknowledge(
    db: &Db,
    id: i64,
    note: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let note = note_text(note)?;
    let mut tx = db.begin().await?;
    let alert = repo_alerts::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !repo_alerts::acknowledge(&mut tx, id, &actor.login, &note, now).await? {
        return Err(DomainError::Conflict(
            "このアラートは既に確認済みです。".into(),
        ));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "monitor.alert_acknowledged",
        &format!("monitor_alert:{id}"),
        json!({"monitor_id": alert.monitor_id, "kind": alert.kind, "note": note}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a person to the on-call list; audited as `monitor.oncall_added`.
pub async fn add_oncall(
    db: &Db,
    name: &str,
    email: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "氏名（または窓口名）を 100 文字以内で入力してください。",
        ));
    }
    let email = Address::parse(email).map_err(|_| {
        DomainError::invalid(
            "email",
            "メールアドレスの形式が正しくありません（例: oncall@example.jp）。",
        )
    })?;
    let mut tx = db.begin().await?;
    if repo_alerts::oncall_has_active(&mut tx, email.as_str()).await? {
        return Err(DomainError::invalid(
            "email",
            "このメールアドレスは既に通知先に登録されています。",
        ));
    }
    let id = repo_alerts::oncall_insert(&mut tx, name, email.as_str(), now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "monitor.oncall_added",
        &format!("monitor_oncall:{id}"),
        json!({"name": name, "email": email.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Takes a person off the on-call list (the row stays, inactive); audited as
/// `monitor.oncall_deactivated`.
pub async fn deactivate_oncall(
    db: &Db,
    id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let o = repo_alerts::oncall_find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !repo_alerts::oncall_deactivate(&mut tx, id).await? {
        return Err(DomainError::Conflict(
            "この通知先は既に外されています。".into(),
        ));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "monitor.oncall_deactivated",
        &format!("monitor_oncall:{id}"),
        json!({"name": o.name, "email": o.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
