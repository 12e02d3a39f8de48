//! The monthly report (R15.3): counts by category and channel, response times in business
//! hours (median, 90th percentile), and the open backlog at the end of the month. One set of
//! numbers feeds the printable page, the CSV and the Excel file.

use jiff::SignedDuration;
use jiff::civil::Date;

use super::model::{self, CATEGORIES, CHANNELS, Status};
use super::repo::{self, Inquiry};
use super::service;
use crate::calendar::{BusinessCalendar, format_hours};
use crate::db::{Conn, Timestamp, tokyo};
use crate::web::export::Csv;

pub struct Stat {
    pub label: &'static str,
    pub count: usize,
    pub median: Option<SignedDuration>,
    pub p90: Option<SignedDuration>,
}

pub struct MonthReport {
    /// `2026-11`
    pub month: String,
    pub title: String,
    pub total: usize,
    pub by_category: Vec<(&'static str, usize)>,
    pub by_channel: Vec<(&'static str, usize)>,
    pub times: Vec<Stat>,
    /// The instant the backlog is counted at: the end of the month, or now if sooner.
    pub backlog_at: Timestamp,
    pub backlog: Vec<(&'static str, usize)>,
    pub backlog_total: usize,
    pub inquiries: Vec<Inquiry>,
}

fn month_bounds(year: i16, month: i8) -> Option<(Timestamp, Timestamp)> {
    let first = Date::new(year, month, 1).ok()?;
    let next = first.last_of_month().tomorrow().ok()?;
    let from = first.to_zoned(tokyo()).ok()?.timestamp();
    let to = next.to_zoned(tokyo()).ok()?.timestamp();
    Some((from.into(), to.into()))
}

pub async fn build(
    conn: &mut Conn,
    cal: &BusinessCalendar,
    year: i16,
    month: i8,
    now: Timestamp,
) -> anyhow::Result<MonthReport> {
    let (from, to) =
        month_bounds(year, month).ok_or_else(|| anyhow::anyhow!("month out of range"))?;
    let cutoff = to.min(now);
    let relevant = repo::list_relevant(conn, from, to).await?;
    let mut first_times = Vec::new();
    let mut resolution_times = Vec::new();
    let mut backlog = [0usize; 4];
    let mut received = Vec::new();
    for inq in relevant {
        let entries = repo::entries(conn, inq.id).await?;
        // Only what had happened by the cutoff counts, so a past month's report stays the same.
        let seen: Vec<_> = entries.into_iter().filter(|e| e.at < cutoff).collect();
        let done_at = inq.completed_at.filter(|t| *t < cutoff);
        if inq.received_at < cutoff && done_at.is_none() {
            let status = seen
                .last()
                .and_then(|e| Status::parse(&e.status_after))
                .unwrap_or(Status::Received);
            let i = Status::ALL.iter().position(|s| *s == status).unwrap_or(0);
            backlog[i] += 1;
        }
        if inq.received_at >= from {
            let mut past = inq.clone();
            past.first_response_at = inq.first_response_at.filter(|t| *t < cutoff);
            let r = service::clock(cal, &past, &seen, cutoff);
            if r.responded {
                first_times.push(r.first_response);
            }
            if r.done {
                resolution_times.push(r.resolution);
            }
            received.push(inq);
        }
    }
    let count = |f: &dyn Fn(&Inquiry) -> bool| received.iter().filter(|i| f(i)).count();
    let stat = |label, xs: Vec<SignedDuration>| {
        let n = xs.len();
        let p = model::percentiles(xs);
        Stat {
            label,
            count: n,
            median: p.map(|p| p.0),
            p90: p.map(|p| p.1),
        }
    };
    let backlog_rows: Vec<_> = Status::ALL[..3]
        .iter()
        .zip(backlog)
        .map(|(s, n)| (s.label(), n))
        .collect();
    Ok(MonthReport {
        month: format!("{year:04}-{month:02}"),
        title: format!("ヘルプデスク月報 {year}年{month}月"),
        total: received.len(),
        by_category: CATEGORIES
            .iter()
            .map(|c| (*c, count(&|i| i.category == *c)))
            .collect(),
        by_channel: CHANNELS
            .iter()
            .map(|c| (*c, count(&|i| i.channel == *c)))
            .collect(),
        times: vec![
            stat("初回応答", first_times),
            stat("解決（回答待ちを除く）", resolution_times),
        ],
        backlog_at: cutoff,
        backlog_total: backlog_rows.iter().map(|r| r.1).sum(),
        backlog: backlog_rows,
        inquiries: received,
    })
}

/// Business hours as a decimal number for spreadsheets (`1.5`).
pub fn hours_decimal(d: Option<SignedDuration>) -> String {
    d.map(|d| format!("{:.2}", d.as_secs_f64() / 3600.0))
        .unwrap_or_default()
}

pub fn hours_text(d: Option<SignedDuration>) -> String {
    d.map(format_hours).unwrap_or_else(|| "—".into())
}

impl MonthReport {
    /// The summary as (区分, 項目, 値) rows, shared by CSV and Excel.
    pub fn rows(&self) -> Vec<[String; 3]> {
        let mut out = vec![[
            "受付件数".to_string(),
            "合計".to_string(),
            self.total.to_string(),
        ]];
        for (c, n) in &self.by_category {
            out.push(["分類別".into(), (*c).into(), n.to_string()]);
        }
        for (c, n) in &self.by_channel {
            out.push(["受付方法別".into(), (*c).into(), n.to_string()]);
        }
        for s in &self.times {
            out.push([
                format!("{}（営業時間）", s.label),
                "件数".into(),
                s.count.to_string(),
            ]);
            out.push([
                format!("{}（営業時間）", s.label),
                "中央値（時間）".into(),
                hours_decimal(s.median),
            ]);
            out.push([
                format!("{}（営業時間）", s.label),
                "90パーセンタイル（時間）".into(),
                hours_decimal(s.p90),
            ]);
        }
        for (s, n) in &self.backlog {
            out.push(["未完了".into(), (*s).into(), n.to_string()]);
        }
        out.push([
            "未完了".into(),
            "合計".into(),
            self.backlog_total.to_string(),
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
        let sheet = book.add_worksheet().set_name("月報")?;
        sheet.text_with_format(0, 0, &self.title, &bold)?;
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
        crate::web::export::widths(sheet, &[28.0, 26.0, 12.0])?;
        let list = book.add_worksheet().set_name("問い合わせ一覧")?;
        let head = [
            "番号",
            "受付日時",
            "受付方法",
            "分類",
            "氏名",
            "施設",
            "件名",
            "状態",
        ];
        for (c, h) in head.iter().enumerate() {
            list.text_with_format(0, c as u16, h, &bold)?;
        }
        for (i, q) in self.inquiries.iter().enumerate() {
            let row = 1 + i as u32;
            list.write_number(row, 0, q.id as f64)?;
            list.date_time(row, 1, q.received_at)?;
            list.text(row, 2, &q.channel)?;
            list.text(row, 3, &q.category)?;
            list.text(row, 4, &q.requester_name)?;
            list.text(row, 5, &q.facility_name)?;
            list.text(row, 6, &q.subject)?;
            list.text(row, 7, &q.status)?;
        }
        crate::web::export::widths(list, &[8.0, 20.0, 12.0, 14.0, 16.0, 24.0, 40.0, 10.0])?;
        Ok(book.save_to_buffer()?)
    }
}
