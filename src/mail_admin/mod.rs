//! The mail outbox's page and sender job (issue 12). The outbox itself (queueing, the sender, the
//! `[mail]` settings) is the core `mail`; this domain registers what the core cannot: the job
//! `mail.send`, the page `/admin/mail`, the dashboard card and the CLI `rainbownet mail …`.
//!
//! Rules:
//! - Who may read the page (the queue, sent and failed mails with every attempt, whether mail is
//!   set up): system administrators, who run the mail, and the service operator (the city), who
//!   answers for the alerts reaching people. Only system administrators act: put a failed mail
//!   back in the queue (`mail.retry`) or queue a test mail to an address (`mail.test_queued`).
//! - The job `mail.send` (every minute) runs `mail::send_due`. When `[mail]` is not ready the
//!   mails stay queued and the page says why, in words.
//! - The dashboard shows system administrators a card when mails failed in the last 7 days or a
//!   mail has waited in the queue for more than 30 minutes (the mail is off, the server refuses
//!   or is unreachable); it links to this page.

mod cli;
mod routes;

use jiff::SignedDuration;

use crate::auth::{Principal, Role};
use crate::db::Timestamp;
use crate::domain::Domain;
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

/// Who may read the outbox page.
pub const READERS: &[Role] = &[Role::SystemAdmin, Role::ServiceOperator];
/// Who may act on it (retry, test mail).
pub const ADMINS: &[Role] = &[Role::SystemAdmin];

/// A queued mail older than this is "stuck" for the dashboard.
const STUCK_AFTER_MINUTES: i64 = 30;

pub fn domain() -> Domain {
    Domain::new("mail_admin")
        .routes(
            Routes::new()
                .get("/admin/mail", Access::Roles(READERS), routes::index)
                .get("/admin/mail/{id}", Access::Roles(READERS), routes::show)
                .post("/admin/mail/test", Access::Roles(ADMINS), routes::test)
                .post(
                    "/admin/mail/{id}/retry",
                    Access::Roles(ADMINS),
                    routes::retry,
                ),
        )
        .nav("監査", 540, "/admin/mail", "メール送信")
        .job(
            crate::mail::JOB,
            "メールの送信",
            SignedDuration::from_mins(1),
            |s, now| Box::pin(send(s, now)),
        )
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .cli(cli::send_test())
        .cli(cli::queue())
}

/// The job `mail.send`: the core sender over this state's database and settings.
pub async fn send(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let report = crate::mail::send_due(&state.db, &state.settings.mail, None, now).await?;
    Ok(report.to_string())
}

/// Failed mails (last 7 days) or a stuck queue, for system administrators.
async fn cards(state: &AppState, p: &Principal, now: Timestamp) -> anyhow::Result<Vec<Card>> {
    if p.role != Role::SystemAdmin || !state.may_open(p.role, "/admin/mail") {
        return Ok(Vec::new());
    }
    let counts = {
        let mut conn = state.db.pool().acquire().await?;
        crate::mail::repo::counts(&mut conn, now.minus(SignedDuration::from_hours(24 * 7))).await?
    };
    let stuck = counts
        .oldest_queued
        .is_some_and(|t| now.since(t) > SignedDuration::from_mins(STUCK_AFTER_MINUTES));
    let mut cards = Vec::new();
    if counts.failed_since > 0 {
        cards.push(Card {
            title: "メール送信の失敗".into(),
            value: format!("{} 件", counts.failed_since),
            note: "直近 7 日間に送信できなかったメールがあります".into(),
            tone: "alert",
            href: "/admin/mail".into(),
        });
    }
    if stuck {
        let why = state
            .settings
            .mail
            .not_ready()
            .map(|_| "メール送信が設定されていません".to_string())
            .unwrap_or_else(|| "送信待ちのメールが 30 分以上送信されていません".to_string());
        cards.push(Card {
            title: "メールの送信待ち".into(),
            value: format!("{} 件", counts.queued),
            note: why,
            tone: "warn",
            href: "/admin/mail".into(),
        });
    }
    Ok(cards)
}
