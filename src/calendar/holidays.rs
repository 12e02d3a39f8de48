//! Japanese national holidays (国民の祝日に関する法律), computed from the law's rules rather than
//! a typed-in list: fixed dates, the Happy-Monday days, the equinox days from the astronomical
//! approximation published for 1980–2099, 振替休日 (art. 3-2), 国民の休日 (art. 3-3), and the
//! one-off moves of 2020 and 2021 (Olympic special measures act). The rules are those in force
//! since 2020; the range they are promised for is [`FIRST_YEAR`]..=[`LAST_YEAR`], and
//! `tests/fixtures/jp_holidays_2020_2035.csv` (made from two independent PyPI packages, see
//! `scripts/gen_jp_holidays_fixture.py`) checks them for 2020–2035.

use jiff::civil::{Date, Weekday};

pub const FIRST_YEAR: i16 = 2020;
/// The equinox approximation is published up to 2099.
pub const LAST_YEAR: i16 = 2099;

pub const SUBSTITUTE: &str = "振替休日";
pub const CITIZENS: &str = "国民の休日";

/// The name of the holiday on `date`, if it is one.
pub fn holiday_name(date: Date) -> Option<&'static str> {
    if let Some(n) = statutory(date) {
        return Some(n);
    }
    if is_substitute(date) {
        return Some(SUBSTITUTE);
    }
    // A day between two statutory holidays that is not itself one (and not a Sunday, which is
    // already a day off and never falls between two holidays in practice).
    if date.weekday() != Weekday::Sunday
        && statutory(date.yesterday().ok()?).is_some()
        && statutory(date.tomorrow().ok()?).is_some()
    {
        return Some(CITIZENS);
    }
    None
}

/// Every holiday of a year, in date order.
pub fn holidays_of_year(year: i16) -> Vec<(Date, &'static str)> {
    let Ok(mut d) = Date::new(year, 1, 1) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while d.year() == year {
        if let Some(n) = holiday_name(d) {
            out.push((d, n));
        }
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    out
}

/// A holiday on a Sunday moves to the next day that is not a holiday.
fn is_substitute(date: Date) -> bool {
    if statutory(date).is_some() || date.weekday() == Weekday::Sunday {
        return false;
    }
    let mut d = date;
    loop {
        let Ok(prev) = d.yesterday() else {
            return false;
        };
        if statutory(prev).is_none() {
            return false;
        }
        if prev.weekday() == Weekday::Sunday {
            return true;
        }
        d = prev;
    }
}

/// The n-th Monday (1-based) of a month.
fn nth_monday(year: i16, month: i8, n: i8) -> Option<Date> {
    let first = Date::new(year, month, 1).ok()?;
    let offset = (7 + 1 - first.weekday().to_monday_one_offset()) % 7;
    Date::new(year, month, 1 + offset + 7 * (n - 1)).ok()
}

/// Equinox day of March (vernal) or September (autumnal): the approximation for 1980–2099.
fn equinox_day(year: i16, base: f64) -> i8 {
    let y = f64::from(year - 1980);
    let leap_days = f64::from((year - 1980).div_euclid(4));
    (base + 0.242194 * y - leap_days).floor() as i8
}

/// The holidays named in the law itself, without 振替休日 and 国民の休日.
fn statutory(date: Date) -> Option<&'static str> {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let is = |mm: i8, dd: i8| m == mm && d == dd;
    let is_nth_monday = |mm: i8, n: i8| m == mm && nth_monday(y, mm, n) == Some(date);
    let name = match () {
        _ if is(1, 1) => "元日",
        _ if is_nth_monday(1, 2) => "成人の日",
        _ if is(2, 11) => "建国記念の日",
        _ if is(2, 23) && y >= 2020 => "天皇誕生日",
        _ if m == 3 && d == equinox_day(y, 20.8431) => "春分の日",
        _ if is(4, 29) => "昭和の日",
        _ if is(5, 3) => "憲法記念日",
        _ if is(5, 4) => "みどりの日",
        _ if is(5, 5) => "こどもの日",
        _ if m == 7 && marine_day(y) == Some(date) => "海の日",
        _ if m == 8 && mountain_day(y) == Some(date) => "山の日",
        _ if is_nth_monday(9, 3) => "敬老の日",
        _ if m == 9 && d == equinox_day(y, 23.2488) => "秋分の日",
        _ if (m == 7 || m == 10) && sports_day(y) == Some(date) => "スポーツの日",
        _ if is(11, 3) => "文化の日",
        _ if is(11, 23) => "勤労感謝の日",
        _ => return None,
    };
    Some(name)
}

/// 海の日: third Monday of July, moved for the Tokyo Olympics in 2020 and 2021.
fn marine_day(year: i16) -> Option<Date> {
    match year {
        2020 => Date::new(2020, 7, 23).ok(),
        2021 => Date::new(2021, 7, 22).ok(),
        _ => nth_monday(year, 7, 3),
    }
}

/// 山の日: 11 August, moved in 2020 and 2021.
fn mountain_day(year: i16) -> Option<Date> {
    match year {
        2020 => Date::new(2020, 8, 10).ok(),
        2021 => Date::new(2021, 8, 8).ok(),
        _ => Date::new(year, 8, 11).ok(),
    }
}

/// スポーツの日 (named so from 2020): second Monday of October, moved in 2020 and 2021.
fn sports_day(year: i16) -> Option<Date> {
    match year {
        2020 => Date::new(2020, 7, 24).ok(),
        2021 => Date::new(2021, 7, 23).ok(),
        _ => nth_monday(year, 10, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn substitute_holiday_follows_a_sunday_holiday() {
        // 2026-05-03 (憲法記念日) is a Sunday; 5/4 and 5/5 are holidays, so 5/6 is the substitute.
        assert_eq!(holiday_name(date(2026, 5, 6)), Some(SUBSTITUTE));
        assert_eq!(holiday_name(date(2026, 5, 7)), None);
    }

    #[test]
    fn a_day_between_two_holidays_is_a_citizens_holiday() {
        assert_eq!(holiday_name(date(2026, 9, 21)), Some("敬老の日"));
        assert_eq!(holiday_name(date(2026, 9, 22)), Some(CITIZENS));
        assert_eq!(holiday_name(date(2026, 9, 23)), Some("秋分の日"));
    }

    #[test]
    fn olympic_years_move_three_holidays() {
        assert_eq!(holiday_name(date(2020, 7, 24)), Some("スポーツの日"));
        assert_eq!(holiday_name(date(2020, 10, 12)), None);
        assert_eq!(holiday_name(date(2021, 8, 9)), Some(SUBSTITUTE));
    }
}
