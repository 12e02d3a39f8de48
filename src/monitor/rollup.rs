//! The job `monitor.rollup` (hourly): raw slots into hourly aggregates, hours into Asia/Tokyo
//! days, then the retention — raw results older than `raw_keep_days` (whole days) are deleted
//! only once they are in the aggregates, hourly aggregates older than `hourly_keep_days` too;
//! daily aggregates stay.
//!
//! Which hours to (re)compute: those of every result recorded since the last run (the
//! watermark is the highest result id rolled up, so slots recorded late — missed slots written
//! after a restart — are counted), and always the last three hours.

use std::collections::BTreeSet;

use jiff::SignedDuration;

use super::repo_results as results;
use super::settings::MonitorSettings;
use crate::db::{Timestamp, tokyo};
use crate::state::AppState;

pub const JOB: &str = "monitor.rollup";

pub async fn run(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let settings = state.section::<MonitorSettings>();
    let (hours, last) = {
        let mut conn = state.db.pool().acquire().await?;
        let mark = results::watermark(&mut conn).await?;
        let (hours, last) = results::hours_since(&mut conn, mark).await?;
        (hours, last.unwrap_or(mark))
    };
    let mut hour_starts: BTreeSet<Timestamp> = hours
        .iter()
        .filter_map(|h| format!("{h}:00:00Z").parse().ok())
        .collect();
    let this_hour = hour_of(now);
    for back in 0..3 {
        hour_starts.insert(this_hour.minus(SignedDuration::from_hours(back)));
    }
    let mut days = BTreeSet::new();
    for h in &hour_starts {
        let mut tx = state.db.begin().await?;
        for (id, c) in
            results::counts_all(&mut tx, *h, h.plus(SignedDuration::from_hours(1))).await?
        {
            results::upsert_aggregate(&mut tx, id, "hour", *h, &c).await?;
        }
        tx.commit().await?;
        days.insert(day_of(*h));
    }
    for d in &days {
        let mut tx = state.db.begin().await?;
        for (id, c) in
            results::hours_summed(&mut tx, *d, d.plus(SignedDuration::from_hours(24))).await?
        {
            results::upsert_aggregate(&mut tx, id, "day", *d, &c).await?;
        }
        tx.commit().await?;
    }
    let mut tx = state.db.begin().await?;
    results::set_watermark(&mut tx, last).await?;
    let raw_cutoff = day_of(now.minus(SignedDuration::from_hours(
        24 * settings.raw_keep_days.max(1),
    )));
    let deleted = results::delete_raw(&mut tx, raw_cutoff, last).await?;
    let hour_cutoff = now.minus(SignedDuration::from_hours(
        24 * settings.hourly_keep_days.max(1),
    ));
    let hourly = results::delete_hourly(&mut tx, hour_cutoff).await?;
    tx.commit().await?;
    Ok(format!(
        "{} 時間・{} 日分を集計、{} 日より前の結果 {deleted} 件と時間別集計 {hourly} 件を削除",
        hour_starts.len(),
        days.len(),
        raw_cutoff.jst(),
    ))
}

/// The start of the hour of `t` (Japan's offset is whole hours, so UTC hours are its hours).
pub fn hour_of(t: Timestamp) -> Timestamp {
    let ms = t.millis();
    Timestamp::from_millis(ms - ms.rem_euclid(3_600_000)).unwrap_or(t)
}

/// The start of the Asia/Tokyo day of `t`.
pub fn day_of(t: Timestamp) -> Timestamp {
    t.as_jiff()
        .to_zoned(tokyo())
        .start_of_day()
        .map(|z| Timestamp::from(z.timestamp()))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_1_days_are_tokyo_days_and_hours_whole_hours() {
        let t: Timestamp = "2026-03-01T14:59:59.500Z".parse().expect("t");
        assert_eq!(day_of(t), "2026-02-28T15:00:00Z".parse().expect("t"));
        let t: Timestamp = "2026-03-01T15:00:00Z".parse().expect("t");
        assert_eq!(day_of(t), t);
        let t: Timestamp = "2026-03-01T15:42:10Z".parse().expect("t");
        assert_eq!(hour_of(t), "2026-03-01T15:00:00Z".parse().expect("t"));
    }
}
