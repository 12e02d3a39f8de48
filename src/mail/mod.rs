//! The mail outbox (issue 12): a core facility every domain uses to send mail (monitoring alerts,
//! backup failures, helpdesk replies, request completions, incidents).
//!
//! Rules:
//! - A mail is first a row of `mail_outbox`, written with [`enqueue`] on the caller's
//!   transaction, so that it exists exactly when the event that causes it was committed.
//! - Only the sender ([`send_due`], the job `mail.send` of the domain `mail_admin`, and the
//!   CLI's `mail send-test`) talks to the SMTP server; a mail is never sent inside a request.
//! - The sender claims one due mail at a time (state `sending`, its own id, a lease: one
//!   conditional UPDATE, so two senders never take the same mail), commits, talks to the server
//!   OUTSIDE any transaction (a slow server holds no database lock), then records the attempt
//!   (`mail_attempts`) and the mail's new state in a second short transaction. A mail whose
//!   sender stopped mid-send (lapsed lease) counts one attempt of unknown outcome and is queued
//!   again; it may then arrive twice, with the same Message-ID.
//! - A failed attempt waits `[mail] backoff_minutes` (1, 5, 15, 60, 240 … the last repeats);
//!   after `max_attempts`, or at once on a permanent refusal (5xx), the mail is `failed`. A
//!   system administrator may put a failed mail back in the queue (`mail.retry`, with a fresh
//!   count) or queue a test mail (`mail.test_queued`). Sent and given-up mails are audited
//!   (`mail.sent`, `mail.failed`); every attempt is a row of `mail_attempts`.
//! - While `[mail]` is not ready ([`MailSettings::not_ready`]: disabled, no server, no sender)
//!   mails stay queued; nothing is lost, and the admin page says why.
//!
//! The core: imports only the core (`db`, `audit`, `clock`, `error`).

pub mod repo;
pub mod send;
mod settings;

use serde_json::json;

pub use settings::{MailSettings, Security};

use crate::audit::{self, Actor};
use crate::db::{Conn, Db, Timestamp};
use crate::error::DomainError;
use repo::{MailRow, Outcome};

/// A mail to queue: plain UTF-8 text, to one or more addresses.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// What caused it (`monitor.alert`, `backup.failed`, …): the admin page groups by it.
    pub source: &'static str,
    /// The id of that thing (an alert id, a backup id), for the admin page and the audit trail.
    pub source_ref: Option<String>,
    pub to: Vec<Address>,
    pub subject: String,
    pub body: String,
}

/// An e-mail address as the outbox accepts it: `local@domain`, no spaces, no line breaks (a
/// header injection would need one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("メールアドレスの形式が正しくありません: {0}")]
pub struct BadAddress(pub String);

