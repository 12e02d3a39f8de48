//! The scheduler of approved backup schedules (R21.2, R21.3): the job `backup.scheduled` runs a
//! slot that has come once (claimed in the database first), records a slot too late as missed,
//! opens and closes read-only mode around a published stop, and [`trouble`] says what the
//! administrators' dashboard should warn about. The decisions themselves are in
//! [`super::service_schedule`].

use jiff::SignedDuration;
use serde_json::json;

use super::readonly;
use super::repo_schedule::{self as repo, ScheduleRow};
use super::schedule::{self, Due};
pub use super::service_schedule::JOB;
use super::service_schedule::{
    cadence_of, counts_after, kind_of, publish_next_stop, refresh_notice, stops, system_editor,
};
use super::settings::BackupSettings;
use crate::audit::{self, Actor};
use crate::db::Timestamp;
use crate::portal;
use crate::state::AppState;

/// The job `backup.scheduled` (every minute): for each approved schedule, runs its slot that has
/// come (once: the slot is claimed in the database before the backup starts, and recorded even
/// when the backup fails), records a slot more than `missed_after_minutes` late as missed
/// instead of running it late, and keeps the next stop of a monthly schedule that stops the
/// service published on the portal.
pub async fn run_due(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let settings = state.section::<BackupSettings>();
    let missed_after = SignedDuration::from_mins(i64::from(settings.missed_after_minutes));
    let rows = {
        let mut conn = state.db.pool().acquire().await?;
        repo::list_approved(&mut conn).await?
    };
    let mut done = Vec::new();
    for row in rows {
        let Ok(cadence) = cadence_of(&row) else {
            tracing::error!(schedule = row.id, "a backup schedule cannot be read");
            continue;
        };
        let after = counts_after(&row);
        match schedule::due(cadence, after, now, missed_after) {
            Due::Nothing => {}
            Due::Missed { slot, slots } => {
                if record_missed(state, &row, slot, slots, now).await? {
                    done.push(format!("No.{} {} を未実施として記録", row.id, slot.jst()));
                }
            }
            Due::Run(slot) => {
                if let Some(line) = run_slot(state, &row, slot, now).await? {
                    done.push(line);
                }
            }
        }
        if stops(&row) {
            let mut tx = state.db.begin().await?;
            let row = repo::find(&mut tx, row.id).await?;
            let actor = Actor::system(JOB);
            if row.state == "approved"
                && publish_next_stop(&mut tx, &row, &actor, &settings, now).await?
            {
                refresh_notice(&mut tx, &system_editor(), now).await?;
                done.push(format!("No.{} の次回のサービス停止を掲載", row.id));
            }
            tx.commit().await?;
        }
    }
    Ok(if done.is_empty() {
        "実施時刻になった予定はありません".into()
    } else {
        done.join("／")
    })
}

