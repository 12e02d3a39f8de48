//! Incidents (issue 13, R17.1–R17.3): the 障害報告書 of 別紙3, its timeline, the users affected
//! and the contact tree of 別紙4, and recurrence prevention.
//!
//! Rules:
//! - An incident carries every field of 別紙3: 発見日時, 発見箇所, 発生日時, 障害内容, 影響範囲,
//!   復旧日時, 経過 (the timeline), 原因, 処置, 備考, 添付資料; a severity and a status that runs
//!   調査中 → 原因特定 → 復旧作業中 → 監視中 → 復旧 → 報告済.
//! - Nothing is deleted: a correction is a new timeline entry beside the changed value.
//! - It is created by hand, from a helpdesk inquiry or from a monitoring alert.

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
