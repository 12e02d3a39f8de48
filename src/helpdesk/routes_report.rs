//! The monthly report of the helpdesk (`/helpdesk/reports`): a printable page, CSV (UTF-8 with
//! BOM) and Excel; the figures are built in `report.rs`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::report;
use super::routes::calendar;
use super::views::ReportPage;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::export::attachment;
use crate::web::{Page, render};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonthQuery {
    month: String,
}

async fn build_report(state: &AppState, q: &MonthQuery) -> AppResult<report::MonthReport> {
    let now = state.now();
    let (y, m) = if q.month.trim().is_empty() {
        let d = now.as_jiff().to_zoned(crate::db::tokyo()).date();
        (d.year(), d.month())
    } else {
        crate::calendar::parse_month_text(&q.month)
            .filter(|(y, _)| (2000..=2199).contains(y))
            .ok_or_else(|| {
                AppError::BadRequest(
                    "月は 2026-11 のように YYYY-MM の形で指定してください。".into(),
                )
            })?
    };
    let cal = calendar(state).await?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(report::build(&mut conn, &cal, y, m, now).await?)
}

pub async fn report(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<MonthQuery>,
) -> AppResult<Response> {
    let r = build_report(&state, &q).await?;
    let shift = |delta: i32| {
        crate::calendar::parse_month_text(&r.month)
            .and_then(|(y, m)| jiff::civil::Date::new(y, m, 1).ok())
            .and_then(|d| d.checked_add(jiff::Span::new().months(delta)).ok())
            .map(|d| d.strftime("%Y-%m").to_string())
            .unwrap_or_default()
    };
    let (prev, next) = (shift(-1), shift(1));
    render(
        ReportPage {
            page: page.titled(r.title.clone()),
            times: r
                .times
                .iter()
                .map(|s| {
                    (
                        s.label,
                        s.count,
                        report::hours_text(s.median),
                        report::hours_text(s.p90),
                    )
                })
                .collect(),
            backlog_at: r.backlog_at.jst(),
            prev,
            next,
            r,
        },
        StatusCode::OK,
    )
}

pub async fn report_csv(
    State(state): State<AppState>,
    Query(q): Query<MonthQuery>,
) -> AppResult<Response> {
    let r = build_report(&state, &q).await?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("helpdesk-{}.csv", r.month),
        r.csv()?,
    ))
}

pub async fn report_xlsx(
    State(state): State<AppState>,
    Query(q): Query<MonthQuery>,
) -> AppResult<Response> {
    let r = build_report(&state, &q).await?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("helpdesk-{}.xlsx", r.month),
        r.xlsx()?,
    ))
}
