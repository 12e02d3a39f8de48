//! The alerts page (`/admin/monitors/alerts`: open ones first, the acknowledge form) and the
//! on-call list (`/admin/monitors/oncall`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::routes::{AlertLine, alert_line};
use super::{ACKERS, ADMINS, alerts, repo_alerts};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

pub const ALERTS: &str = "/admin/monitors/alerts";
pub const ONCALL: &str = "/admin/monitors/oncall";

#[derive(Template)]
#[template(path = "monitor/alerts.html")]
pub struct AlertsPage {
    pub page: Page,
    pub open: Vec<AlertLine>,
    pub others: Vec<AlertLine>,
    pub can_ack: bool,
    pub can_oncall: bool,
    pub oncall: usize,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let lines: Vec<AlertLine> = repo_alerts::list(&mut conn, 200)
        .await?
        .iter()
        .map(alert_line)
        .collect();
    let oncall = repo_alerts::oncall_active(&mut conn).await?.len();
    let (open, others) = lines.into_iter().partition(|a| a.open);
    render(
        AlertsPage {
            page: page.titled("アラート"),
            open,
            others,
            can_ack: ACKERS.contains(&p.role),
            can_oncall: ADMINS.contains(&p.role) && state.may_open(p.role, ONCALL),
            oncall,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AckForm {
    note: String,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<AckForm>,
) -> AppResult<Response> {
    let msg = match alerts::acknowledge(&state.db, id, &form.note, &actor, state.now()).await {
        Ok(()) => "アラートを確認済みにしました。".to_string(),
        Err(DomainError::Conflict(m)) => m,
        Err(DomainError::Invalid { message, .. }) => message,
        Err(e) => return Err(e.into()),
    };
    Ok(flash_redirect(&state, ALERTS, &msg))
}

pub struct OnCallLine {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub since: String,
}

#[derive(Template)]
#[template(path = "monitor/oncall.html")]
pub struct OnCallPage {
    pub page: Page,
    pub people: Vec<OnCallLine>,
    pub name: String,
    pub email: String,
    pub error: Option<String>,
}

async fn oncall_page(
    state: &AppState,
    page: Page,
    name: String,
    email: String,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let people = repo_alerts::oncall_all(&mut conn)
        .await?
        .into_iter()
        .map(|o| OnCallLine {
            id: o.id,
            name: o.name,
            email: o.email,
            active: o.active == 1,
            since: o.created_at.jst(),
        })
        .collect();
    render(
        OnCallPage {
            page: page.titled("アラートの通知先"),
            people,
            name,
            email,
            error,
        },
        status,
    )
}

pub async fn oncall(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    oncall_page(
        &state,
        page,
        String::new(),
        String::new(),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OnCallForm {
    name: String,
    email: String,
}

pub async fn add_oncall(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    Form(form): Form<OnCallForm>,
) -> AppResult<Response> {
    match alerts::add_oncall(&state.db, &form.name, &form.email, &actor, state.now()).await {
        Ok(_) => Ok(flash_redirect(
            &state,
            ONCALL,
            &format!("{} さんを通知先に加えました。", form.name.trim()),
        )),
        Err(DomainError::Invalid { message, .. }) => {
            oncall_page(
                &state,
                page,
                form.name,
                form.email,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn deactivate_oncall(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let msg = match alerts::deactivate_oncall(&state.db, id, &actor, state.now()).await {
        Ok(()) => "通知先から外しました。".to_string(),
        Err(DomainError::Conflict(m)) => m,
        Err(e) => return Err(e.into()),
    };
    Ok(flash_redirect(&state, ONCALL, &msg))
}
