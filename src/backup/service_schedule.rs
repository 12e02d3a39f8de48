//! Backup schedules (R21.2, R21.3): a system administrator proposes, the service operator
//! approves, rejects or retires — each one transaction with its audit event — and the scheduler
//! (`scheduler.rs`, job `backup.scheduled`) runs the approved ones. Approval publishes at once: the
//! portal announcement (category バックアップ予定, public) saying when backups run, and for a
//! monthly schedule that stops the service its next stop as an approved portal window.

use jiff::SignedDuration;
use serde_json::json;

use super::model::Kind;
use super::repo_schedule::{self as repo, NewScheduleRow, ScheduleRow};
use super::schedule::{self, Cadence, DayOfMonth, LocalTime};
use super::settings::BackupSettings;
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp, Tx};
use crate::error::DomainError;
use crate::portal::{self, Category, Editor, NewWindow, Notice, WindowKind};

/// The scheduler's job name (and its audit actor, `system:backup.scheduled`).
pub const JOB: &str = "backup.scheduled";

/// What a system administrator proposes (the form's fields, unparsed).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Proposal {
    pub kind: String,
    pub local_time: String,
    pub day_of_month: String,
    /// A checkbox: present ("1") when the monthly backup stops the service.
    pub stop_service: Option<String>,
    pub window_minutes: String,
    pub note: String,
}

/// A proposal checked: kind, cadence, whether and how long it stops the service.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub kind: Kind,
    pub cadence: Cadence,
    pub stop_service: bool,
    pub window_minutes: i64,
}

impl Proposal {
    pub fn check(&self) -> Result<Checked, DomainError> {
        let kind = match Kind::parse(self.kind.trim()) {
            Some(k @ (Kind::Daily | Kind::Monthly)) => k,
            _ => {
                return Err(DomainError::invalid(
                    "kind",
                    "日次か月次かを選んでください。",
                ));
            }
        };
        let at = LocalTime::parse(&self.local_time)
            .map_err(|m| DomainError::invalid("local_time", m))?;
        if kind == Kind::Daily {
            return Ok(Checked {
                kind,
                cadence: Cadence::Daily(at),
                stop_service: false,
                window_minutes: 0,
            });
        }
        let day = DayOfMonth::parse(&self.day_of_month)
            .map_err(|m| DomainError::invalid("day_of_month", m))?;
        let stop_service = self.stop_service.as_deref().is_some_and(|v| !v.is_empty());
        let window_minutes = if stop_service {
            let m = self.window_minutes.trim().parse::<i64>().unwrap_or(0);
            schedule::check_window_minutes(m)
                .map_err(|m| DomainError::invalid("window_minutes", m))?
        } else {
            0
        };
        Ok(Checked {
            kind,
            cadence: Cadence::Monthly { day, at },
            stop_service,
            window_minutes,
        })
    }
}

/// A stored schedule's cadence (rows are checked when proposed; a damaged row is an error).
pub fn cadence_of(row: &ScheduleRow) -> anyhow::Result<Cadence> {
    let at = LocalTime::parse(&row.local_time).map_err(anyhow::Error::msg)?;
    Ok(match row.kind.as_str() {
        "daily" => Cadence::Daily(at),
        "monthly" => Cadence::Monthly {
            day: DayOfMonth::new(row.day_of_month.unwrap_or(0)).map_err(anyhow::Error::msg)?,
            at,
        },
        other => anyhow::bail!("unknown schedule kind {other}"),
    })
}

pub(super) fn kind_of(row: &ScheduleRow) -> Kind {
    Kind::parse(&row.kind).unwrap_or(Kind::Daily)
}

/// Whether the schedule's monthly backup stops the service.
pub fn stops(row: &ScheduleRow) -> bool {
    row.kind == "monthly" && row.stop_service
}

/// The slots of a schedule count strictly after this instant: its last handled slot, or its
/// approval.
pub fn counts_after(row: &ScheduleRow) -> Timestamp {
    let approved = row.decided_at.unwrap_or(row.proposed_at);
    match row.last_slot {
        Some(last) if last > approved => last,
        _ => approved,
    }
}

/// The next slot the schedule will run.
pub fn next_slot(row: &ScheduleRow) -> Option<Timestamp> {
    cadence_of(row).ok()?.next_after(counts_after(row))
}

