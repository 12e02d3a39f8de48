//! Every state change of facilities: add, update, withdraw. Each is one transaction with its
//! audit event and fails with a [`DomainError`] (a code already in use is `Invalid` on `code`).

use serde_json::json;

use super::model::NewFacility;
use super::repo;
use crate::audit::{self, Actor};
use crate::db::{Constraint, Db, Timestamp, constraint};
use crate::error::DomainError;

fn code_in_use(f: &NewFacility) -> DomainError {
    DomainError::invalid(
        "code",
        format!("施設コード {} はすでに登録されています。", f.code),
    )
}

/// Adds a facility; a code already in use is refused on the `code` field.
pub async fn add(
    db: &Db,
    f: &NewFacility,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = match repo::insert(&mut tx, &fields(f), now).await {
        Ok(id) => id,
        Err(e) if constraint(&e) == Some(Constraint::Unique) => return Err(code_in_use(f)),
        Err(e) => return Err(e.into()),
    };
    let details = json!({"code": f.code.as_str(), "name": f.name, "kind": f.kind.label()});
    audit::record(
        &mut tx,
        now,
        actor,
        "facility.created",
        &format!("facility:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes a facility's code, name, kind and contact data.
pub async fn update(
    db: &Db,
    id: i64,
    f: &NewFacility,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let before = repo::find(&mut tx, id).await?;
    match repo::update(&mut tx, id, &fields(f)).await {
        Ok(_) => {}
        Err(e) if constraint(&e) == Some(Constraint::Unique) => return Err(code_in_use(f)),
        Err(e) => return Err(e.into()),
    }
    let details = json!({
        "before": {"code": before.code, "name": before.name, "kind": before.kind, "address": before.address, "phone": before.phone, "fax": before.fax},
        "after": {"code": f.code.as_str(), "name": f.name, "kind": f.kind.label(), "address": f.address, "phone": f.phone, "fax": f.fax},
    });
    audit::record(
        &mut tx,
        now,
        actor,
        "facility.updated",
        &format!("facility:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a withdrawal (脱退). Returns the facility's name, or `None` if it had already withdrawn.
pub async fn withdraw(
    db: &Db,
    id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<Option<String>, DomainError> {
    let mut tx = db.begin().await?;
    let f = repo::find(&mut tx, id).await?;
    if !repo::withdraw(&mut tx, id, now).await? {
        return Ok(None);
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "facility.withdrawn",
        &format!("facility:{id}"),
        json!({"code": f.code, "name": f.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(f.name))
}

/// The columns of a facility to add or update.
fn fields(f: &NewFacility) -> repo::FacilityFields<'_> {
    repo::FacilityFields {
        code: f.code.as_str(),
        name: &f.name,
        kind: f.kind.label(),
        postal_code: &f.postal_code,
        address: &f.address,
        phone: &f.phone,
        fax: &f.fax,
    }
}
