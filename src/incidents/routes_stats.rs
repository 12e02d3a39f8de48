//! Handlers of the incident statistics: the printable page, CSV and Excel.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::repo_stats;
use super::stats::{self, Period, READERS, Spread, Stats, duration_text};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::export::attachment;
use crate::web::{Access, Page, Routes, render};

/// The routes of this area; `domain()` chains them.
pub fn routes() -> Routes {
    let readers = Access::Roles(READERS);
    Routes::new()
        .get("/incidents/stats", readers, index)
        .get("/incidents/stats/export.csv", readers, export_csv)
        .get("/incidents/stats/export.xlsx", readers, export_xlsx)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PeriodQuery {
    pub from: String,
    pub to: String,
}

async fn build(state: &AppState, q: &PeriodQuery) -> AppResult<Result<Stats, String>> {
    let period = match Period::parse(&q.from, &q.to, state.now()) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let (start, end) = period.bounds();
    let mut conn = state.db.pool().acquire().await?;
    let rows = repo_stats::rows(&mut conn, start, end).await?;
    Ok(Ok(stats::build(period, &rows)))
}

pub struct SpreadLine {
    pub label: &'static str,
    pub count: usize,
    pub mean: String,
    pub median: String,
    pub p90: String,
}

fn spread_line(label: &'static str, s: &Spread) -> SpreadLine {
    SpreadLine {
        label,
        count: s.count,
        mean: duration_text(s.mean),
        median: duration_text(s.median),
        p90: duration_text(s.p90),
    }
}

pub struct IncidentLine {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub discovered: String,
    pub severity: &'static str,
    pub cause: &'static str,
    pub recovery: String,
    pub first_notice: String,
}

#[derive(Template)]
#[template(path = "incidents/stats.html")]
pub struct StatsPage {
    pub page: Page,
    pub s: Stats,
    pub title: String,
    pub from: String,
    pub to: String,
    pub spreads: Vec<SpreadLine>,
    pub lines: Vec<IncidentLine>,
    pub error: Option<String>,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let (s, error, status) = match build(&state, &q).await? {
        Ok(s) => (s, None, StatusCode::OK),
        Err(e) => {
            let fallback = PeriodQuery::default();
            let s = build(&state, &fallback)
                .await?
                .map_err(AppError::BadRequest)?;
            (s, Some(e), StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let title = s.title();
    render(
        StatsPage {
            page: page.titled(title.clone()),
            title,
            from: s.period.from_text(),
            to: s.period.to_text(),
            spreads: vec![
                spread_line("復旧までの時間（発生から復旧）", &s.recovery),
                spread_line("発見から利用者への初回連絡まで", &s.first_notice),
            ],
            lines: s
                .lines
                .iter()
                .map(|l| IncidentLine {
                    id: l.id,
                    number: l.number.clone(),
                    title: l.title.clone(),
                    discovered: l.discovered_at.jst(),
                    severity: l.severity,
                    cause: l.cause,
                    recovery: duration_text(l.recovery),
                    first_notice: duration_text(l.first_notice),
                })
                .collect(),
            s,
            error,
        },
        status,
    )
}

async fn checked(state: &AppState, q: &PeriodQuery) -> AppResult<Stats> {
    build(state, q).await?.map_err(AppError::BadRequest)
}

pub async fn export_csv(
    State(state): State<AppState>,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let s = checked(&state, &q).await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!(
            "incident-stats-{}-{}.csv",
            s.period.from_text(),
            s.period.to_text()
        ),
        s.csv()?,
    ))
}

pub async fn export_xlsx(
    State(state): State<AppState>,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let s = checked(&state, &q).await?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!(
            "incident-stats-{}-{}.xlsx",
            s.period.from_text(),
            s.period.to_text()
        ),
        s.xlsx()?,
    ))
}
