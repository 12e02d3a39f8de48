//! The forms to add and change a monitor (`/admin/monitors/new`, `/admin/monitors/{id}/edit`),
//! their checks, and pause / resume. Changing is for `ADMINS` (see `mod.rs`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::model::{Kind, Monitor, Name, NewMonitor, Target};
use super::routes::HOME;
use super::settings::MonitorSettings;
use super::{repo, service};
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

/// The add / change form as typed.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct MonitorForm {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub interval_minutes: String,
    pub timeout_seconds: String,
    pub retries: String,
    pub expect_status: String,
    pub keyword: String,
    pub json_pointer: String,
    pub json_value: String,
    pub max_response_ms: String,
    pub cert_min_days: String,
    pub asset_ref: String,
}

/// Field errors of the form, by field name.
#[derive(Default)]
pub struct Errors(Vec<(&'static str, String)>);

impl Errors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push(&mut self, field: &'static str, msg: impl Into<String>) {
        self.0.push((field, msg.into()));
    }
}

fn opt_text(s: &str, max: usize) -> Result<Option<String>, ()> {
    let t = s.trim();
    if t.is_empty() {
        Ok(None)
    } else if t.chars().count() > max || t.chars().any(char::is_control) {
        Err(())
    } else {
        Ok(Some(t.to_string()))
    }
}

fn number(s: &str, min: i64, max: i64) -> Result<Option<i64>, ()> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
        _ => Err(()),
    }
}

impl MonitorForm {
    pub fn defaults(s: &MonitorSettings) -> Self {
        MonitorForm {
            kind: "ping".into(),
            interval_minutes: (s.ping_interval_seconds / 60).to_string(),
            timeout_seconds: (s.timeout_ms / 1000).to_string(),
            retries: s.retries.to_string(),
            ..Default::default()
        }
    }

    pub fn of(m: &Monitor) -> Self {
        let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        MonitorForm {
            name: m.name.clone(),
            kind: m.kind.clone(),
            target: m.target.clone(),
            interval_minutes: (m.interval_seconds / 60).to_string(),
            timeout_seconds: (m.timeout_ms / 1000).to_string(),
            retries: m.retries.to_string(),
            expect_status: n(m.expect_status),
            keyword: m.keyword.clone().unwrap_or_default(),
            json_pointer: m.json_pointer.clone().unwrap_or_default(),
            json_value: m.json_value.clone().unwrap_or_default(),
            max_response_ms: n(m.max_response_ms),
            cert_min_days: n(m.cert_min_days),
            asset_ref: m.asset_ref.clone().unwrap_or_default(),
        }
    }

    /// The checked monitor, or every field's error. An empty interval takes the default of the
    /// kind (`[monitor]`).
    pub fn parse(&self, s: &MonitorSettings) -> Result<NewMonitor, Errors> {
        let mut e = Errors::default();
        let name = Name::parse(&self.name).map_err(|m| e.push("name", m)).ok();
        let kind = Kind::parse(&self.kind);
        if kind.is_none() {
            e.push("kind", "種類を選んでください。");
        }
        let kind = kind.unwrap_or(Kind::Ping);
        let target = Target::parse(kind, &self.target)
            .map_err(|m| e.push("target", m))
            .ok();
        let default_interval = match kind {
            Kind::Ping => s.ping_interval_seconds,
            Kind::Http => s.http_interval_seconds,
        };
        let interval = number(&self.interval_minutes, 1, 24 * 60)
            .map_err(|_| e.push("interval_minutes", "間隔は 1〜1440 分で入力してください。"))
            .ok()
            .map(|v| v.map(|m| m * 60).unwrap_or(default_interval));
        let timeout = number(&self.timeout_seconds, 1, 120)
            .map_err(|_| {
                e.push(
                    "timeout_seconds",
                    "タイムアウトは 1〜120 秒で入力してください。",
                )
            })
            .ok()
            .map(|v| v.map(|s| s * 1000).unwrap_or(s.timeout_ms));
        let retries = number(&self.retries, 1, 10)
            .map_err(|_| e.push("retries", "回数は 1〜10 で入力してください。"))
            .ok()
            .map(|v| v.unwrap_or(s.retries));
        let http = kind == Kind::Http;
        let expect_status = number(&self.expect_status, 100, 599)
            .map_err(|_| {
                e.push(
                    "expect_status",
                    "ステータスは 100〜599 の数で入力してください（空欄: 2xx / 3xx）。",
                )
            })
            .ok()
            .flatten();
        let keyword = opt_text(&self.keyword, 200)
            .map_err(|_| e.push("keyword", "キーワードは改行を含まない 200 文字以内です。"))
            .ok()
            .flatten();
        let json_pointer = opt_text(&self.json_pointer, 200).ok().flatten();
        let json_value = opt_text(&self.json_value, 200).ok().flatten();
        match (&json_pointer, &json_value) {
            (Some(p), Some(_)) if p.starts_with('/') => {}
            (None, None) => {}
            _ => e.push(
                "json_pointer",
                "JSON の位置は / で始まる形（例: /status）で、期待する値と組で入力してください。",
            ),
        }
        let max_response_ms = number(&self.max_response_ms, 1, 600_000)
            .map_err(|_| {
                e.push(
                    "max_response_ms",
                    "応答時間の上限は ms の数で入力してください。",
                )
            })
            .ok()
            .flatten();
        let cert_min_days = number(&self.cert_min_days, 1, 3650)
            .map_err(|_| {
                e.push(
                    "cert_min_days",
                    "証明書の残り日数は 1〜3650 で入力してください。",
                )
            })
            .ok()
            .flatten();
        let asset_ref = opt_text(&self.asset_ref, 100)
            .map_err(|_| e.push("asset_ref", "資産番号は 100 文字以内です。"))
            .ok()
            .flatten();
        if let (Some(t), Some(ms)) = (timeout, interval)
            && t >= ms * 1000
        {
            e.push(
                "timeout_seconds",
                "タイムアウトは間隔より短くしてください。",
            );
        }
        match (name, target, interval, timeout, retries) {
            (Some(name), Some(target), Some(interval_seconds), Some(timeout_ms), Some(retries))
                if e.is_empty() =>
            {
                Ok(NewMonitor {
                    name,
                    kind,
                    target,
                    interval_seconds,
                    timeout_ms,
                    retries,
                    expect_status: expect_status.filter(|_| http),
                    keyword: keyword.filter(|_| http),
                    json_pointer: json_pointer.filter(|_| http),
                    json_value: json_value.filter(|_| http),
                    max_response_ms: max_response_ms.filter(|_| http),
                    cert_min_days: cert_min_days.filter(|_| http),
                    asset_ref,
                })
            }
            _ => Err(e),
        }
    }
}

