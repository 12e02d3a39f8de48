//! The calendar page: a month with closed days marked, and the operators' extra days.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Date;
use serde::Deserialize;

use crate::calendar;
use crate::calendar::repo::{self, ExtraDay};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

pub struct DayCell {
    pub date: String,
    pub weekday: &'static str,
    pub closed: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar_admin/index.html")]
pub struct CalendarPage {
    pub page: Page,
    pub month: String,
    pub prev: String,
    pub next: String,
    pub hours: String,
    pub days: Vec<DayCell>,
    pub extra: Vec<ExtraDay>,
    pub form: DayForm,
    pub error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonthQuery {
    month: String,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct DayForm {
    pub day: String,
    pub kind: String,
    pub reason: String,
}

use crate::calendar::parse_month_text as parse_month;

async fn show(
    state: &AppState,
    page: Page,
    month: Option<(i16, i8)>,
    form: DayForm,
    error: Option<String>,
) -> AppResult<Response> {
    let today = state.now().as_jiff().to_zoned(crate::db::tokyo()).date();
    let (y, m) = month.unwrap_or((today.year(), today.month()));
    let mut conn = state.db.pool().acquire().await?;
    let cal = crate::calendar::load(&mut conn, &state.settings.calendar).await?;
    let extra = repo::list_active(&mut conn).await?;
    let first = Date::new(y, m, 1).map_err(|_| AppError::BadRequest("月が範囲外です。".into()))?;
    let ym = |d: Option<Date>| {
        d.map(|d| d.strftime("%Y-%m").to_string())
            .unwrap_or_default()
    };
    let days = cal
        .month(y, m)
        .into_iter()
        .map(|(d, s)| DayCell {
            date: d.strftime("%-m/%-d").to_string(),
            weekday: crate::calendar::weekday_ja(d.weekday()),
            closed: s.err().map(|c| c.label()),
        })
        .collect();
    let h = cal.hours();
    let view = CalendarPage {
        page: page.titled("営業日カレンダー"),
        month: first.strftime("%Y年%-m月").to_string(),
        prev: ym(first.yesterday().ok()),
        next: ym(first.last_of_month().tomorrow().ok()),
        hours: format!(
            "{} {}–{}",
            h.days
                .iter()
                .map(|w| crate::calendar::weekday_ja(*w))
                .collect::<Vec<_>>()
                .join("・"),
            h.opens.strftime("%-H:%M"),
            h.closes.strftime("%-H:%M")
        ),
        days,
        extra,
        form,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(view, status)
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<MonthQuery>,
) -> AppResult<Response> {
    let month =
        if q.month.trim().is_empty() {
            None
        } else {
            Some(parse_month(&q.month).ok_or_else(|| {
                AppError::BadRequest("月は YYYY-MM の形で指定してください。".into())
            })?)
        };
    show(&state, page, month, DayForm::default(), None).await
}

pub async fn add_day(
    State(state): State<AppState>,
    page: Page,
    Caller { p: _, actor }: Caller,
    Form(form): Form<DayForm>,
) -> AppResult<Response> {
    let now = state.now();
    let (day, kind, reason) = match calendar::parse_day(&form.day, &form.kind, &form.reason) {
        Ok(v) => v,
        Err(e) => return show(&state, page, None, form, Some(e.to_string())).await,
    };
    let mut tx = state.db.begin().await?;
    calendar::add_day(&mut tx, day, kind, &reason, &actor, now).await?;
    tx.commit().await?;
    Ok(flash_redirect(
        &state,
        &format!("/admin/calendar?month={}", day.strftime("%Y-%m")),
        "カレンダーに登録しました。",
    ))
}

pub async fn withdraw_day(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    calendar::withdraw_day(&mut tx, id, &actor, now).await?;
    tx.commit().await?;
    Ok(flash_redirect(
        &state,
        "/admin/calendar",
        "登録を取り消しました。",
    ))
}
