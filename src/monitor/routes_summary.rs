//! The monthly uptime summary for the service operator (`/admin/monitors/summary?month=YYYY-MM`):
//! each monitor's uptime and slot coverage for the month (Japan time) and its down periods;
//! printable on A4.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Date;
use serde::Deserialize;

use super::model::Outcome;
use super::routes::{counts_span, interval_text, points};
use super::uptime;
use super::{repo, repo_uptime};
use crate::db::{Timestamp, tokyo};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{Caller, Page, render};

pub const PATH: &str = "/admin/monitors/summary";

pub struct SummaryLine {
    pub name: String,
    pub kind: &'static str,
    pub interval: String,
    pub uptime: String,
    pub coverage: String,
    pub below: bool,
    pub periods: Vec<String>,
    pub down_total: String,
    pub paused: bool,
}

#[derive(Template)]
#[template(path = "monitor/summary.html")]
pub struct SummaryPage {
    pub page: Page,
    pub month_label: String,
    pub prev: String,
    pub next: Option<String>,
    pub lines: Vec<SummaryLine>,
    /// Per kind, for the whole network: "n / N 回" of the policy's cadence this month.
    pub cadence: Vec<(&'static str, String)>,
    pub made_at: String,
    pub made_by: String,
    pub raw_gone: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SummaryQuery {
    month: String,
}

/// The first day of the month `YYYY-MM`, or None.
fn parse_month(s: &str) -> Option<Date> {
    let (y, m) = s.trim().split_once('-')?;
    Date::new(y.parse().ok()?, m.parse().ok()?, 1).ok()
}

fn start_of(d: Date) -> Option<Timestamp> {
    d.to_zoned(tokyo())
        .ok()
        .map(|z| Timestamp::from(z.timestamp()))
}

fn key(d: Date) -> String {
    d.strftime("%Y-%m").to_string()
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    Query(q): Query<SummaryQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let today = now.as_jiff().to_zoned(tokyo()).date();
    let this_month = today.first_of_month();
    let month = parse_month(&q.month)
        .filter(|d| *d <= this_month)
        .unwrap_or(this_month);
    let next_month = month.checked_add(jiff::Span::new().months(1)).ok();
    let prev_month = month
        .checked_sub(jiff::Span::new().months(1))
        .unwrap_or(month);
    let (Some(from), Some(end)) = (start_of(month), next_month.and_then(start_of)) else {
        return Err(crate::error::AppError::BadRequest(
            "月は YYYY-MM の形で指定してください。".into(),
        ));
    };
    let to = end.min(now);
    let raw_keep = state.section::<super::MonitorSettings>().raw_keep_days;
    let raw_gone = now.since(from) > jiff::SignedDuration::from_hours(24 * raw_keep);
    let mut conn = state.db.pool().acquire().await?;
    let monitors = repo::list(&mut conn).await?;
    let mut lines = Vec::new();
    for m in &monitors {
        let c = counts_span(&mut conn, m.id, from, to).await?;
        let (checked, expected) = super::coverage::slot_coverage(&mut conn, m.id, from, to).await?;
        let rows = repo_uptime::results_between(&mut conn, m.id, from, to).await?;
        let periods = uptime::periods(&points(&rows), Outcome::Down, m.interval_seconds);
        let total = periods
            .iter()
            .map(|p| p.end.since(p.start))
            .fold(jiff::SignedDuration::ZERO, |a, b| a + b);
        lines.push(SummaryLine {
            name: m.name.clone(),
            kind: m.kind().label(),
            interval: interval_text(m.interval_seconds),
            uptime: c.uptime_text(),
            coverage: format!("{checked} / {expected} 回"),
            below: c.down > 0,
            down_total: if periods.is_empty() {
                "なし".into()
            } else {
                format!("{} 回、計 {}", periods.len(), uptime::duration_text(total))
            },
            periods: periods.iter().map(uptime::Period::text).collect(),
            paused: m.paused,
        });
    }
    let mut cadence = Vec::new();
    for kind in [super::Kind::Ping, super::Kind::Http] {
        let (checked, expected) = super::coverage::kind_coverage(&mut conn, kind, from, to).await?;
        if expected > 0 {
            cadence.push((kind.label(), format!("{checked} / {expected} 回")));
        }
    }
    render(
        SummaryPage {
            page: page.titled("稼働状況"),
            month_label: month.strftime("%Y年%-m月").to_string(),
            prev: key(prev_month),
            next: next_month.filter(|d| *d <= this_month).map(key),
            lines,
            cadence,
            made_at: now.jst(),
            made_by: actor.login,
            raw_gone,
        },
        StatusCode::OK,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_1_a_month_is_yyyy_mm_and_starts_at_midnight_japan_time() {
        let d = parse_month("2026-11").expect("month");
        assert_eq!(
            start_of(d).expect("start").to_db(),
            "2026-10-31T15:00:00.000Z"
        );
        assert!(parse_month("2026-13").is_none());
        assert!(parse_month("x").is_none());
    }
}