/// The next slot that stops the service: the next one at least `notice_days` after the
/// approval, so that every stop is on the portal that long in advance (R21.3). The slots before
/// it run without stopping the service.
pub fn next_stop(row: &ScheduleRow, notice_days: u32) -> Option<Timestamp> {
    if !stops(row) {
        return None;
    }
    let approved = row.decided_at.unwrap_or(row.proposed_at);
    let from = approved
        .plus(SignedDuration::from_hours(24 * i64::from(notice_days)))
        .minus(SignedDuration::from_millis(1));
    let after = match row.last_slot {
        Some(last) if last > from => last,
        _ => from,
    };
    cadence_of(row).ok()?.next_after(after)
}

fn who(e: &Editor<'_>) -> String {
    format!("{}（{}）", e.name, e.login_id)
}

/// The scheduler as the author of what it publishes.
pub fn system_editor() -> Editor<'static> {
    Editor {
        login_id: "system:backup.scheduled",
        name: "バックアップ（自動）",
        role_label: "システム",
        actor: Actor::system(JOB),
    }
}

/// A system administrator proposes a schedule (提案中).
pub async fn propose(
    db: &Db,
    p: &Proposal,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let c = p.check()?;
    let note = p.note.trim();
    if note.chars().count() > 1000 {
        return Err(DomainError::invalid(
            "note",
            "備考は 1,000 文字以内で入力してください。",
        ));
    }
    let local_time = LocalTime::parse(&p.local_time)
        .map_err(|m| DomainError::invalid("local_time", m))?
        .key();
    let day = match c.cadence {
        Cadence::Monthly { day, .. } => Some(day.get()),
        Cadence::Daily(_) => None,
    };
    let mut tx = db.begin().await?;
    let id = repo::insert(
        &mut tx,
        &NewScheduleRow {
            kind: c.kind.key(),
            local_time: &local_time,
            day_of_month: day,
            stop_service: c.stop_service,
            window_minutes: if c.stop_service { c.window_minutes } else { 60 },
            note,
            proposed_by: &who(e),
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &e.actor,
        "backup.schedule_proposed",
        &format!("backup_schedule:{id}"),
        json!({"kind": c.kind.key(), "when": c.cadence.label(), "stop_service": c.stop_service,
            "window_minutes": c.window_minutes, "note": note}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn decision_note(note: &str) -> Result<&str, DomainError> {
    let note = note.trim();
    if note.chars().count() > 1000 {
        return Err(DomainError::invalid(
            "note",
            "コメントは 1,000 文字以内で入力してください。",
        ));
    }
    Ok(note)
}

/// The service operator approves a proposed schedule: from now on it runs. The approved
/// schedule of the same kind, if any, is retired; the announcement is updated and a stop is
/// published — all in this one transaction.
pub async fn approve(
    db: &Db,
    id: i64,
    note: &str,
    e: &Editor<'_>,
    settings: &BackupSettings,
    now: Timestamp,
) -> Result<(), DomainError> {
    let note = decision_note(note)?;
    let mut tx = db.begin().await?;
    let row = repo::find(&mut tx, id).await?;
    if !repo::decide(&mut tx, id, "approved", &who(e), note, now).await? {
        return Err(DomainError::conflict(
            "この予定はすでに承認・却下されています。",
        ));
    }
    let when = cadence_of(&row).map(|c| c.label()).unwrap_or_default();
    audit::record(
        &mut tx,
        now,
        &e.actor,
        "backup.schedule_approved",
        &format!("backup_schedule:{id}"),
        json!({"kind": row.kind, "when": when, "stop_service": stops(&row),
            "window_minutes": row.window_minutes, "note": note}),
    )
    .await?;
    for old in repo::approved_of_kind(&mut tx, &row.kind, id).await? {
        let why = format!("新しい予定（No.{id}）の承認により廃止");
        retire_in(&mut tx, &old, &why, e, now).await?;
    }
    let row = repo::find(&mut tx, id).await?;
    if stops(&row) {
        publish_next_stop(&mut tx, &row, &e.actor, settings, now).await?;
    }
    refresh_notice(&mut tx, e, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The service operator rejects a proposed schedule, saying why.
pub async fn reject(
    db: &Db,
    id: i64,
    note: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let note = decision_note(note)?;
    if note.is_empty() {
        return Err(DomainError::invalid(
            "note",
            "却下の理由を入力してください。",
        ));
    }
    let mut tx = db.begin().await?;
    let row = repo::find(&mut tx, id).await?;
    if !repo::decide(&mut tx, id, "rejected", &who(e), note, now).await? {
        return Err(DomainError::conflict(
            "この予定はすでに承認・却下されています。",
        ));
    }
    audit::record(
        &mut tx,
        now,
        &e.actor,
        "backup.schedule_rejected",
        &format!("backup_schedule:{id}"),
        json!({"kind": row.kind, "note": note}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The service operator retires an approved schedule (it no longer runs); its published stop
/// that has not started is taken down and the announcement updated.
pub async fn retire(
    db: &Db,
    id: i64,
    note: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let note = decision_note(note)?;
    let mut tx = db.begin().await?;
    let row = repo::find(&mut tx, id).await?;
    if row.state != "approved" {
        return Err(DomainError::conflict("承認済みの予定ではありません。"));
    }
    retire_in(&mut tx, &row, note, e, now).await?;
    refresh_notice(&mut tx, e, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn retire_in(
    tx: &mut Tx,
    row: &ScheduleRow,
    note: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    if !repo::retire(tx, row.id, &who(e), note, now).await? {
        return Err(DomainError::conflict("承認済みの予定ではありません。"));
    }
    if let Some(w) = row.window_id {
        portal::withdraw_window(tx, w, "バックアップ予定の廃止", &e.actor, now).await?;
    }
    repo::set_published(tx, row.id, None, None).await?;
    audit::record(
        tx,
        now,
        &e.actor,
        "backup.schedule_retired",
        &format!("backup_schedule:{}", row.id),
        json!({"kind": row.kind, "note": note}),
    )
    .await?;
    Ok(())
}

/// Publishes the schedule's next stop on the portal as an approved window (approved by the
/// service operator who approved the schedule), unless it is published already. A different
/// stop published before and not yet started is taken down.
pub(super) async fn publish_next_stop(
    tx: &mut Tx,
    row: &ScheduleRow,
    actor: &Actor,
    settings: &BackupSettings,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let Some(next) = next_stop(row, settings.stop_notice_days) else {
        return Ok(false);
    };
    if row.published_slot == Some(next) {
        return Ok(false);
    }
    if let Some(w) = row.window_id {
        portal::withdraw_window(tx, w, "次回のバックアップ停止に置き換え", actor, now).await?;
    }
    let approver = row.decided_by.clone().unwrap_or_default();
    let reason = format!("月次バックアップ（バックアップ予定 No.{}）", row.id);
    let window = NewWindow {
        kind: WindowKind::Backup,
        title: "月次バックアップのためのサービス停止（閲覧のみ可能）",
        starts_at: next,
        ends_at: next.plus_minutes(row.window_minutes),
        services: "全サービス（閲覧はできます。登録・変更・送信はできません）",
        reason: &reason,
        source: "backup",
    };
    let wid = portal::publish_approved_window(tx, &window, &approver, actor, now)
        .await
        .map_err(DomainError::from)?;
    repo::set_published(tx, row.id, Some(next), Some(wid)).await?;
    Ok(true)
}

/// The announcement text for the approved schedules.
fn notice_text(rows: &[ScheduleRow], now: Timestamp) -> (String, String) {
    let mut lines = Vec::new();
    let mut next_stop = None;
    for r in rows {
        let Ok(c) = cadence_of(r) else { continue };
        let line = if stops(r) {
            format!(
                "- 月次バックアップ：{}（サービスを停止します。最長 {} 分間、閲覧のみ可能で、登録・変更・送信はできません）",
                c.label(),
                r.window_minutes
            )
        } else if r.kind == "monthly" {
            format!(
                "- 月次バックアップ：{}（サービスは停止しません）",
                c.label()
            )
        } else {
            format!(
                "- 日次バックアップ：{}（サービスは停止しません）",
                c.label()
            )
        };
        lines.push(line);
        if let Some(s) = r.published_slot {
            let end = s.plus_minutes(r.window_minutes);
            if end > now {
                next_stop = Some((s, end));
            }
        }
    }
    let mut body = format!(
        "きよすレインボーネットでは、次の予定でデータのバックアップを行っています（日本時間）。\n\n{}\n",
        lines.join("\n")
    );
    let title = match next_stop {
        Some((s, e)) => {
            let when = schedule::occurrence_label(s, e);
            body.push_str(&format!(
                "\n**次回のサービス停止：{when}**\n\nバックアップが早く終われば、その時点で通常どおりご利用いただけます。停止中に送信された診療情報は受け付けられません（送信元のシステムには再送を求める応答が返ります）。停止の間も閲覧はできます。\n"
            ));
            format!("バックアップの実施予定（次回のサービス停止：{when}）")
        }
        None => "バックアップの実施予定".to_string(),
    };
    body.push_str("\nこの予定は、サービス運用者の承認を受けて掲載しています。\n");
    (title, body)
}

/// Brings the portal announcement in line with the approved schedules (none: taken down).
pub(super) async fn refresh_notice(
    tx: &mut Tx,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let rows = repo::list_approved(tx).await?;
    let existing = repo::current_announcement(tx).await?;
    if rows.is_empty() {
        if let Some(id) = existing {
            let notice = Notice {
                category: Category::Backup,
                title: "バックアップの実施予定",
                body_md: "現在、掲載しているバックアップの予定はありません。",
                is_public: true,
                expires_at: Some(now),
            };
            portal::publish_notice_in(tx, Some(id), &notice, e, now).await?;
        }
        return Ok(());
    }
    let (title, body) = notice_text(&rows, now);
    let notice = Notice {
        category: Category::Backup,
        title: &title,
        body_md: &body,
        is_public: true,
        expires_at: None,
    };
    let id = portal::publish_notice_in(tx, existing, &notice, e, now).await?;
    repo::set_announcement(tx, id).await?;
    Ok(())
}

/// A schedule row for unit tests (here and in the scheduler's).
#[cfg(test)]
pub(super) fn test_row(kind: &str, stop: bool, decided: &str) -> ScheduleRow {
    let t: Timestamp = decided.parse().expect("time");
    ScheduleRow {
        id: 1,
        kind: kind.into(),
        local_time: "03:00".into(),
        day_of_month: (kind == "monthly").then_some(1),
        stop_service: stop,
        window_minutes: 60,
        state: "approved".into(),
        note: String::new(),
        proposed_by: "a".into(),
        proposed_at: t,
        decided_by: Some("b".into()),
        decided_at: Some(t),
        decision_note: None,
        announcement_id: None,
        last_slot: None,
        last_result: None,
        last_detail: None,
        last_result_at: None,
        published_slot: None,
        window_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(kind: &str, time: &str, day: &str, stop: bool, minutes: &str) -> Proposal {
        Proposal {
            kind: kind.into(),
            local_time: time.into(),
            day_of_month: day.into(),
            stop_service: stop.then(|| "1".to_string()),
            window_minutes: minutes.into(),
            note: String::new(),
        }
    }

    fn field(e: DomainError) -> &'static str {
        match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn a_proposal_names_the_field_that_is_wrong() {
        let daily = proposal("daily", "02:00", "", false, "")
            .check()
            .expect("ok");
        assert_eq!(daily.kind, Kind::Daily);
        assert!(!daily.stop_service, "a daily never stops the service");
        let monthly = proposal("monthly", "03:00", "1", true, "90")
            .check()
            .expect("ok");
        assert_eq!(monthly.window_minutes, 90);
        assert!(monthly.stop_service);
        let quiet = proposal("monthly", "03:00", "1", false, "")
            .check()
            .expect("ok");
        assert!(!quiet.stop_service);
        assert_eq!(
            field(
                proposal("system", "02:00", "", false, "")
                    .check()
                    .expect_err("kind")
            ),
            "kind"
        );
        assert_eq!(
            field(
                proposal("daily", "25:00", "", false, "")
                    .check()
                    .expect_err("time")
            ),
            "local_time"
        );
        assert_eq!(
            field(
                proposal("monthly", "03:00", "31", false, "")
                    .check()
                    .expect_err("day")
            ),
            "day_of_month"
        );
        assert_eq!(
            field(
                proposal("monthly", "03:00", "1", true, "5")
                    .check()
                    .expect_err("window")
            ),
            "window_minutes"
        );
        assert_eq!(
            field(
                proposal("monthly", "03:00", "1", true, "")
                    .check()
                    .expect_err("window")
            ),
            "window_minutes"
        );
    }

    #[test]
    fn a_stop_is_announced_the_notice_days_before_and_earlier_slots_run_without_it() {
        let t = |s: &str| -> Timestamp { s.parse().expect("t") };
        // Approved 27 Nov (JST): 1 Dec is only four days ahead, so the first stop is 1 Jan;
        // the backup of 1 Dec still runs, without stopping the service.
        let r = test_row("monthly", true, "2026-11-27T01:00:00Z");
        assert_eq!(next_stop(&r, 7), Some(t("2026-12-31T18:00:00Z")));
        assert_eq!(next_slot(&r), Some(t("2026-11-30T18:00:00Z")));
        // A schedule that does not stop the service publishes no stop.
        let r = test_row("monthly", false, "2026-11-27T01:00:00Z");
        assert_eq!(next_stop(&r, 7), None);
        // After a stop ran, the next is the following month.
        let mut r = test_row("monthly", true, "2026-11-01T01:00:00Z");
        r.last_slot = Some(t("2026-11-30T18:00:00Z"));
        assert_eq!(next_stop(&r, 7), Some(t("2026-12-31T18:00:00Z")));
        assert_eq!(next_slot(&r), Some(t("2026-12-31T18:00:00Z")));
    }
}