impl Address {
    pub fn parse(s: &str) -> Result<Self, BadAddress> {
        let t = s.trim();
        let ok = t.len() <= 254
            && !t
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
            && matches!(t.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
        if ok {
            Ok(Address(t.to_string()))
        } else {
            Err(BadAddress(t.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Queues `mail` on the caller's transaction; it is sent by the job after the commit. Returns the
/// outbox id. A mail without recipients is not queued (`None`).
pub async fn enqueue(
    conn: &mut Conn,
    mail: &Outgoing,
    now: Timestamp,
) -> sqlx::Result<Option<i64>> {
    if mail.to.is_empty() {
        return Ok(None);
    }
    repo::insert(conn, mail, now).await.map(Some)
}

/// What one run of the sender did.
#[derive(Debug, Default)]
pub struct SendReport {
    pub sent: u32,
    pub retrying: u32,
    pub failed: u32,
    /// Why nothing was sent (the settings are not ready).
    pub not_ready: Option<String>,
    /// The last error of an attempt, for the job's message.
    pub last_error: Option<String>,
}

impl std::fmt::Display for SendReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(why) = &self.not_ready {
            return write!(f, "送信していません: {why}");
        }
        write!(
            f,
            "送信 {} 件、再送待ち {} 件、送信失敗 {} 件",
            self.sent, self.retrying, self.failed
        )?;
        if let Some(e) = &self.last_error {
            write!(f, "（直近の誤り: {e}）")?;
        }
        Ok(())
    }
}

/// The sender: first re-queues mails whose sender stopped mid-send, then, when `[mail]` is
/// ready, sends the due mails one by one (at most `batch`), each claimed before and recorded
/// after the SMTP conversation (see the module's rules). `only` limits it to one mail (the
/// CLI's test mail).
pub async fn send_due(
    db: &Db,
    settings: &MailSettings,
    only: Option<i64>,
    now: Timestamp,
) -> anyhow::Result<SendReport> {
    let mut report = SendReport::default();
    let holder = format!("{}:{:016x}", std::process::id(), rand::random::<u64>());
    recover_lapsed(db, settings, now, &mut report).await?;
    if let Some(why) = settings.not_ready() {
        report.not_ready = Some(why);
        return Ok(report);
    }
    let sender = send::Sender::new(settings).map_err(|e| anyhow::anyhow!(e))?;
    let ids = match only {
        Some(id) => vec![id],
        None => {
            let mut conn = db.pool().acquire().await?;
            repo::due_ids(&mut conn, now, i64::from(settings.batch.max(1))).await?
        }
    };
    let until = now.plus(settings.claim_lease());
    for id in ids {
        let mut tx = db.begin().await?;
        let claimed = repo::claim(&mut tx, id, &holder, until, now).await?;
        tx.commit().await?;
        let Some(row) = claimed else {
            continue; // another sender has it, or it is no longer due
        };
        // The SMTP conversation: no transaction is open here.
        let result = sender.send(&row, now).await;
        let attempt = row.attempts + 1;
        let (outcome, detail) = match &result {
            Ok(answer) => (Outcome::Sent, answer.clone()),
            Err(e) if e.permanent || attempt >= i64::from(settings.max_attempts) => {
                (Outcome::Failed { error: &e.message }, e.message.clone())
            }
            Err(e) => (
                Outcome::Retry {
                    next: now
                        .plus(settings.backoff_after(u32::try_from(attempt).unwrap_or(u32::MAX))),
                    error: &e.message,
                },
                e.message.clone(),
            ),
        };
        if let Err(e) = &result {
            tracing::warn!(mail = row.id, attempt, error = %e.message, "mail not sent");
            report.last_error = Some(e.message.clone());
        }
        let mut tx = db.begin().await?;
        if repo::record_attempt(&mut tx, row.id, &holder, now, &outcome, &detail).await? {
            audit_outcome(&mut tx, &row, attempt, &outcome, now).await?;
            match outcome {
                Outcome::Sent => report.sent += 1,
                Outcome::Retry { .. } => report.retrying += 1,
                Outcome::Failed { .. } => report.failed += 1,
            }
        }
        tx.commit().await?;
    }
    Ok(report)
}

/// Mails left `sending` past their lease: one attempt of unknown outcome each, then queued
/// again (or failed when that was the last attempt).
async fn recover_lapsed(
    db: &Db,
    settings: &MailSettings,
    now: Timestamp,
    report: &mut SendReport,
) -> anyhow::Result<()> {
    let rows = {
        let mut conn = db.pool().acquire().await?;
        repo::lapsed_claims(&mut conn, now).await?
    };
    let why = "送信中に送信処理が停止しました（相手に届いたかは不明です）";
    for row in rows {
        let holder = row.claimed_by.clone().unwrap_or_default();
        let attempt = row.attempts + 1;
        let outcome = if attempt >= i64::from(settings.max_attempts.max(1)) {
            Outcome::Failed { error: why }
        } else {
            Outcome::Retry {
                next: now,
                error: why,
            }
        };
        let mut tx = db.begin().await?;
        if repo::record_attempt(&mut tx, row.id, &holder, now, &outcome, why).await? {
            audit_outcome(&mut tx, &row, attempt, &outcome, now).await?;
            if matches!(outcome, Outcome::Failed { .. }) {
                report.failed += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn audit_outcome(
    tx: &mut crate::db::Tx,
    row: &MailRow,
    attempt: i64,
    outcome: &Outcome<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    let (action, error) = match outcome {
        Outcome::Sent => ("mail.sent", None),
        Outcome::Failed { error } => ("mail.failed", Some(*error)),
        Outcome::Retry { .. } => return Ok(()),
    };
    audit::record(
        tx,
        now,
        &Actor::system(JOB),
        action,
        &format!("mail:{}", row.id),
        json!({
            "source": row.source,
            "source_ref": row.source_ref,
            "recipients": row.recipients.lines().count(),
            "attempt": attempt,
            "error": error,
        }),
    )
    .await?;
    Ok(())
}

/// The job's name (its runs, and the actor of the sender's audit events).
pub const JOB: &str = "mail.send";

/// Queues a test mail to `to` for a system administrator (audited `mail.test_queued`); it is
/// sent by the next run of the sender. Returns the outbox id.
pub async fn queue_test(
    db: &Db,
    to: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let to = Address::parse(to).map_err(|e| DomainError::Invalid {
        field: "to",
        message: e.to_string(),
    })?;
    let mail = Outgoing {
        source: "mail.test",
        source_ref: None,
        to: vec![to.clone()],
        subject: "【きよすレインボーネット】テストメール（送信設定の確認）".into(),
        body: format!(
            "このメールは、きよすレインボーネットの運用・セキュリティ管理システムから、\n\
             メール送信の設定を確認するために送信しました（依頼者: {}、受付: {}）。\n\n\
             このメールに返信する必要はありません。\n",
            actor.login,
            now.jst()
        ),
    };
    let mut tx = db.begin().await?;
    let id = enqueue(&mut tx, &mail, now)
        .await?
        .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("no recipient")))?;
    audit::record(
        &mut tx,
        now,
        actor,
        "mail.test_queued",
        &format!("mail:{id}"),
        json!({"to": to.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Puts a failed mail back in the queue, due now (audited `mail.retry`).
pub async fn retry(db: &Db, id: i64, actor: &Actor, now: Timestamp) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let row = repo::find(&mut tx, id).await?;
    if !repo::requeue_failed(&mut tx, id, now).await? {
        return Err(DomainError::Conflict(format!(
            "メール No.{id} は送信失敗の状態ではないため、再送できません。"
        )));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "mail.retry",
        &format!("mail:{id}"),
        json!({"source": row.source, "last_error": row.last_error}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_line_breaks_or_without_a_domain_are_refused() {
        assert!(Address::parse("oncall@example.jp").is_ok());
        for bad in [
            "a@b",
            "no-at.example.jp",
            "x@example.jp\r\nBcc: y@z.jp",
            "a b@example.jp",
            "@example.jp",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }
}
