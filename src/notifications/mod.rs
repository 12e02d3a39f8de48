//! Notifications (issue 15 item 3, X.4): what the system tells a user, on the site and by mail.
//!
//! Rules:
//! - [`notify`] is the one way in. On the caller's transaction it records the notification in
//!   the user's list on the site (`/notifications`) and, when the user's preference for that
//!   kind is on and the user has given a mail address, queues the mail in the outbox
//!   ([`crate::mail::enqueue`]) with the full URL of the page (public URL + path). So both exist
//!   exactly when the event that causes them was committed.
//! - The site list always gets the notification: a preference only turns the MAIL off
//!   (a user who turned mail off still finds every message on the site).
//! - Every kind ([`Kind`]) is on by default; a user turns kinds off and gives (or removes) a
//!   mail address on `/notifications/settings`. Accounts carry no mail address of their own, so
//!   the address lives here.
//! - A user sees and marks read only their own notifications (anyone else's id is not found).
//!   The unread count is on the list page, in the menu label's page and on the dashboard card.
//! - The public URL comes from `[server] public_url` and is recorded at each start
//!   (`notification_site`), because the service functions that notify (requests, helpdesk) have
//!   no settings at hand.
//! - Domains call into this one (helpdesk, requests → notifications), never the other way.
//! - Every change writes its audit event in the same transaction (`notification.sent`,
//!   `notification.read`, `notification.preferences_changed`).
//! - The demo network's users find what they were told (issue 15 item 9): the demo seeds of the
//!   notifying domains go through their services (the helpdesk's answer and assignment in
//!   `accounts::demo`), so every notice matches the seeded object's state; none is written here.

mod repo;
mod routes;
mod service;
mod views;

use serde_json::json;

use crate::audit::{self, Actor};
use crate::auth::{Principal, Role};
use crate::db::{Timestamp, Tx};
use crate::domain::Domain;
use crate::mail::{self, Address, Outgoing};
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

/// What a notification is about; each kind is a preference of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The helpdesk answered the requester's inquiry (a public response).
    HelpdeskAnswered,
    /// An inquiry was assigned to a member of the staff.
    HelpdeskAssigned,
    /// An account request of the facility was processed.
    RequestProcessed,
    /// A sealed letter of the facility was issued again.
    LetterReissued,
    /// An account of the facility was disabled, enabled or reset by an administrator.
    AccountChanged,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::HelpdeskAnswered,
        Kind::HelpdeskAssigned,
        Kind::RequestProcessed,
        Kind::LetterReissued,
        Kind::AccountChanged,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Kind::HelpdeskAnswered => "helpdesk.answered",
            Kind::HelpdeskAssigned => "helpdesk.assigned",
            Kind::RequestProcessed => "request.processed",
            Kind::LetterReissued => "letter.reissued",
            Kind::AccountChanged => "account.changed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::HelpdeskAnswered => "問い合わせへの回答",
            Kind::HelpdeskAssigned => "問い合わせの担当の割り当て",
            Kind::RequestProcessed => "利用者申請の処理完了",
            Kind::LetterReissued => "封書（ID・初期パスワード通知書）の再発行",
            Kind::AccountChanged => "施設のアカウントの利用停止・再開・再設定",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == s)
    }
}

/// One message to one user.
pub struct Notice<'a> {
    pub kind: Kind,
    pub subject: &'a str,
    pub body: &'a str,
    /// A path of the site (`/support/12`); empty for none.
    pub link_path: &'a str,
}

