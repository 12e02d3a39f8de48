use std::collections::BTreeSet;

use jiff::civil::date;

use super::*;

const ORACLE: &str = include_str!("../../tests/fixtures/jp_holidays_2020_2035.csv");

fn at(s: &str) -> Timestamp {
    s.parse().expect("test instant")
}

fn cal() -> BusinessCalendar {
    BusinessCalendar::default()
}

#[test]
fn r15_1_holidays_2020_to_2035_match_the_independent_oracle() {
    let mut expected = BTreeSet::new();
    let mut names = Vec::new();
    for line in ORACLE.lines().skip(1) {
        let (d, name) = line.split_once(',').expect("date,name");
        let d: Date = d.parse().expect("date");
        expected.insert(d);
        names.push((d, name.to_string()));
    }
    assert!(expected.len() > 250, "fixture looks truncated");
    for year in 2020..=2035 {
        let ours: BTreeSet<Date> = holidays::holidays_of_year(year)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        let theirs: BTreeSet<Date> = expected
            .iter()
            .copied()
            .filter(|d| d.year() == year)
            .collect();
        assert_eq!(ours, theirs, "holidays of {year}");
    }
    for (d, name) in names {
        let ours = holidays::holiday_name(d).expect("holiday");
        // jpholiday names a substitute day "<holiday> 振替休日".
        if name.ends_with(holidays::SUBSTITUTE) {
            assert_eq!(ours, holidays::SUBSTITUTE, "{d}");
        } else {
            assert_eq!(ours, name, "{d}");
        }
    }
}

#[test]
fn r15_1_open_at_nine_sharp_and_closed_at_eighteen_sharp() {
    let c = cal();
    assert_eq!(c.is_open(at("2026-11-26T09:00:00+09:00")), Openness::Open);
    assert_eq!(
        c.is_open(at("2026-11-26T08:59:59+09:00")),
        Openness::Closed(Closed::OutsideHours)
    );
    assert_eq!(c.is_open(at("2026-11-26T17:59:59+09:00")), Openness::Open);
    assert_eq!(
        c.is_open(at("2026-11-26T18:00:00+09:00")),
        Openness::Closed(Closed::OutsideHours)
    );
}

#[test]
fn r15_1_year_end_closure_runs_from_29_december_to_3_january() {
    let c = cal();
    assert_eq!(c.day_status(date(2025, 12, 26)), Ok(()));
    for d in [
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2025, 12, 31),
        date(2026, 1, 2),
        date(2026, 1, 3),
    ] {
        assert_eq!(c.day_status(d), Err(Closed::YearEnd), "{d}");
    }
    assert_eq!(c.day_status(date(2026, 1, 1)), Err(Closed::Holiday("元日")));
    // 2027-01-04 is a Monday after the closure.
    assert_eq!(c.day_status(date(2027, 1, 4)), Ok(()));
    assert_eq!(
        c.next_opening(at("2026-12-28T18:00:00+09:00")),
        Some(at("2027-01-04T09:00:00+09:00"))
    );
}

#[test]
fn r15_1_substitute_and_citizens_holidays_are_closed_with_their_reason() {
    let c = cal();
    assert_eq!(
        c.is_open(at("2026-05-06T10:00:00+09:00")),
        Openness::Closed(Closed::Holiday("振替休日"))
    );
    assert_eq!(
        c.is_open(at("2026-09-22T10:00:00+09:00")),
        Openness::Closed(Closed::Holiday("国民の休日"))
    );
    assert_eq!(
        c.is_open(at("2026-11-28T10:00:00+09:00")),
        Openness::Closed(Closed::DayOff(Weekday::Saturday))
    );
    assert_eq!(c.is_open(at("2026-05-07T10:00:00+09:00")), Openness::Open);
}

#[test]
fn r15_1_business_time_skips_nights_weekends_and_holidays() {
    let c = cal();
    // Friday 22:00 → Monday 10:00: only Monday 9–10 counts.
    let t = c.business_time_between(
        at("2026-11-27T22:00:00+09:00"),
        at("2026-11-30T10:00:00+09:00"),
    );
    assert_eq!(t, SignedDuration::from_hours(1));
    // Golden week 2026: 4/30 17:00 → 5/7 10:00 = 1h (4/30) + 9h (5/1) + 1h (5/7).
    let t = c.business_time_between(
        at("2026-04-30T17:00:00+09:00"),
        at("2026-05-07T10:00:00+09:00"),
    );
    assert_eq!(t, SignedDuration::from_hours(11));
    assert_eq!(
        c.business_time_between(
            at("2026-11-30T10:00:00+09:00"),
            at("2026-11-30T09:00:00+09:00")
        ),
        SignedDuration::ZERO
    );
}

#[test]
fn r15_1_deadline_after_counts_only_open_hours() {
    let c = cal();
    assert_eq!(
        c.deadline_after(
            at("2026-11-27T17:00:00+09:00"),
            SignedDuration::from_hours(4)
        ),
        Some(at("2026-11-30T12:00:00+09:00"))
    );
    // Exactly filling a day ends at 18:00, not at 9:00 the next day.
    assert_eq!(
        c.deadline_after(
            at("2026-11-30T09:00:00+09:00"),
            SignedDuration::from_hours(9)
        ),
        Some(at("2026-11-30T18:00:00+09:00"))
    );
    assert_eq!(
        c.deadline_after(at("2026-11-27T22:00:00+09:00"), SignedDuration::ZERO),
        Some(at("2026-11-30T09:00:00+09:00"))
    );
}

#[test]
fn r15_1_operator_days_override_the_rules() {
    let mut o = BTreeMap::new();
    o.insert(
        date(2026, 11, 30),
        DayOverride::Closed("システム移行".into()),
    );
    o.insert(date(2026, 11, 28), DayOverride::Open);
    let c = BusinessCalendar::new(crate::db::tokyo(), WeeklyHours::default(), o);
    assert_eq!(
        c.is_open(at("2026-11-30T10:00:00+09:00")),
        Openness::Closed(Closed::Extra("システム移行".into()))
    );
    assert_eq!(c.is_open(at("2026-11-28T10:00:00+09:00")), Openness::Open);
    assert_eq!(
        c.next_opening(at("2026-11-27T22:00:00+09:00")),
        Some(at("2026-11-28T09:00:00+09:00"))
    );
}

#[test]
fn a_calendar_that_never_opens_has_no_next_opening() {
    let hours = WeeklyHours {
        days: Vec::new(),
        ..WeeklyHours::default()
    };
    let c = BusinessCalendar::new(crate::db::tokyo(), hours, BTreeMap::new());
    assert_eq!(c.next_opening(at("2026-11-27T22:00:00+09:00")), None);
    assert_eq!(
        c.deadline_after(
            at("2026-11-27T22:00:00+09:00"),
            SignedDuration::from_hours(1)
        ),
        None
    );
}