#[derive(Template)]
#[template(path = "monitor/form.html")]
pub struct FormPage {
    pub page: Page,
    /// None: a new monitor.
    pub id: Option<i64>,
    pub form: MonitorForm,
    pub errors: Errors,
}

fn form_page(
    page: Page,
    id: Option<i64>,
    form: MonitorForm,
    errors: Errors,
    status: StatusCode,
) -> AppResult<Response> {
    let title = if id.is_some() {
        "監視の変更"
    } else {
        "監視の追加"
    };
    render(
        FormPage {
            page: page.titled(title),
            id,
            form,
            errors,
        },
        status,
    )
}

pub async fn new_form(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let s = state.section::<MonitorSettings>();
    form_page(
        page,
        None,
        MonitorForm::defaults(&s),
        Errors::default(),
        StatusCode::OK,
    )
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    Form(form): Form<MonitorForm>,
) -> AppResult<Response> {
    let s = state.section::<MonitorSettings>();
    let m = match form.parse(&s) {
        Ok(m) => m,
        Err(e) => return form_page(page, None, form, e, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let id = service::add(&state.db, &m, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        &format!("{HOME}/{id}"),
        &format!(
            "監視「{}」を追加しました。次の確認から記録されます。",
            m.name
        ),
    ))
}

pub async fn edit_form(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let m = repo::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    form_page(
        page,
        Some(id),
        MonitorForm::of(&m),
        Errors::default(),
        StatusCode::OK,
    )
}

pub async fn update(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<MonitorForm>,
) -> AppResult<Response> {
    {
        let mut conn = state.db.pool().acquire().await?;
        repo::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    }
    let s = state.section::<MonitorSettings>();
    let m = match form.parse(&s) {
        Ok(m) => m,
        Err(e) => return form_page(page, Some(id), form, e, StatusCode::UNPROCESSABLE_ENTITY),
    };
    service::update(&state.db, id, &m, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        &format!("{HOME}/{id}"),
        "監視の設定を変更しました。",
    ))
}

async fn flag(
    state: &AppState,
    id: i64,
    result: Result<(), DomainError>,
    done: &str,
) -> AppResult<Response> {
    let to = format!("{HOME}/{id}");
    match result {
        Ok(()) => Ok(flash_redirect(state, &to, done)),
        Err(DomainError::Conflict(msg)) => Ok(flash_redirect(state, &to, &msg)),
        Err(e) => Err(e.into()),
    }
}

pub async fn pause(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let r = service::pause(&state.db, id, &actor, state.now()).await;
    flag(
        &state,
        id,
        r,
        "監視を一時停止しました。再開するまで確認もアラートも行いません。",
    )
    .await
}

pub async fn resume(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let r = service::resume(&state.db, id, &actor, state.now()).await;
    flag(
        &state,
        id,
        r,
        "監視を再開しました。次の確認から記録されます。",
    )
    .await
}
