//! Mail to the system administrators (`[mail] admin_to`) about a failed or missed backup or a
//! failed restore drill (issue 11 item 6), queued in the mail outbox on the transaction that
//! records the failure, so that the mail exists exactly when the failure does.

use crate::db::{Conn, Timestamp};
use crate::mail::{self, Outgoing};
use crate::state::AppState;

pub(super) async fn admins(
    conn: &mut Conn,
    state: &AppState,
    source: &'static str,
    source_ref: String,
    subject: String,
    body: String,
    now: Timestamp,
) -> sqlx::Result<()> {
    let mail = Outgoing {
        source,
        source_ref: Some(source_ref),
        to: state.settings.mail.admin_addresses(),
        subject: format!("【きよすレインボーネット】{subject}"),
        body: format!(
            "{body}\n\n発生日時: {}\n詳しくはバックアップの画面をご確認ください: {}/admin/backup\n\n\
             （このメールは運用・セキュリティ管理システムから自動で送信しています。）\n",
            now.jst(),
            state.settings.server.public_url.trim_end_matches('/'),
        ),
    };
    mail::enqueue(conn, &mail, now).await.map(|_| ())
}
