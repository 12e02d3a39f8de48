//! Incident statistics (issue 13 item 6): incidents by month, severity and cause; time to
//! recover (mean, median, 90th percentile) from 発生日時 (or 発見日時 when unknown) to 復旧日時;
//! time from discovery to the first user notice (the portal notice, a contact recorded as
//! 伝達済, or a mail the outbox sent, whichever came first). A period of whole months (Japan
//! time) by 発見日時. The page is printable; CSV and Excel go through `web::export`.
//!
//! The cause category (`incidents.cause_category`, migration 0024) is a small fixed list
//! ([`CauseCategory`]); the incident form sets it.

use jiff::SignedDuration;
use jiff::civil::Date;

pub use super::model::CauseCategory;
use super::model::Severity;
use super::repo_stats::StatRow;
use crate::auth::Role;
use crate::db::{Timestamp, tokyo};
use crate::web::export::Csv;

/// Who reads the statistics.
pub const READERS: &[Role] = &[
    Role::SystemAdmin,
    Role::SystemOperator,
    Role::ServiceOperator,
    Role::OpsManager,
];

/// Whole months of Japan time, `from` and `to` included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

fn month_start(s: &str) -> Option<Date> {
    let (y, m) = s.trim().split_once('-')?;
    Date::new(y.parse().ok()?, m.parse().ok()?, 1).ok()
}

impl Period {
    /// The twelve months up to and including the month of `now`.
    pub fn default_at(now: Timestamp) -> Period {
        let d = now.as_jiff().to_zoned(tokyo()).date();
        let to = d.first_of_month();
        let from = to.checked_sub(jiff::Span::new().months(11)).unwrap_or(to);
        Period { from, to }
    }

    /// `YYYY-MM` to `YYYY-MM` (empty: the default); at most ten years.
    pub fn parse(from: &str, to: &str, now: Timestamp) -> Result<Period, String> {
        let d = Period::default_at(now);
        let from = if from.trim().is_empty() {
            d.from
        } else {
            month_start(from).ok_or("開始月は YYYY-MM の形で入力してください。")?
        };
        let to = if to.trim().is_empty() {
            d.to
        } else {
            month_start(to).ok_or("終了月は YYYY-MM の形で入力してください。")?
        };
        if from > to {
            return Err("開始月は終了月以前にしてください。".into());
        }
        if months_between(from, to) > 120 {
            return Err("期間は 10 年以内にしてください。".into());
        }
        Ok(Period { from, to })
    }

    /// The instants `[start, end)` of the period.
    pub fn bounds(&self) -> (Timestamp, Timestamp) {
        let at = |d: Date| {
            d.to_zoned(tokyo())
                .map(|z| Timestamp::from(z.timestamp()))
                .unwrap_or_else(|_| Timestamp::from(jiff::Timestamp::UNIX_EPOCH))
        };
        let end = self
            .to
            .checked_add(jiff::Span::new().months(1))
            .unwrap_or(self.to);
        (at(self.from), at(end))
    }

    pub fn months(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = self.from;
        while d <= self.to {
            out.push(d.strftime("%Y-%m").to_string());
            match d.checked_add(jiff::Span::new().months(1)) {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        out
    }

    pub fn from_text(&self) -> String {
        self.from.strftime("%Y-%m").to_string()
    }

    pub fn to_text(&self) -> String {
        self.to.strftime("%Y-%m").to_string()
    }
}

fn months_between(a: Date, b: Date) -> i32 {
    (i32::from(b.year()) - i32::from(a.year())) * 12 + i32::from(b.month()) - i32::from(a.month())
}

/// Count, mean, median and 90th percentile (nearest rank) of durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spread {
    pub count: usize,
    pub mean: Option<SignedDuration>,
    pub median: Option<SignedDuration>,
    pub p90: Option<SignedDuration>,
}

impl Spread {
    pub fn of(mut xs: Vec<SignedDuration>) -> Spread {
        if xs.is_empty() {
            return Spread::default();
        }
        xs.sort();
        let n = xs.len();
        let total: i64 = xs.iter().map(|d| d.as_secs()).sum();
        let mean = SignedDuration::from_secs(total / n as i64);
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2
        };
        let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
        Spread {
            count: n,
            mean: Some(mean),
            median: Some(median),
            p90: Some(xs[rank - 1]),
        }
    }
}

