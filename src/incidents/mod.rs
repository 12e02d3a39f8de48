//! Incidents (issue 13, R17.1–R17.3): the 障害報告書 of 別紙3, its timeline, the users affected
//! and the contact tree of 別紙4, and recurrence prevention.
//!
//! Rules:
//! - An incident carries every field of 別紙3: 発見日時, 発見箇所, 発生日時, 障害内容, 影響範囲,
//!   復旧日時, 経過 (the timeline), 原因, 処置, 備考, 添付資料; a severity and a status that runs
//!   調査中 → 原因特定 → 復旧作業中 → 監視中 → 復旧 → 報告済.
//! - Nothing is deleted: a correction is a new timeline entry beside the changed value.
//! - It is created by hand, from a helpdesk inquiry or from a monitoring alert.
//! - Users affected (R17.2, `notices`, `contacts`): a system administrator posts one public
//!   障害情報 announcement per incident on the portal (status, what is affected, the expected
//!   recovery); the incident's status change brings it up to date (`notices::on_status_change`
//!   on the same transaction) and marks it 復旧 at 復旧 / 報告済 (visible 7 more days). The
//!   contact tree of 別紙4 (`/incidents/contacts`: levels of organisations and people with phone,
//!   FAX and e-mail) is edited by system administrators and read by the staff; entries are
//!   deactivated, never deleted. Mails to the tree go through the outbox, one per contact, each
//!   a notification with its mail id that counts as 伝達済 only once the outbox sent it; calls
//!   and FAXes are recorded (who, when, means, result) by system administrators and operators.
//!   Nothing counts as notified until it is recorded; the incident shows who is not reached.
//! - Recurrence prevention (R17.3, `recurrence`): system administrators report measures beyond
//!   system management; only the service operator accepts or returns them (with a comment);
//!   the extraordinary committee (date, minutes in the blob store, kept by the records' purge)
//!   is recorded by the service operator or a system administrator; measures have an owner and
//!   a due date and are overdue after it; the committee and the operations manager read.
//! - Statistics (`stats`): by month, severity and cause (`cause_category`), time to recover and
//!   from discovery to the first user notice; staff read them; printable, CSV and Excel.

pub mod contacts;
pub mod model;
pub mod notices;
pub mod recurrence;
pub mod repo;
pub mod repo_contacts;
pub mod repo_recurrence;
pub mod repo_stats;
pub mod routes_contacts;
pub mod routes_recurrence;
pub mod routes_stats;
pub mod service;
pub mod stats;

pub use model::{Incident, NewIncident, Severity, Source, Status};

use crate::domain::Domain;

pub fn domain() -> Domain {
    Domain::new("incidents")
        .routes(routes_contacts::routes())
        .routes(routes_recurrence::routes())
        .routes(routes_stats::routes())
        .nav("障害対応", 830, "/incidents/contacts", "連絡体制")
        .nav("障害対応", 840, "/incidents/recurrence", "再発防止策")
        .nav("障害対応", 850, "/incidents/stats", "障害統計")
        .cards(|s, p, now| Box::pin(recurrence::cards(s, p, now)))
}
