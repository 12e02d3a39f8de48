//! A monitor's cadence (R22.1): the pure slot arithmetic — when each slot starts, when its check
//! is due, which slots have passed — re-exported by `model`. Tested here.

use crate::db::Timestamp;

/// A monitor's slots: slot `k` starts at `anchor + k × interval`; its check is due `offset`
/// after the start, the offset a stable hash of the monitor's id within the first three quarters
/// of the interval (so that 10,000 monitors do not all start at once, and a check with a
/// shorter timeout ends within its slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    anchor_ms: i64,
    interval_ms: i64,
    offset_ms: i64,
}

impl Cadence {
    pub fn new(anchor: Timestamp, interval_seconds: i64, id: i64) -> Cadence {
        let interval_ms = interval_seconds.max(1) * 1000;
        let spread = (interval_ms * 3 / 4).max(1);
        Cadence {
            anchor_ms: anchor.millis(),
            interval_ms,
            offset_ms: (spread_hash(id) % spread.unsigned_abs()) as i64,
        }
    }

    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// The slot that contains `t` (negative before the anchor).
    pub fn index(&self, t: Timestamp) -> i64 {
        (t.millis() - self.anchor_ms).div_euclid(self.interval_ms)
    }

    pub fn start(&self, k: i64) -> Timestamp {
        ts(self.anchor_ms + k * self.interval_ms)
    }

    /// When the check of slot `k` is due.
    pub fn due(&self, k: i64) -> Timestamp {
        ts(self.anchor_ms + k * self.interval_ms + self.offset_ms)
    }

    /// Slots that lie wholly in `[from, to)`, counted from the anchor on.
    pub fn slots_within(&self, from: Timestamp, to: Timestamp) -> i64 {
        let first = self.index(from.max(self.start(0)).minus(ms(1))) + 1;
        let end = self.index(to) - 1;
        (end - first + 1).max(0)
    }

    /// What the engine does for this monitor at `now`, given the slot after the last one
    /// recorded (`next`): the slots that ended unchecked (recorded missed), the slot to check
    /// now (if its due time has come), and when to look again.
    pub fn plan(&self, next: i64, now: Timestamp, force: bool) -> Plan {
        let next = next.max(0);
        let current = self.index(now);
        if current < next {
            return Plan {
                missed: next..next,
                check: None,
                due_at: self.due(next),
            };
        }
        let missed = next..current;
        if force || now >= self.due(current) {
            Plan {
                missed,
                check: Some(current),
                due_at: self.due(current + 1),
            }
        } else {
            Plan {
                missed,
                check: None,
                due_at: self.due(current),
            }
        }
    }
}

/// See [`Cadence::plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub missed: std::ops::Range<i64>,
    pub check: Option<i64>,
    pub due_at: Timestamp,
}

fn ts(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).unwrap_or_else(|| Timestamp::from_millis(0).expect("epoch"))
}

fn ms(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_millis(n)
}

/// SplitMix64: a stable, well-spread hash of a monitor's id (the same in every process).
fn spread_hash(id: i64) -> u64 {
    let mut z = (id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn r22_1_slots_start_at_the_anchor_and_checks_are_spread_within_the_first_three_quarters() {
        let c = Cadence::new(at("2026-01-01T00:00:00Z"), 300, 7);
        assert_eq!(c.start(2), at("2026-01-01T00:10:00Z"));
        assert!(c.offset_ms() < 225_000);
        assert_eq!(c.index(at("2026-01-01T00:09:59.999Z")), 1);
        assert_eq!(c.index(at("2025-12-31T23:59:59Z")), -1);
        let offsets: std::collections::BTreeSet<i64> = (1..200)
            .map(|id| Cadence::new(at("2026-01-01T00:00:00Z"), 300, id).offset_ms())
            .collect();
        assert!(offsets.len() > 190, "ids spread over the interval");
        assert_eq!(
            Cadence::new(at("2026-01-01T00:00:00Z"), 300, 7),
            c,
            "stable"
        );
    }

    #[test]
    fn r22_1_the_plan_records_passed_slots_missed_and_checks_the_current_one_once_due() {
        let c = Cadence::new(at("2026-01-01T00:00:00Z"), 300, 7);
        let before_due = c.start(3).plus(ms(c.offset_ms() - 1));
        let p = c.plan(1, before_due, false);
        assert_eq!((p.missed, p.check, p.due_at), (1..3, None, c.due(3)));
        let p = c.plan(1, c.due(3), false);
        assert_eq!((p.missed, p.check, p.due_at), (1..3, Some(3), c.due(4)));
        let p = c.plan(4, c.due(3), false);
        assert_eq!((p.missed, p.check, p.due_at), (4..4, None, c.due(4)));
        assert_eq!(
            c.plan(0, before_due, true).check,
            Some(3),
            "run --once checks now"
        );
        assert_eq!(c.slots_within(c.start(0), c.start(10)), 10);
        assert_eq!(c.slots_within(c.start(0).plus(ms(1)), c.start(10)), 9);
        assert_eq!(
            c.slots_within(at("2025-01-01T00:00:00Z"), c.start(2).plus(ms(5))),
            2
        );
    }
}
