//! Incidents' state changes; each one transaction with its audit event.

use serde_json::json;

use super::model::{self, NewIncident};
use super::repo;
use crate::audit::{self, Actor};
use crate::db::{Timestamp, Tx, tokyo};
use crate::error::DomainError;

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
