//! Corrections of an incident's 別紙3 fields from the edit form (re-exported by `service`):
//! each changed field is a `correction` entry of the 経過; a form opened at an older revision
//! is refused ([`STALE`]).

use serde_json::json;

use super::model::{self, CauseCategory, Incident, Severity};
use super::repo::{self, Fields};
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;

/// The message of a stale form (the record changed after the form was opened).
pub const STALE: &str = "この障害は、画面を開いた後に他の人が更新しました。最新の内容を読み込み直してから、もう一度操作してください。";

pub(super) fn stale() -> DomainError {
    DomainError::conflict(STALE)
}

fn check_fields(f: &Fields) -> Result<(), DomainError> {
    for (field, value, label) in [
        ("title", &f.title, "件名"),
        ("discovered_where", &f.discovered_where, "発見箇所"),
        ("description", &f.description, "障害内容"),
    ] {
        if value.trim().is_empty() {
            return Err(DomainError::invalid(
                field,
                format!("{label}を入力してください。"),
            ));
        }
    }
    if Severity::parse(&f.severity).is_none() {
        return Err(DomainError::invalid("severity", "重大度を選んでください。"));
    }
    if let (Some(o), Some(r)) = (f.occurred_at, f.recovered_at)
        && r < o
    {
        return Err(DomainError::invalid(
            "recovered_at",
            "復旧日時が発生日時より前になっています。",
        ));
    }
    Ok(())
}

pub(super) fn show_time(t: Option<Timestamp>) -> String {
    t.map(|t| t.jst()).unwrap_or_default()
}

fn severity_label(key: &str) -> String {
    Severity::parse(key)
        .map(|s| s.label().to_string())
        .unwrap_or_default()
}

/// The changed fields as (field, old, new) display texts.
fn diff(old: &Fields, new: &Fields) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut text = |field: &'static str, a: &str, b: &str| {
        if a != b {
            out.push((field, a.to_string(), b.to_string()));
        }
    };
    text("title", &old.title, &new.title);
    text(
        "severity",
        &severity_label(&old.severity),
        &severity_label(&new.severity),
    );
    text(
        "discovered_at",
        &old.discovered_at.jst(),
        &new.discovered_at.jst(),
    );
    text(
        "discovered_where",
        &old.discovered_where,
        &new.discovered_where,
    );
    text(
        "occurred_at",
        &show_time(old.occurred_at),
        &show_time(new.occurred_at),
    );
    text("description", &old.description, &new.description);
    text("impact", &old.impact, &new.impact);
    let yes_no = |b: bool| if b { "あり" } else { "なし" };
    text(
        "affects_users",
        yes_no(old.affects_users),
        yes_no(new.affects_users),
    );
    text(
        "affected_services",
        &old.affected_services,
        &new.affected_services,
    );
    text(
        "recovered_at",
        &show_time(old.recovered_at),
        &show_time(new.recovered_at),
    );
    text("cause", &old.cause, &new.cause);
    let category = |k: &str| CauseCategory::parse(k).map_or(k.to_string(), |c| c.label().into());
    text(
        "cause_category",
        &category(&old.cause_category),
        &category(&new.cause_category),
    );
    text("action_taken", &old.action_taken, &new.action_taken);
    text("remarks", &old.remarks, &new.remarks);
    out
}

pub fn fields_of(i: &Incident) -> Fields {
    Fields {
        title: i.title.clone(),
        severity: i.severity.clone(),
        discovered_at: i.discovered_at,
        discovered_where: i.discovered_where.clone(),
        occurred_at: i.occurred_at,
        description: i.description.clone(),
        impact: i.impact.clone(),
        affects_users: i.affects_users,
        affected_services: i.affected_services.clone(),
        recovered_at: i.recovered_at,
        cause: i.cause.clone(),
        cause_category: i.cause_category.clone(),
        action_taken: i.action_taken.clone(),
        remarks: i.remarks.clone(),
    }
}

/// Corrects the record's fields from the edit form opened at `revision`: every changed field
/// is a `correction` entry of the 経過 with its old and new value (nothing is overwritten
/// without a trace). A stale revision is a `Conflict` ([`STALE`]). Returns how many fields
/// changed (0: nothing was written).
#[allow(clippy::too_many_arguments)]
pub async fn correct(
    db: &Db,
    id: i64,
    revision: i64,
    new: &Fields,
    facility_names: &[(i64, String)],
    facility_ids: &[i64],
    actor: &Actor,
    now: Timestamp,
) -> Result<usize, DomainError> {
    check_fields(new)?;
    let mut tx = db.begin().await?;
    let inc = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if inc.revision != revision {
        return Err(stale());
    }
    let old = fields_of(&inc);
    let mut changes = diff(&old, new);
    let old_facilities = repo::facility_ids(&mut tx, id).await?;
    let mut wanted = facility_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let name_of = |ids: &[i64]| {
        ids.iter()
            .map(|i| {
                facility_names
                    .iter()
                    .find(|(f, _)| f == i)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| format!("施設 #{i}"))
            })
            .collect::<Vec<_>>()
            .join("、")
    };
    if old_facilities != wanted {
        changes.push(("facilities", name_of(&old_facilities), name_of(&wanted)));
        repo::set_facilities(&mut tx, id, &wanted).await?;
    }
    if changes.is_empty() {
        return Ok(0);
    }
    if !repo::update_fields(&mut tx, id, revision, new, now).await? {
        return Err(stale());
    }
    for (field, a, b) in &changes {
        repo::add_timeline(
            &mut tx,
            id,
            now,
            "correction",
            &model::correction_text(field, a, b),
            &actor.login,
            now,
        )
        .await?;
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.corrected",
        &format!("incident:{id}"),
        json!({
            "revision": revision + 1,
            "changes": changes.iter().map(|(f, a, b)| json!({"field": f, "old": a, "new": b}))
                .collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(changes.len())
}
