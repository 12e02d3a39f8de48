//! Recurrence prevention (R17.3, article 17 (4)): measures that system management cannot take
//! alone, reported to the service operator.
//!
//! - A system administrator writes the report for an incident (下書き), submits it (提出済) to
//!   the service operator, who accepts it (受理済) or returns it with a comment (差し戻し); a
//!   returned report is corrected and submitted again. Only the service operator decides.
//! - Whether an extraordinary committee (臨時運営委員会) was convened is recorded with its date
//!   and the minutes (PDF or an image, kept in the blob store and counted as a reference by the
//!   records' purge) by the service operator or a system administrator.
//! - Measures have a description, an owner and a due date; they are tracked to completion, and a
//!   measure not done by its due date (Japan date) is overdue. The dashboard shows the service
//!   operator the reports awaiting acceptance and the overdue measures, and system
//!   administrators the overdue and returned ones.
//! - Readers: system administrators, the service operator, the operations manager and the
//!   committee. Every change is audited; submissions and decisions are entries of the incident's
//!   経過 (kind `note`).

use jiff::civil::Date;
use serde_json::json;

use super::repo;
use super::repo_recurrence::{self as rrepo, Measure, Report};
use crate::audit::{self, Actor};
use crate::auth::{Owned, Owner, Principal, Role};
use crate::db::{Db, Timestamp, tokyo};
use crate::error::DomainError;
use crate::state::{AppState, Card};

pub const READERS: &[Role] = &[
    Role::SystemAdmin,
    Role::ServiceOperator,
    Role::OpsManager,
    Role::Committee,
];
pub const WRITERS: &[Role] = &[Role::SystemAdmin];
/// The service operator (the city) accepts or returns reports.
pub const CITY: &[Role] = &[Role::ServiceOperator];
/// Who records the extraordinary committee.
pub const COMMITTEE_RECORDERS: &[Role] = &[Role::SystemAdmin, Role::ServiceOperator];

impl Owned for Report {
    fn owner(&self) -> Owner {
        Owner::Network
    }
    fn audit_target(&self) -> String {
        format!("incident_recurrence:{}", self.id)
    }
}

