//! Incidents' state changes; each one transaction with its audit event. This file opens and
//! links incidents; the other state changes sit beside it by concept and are re-exported here,
//! so callers keep writing `service::…`:
//! - `service_edit.rs`: corrections of the 別紙3 fields (`correct`, `fields_of`, [`STALE`]);
//! - `service_timeline.rs`: the 経過 — status moves, notes, vendor contacts;
//! - `service_files.rs`: 添付資料 and the prints of the 障害報告書.

use serde_json::json;

use super::model::{self, NewIncident, Source};
use super::repo;
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp, Tx, tokyo};
use crate::error::DomainError;

pub use super::service_edit::{STALE, correct, fields_of};
pub use super::service_files::{add_attachment, print, record_attachment_read};
pub use super::service_timeline::{add_note, add_vendor_contact, change_status};

/// Opens an incident (status 調査中) on the caller's transaction, with its first timeline entry,
/// and returns its id. The caller commits (an incident drafted from an alert or an inquiry links
/// it on the same transaction).
pub async fn create_in(
    tx: &mut Tx,
    n: &NewIncident,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    for (field, value, label) in [
        ("title", &n.title, "件名"),
        ("discovered_where", &n.discovered_where, "発見箇所"),
        ("description", &n.description, "障害内容"),
    ] {
        if value.trim().is_empty() {
            return Err(DomainError::invalid(
                field,
                format!("{label}を入力してください。"),
            ));
        }
    }
    let year = now.as_jiff().to_zoned(tokyo()).year();
    let seq = repo::count_in_year(tx, year).await? + 1;
    let number = model::number(year, seq);
    let id = repo::insert(tx, &number, n, &actor.login, now).await?;
    repo::add_timeline(
        tx,
        id,
        n.discovered_at,
        "status",
        "障害を受け付けました（調査中）。",
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        tx,
        now,
        actor,
        "incident.created",
        &format!("incident:{id}"),
        json!({
            "number": number,
            "severity": n.severity.key(),
            "source": n.source.key(),
            "source_ref": n.source_ref,
        }),
    )
    .await?;
    Ok(id)
}

/// Where a new incident comes from, and so what it is linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Manual,
    Inquiry(i64),
    Alert(i64),
}

impl Origin {
    pub fn source(self) -> (Source, Option<i64>) {
        match self {
            Origin::Manual => (Source::Manual, None),
            Origin::Inquiry(id) => (Source::Inquiry, Some(id)),
            Origin::Alert(id) => (Source::Alert, Some(id)),
        }
    }
}

/// What the new-incident form has beyond [`NewIncident`].
#[derive(Clone, Debug, Default)]
pub struct Affected {
    pub services: String,
    pub facility_ids: Vec<i64>,
}

/// Opens an incident by hand, from an inquiry or from an alert (which is linked on the same
/// transaction: its `incident_id` is set, a `link` entry is written to the 経過).
pub async fn create(
    db: &Db,
    n: &NewIncident,
    affected: &Affected,
    origin: Origin,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = create_in(&mut tx, n, actor, now).await?;
    if !affected.services.trim().is_empty() || !affected.facility_ids.is_empty() {
        repo::set_affected_services(&mut tx, id, affected.services.trim()).await?;
        repo::set_facilities(&mut tx, id, &affected.facility_ids).await?;
    }
    match origin {
        Origin::Manual => {}
        Origin::Inquiry(q) => link_in(&mut tx, id, LinkTarget::Inquiry(q), actor, now).await?,
        Origin::Alert(a) => link_in(&mut tx, id, LinkTarget::Alert(a), actor, now).await?,
    }
    tx.commit().await?;
    Ok(id)
}

/// Something an incident is linked to (R17.1, issue 13 item 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    Inquiry(i64),
    Alert(i64),
}

async fn link_in(
    tx: &mut Tx,
    incident_id: i64,
    target: LinkTarget,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let (text, audit_target) = match target {
        LinkTarget::Inquiry(q) => {
            let inq = crate::helpdesk::inquiry_for_incident(tx, q)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid("target", "その番号の問い合わせはありません。")
                })?;
            if !crate::helpdesk::link_incident(tx, q, incident_id).await? {
                return Err(DomainError::conflict(format!(
                    "問い合わせ #{q} は既に別の障害（#{}）に関連付けられています。",
                    inq.incident_id.unwrap_or_default()
                )));
            }
            (
                format!("問い合わせ #{q}「{}」を関連付けました。", inq.subject),
                format!("inquiry:{q}"),
            )
        }
        LinkTarget::Alert(a) => {
            let alert = crate::monitor::repo_incidents::alert(tx, a)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid("target", "その番号の監視アラートはありません。")
                })?;
            if !crate::monitor::repo_incidents::link(tx, a, incident_id).await? {
                return Err(DomainError::conflict(format!(
                    "監視アラート #{a} は既に別の障害（#{}）に関連付けられています。",
                    alert.incident_id.unwrap_or_default()
                )));
            }
            (
                format!(
                    "監視アラート #{a}（{}：{}）を関連付けました。",
                    alert.monitor_name,
                    if alert.kind == "down" {
                        "停止"
                    } else {
                        "回復"
                    }
                ),
                format!("monitor_alert:{a}"),
            )
        }
    };
    repo::add_timeline(tx, incident_id, now, "link", &text, &actor.login, now).await?;
    audit::record(
        tx,
        now,
        actor,
        "incident.linked",
        &format!("incident:{incident_id}"),
        json!({ "linked": audit_target }),
    )
    .await?;
    Ok(())
}

/// Links one more inquiry or alert to an existing incident.
pub async fn link(
    db: &Db,
    incident_id: i64,
    target: LinkTarget,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    repo::find(&mut tx, incident_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    link_in(&mut tx, incident_id, target, actor, now).await?;
    tx.commit().await?;
    Ok(())
}
