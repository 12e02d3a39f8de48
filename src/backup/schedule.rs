//! Backup schedules as values (pure; unit-tested): a time of day in Japan time, a day of the
//! month (1–28, so that every month has it), the slots they give and which slot is due.
//!
//! A *slot* is the UTC instant one scheduled backup belongs to (`2026-12-01 03:00` JST is the
//! slot `2026-11-30T18:00:00Z`). Asia/Tokyo keeps no daylight saving time, so every day has the
//! same 24 hours and a local time names exactly one instant; the arithmetic still goes through
//! jiff's zone rules, so nothing here assumes it.

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, ToSpan, Zoned};

use crate::db::{Timestamp, tokyo};

/// A time of day, Japan time, to the minute (`02:30`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime {
    hour: i8,
    minute: i8,
}

impl LocalTime {
    /// `HH:MM` (or `H:MM`), 00:00–23:59; what `<input type="time">` sends.
    pub fn parse(s: &str) -> Result<LocalTime, String> {
        let bad =
            || "時刻は 02:30 のように「時:分」で入力してください（00:00〜23:59）。".to_string();
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let digits = |p: &str, max: i8| -> Option<i8> {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<i8>().ok().filter(|v| *v <= max)
        };
        let (Some(hour), Some(minute)) = (digits(h, 23), digits(m, 59)) else {
            return Err(bad());
        };
        if m.len() != 2 {
            return Err(bad());
        }
        Ok(LocalTime { hour, minute })
    }

    fn civil(self) -> Time {
        Time::constant(self.hour, self.minute, 0, 0)
    }

    /// `02:30`, as stored and as the form shows it.
    pub fn key(self) -> String {
        format!("{:02}:{:02}", self.hour, self.minute)
    }

    /// `2:30`, for people.
    pub fn label(self) -> String {
        format!("{}:{:02}", self.hour, self.minute)
    }
}

/// The day of a monthly backup: 1–28, a day every month has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayOfMonth(i8);

impl DayOfMonth {
    pub fn new(day: i64) -> Result<DayOfMonth, String> {
        if (1..=28).contains(&day) {
            Ok(DayOfMonth(day as i8))
        } else {
            Err("日付は 1〜28 日の中から選んでください（どの月にもある日に限ります）。".into())
        }
    }

    pub fn parse(s: &str) -> Result<DayOfMonth, String> {
        let s = s.trim();
        let n = s.parse::<i64>().map_err(|_| {
            "日付は 1〜28 日の中から選んでください（どの月にもある日に限ります）。".to_string()
        })?;
        DayOfMonth::new(n)
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

/// When a schedule's backups happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cadence {
    Daily(LocalTime),
    Monthly { day: DayOfMonth, at: LocalTime },
}

impl Cadence {
    /// `毎日 2:00` / `毎月 1日 3:00`.
    pub fn label(self) -> String {
        match self {
            Cadence::Daily(at) => format!("毎日 {}", at.label()),
            Cadence::Monthly { day, at } => format!("毎月 {}日 {}", day.get(), at.label()),
        }
    }

    /// The slot of this cadence in the period (day or month) that holds `date`.
    fn slot_in(self, date: Date) -> Option<Timestamp> {
        let (date, at) = match self {
            Cadence::Daily(at) => (date, at),
            Cadence::Monthly { day, at } => {
                (date.first_of_month().with().day(day.0).build().ok()?, at)
            }
        };
        let zoned = date.to_datetime(at.civil()).to_zoned(tokyo()).ok()?;
        Some(Timestamp::from(zoned.timestamp()))
    }

    /// Moves `date` by `n` periods (days or months).
    fn shift(self, date: Date, n: i64) -> Option<Date> {
        match self {
            Cadence::Daily(_) => date.checked_add(n.days()).ok(),
            Cadence::Monthly { .. } => date.first_of_month().checked_add(n.months()).ok(),
        }
    }

    fn local_date(t: Timestamp) -> Date {
        let z: Zoned = t.as_jiff().to_zoned(tokyo());
        z.date()
    }

    /// The latest slot at or before `t`.
    pub fn last_at_or_before(self, t: Timestamp) -> Option<Timestamp> {
        let date = Self::local_date(t);
        let here = self.slot_in(date)?;
        if here <= t {
            Some(here)
        } else {
            self.slot_in(self.shift(date, -1)?)
        }
    }

    /// The first slot strictly after `t`.
    pub fn next_after(self, t: Timestamp) -> Option<Timestamp> {
        let date = Self::local_date(t);
        let here = self.slot_in(date)?;
        if here > t {
            Some(here)
        } else {
            self.slot_in(self.shift(date, 1)?)
        }
    }

