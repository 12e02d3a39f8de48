//! Reading the records back: uptime and slot coverage over any period, from the raw slots where
//! they are still kept and from the daily aggregates before that (raw results are deleted a
//! whole Asia/Tokyo day at a time, so a day is either all raw or all aggregated).
//!
//! These are the functions the pages use: `uptime` for "24 時間 / 30 日 / 1 年",
//! [`slot_coverage`] and [`kind_coverage`] for "n of N five-minute slots checked".

use std::collections::HashMap;

use super::model::{Kind, Monitor};
use super::repo;
use super::repo_results::{self as results, Counts};
use crate::db::{Conn, Timestamp};

/// Slots of a period by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uptime {
    pub slots: i64,
    pub up: i64,
    pub down: i64,
    pub missed: i64,
    /// The mean response time of the checks (ms).
    pub avg_ms: Option<i64>,
}

impl Uptime {
    pub fn checked(&self) -> i64 {
        self.up + self.down
    }

    /// Up as a share of the checked slots (None before the first check).
    pub fn percent_up(&self) -> Option<f64> {
        let n = self.checked();
        (n > 0).then(|| self.up as f64 * 100.0 / n as f64)
    }

    fn from_counts(c: &Counts) -> Uptime {
        Uptime {
            slots: c.slots,
            up: c.up,
            down: c.down,
            missed: c.missed,
            avg_ms: c.avg_ms(),
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// A monitor's recorded slots in `[from, to)`.
pub async fn uptime(
    conn: &mut Conn,
    monitor_id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Uptime> {
    let earliest = results::earliest(conn, monitor_id).await?;
    let mut c = results::counts(conn, monitor_id, from, to).await?;
    let days_to = earliest.map_or(to, |e| e.min(to));
    for a in results::aggregates(conn, monitor_id, "day", from, days_to).await? {
        if a.period_start.millis() + DAY_MS <= days_to.millis() {
            c.add(&aggregate_counts(&a));
        }
    }
    Ok(Uptime::from_counts(&c))
}

fn aggregate_counts(a: &results::Aggregate) -> Counts {
    Counts {
        slots: a.slots,
        up: a.up,
        down: a.down,
        missed: a.missed,
        response_sum: a.avg_response_ms.unwrap_or(0) * a.responses,
        responses: a.responses,
        max_response_ms: a.max_response_ms,
    }
}

/// `(checked, expected)`: of the slots of a monitor that ended within `[from, to)`, how many
/// were checked. Expected counts the recorded slots (checked or missed) and the slots since the
/// last recorded one that passed unrecorded (the engine was stopped, and has not yet caught up).
pub async fn slot_coverage(
    conn: &mut Conn,
    monitor_id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<(i64, i64)> {
    let Some(m) = repo::find(conn, monitor_id).await? else {
        return Ok((0, 0));
    };
    let u = uptime(conn, monitor_id, from, to).await?;
    Ok((u.checked(), u.slots + unrecorded(&m, from, to)))
}

/// `(checked, expected)` over every monitor of a kind (the network's ping or HTTP cadence).
pub async fn kind_coverage(
    conn: &mut Conn,
    kind: Kind,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<(i64, i64)> {
    let monitors = repo::list_by_kind(conn, Some(kind)).await?;
    let earliest: HashMap<i64, Timestamp> = results::earliest_by_monitor(conn, kind)
        .await?
        .into_iter()
        .collect();
    let mut total = Counts::default();
    for (_, c) in results::counts_by_monitor(conn, kind, from, to).await? {
        total.add(&c);
    }
    for a in results::daily_by_kind(conn, kind, from, to).await? {
        let days_to = earliest.get(&a.monitor_id).map_or(to, |e| (*e).min(to));
        if a.period_start.millis() + DAY_MS <= days_to.millis() {
            total.add(&aggregate_counts(&a));
        }
    }
    let tail: i64 = monitors.iter().map(|m| unrecorded(m, from, to)).sum();
    Ok((total.up + total.down, total.slots + tail))
}

/// Slots after the last recorded one that ended within `[from, to)` (none while paused).
fn unrecorded(m: &Monitor, from: Timestamp, to: Timestamp) -> i64 {
    if m.paused {
        return 0;
    }
    let cadence = m.cadence();
    let anchor = m.slots_from.unwrap_or(m.created_at);
    let after = match m.last_slot_at {
        Some(t) if t >= anchor => cadence.start(cadence.index(t) + 1),
        _ => anchor,
    };
    cadence.slots_within(from.max(after), to)
}