impl Owned for Measure {
    fn owner(&self) -> Owner {
        Owner::Network
    }
    fn audit_target(&self) -> String {
        format!("incident_measure:{}", self.id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportState {
    Draft,
    Submitted,
    Returned,
    Accepted,
}

impl ReportState {
    pub const ALL: [ReportState; 4] = [
        ReportState::Draft,
        ReportState::Submitted,
        ReportState::Returned,
        ReportState::Accepted,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ReportState::Draft => "draft",
            ReportState::Submitted => "submitted",
            ReportState::Returned => "returned",
            ReportState::Accepted => "accepted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ReportState::Draft => "下書き",
            ReportState::Submitted => "提出済（受理待ち）",
            ReportState::Returned => "差し戻し",
            ReportState::Accepted => "受理済",
        }
    }

    pub fn parse(s: &str) -> Option<ReportState> {
        ReportState::ALL.into_iter().find(|x| x.key() == s)
    }

    /// Whether the system administrator may still change the text and submit it.
    pub fn editable(self) -> bool {
        matches!(self, ReportState::Draft | ReportState::Returned)
    }
}

impl Report {
    pub fn state(&self) -> ReportState {
        ReportState::parse(&self.state).unwrap_or(ReportState::Draft)
    }
}

/// Today in Japan.
pub fn today(now: Timestamp) -> Date {
    now.as_jiff().to_zoned(tokyo()).date()
}

/// Whether a measure is overdue on `today`: not done and its due date has passed. Pure.
pub fn overdue(due_on: &str, done: bool, today: Date) -> bool {
    !done && due_on.parse::<Date>().is_ok_and(|d| d < today)
}

fn check_text(title: &str, body: &str) -> Result<(), DomainError> {
    if title.trim().is_empty() || title.chars().count() > 200 {
        return Err(DomainError::invalid(
            "title",
            "件名を 200 文字以内で入力してください。",
        ));
    }
    if body.trim().is_empty() || body.chars().count() > 20_000 {
        return Err(DomainError::invalid(
            "body",
            "再発防止策の内容を入力してください。",
        ));
    }
    Ok(())
}

/// A system administrator starts a report (下書き) for an incident.
pub async fn create(
    db: &Db,
    incident_id: i64,
    title: &str,
    body: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    check_text(title, body)?;
    let mut tx = db.begin().await?;
    let i = repo::find(&mut tx, incident_id)
        .await?
        .ok_or_else(|| DomainError::invalid("incident_id", "障害を選んでください。"))?;
    let id =
        rrepo::insert_report(&mut tx, i.id, title.trim(), body.trim(), &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.recurrence_created",
        &format!("incident_recurrence:{id}"),
        json!({"incident_id": i.id, "title": title.trim()}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves the text of a draft or returned report (a stale form is a `Conflict`).
pub async fn update(
    db: &Db,
    id: i64,
    base_revision: i64,
    title: &str,
    body: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    check_text(title, body)?;
    let mut tx = db.begin().await?;
    let r = rrepo::find_report(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !r.state().editable() {
        return Err(DomainError::conflict(
            "提出済みまたは受理済みの報告は変更できません。",
        ));
    }
    if !rrepo::update_text(&mut tx, id, base_revision, title.trim(), body.trim(), now).await? {
        return Err(DomainError::conflict(
            "編集中に他の人が保存しました。最新の内容を確認してから、もう一度保存してください。",
        ));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.recurrence_updated",
        &format!("incident_recurrence:{id}"),
        json!({"revision": base_revision + 1, "title": title.trim()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Submits a draft or returned report to the service operator.
pub async fn submit(db: &Db, id: i64, actor: &Actor, now: Timestamp) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let r = rrepo::find_report(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !r.state().editable() {
        return Err(DomainError::conflict("この報告はすでに提出されています。"));
    }
    rrepo::set_submitted(&mut tx, id, &actor.login, now).await?;
    repo::add_timeline(
        &mut tx,
        r.incident_id,
        now,
        "note",
        &format!(
            "再発防止策の報告「{}」をサービス運用者に提出しました。",
            r.title
        ),
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.recurrence_submitted",
        &format!("incident_recurrence:{id}"),
        json!({"incident_id": r.incident_id, "from": r.state}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The service operator accepts a submitted report, or returns it with a comment (required).
pub async fn decide(
    db: &Db,
    id: i64,
    accept: bool,
    comment: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let comment = comment.trim();
    if !accept && comment.is_empty() {
        return Err(DomainError::invalid(
            "comment",
            "差し戻しの理由を入力してください。",
        ));
    }
    if comment.chars().count() > 2000 {
        return Err(DomainError::invalid(
            "comment",
            "コメントは 2000 文字以内で入力してください。",
        ));
    }
    let mut tx = db.begin().await?;
    let r = rrepo::find_report(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if r.state() != ReportState::Submitted {
        return Err(DomainError::conflict(
            "受理待ちの報告ではありません（提出されていないか、すでに判断済みです）。",
        ));
    }
    let to = if accept {
        ReportState::Accepted
    } else {
        ReportState::Returned
    };
    rrepo::set_decided(&mut tx, id, to.key(), &actor.login, comment, now).await?;
    let line = if accept {
        format!(
            "サービス運用者が再発防止策の報告「{}」を受理しました。",
            r.title
        )
    } else {
        format!(
            "サービス運用者が再発防止策の報告「{}」を差し戻しました: {comment}",
            r.title
        )
    };
    repo::add_timeline(
        &mut tx,
        r.incident_id,
        now,
        "note",
        &line,
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        if accept {
            "incident.recurrence_accepted"
        } else {
            "incident.recurrence_returned"
        },
        &format!("incident_recurrence:{id}"),
        json!({"incident_id": r.incident_id, "comment": comment}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The minutes of the committee as uploaded.
pub struct Minutes {
    pub bytes: Vec<u8>,
    pub name: String,
}

/// Records whether an extraordinary committee was convened, its date and (optionally) new
/// minutes. The minutes are written to the blob store before the transaction, under the store's
/// writing gate, so that a purge cannot collect them in between.
pub async fn record_committee(
    state: &AppState,
    id: i64,
    convened: bool,
    on: &str,
    minutes: Option<Minutes>,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let on = on.trim();
    let date = if convened {
        Some(
            on.parse::<Date>()
                .map_err(|_| DomainError::invalid("committee_on", "開催日を入力してください。"))?,
        )
    } else {
        None
    };
    let minutes = match minutes {
        Some(m) if !m.bytes.is_empty() => {
            let Some(ty) = crate::records::model::scan_type(&m.bytes) else {
                return Err(DomainError::invalid(
                    "minutes",
                    "議事録は PDF・PNG・JPEG・TIFF のファイルを添付してください。",
                ));
            };
            if !convened {
                return Err(DomainError::invalid(
                    "minutes",
                    "議事録は、委員会を開催した場合に添付してください。",
                ));
            }
            Some((m, ty))
        }
        _ => None,
    };
    let store = crate::blobs::BlobStore::of(state);
    let _gate = store.writing().await;
    let stored = match minutes {
        Some((m, ty)) => {
            use sha2::Digest;
            let hash = hex::encode(sha2::Sha256::digest(&m.bytes));
            store
                .put(&hash, &m.bytes)
                .await
                .map_err(DomainError::Internal)?;
            let name: String = m
                .name
                .chars()
                .filter(|c| !c.is_control() && !"\"\\/".contains(*c))
                .take(120)
                .collect();
            Some((hash, name, ty))
        }
        None => None,
    };
    let mut tx = state.db.begin().await?;
    let r = rrepo::find_report(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let on_text = date.map(|d| d.to_string());
    rrepo::set_committee(
        &mut tx,
        id,
        convened,
        on_text.as_deref(),
        stored
            .as_ref()
            .map(|(h, n, t)| (h.as_str(), n.as_str(), *t)),
        now,
    )
    .await?;
    if convened {
        repo::add_timeline(
            &mut tx,
            r.incident_id,
            now,
            "note",
            &format!(
                "臨時運営委員会の開催を記録しました（{}）{}。",
                on_text.as_deref().unwrap_or(""),
                if stored.is_some() {
                    "、議事録を添付"
                } else {
                    ""
                }
            ),
            &actor.login,
            now,
        )
        .await?;
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.recurrence_committee",
        &format!("incident_recurrence:{id}"),
        json!({
            "convened": convened, "on": on_text,
            "minutes": stored.as_ref().map(|(h, n, _)| json!({"hash": h, "name": n})),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a measure to a report.
pub async fn add_measure(
    db: &Db,
    report_id: i64,
    description: &str,
    owner: &str,
    due_on: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let description = description.trim();
    let owner = owner.trim();
    if description.is_empty() || description.chars().count() > 2000 {
        return Err(DomainError::invalid(
            "description",
            "対策の内容を入力してください。",
        ));
    }
    if owner.is_empty() || owner.chars().count() > 100 {
        return Err(DomainError::invalid("owner", "担当を入力してください。"));
    }
    let due: Date = due_on
        .trim()
        .parse()
        .map_err(|_| DomainError::invalid("due_on", "期限を入力してください。"))?;
    let mut tx = db.begin().await?;
    let r = rrepo::find_report(&mut tx, report_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let id = rrepo::insert_measure(
        &mut tx,
        r.id,
        description,
        owner,
        &due.to_string(),
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.measure_added",
        &format!("incident_measure:{id}"),
        json!({"report_id": r.id, "owner": owner, "due_on": due.to_string()}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Marks a measure done.
pub async fn complete_measure(
    db: &Db,
    id: i64,
    note: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let m = rrepo::find_measure(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if m.done_at.is_some() {
        return Err(DomainError::conflict("この対策はすでに完了しています。"));
    }
    rrepo::set_measure_done(&mut tx, id, &actor.login, note.trim(), now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.measure_done",
        &format!("incident_measure:{id}"),
        json!({"report_id": m.report_id, "due_on": m.due_on,
               "late": overdue(&m.due_on, false, today(now))}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The dashboard: for the service operator, reports awaiting acceptance and overdue measures;
/// for system administrators, overdue measures and returned reports.
pub async fn cards(state: &AppState, p: &Principal, now: Timestamp) -> anyhow::Result<Vec<Card>> {
    if !matches!(p.role, Role::ServiceOperator | Role::SystemAdmin) {
        return Ok(Vec::new());
    }
    let mut conn = state.db.pool().acquire().await?;
    let reports = rrepo::list_reports(&mut conn).await?;
    let measures = rrepo::list_open_measures(&mut conn).await?;
    let t = today(now);
    let late = measures
        .iter()
        .filter(|m| overdue(&m.due_on, false, t))
        .count();
    let (count, label, title) = if p.role == Role::ServiceOperator {
        let n = reports
            .iter()
            .filter(|r| r.state() == ReportState::Submitted)
            .count();
        (n, "受理待ち", "再発防止策の報告")
    } else {
        let n = reports
            .iter()
            .filter(|r| r.state() == ReportState::Returned)
            .count();
        (n, "差し戻し", "再発防止策")
    };
    if count == 0 && late == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![Card {
        title: title.into(),
        value: format!("{label} {count} 件"),
        note: if late > 0 {
            format!("期限を過ぎた対策が {late} 件あります")
        } else {
            "期限を過ぎた対策はありません".into()
        },
        tone: if late > 0 { "alert" } else { "warn" },
        href: "/incidents/recurrence".into(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r17_3_a_measure_is_overdue_only_after_its_due_day_and_until_it_is_done() {
        let d: Date = "2026-04-10".parse().expect("date");
        assert!(!overdue("2026-04-10", false, d), "due today is not late");
        assert!(overdue("2026-04-09", false, d));
        assert!(!overdue("2026-04-09", true, d), "done is never late");
        assert!(!ReportState::Submitted.editable());
        assert!(ReportState::Returned.editable());
    }
}