    /// The number of slots in `(after, upto]` (at most `cap`).
    pub fn count_between(self, after: Timestamp, upto: Timestamp, cap: u32) -> u32 {
        let mut n = 0;
        let mut t = after;
        while n < cap {
            match self.next_after(t) {
                Some(s) if s <= upto => {
                    n += 1;
                    t = s;
                }
                _ => break,
            }
        }
        n
    }
}

/// What the scheduler does with a schedule at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// No slot after `after` has come yet.
    Nothing,
    /// The latest slot has come and is not late: run it now.
    Run(Timestamp),
    /// The latest slot is more than `missed_after` late: record it as missed, do not run it
    /// late. `slots` counts every slot passed over (the server may have been down for days).
    Missed { slot: Timestamp, slots: u32 },
}

/// The slot to act on at `now`: the latest slot in `(after, now]`, where `after` is the last
/// slot already handled (or the moment from which the schedule counts).
pub fn due(
    cadence: Cadence,
    after: Timestamp,
    now: Timestamp,
    missed_after: SignedDuration,
) -> Due {
    let Some(latest) = cadence.last_at_or_before(now) else {
        return Due::Nothing;
    };
    if latest <= after {
        return Due::Nothing;
    }
    if now.since(latest) > missed_after {
        Due::Missed {
            slot: latest,
            slots: cadence.count_between(after, latest, 10_000),
        }
    } else {
        Due::Run(latest)
    }
}

/// How long a monthly backup may stop the service: 10 minutes to 12 hours.
pub fn check_window_minutes(minutes: i64) -> Result<i64, String> {
    if (10..=720).contains(&minutes) {
        Ok(minutes)
    } else {
        Err("停止時間は 10〜720 分の範囲で入力してください。".into())
    }
}

