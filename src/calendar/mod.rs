//! The business calendar (R15.1), shared core: the helpdesk and later domains (request turnaround,
//! key loans, backup windows) ask it whether the office is open. It imports no domain.
//!
//! Rules:
//! - Weekly hours are configurable (`[calendar]`: open weekdays, opening and closing time;
//!   default Mon–Fri 9:00–18:00, Asia/Tokyo). The window is half-open: open at 9:00:00 exactly,
//!   closed at 18:00:00 exactly.
//! - Closed on Japanese national holidays including 振替休日 and 国民の休日 ([`holidays`]) and
//!   during the year-end closure 12/29–1/3.
//! - An operator may add extra closed days (with a reason) or extra open days (which then use the
//!   weekly opening and closing time); they take precedence over everything above. They are rows
//!   in `calendar_days` ([`repo`]); [`load`] builds the pure [`BusinessCalendar`] value from them.
//! - All functions are pure: instants in, instants or durations out.

pub mod holidays;
pub mod repo;
mod settings;

pub use settings::CalendarSettings;

use std::collections::BTreeMap;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// An operator's exception for one date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DayOverride {
    Closed(String),
    Open,
}

/// The weekly hours.
#[derive(Clone, Debug)]
pub struct WeeklyHours {
    pub days: Vec<Weekday>,
    pub opens: Time,
    pub closes: Time,
}

impl Default for WeeklyHours {
    fn default() -> Self {
        WeeklyHours {
            days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            opens: Time::constant(9, 0, 0, 0),
            closes: Time::constant(18, 0, 0, 0),
        }
    }
}

/// Why the office is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// A national holiday, with its name (振替休日 and 国民の休日 included).
    Holiday(&'static str),
    YearEnd,
    /// A weekday without hours (土曜日, 日曜日 by default).
    DayOff(Weekday),
    /// An extra closed day added by an operator, with its reason.
    Extra(String),
    OutsideHours,
}