/// Records `notice` for `recipient` on the caller's transaction and queues its mail when the
/// recipient wants mail of that kind and has an address (see the module's rules). Returns the
/// notification's id.
pub async fn notify(
    conn: &mut Tx,
    recipient: i64,
    notice: &Notice<'_>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    let mail_to = if repo::mail_wanted(conn, recipient, notice.kind.key()).await? {
        repo::address(conn, recipient)
            .await?
            .and_then(|a| Address::parse(&a).ok())
    } else {
        None
    };
    let mail_id = match mail_to {
        Some(to) => {
            let url = match repo::public_url(conn).await? {
                Some(base) if !notice.link_path.is_empty() => {
                    format!("{}{}", base.trim_end_matches('/'), notice.link_path)
                }
                _ => notice.link_path.to_string(),
            };
            let body = if url.is_empty() {
                format!("{}\n\n{}", notice.body, FOOTER)
            } else {
                format!(
                    "{}\n\n詳しくは次のページをご覧ください。\n{url}\n\n{}",
                    notice.body, FOOTER
                )
            };
            mail::enqueue(
                conn,
                &Outgoing {
                    source: "notification",
                    source_ref: Some(notice.kind.key().to_string()),
                    to: vec![to],
                    subject: format!("【きよすレインボーネット】{}", notice.subject),
                    body,
                },
                now,
            )
            .await?
        }
        None => None,
    };
    let id = repo::insert(conn, recipient, notice, mail_id, now).await?;
    audit::record(
        conn,
        now,
        &Actor::system("notifications"),
        "notification.sent",
        &format!("notification:{id}"),
        json!({"account_id": recipient, "kind": notice.kind.key(), "mail_id": mail_id}),
    )
    .await?;
    Ok(id)
}

const FOOTER: &str =
    "このメールは送信専用です。通知の設定はサイトの「通知」→「通知の設定」で変更できます。";

/// Notifies every active facility manager of `facility_id` (account requests, sealed letters).
pub async fn notify_facility_managers(
    conn: &mut Tx,
    facility_id: i64,
    notice: &Notice<'_>,
    now: Timestamp,
) -> sqlx::Result<usize> {
    let managers = repo::active_of_role(conn, facility_id, Role::FacilityManager.key()).await?;
    for m in &managers {
        notify(conn, *m, notice, now).await?;
    }
    Ok(managers.len())
}

/// The full address of a page (`path`) for a mail, from the public URL recorded at the last
/// start (`[server] public_url`); the bare path when none was recorded yet.
pub async fn page_url(conn: &mut Tx, path: &str) -> sqlx::Result<String> {
    Ok(match repo::public_url(conn).await? {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path.to_string(),
    })
}

pub fn domain() -> Domain {
    Domain::new("notifications")
        .routes(routes())
        .nav("", 90, "/notifications", "通知")
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .on_start(|s, now| Box::pin(record_public_url(s, now)))
}

fn routes() -> Routes {
    Routes::new()
        .get("/notifications", Access::AnyRole, routes::index)
        .post("/notifications/read-all", Access::AnyRole, routes::read_all)
        .post(
            "/notifications/{id}/read",
            Access::AnyRole,
            routes::read_one,
        )
        .get(
            "/notifications/settings",
            Access::AnyRole,
            routes::settings_form,
        )
        .post(
            "/notifications/settings",
            Access::AnyRole,
            routes::save_settings,
        )
}

async fn record_public_url(state: &AppState, now: Timestamp) -> anyhow::Result<()> {
    let mut conn = state.db.pool().acquire().await?;
    repo::set_public_url(&mut conn, &state.settings.server.public_url, now).await?;
    Ok(())
}

/// The unread count, for everyone who has unread notifications.
async fn cards(state: &AppState, p: &Principal, _now: Timestamp) -> anyhow::Result<Vec<Card>> {
    let mut conn = state.db.pool().acquire().await?;
    let unread = repo::unread_count(&mut conn, p.account_id).await?;
    if unread == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![Card {
        title: "未読の通知".into(),
        value: format!("{unread} 件"),
        note: "通知の一覧で確認できます".into(),
        tone: "warn",
        href: "/notifications".into(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_key() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.key()), Some(k));
        }
        assert_eq!(Kind::parse("nope"), None);
    }
}