/// `2026年12月1日（火）3:00〜4:00`: an occurrence of a stop, for people.
pub fn occurrence_label(start: Timestamp, end: Timestamp) -> String {
    let s = start.as_jiff().to_zoned(tokyo());
    let e = end.as_jiff().to_zoned(tokyo());
    const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
    let wd = WEEKDAYS[usize::try_from(s.weekday().to_monday_zero_offset()).unwrap_or(0)];
    let end = if s.date() == e.date() {
        format!("{}:{:02}", e.hour(), e.minute())
    } else {
        format!(
            "{}月{}日 {}:{:02}",
            e.month(),
            e.day(),
            e.hour(),
            e.minute()
        )
    };
    format!(
        "{}年{}月{}日（{wd}）{}:{:02}〜{end}",
        s.year(),
        s.month(),
        s.day(),
        s.hour(),
        s.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    fn daily(s: &str) -> Cadence {
        Cadence::Daily(LocalTime::parse(s).expect("time"))
    }

    fn monthly(day: i64, s: &str) -> Cadence {
        Cadence::Monthly {
            day: DayOfMonth::new(day).expect("day"),
            at: LocalTime::parse(s).expect("time"),
        }
    }

    #[test]
    fn times_of_day_are_read_strictly_and_shown_plainly() {
        assert_eq!(LocalTime::parse("02:30").expect("ok").key(), "02:30");
        assert_eq!(LocalTime::parse("2:30").expect("ok").label(), "2:30");
        assert_eq!(LocalTime::parse(" 23:59 ").expect("ok").key(), "23:59");
        for bad in [
            "",
            "24:00",
            "12:60",
            "1230",
            "12:5",
            "-1:00",
            "12:30:00",
            "ab:cd",
            "１２:００",
        ] {
            assert!(LocalTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_monthly_day_is_one_every_month_has() {
        assert!(DayOfMonth::parse("1").is_ok());
        assert!(DayOfMonth::parse("28").is_ok());
        for bad in ["0", "29", "31", "", "x", "-3"] {
            assert!(DayOfMonth::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_japan_time_slot_is_nine_hours_earlier_in_utc_even_across_the_date_line() {
        // 02:00 JST on 1 Dec is 17:00 UTC on 30 Nov.
        let c = daily("02:00");
        assert_eq!(
            c.next_after(t("2026-11-30T12:00:00Z")),
            Some(t("2026-11-30T17:00:00Z"))
        );
        // 12:00 UTC on 30 Nov is 21:00 JST: the last 02:00 JST was that morning (29 Nov 17:00 UTC).
        assert_eq!(
            c.last_at_or_before(t("2026-11-30T12:00:00Z")),
            Some(t("2026-11-29T17:00:00Z"))
        );
        // Exactly at the slot: it is the last one, and the next is a day later.
        let at = t("2026-11-30T17:00:00Z");
        assert_eq!(c.last_at_or_before(at), Some(at));
        assert_eq!(c.next_after(at), Some(t("2026-12-01T17:00:00Z")));
    }

    #[test]
    fn monthly_slots_roll_over_month_and_year_ends() {
        let c = monthly(28, "03:00");
        // After 28 Dec 03:00 JST the next is 28 Jan of the next year.
        assert_eq!(
            c.next_after(t("2026-12-27T18:00:00Z")),
            Some(t("2027-01-27T18:00:00Z"))
        );
        // February of a common year still has the 28th.
        assert_eq!(
            c.next_after(t("2027-01-27T18:00:00Z")),
            Some(t("2027-02-27T18:00:00Z"))
        );
        // Day 1 at 00:30 JST is the last day of the previous month in UTC.
        let first = monthly(1, "00:30");
        assert_eq!(
            first.next_after(t("2027-02-15T00:00:00Z")),
            Some(t("2027-02-28T15:30:00Z"))
        );
        assert_eq!(
            first.last_at_or_before(t("2027-02-28T15:29:59Z")),
            Some(t("2027-01-31T15:30:00Z"))
        );
        // Leap year: 1 Mar 2028 00:30 JST is 29 Feb 15:30 UTC.
        assert_eq!(
            first.next_after(t("2028-02-15T00:00:00Z")),
            Some(t("2028-02-29T15:30:00Z"))
        );
    }

    #[test]
    fn every_day_of_a_year_has_one_daily_slot_twenty_four_hours_apart() {
        // No daylight saving time in Japan: a year of slots, each exactly a day after the last.
        let c = daily("02:00");
        let mut s = c.next_after(t("2026-01-01T00:00:00Z")).expect("slot");
        for _ in 0..366 {
            let n = c.next_after(s).expect("slot");
            assert_eq!(n.since(s), SignedDuration::from_hours(24));
            s = n;
        }
        assert_eq!(
            c.count_between(t("2026-01-01T00:00:00Z"), t("2027-01-01T00:00:00Z"), 1000),
            365
        );
    }

    #[test]
    fn a_due_slot_runs_once_and_a_late_one_is_missed_not_run_late() {
        let c = daily("02:00");
        let slot = t("2026-11-30T17:00:00Z");
        let late = SignedDuration::from_mins(120);
        // Not yet.
        assert_eq!(
            due(
                c,
                t("2026-11-30T00:00:00Z"),
                slot.minus(SignedDuration::from_secs(1)),
                late
            ),
            Due::Nothing
        );
        // At and shortly after the slot: run it.
        assert_eq!(
            due(c, t("2026-11-30T00:00:00Z"), slot, late),
            Due::Run(slot)
        );
        assert_eq!(
            due(c, t("2026-11-30T00:00:00Z"), slot.plus_minutes(120), late),
            Due::Run(slot)
        );
        // Once handled (after = the slot), nothing until the next.
        assert_eq!(due(c, slot, slot.plus_minutes(5), late), Due::Nothing);
        // More than two hours late: missed.
        assert_eq!(
            due(c, t("2026-11-30T00:00:00Z"), slot.plus_minutes(121), late),
            Due::Missed { slot, slots: 1 }
        );
        // Down for three days: the latest slot is what counts, the others are counted as missed.
        let back = t("2026-12-03T18:00:00Z");
        assert_eq!(
            due(c, slot.minus(SignedDuration::from_hours(1)), back, late),
            Due::Run(t("2026-12-03T17:00:00Z"))
        );
        assert_eq!(
            due(
                c,
                slot.minus(SignedDuration::from_hours(1)),
                back.plus_minutes(200),
                late
            ),
            Due::Missed {
                slot: t("2026-12-03T17:00:00Z"),
                slots: 4
            }
        );
    }

    #[test]
    fn window_lengths_are_bounded_and_occurrences_read_in_japanese() {
        assert!(check_window_minutes(9).is_err());
        assert!(check_window_minutes(721).is_err());
        assert_eq!(check_window_minutes(60), Ok(60));
        let s = t("2026-11-30T18:00:00Z");
        assert_eq!(
            occurrence_label(s, s.plus_minutes(60)),
            "2026年12月1日（火）3:00〜4:00"
        );
        let night = t("2026-11-30T14:30:00Z");
        assert_eq!(
            occurrence_label(night, night.plus_minutes(120)),
            "2026年11月30日（月）23:30〜12月1日 1:30"
        );
    }
}