async fn record_missed(
    state: &AppState,
    row: &ScheduleRow,
    slot: Timestamp,
    slots: u32,
    now: Timestamp,
) -> anyhow::Result<bool> {
    let actor = Actor::system(JOB);
    let mut tx = state.db.begin().await?;
    let detail = format!("{} 分遅れ（{slots} 回分）", now.since(slot).as_mins());
    if !repo::claim_slot(&mut tx, row.id, slot, "missed", &detail, now).await? {
        return Ok(false);
    }
    audit::record(
        &mut tx,
        now,
        &actor,
        "backup.missed",
        &format!("backup_schedule:{}", row.id),
        json!({"kind": row.kind, "slot": slot.to_db(), "slots": slots,
            "late_minutes": now.since(slot).as_mins()}),
    )
    .await?;
    super::notify::admins(
        &mut tx,
        state,
        "backup.missed",
        format!("backup_schedule:{}", row.id),
        format!("{}バックアップが実施されませんでした", kind_of(row).label()),
        format!(
            "{}バックアップ（予定 No.{}）の {} の回が実施されませんでした（{detail}）。\n\
             サーバーまたは定期処理が停止していた可能性があります。次の回は予定どおり実施します。",
            kind_of(row).label(),
            row.id,
            slot.jst()
        ),
        now,
    )
    .await?;
    // A stop that did not happen is not left on the banner.
    if row.published_slot == Some(slot)
        && let Some(w) = row.window_id
    {
        portal::end_window(&mut tx, w, "バックアップ未実施", &actor, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Runs one claimed slot: read-only mode for a stop within its window, the backup, the result.
async fn run_slot(
    state: &AppState,
    row: &ScheduleRow,
    slot: Timestamp,
    now: Timestamp,
) -> anyhow::Result<Option<String>> {
    let actor = Actor::system(JOB);
    let kind = kind_of(row);
    let until = slot.plus_minutes(row.window_minutes);
    let mut tx = state.db.begin().await?;
    if !repo::claim_slot(&mut tx, row.id, slot, "running", "", now).await? {
        return Ok(None);
    }
    audit::record(
        &mut tx,
        now,
        &actor,
        "backup.scheduled_started",
        &format!("backup_schedule:{}", row.id),
        json!({"kind": row.kind, "slot": slot.to_db(), "late_minutes": now.since(slot).as_mins()}),
    )
    .await?;
    // Only a stop published on the portal stops the service, and only within its window.
    let period = if stops(row) && row.published_slot == Some(slot) && now < until {
        Some(readonly::begin_in(&mut tx, row.id, slot, until, &actor, now).await?)
    } else {
        None
    };
    tx.commit().await?;
    if period.is_some() {
        readonly::changed();
    }

    let trigger = format!("schedule:{}", row.id);
    let result = super::run::backup_now(state, kind, &trigger, &actor, now).await;

    let finished = state.now().max(now);
    let (outcome, detail) = match &result {
        Ok(report) => ("ok", report.id.to_string()),
        Err(e) => {
            tracing::error!(schedule = row.id, error = ?e, "scheduled backup failed");
            let why: String = format!("{e:#}").chars().take(500).collect();
            ("failed", why)
        }
    };
    let mut tx = state.db.begin().await?;
    repo::record_result(&mut tx, row.id, slot, outcome, &detail, finished).await?;
    audit::record(
        &mut tx,
        finished,
        &actor,
        "backup.scheduled_finished",
        &format!("backup_schedule:{}", row.id),
        json!({"kind": row.kind, "slot": slot.to_db(), "result": outcome, "detail": detail}),
    )
    .await?;
    if let Some(id) = period {
        readonly::end_in(&mut tx, id, &actor, finished).await?;
        if let Some(w) = row.window_id.filter(|_| row.published_slot == Some(slot)) {
            portal::end_window(&mut tx, w, "バックアップ終了", &actor, finished).await?;
        }
    }
    tx.commit().await?;
    if period.is_some() {
        readonly::changed();
    }
    Ok(Some(format!(
        "No.{} {} の{}バックアップ：{}",
        row.id,
        slot.jst(),
        kind.label(),
        if outcome == "ok" { "完了" } else { "失敗" }
    )))
}

/// One line of trouble for the administrators' alert, if the schedule has any at `now`.
pub fn trouble(row: &ScheduleRow, settings: &BackupSettings, now: Timestamp) -> Option<String> {
    let cadence = cadence_of(row).ok()?;
    let label = format!(
        "{}バックアップ（{}）",
        kind_of(row).label(),
        cadence.label()
    );
    let missed_after = SignedDuration::from_mins(i64::from(settings.missed_after_minutes));
    // A slot overdue that the scheduler has not even recorded (jobs not running?).
    if let Due::Missed { slot, .. } = schedule::due(cadence, counts_after(row), now, missed_after) {
        return Some(format!("{label} {} が未実施です", slot.jst()));
    }
    let slot = row.last_slot?;
    match row.last_result.as_deref() {
        Some("missed") => Some(format!("{label} {} が未実施です", slot.jst())),
        Some("failed") => Some(format!("{label} {} が失敗しました", slot.jst())),
        Some("running") => {
            let stalled = SignedDuration::from_mins(row.window_minutes.max(0)).max(missed_after);
            let since = row.last_result_at.unwrap_or(slot);
            (now.since(since) > stalled)
                .then(|| format!("{label} {} の終了が記録されていません", slot.jst()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::service_schedule::test_row as row;

    #[test]
    fn trouble_is_a_missed_or_failed_slot_or_one_that_never_finished() {
        let settings = BackupSettings::default();
        let mut r = row("daily", false, "2026-11-27T01:00:00Z");
        let slot: Timestamp = "2026-11-27T18:00:00Z".parse().expect("t");
        assert_eq!(trouble(&r, &settings, slot.plus_minutes(60)), None);
        assert!(
            trouble(&r, &settings, slot.plus_minutes(121))
                .expect("overdue")
                .contains("未実施"),
            "overdue although nothing was recorded"
        );
        r.last_slot = Some(slot);
        r.last_result = Some("ok".into());
        assert_eq!(trouble(&r, &settings, slot.plus_minutes(121)), None);
        r.last_result = Some("failed".into());
        assert!(
            trouble(&r, &settings, slot.plus_minutes(5))
                .expect("failed")
                .contains("失敗")
        );
        r.last_result = Some("running".into());
        r.last_result_at = Some(slot);
        assert_eq!(trouble(&r, &settings, slot.plus_minutes(30)), None);
        assert!(
            trouble(&r, &settings, slot.plus_minutes(121))
                .expect("stalled")
                .contains("終了が記録されていません")
        );
    }
}