impl Closed {
    pub fn label(&self) -> String {
        match self {
            Closed::Holiday(n) => (*n).to_string(),
            Closed::YearEnd => "年末年始".into(),
            Closed::DayOff(w) => format!("{}曜日", weekday_ja(*w)),
            Closed::Extra(r) => format!("臨時休業（{r}）"),
            Closed::OutsideHours => "営業時間外".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Openness {
    Open,
    Closed(Closed),
}

pub fn weekday_ja(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "月",
        Weekday::Tuesday => "火",
        Weekday::Wednesday => "水",
        Weekday::Thursday => "木",
        Weekday::Friday => "金",
        Weekday::Saturday => "土",
        Weekday::Sunday => "日",
    }
}

/// Parses `mon`…`sun`.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// Longest stretch searched for an opening before giving up (a calendar that never opens).
const SEARCH_DAYS: i32 = 3700;

#[derive(Clone, Debug)]
pub struct BusinessCalendar {
    tz: TimeZone,
    hours: WeeklyHours,
    overrides: BTreeMap<Date, DayOverride>,
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self::new(crate::db::tokyo(), WeeklyHours::default(), BTreeMap::new())
    }
}

impl BusinessCalendar {
    pub fn new(tz: TimeZone, hours: WeeklyHours, overrides: BTreeMap<Date, DayOverride>) -> Self {
        BusinessCalendar {
            tz,
            hours,
            overrides,
        }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn hours(&self) -> &WeeklyHours {
        &self.hours
    }

    /// Whether `date` is a business day, and if not, why.
    pub fn day_status(&self, date: Date) -> Result<(), Closed> {
        match self.overrides.get(&date) {
            Some(DayOverride::Open) => return Ok(()),
            Some(DayOverride::Closed(r)) => return Err(Closed::Extra(r.clone())),
            None => {}
        }
        if let Some(n) = holidays::holiday_name(date) {
            return Err(Closed::Holiday(n));
        }
        if (date.month() == 12 && date.day() >= 29) || (date.month() == 1 && date.day() <= 3) {
            return Err(Closed::YearEnd);
        }
        if !self.hours.days.contains(&date.weekday()) {
            return Err(Closed::DayOff(date.weekday()));
        }
        Ok(())
    }

    /// The open window of a date, as instants.
    fn window(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        self.day_status(date).ok()?;
        let open = date
            .to_datetime(self.hours.opens)
            .to_zoned(self.tz.clone())
            .ok()?;
        let close = date
            .to_datetime(self.hours.closes)
            .to_zoned(self.tz.clone())
            .ok()?;
        (open.timestamp() < close.timestamp()).then(|| (open.timestamp(), close.timestamp()))
    }

    fn local_date(&self, at: Timestamp) -> Date {
        at.to_zoned(self.tz.clone()).date()
    }

    pub fn is_open(&self, at: Timestamp) -> Openness {
        let date = self.local_date(at);
        if let Err(c) = self.day_status(date) {
            return Openness::Closed(c);
        }
        match self.window(date) {
            Some((o, c)) if o <= at && at < c => Openness::Open,
            _ => Openness::Closed(Closed::OutsideHours),
        }
    }

    /// The earliest instant at or after `at` when the office is open.
    pub fn next_opening(&self, at: Timestamp) -> Option<Timestamp> {
        let mut date = self.local_date(at);
        for _ in 0..SEARCH_DAYS {
            if let Some((o, c)) = self.window(date)
                && at < c
            {
                return Some(o.max(at));
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Open time between two instants (zero if `b` is not after `a`).
    pub fn business_time_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        if b <= a {
            return total;
        }
        let mut date = self.local_date(a);
        let last = self.local_date(b);
        while date <= last {
            if let Some((o, c)) = self.window(date) {
                let (s, e) = (o.max(a), c.min(b));
                if s < e {
                    total += e.duration_since(s);
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        total
    }

    /// The instant when `amount` of open time has passed after `at`.
    pub fn deadline_after(&self, at: Timestamp, amount: SignedDuration) -> Option<Timestamp> {
        let mut left = amount.max(SignedDuration::ZERO);
        let mut date = self.local_date(at);
        for _ in 0..SEARCH_DAYS {
            if let Some((o, c)) = self.window(date) {
                let s = o.max(at);
                if s < c {
                    let avail = c.duration_since(s);
                    if left <= avail {
                        return s.checked_add(left).ok();
                    }
                    left -= avail;
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// A month as rows of (date, closed reason) for `calendar month` and the calendar page.
    pub fn month(&self, year: i16, month: i8) -> Vec<(Date, Result<(), Closed>)> {
        let Ok(mut d) = Date::new(year, month, 1) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while d.month() == month {
            out.push((d, self.day_status(d)));
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        out
    }

    /// `2026-11-30（月）9:00` for people.
    pub fn describe(&self, at: Timestamp) -> String {
        let z: Zoned = at.to_zoned(self.tz.clone());
        format!(
            "{}（{}）{}",
            z.strftime("%Y年%-m月%-d日"),
            weekday_ja(z.weekday()),
            z.strftime("%-H:%M")
        )
    }
}

/// `YYYY-MM` → (year, month).
pub fn parse_month_text(s: &str) -> Option<(i16, i8)> {
    let (y, m) = s.trim().split_once('-')?;
    let (y, m): (i16, i8) = (y.parse().ok()?, m.parse().ok()?);
    Date::new(y, m, 1).ok().map(|_| (y, m))
}

/// Hours as `1時間30分`.
pub fn format_hours(d: SignedDuration) -> String {
    let mins = d.as_mins().max(0);
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m}分"),
        (h, 0) => format!("{h}時間"),
        (h, m) => format!("{h}時間{m}分"),
    }
}

impl CalendarSettings {
    pub fn weekly_hours(&self) -> anyhow::Result<WeeklyHours> {
        let mut days = Vec::new();
        for d in &self.open_weekdays {
            days.push(parse_weekday(d).ok_or_else(|| {
                anyhow::anyhow!("calendar.open_weekdays: 曜日 {d:?} は mon…sun で指定してください")
            })?);
        }
        let time = |key: &str, v: &str| {
            v.parse::<jiff::civil::Time>().map_err(|_| {
                anyhow::anyhow!("calendar.{key}: 時刻 {v:?} は HH:MM で指定してください")
            })
        };
        let opens = time("opens_at", &self.opens_at)?;
        let closes = time("closes_at", &self.closes_at)?;
        if opens >= closes {
            anyhow::bail!("calendar: opens_at は closes_at より前にしてください");
        }
        Ok(WeeklyHours {
            days,
            opens,
            closes,
        })
    }
}

/// Builds the calendar from the settings and the operators' extra days.
pub async fn load(
    conn: &mut crate::db::Conn,
    settings: &CalendarSettings,
) -> anyhow::Result<BusinessCalendar> {
    let hours = settings.weekly_hours()?;
    let mut overrides = BTreeMap::new();
    for day in repo::list_active(conn).await? {
        if let Ok(d) = day.day.parse::<Date>() {
            let o = if day.kind == "open" {
                DayOverride::Open
            } else {
                DayOverride::Closed(day.reason.clone())
            };
            overrides.insert(d, o);
        }
    }
    Ok(BusinessCalendar::new(crate::db::tokyo(), hours, overrides))
}

/// What an operator may register for a day.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DayError {
    #[error("日付を YYYY-MM-DD の形で入力してください。")]
    Date,
    #[error("休業日か営業日かを選んでください。")]
    Kind,
    #[error("理由を入力してください。")]
    Reason,
}

/// A checked extra day: a date, `closed` or `open`, and a reason of at most 200 characters.
pub fn parse_day(
    day: &str,
    kind: &str,
    reason: &str,
) -> Result<(Date, &'static str, String), DayError> {
    let day = day.trim().parse::<Date>().map_err(|_| DayError::Date)?;
    let kind = match kind {
        "closed" => "closed",
        "open" => "open",
        _ => return Err(DayError::Kind),
    };
    let reason: String = reason.trim().chars().take(200).collect();
    if reason.is_empty() {
        return Err(DayError::Reason);
    }
    Ok((day, kind, reason))
}

/// Registers an extra day, with its audit event, on the caller's transaction.
pub async fn add_day(
    conn: &mut crate::db::Tx,
    day: Date,
    kind: &str,
    reason: &str,
    actor: &crate::audit::Actor,
    now: crate::db::Timestamp,
) -> Result<i64, crate::error::DomainError> {
    let day_text = day.to_string();
    let id = repo::insert(conn, &day_text, kind, reason, actor.account_id, now).await?;
    crate::audit::record(
        conn,
        now,
        actor,
        "calendar.day_added",
        &format!("calendar_day:{id}"),
        serde_json::json!({"day": day_text, "kind": kind, "reason": reason}),
    )
    .await?;
    Ok(id)
}

/// Withdraws an extra day (NotFound if it is not in force), with its audit event.
pub async fn withdraw_day(
    conn: &mut crate::db::Tx,
    id: i64,
    actor: &crate::audit::Actor,
    now: crate::db::Timestamp,
) -> Result<(), crate::error::DomainError> {
    if !repo::withdraw(conn, id, actor.account_id, now).await? {
        return Err(crate::error::DomainError::NotFound);
    }
    crate::audit::record(
        conn,
        now,
        actor,
        "calendar.day_withdrawn",
        &format!("calendar_day:{id}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
