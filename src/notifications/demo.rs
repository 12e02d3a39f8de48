//! The demo network's notifications (X.4, issue 15 item 9): what the demo users would have been
//! told after the demo's own events, recorded through [`super::notify`] (so each has its audit
//! event and, for a user with a mail address, its mail), with texts in the same words as the
//! services that notify (helpdesk, requests).
//!
//! Only the roles a notification is addressed to get one: requesters (their inquiry answered),
//! facility managers (a request processed, a letter re-issued) and the helpdesk staff (an
//! inquiry assigned). The other roles are told nothing by design. The seed reads the demo's
//! accounts and inquiries (read-only) and skips itself once any notification exists.

use super::{Kind, repo};
use crate::auth::Role;
use crate::db::Tx;

/// One notification the demo seed sends: to whom, what, and how many hours ago.
pub struct Planned {
    pub account: i64,
    pub kind: Kind,
    pub subject: String,
    pub body: String,
    pub link_path: String,
    pub hours_ago: i64,
}

/// What the demo users are told (nothing once any notification exists).
pub async fn plan(tx: &mut Tx) -> sqlx::Result<Vec<Planned>> {
    let mut out = Vec::new();
    if repo::any(tx).await? {
        return Ok(out);
    }
    for role in [Role::User, Role::FacilityManager] {
        for (account, _) in repo::active_with_role(tx, role.key()).await? {
            if let Some((id, subject)) = repo::own_inquiry(tx, account).await? {
                let answer = "お問い合わせありがとうございます。手順をご案内します。\n\
                              「文書」の一覧から該当の文書を開き、「PDF を表示」を押してください。\
                              表示されない場合は、ブラウザを最新の版に更新してお試しください。";
                out.push(Planned {
                    account,
                    kind: Kind::HelpdeskAnswered,
                    subject: format!("問い合わせ #{id} にヘルプデスクから回答がありました"),
                    body: format!("問い合わせ #{id}「{subject}」への回答:\n\n{answer}"),
                    link_path: format!("/support/{id}"),
                    hours_ago: 20,
                });
            }
        }
    }
    for (account, facility) in repo::active_with_role(tx, Role::FacilityManager.key()).await? {
        let facility = facility.unwrap_or_default();
        out.push(Planned {
            account,
            kind: Kind::RequestProcessed,
            subject: "利用者申請を処理しました".into(),
            body: format!(
                "{facility}の新規登録の申請（清須 次郎）の処理が完了しました。\n\
                 ID・初期パスワード通知書（封書）を送付します。"
            ),
            link_path: "/requests".into(),
            hours_ago: 30,
        });
        let person = "清須 次郎";
        out.push(Planned {
            account,
            kind: Kind::LetterReissued,
            subject: format!("{person} さんの封書を再発行しました"),
            body: format!(
                "{person} さんの ID・初期パスワード通知書（封書）を再発行しました。\n\
                 以前の初期パスワードは使えなくなります。封書が届いたら本人にお渡しください。"
            ),
            link_path: "/requests".into(),
            hours_ago: 6,
        });
    }
    let open = repo::open_inquiries(tx, 2).await?;
    // The helpdesk's staff (helpdesk::STAFF; named here, as helpdesk calls into this domain).
    for role in [Role::SystemAdmin, Role::SystemOperator] {
        for (account, _) in repo::active_with_role(tx, role.key()).await? {
            for (n, (id, subject, requester)) in open.iter().enumerate() {
                out.push(Planned {
                    account,
                    kind: Kind::HelpdeskAssigned,
                    subject: format!("問い合わせ #{id} の担当になりました"),
                    body: format!(
                        "問い合わせ #{id}「{subject}」（{requester}、優先度 通常）の担当に割り当てられました。"
                    ),
                    link_path: format!("/helpdesk/{id}"),
                    hours_ago: 3 + n as i64,
                });
            }
        }
    }
    Ok(out)
}