/// A duration for people: `2時間05分`, `3日4時間00分`; none: `—`.
pub fn duration_text(d: Option<SignedDuration>) -> String {
    let Some(d) = d else {
        return "—".into();
    };
    let mins = d.as_secs().max(0) / 60;
    let (days, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if days > 0 {
        format!("{days}日{h}時間{m:02}分")
    } else {
        format!("{h}時間{m:02}分")
    }
}

/// Minutes as a number for the exports (one decimal); none: empty.
pub fn minutes(d: Option<SignedDuration>) -> String {
    d.map(|d| format!("{:.1}", d.as_secs() as f64 / 60.0))
        .unwrap_or_default()
}

/// One incident as the statistics see it.
#[derive(Clone, Debug)]
pub struct Line {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub month: String,
    pub severity: &'static str,
    pub cause: &'static str,
    pub discovered_at: Timestamp,
    pub recovery: Option<SignedDuration>,
    pub first_notice: Option<SignedDuration>,
}

/// The statistics of a period.
#[derive(Clone, Debug)]
pub struct Stats {
    pub period: Period,
    pub total: usize,
    pub by_month: Vec<(String, usize)>,
    pub by_severity: Vec<(&'static str, usize)>,
    pub by_cause: Vec<(&'static str, usize)>,
    pub recovery: Spread,
    pub first_notice: Spread,
    /// Incidents that affect users with no user notice recorded.
    pub affecting_without_notice: usize,
    pub lines: Vec<Line>,
}

/// The first user notice of an incident: the earliest of the portal notice, a contact recorded
/// as 伝達済 and a mail the outbox sent.
pub fn first_notice(r: &StatRow) -> Option<Timestamp> {
    [r.notice_at, r.contact_at, r.mail_at]
        .into_iter()
        .flatten()
        .min()
}

/// Builds the statistics from the period's incidents. Pure.
pub fn build(period: Period, rows: &[StatRow]) -> Stats {
    let lines: Vec<Line> = rows
        .iter()
        .map(|r| {
            let start = r.occurred_at.unwrap_or(r.discovered_at);
            Line {
                id: r.id,
                number: r.number.clone(),
                title: r.title.clone(),
                month: r
                    .discovered_at
                    .as_jiff()
                    .to_zoned(tokyo())
                    .strftime("%Y-%m")
                    .to_string(),
                severity: Severity::parse(&r.severity).map_or("—", |s| s.label()),
                cause: CauseCategory::parse(&r.cause_category)
                    .unwrap_or(CauseCategory::Unknown)
                    .label(),
                discovered_at: r.discovered_at,
                recovery: r
                    .recovered_at
                    .map(|t| t.since(start).max(SignedDuration::ZERO)),
                first_notice: first_notice(r)
                    .map(|t| t.since(r.discovered_at).max(SignedDuration::ZERO)),
            }
        })
        .collect();
    let by_month = period
        .months()
        .into_iter()
        .map(|m| {
            let n = lines.iter().filter(|l| l.month == m).count();
            (m, n)
        })
        .collect();
    let by_severity = Severity::ALL
        .iter()
        .map(|s| {
            (
                s.label(),
                lines.iter().filter(|l| l.severity == s.label()).count(),
            )
        })
        .collect();
    let by_cause = CauseCategory::ALL
        .iter()
        .map(|c| {
            (
                c.label(),
                lines.iter().filter(|l| l.cause == c.label()).count(),
            )
        })
        .collect();
    let affecting_without_notice = rows
        .iter()
        .filter(|r| r.affects_users && first_notice(r).is_none())
        .count();
    Stats {
        period,
        total: lines.len(),
        by_month,
        by_severity,
        by_cause,
        recovery: Spread::of(lines.iter().filter_map(|l| l.recovery).collect()),
        first_notice: Spread::of(lines.iter().filter_map(|l| l.first_notice).collect()),
        affecting_without_notice,
        lines,
    }
}

impl Stats {
    pub fn title(&self) -> String {
        format!(
            "障害統計（{} 〜 {}）",
            self.period.from_text(),
            self.period.to_text()
        )
    }

    /// The summary as (区分, 項目, 値) rows, shared by CSV and Excel; durations in minutes.
    pub fn rows(&self) -> Vec<[String; 3]> {
        let mut out = vec![["件数".to_string(), "合計".into(), self.total.to_string()]];
        for (m, n) in &self.by_month {
            out.push(["月別".into(), m.clone(), n.to_string()]);
        }
        for (s, n) in &self.by_severity {
            out.push(["重大度別".into(), (*s).into(), n.to_string()]);
        }
        for (c, n) in &self.by_cause {
            out.push(["原因別".into(), (*c).into(), n.to_string()]);
        }
        for (label, s) in [
            ("復旧までの時間（分）", &self.recovery),
            ("発見から利用者への初回連絡まで（分）", &self.first_notice),
        ] {
            out.push([label.into(), "件数".into(), s.count.to_string()]);
            out.push([label.into(), "平均".into(), minutes(s.mean)]);
            out.push([label.into(), "中央値".into(), minutes(s.median)]);
            out.push([label.into(), "90パーセンタイル".into(), minutes(s.p90)]);
        }
        out.push([
            "利用者への連絡".into(),
            "影響ありで未連絡".into(),
            self.affecting_without_notice.to_string(),
        ]);
        out
    }

    pub fn csv(&self) -> anyhow::Result<Vec<u8>> {
        let mut w = Csv::new();
        w.row(["区分", "項目", "値"])?;
        for r in self.rows() {
            w.row(&r)?;
        }
        w.finish()
    }

    pub fn xlsx(&self) -> anyhow::Result<Vec<u8>> {
        use rust_xlsxwriter::{Format, Workbook};

        use crate::web::export::SheetText;
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let sheet = book.add_worksheet().set_name("集計")?;
        sheet.text_with_format(0, 0, &self.title(), &bold)?;
        for (c, h) in ["区分", "項目", "値"].iter().enumerate() {
            sheet.text_with_format(2, c as u16, h, &bold)?;
        }
        for (i, r) in self.rows().iter().enumerate() {
            let row = 3 + i as u32;
            sheet.text(row, 0, &r[0])?;
            sheet.text(row, 1, &r[1])?;
            match r[2].parse::<f64>() {
                Ok(v) if v.is_finite() => sheet.write_number(row, 2, v)?,
                _ => sheet.text(row, 2, &r[2])?,
            };
        }
        crate::web::export::widths(sheet, &[34.0, 22.0, 12.0])?;
        let list = book.add_worksheet().set_name("障害一覧")?;
        let head = [
            "障害番号",
            "件名",
            "発見日時",
            "重大度",
            "原因区分",
            "復旧まで（分）",
            "初回連絡まで（分）",
        ];
        for (c, h) in head.iter().enumerate() {
            list.text_with_format(0, c as u16, h, &bold)?;
        }
        for (i, l) in self.lines.iter().enumerate() {
            let row = 1 + i as u32;
            list.text(row, 0, &l.number)?;
            list.text(row, 1, &l.title)?;
            list.date_time(row, 2, l.discovered_at)?;
            list.text(row, 3, l.severity)?;
            list.text(row, 4, l.cause)?;
            for (col, d) in [(5u16, l.recovery), (6, l.first_notice)] {
                if let Some(d) = d {
                    list.write_number(row, col, d.as_secs() as f64 / 60.0)?;
                }
            }
        }
        crate::web::export::widths(list, &[14.0, 40.0, 20.0, 10.0, 16.0, 14.0, 16.0])?;
        Ok(book.save_to_buffer()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(x: i64) -> SignedDuration {
        SignedDuration::from_mins(x)
    }

    #[test]
    fn spread_is_mean_median_and_nearest_rank_p90() {
        let s = Spread::of(vec![m(30), m(10), m(20), m(100)]);
        assert_eq!(s.count, 4);
        assert_eq!(s.mean, Some(m(40)));
        assert_eq!(s.median, Some(m(25)));
        assert_eq!(s.p90, Some(m(100)));
        assert_eq!(Spread::of(vec![]).mean, None);
        assert_eq!(duration_text(Some(m(125))), "2時間05分");
        assert_eq!(duration_text(Some(m(1440 + 60))), "1日1時間00分");
    }

    #[test]
    fn a_period_is_whole_months_of_japan_time() {
        let now: Timestamp = "2026-03-15T00:00:00Z".parse().expect("time");
        let p = Period::parse("2026-01", "2026-02", now).expect("period");
        let (a, b) = p.bounds();
        assert_eq!(a.to_db(), "2025-12-31T15:00:00.000Z");
        assert_eq!(b.to_db(), "2026-02-28T15:00:00.000Z");
        assert_eq!(p.months(), ["2026-01", "2026-02"]);
        assert!(Period::parse("2026-03", "2026-01", now).is_err());
        assert!(Period::parse("2026-13", "", now).is_err());
        assert_eq!(Period::default_at(now).months().len(), 12);
    }
}
