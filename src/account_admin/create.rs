//! `/admin/accounts/new`: an administrator creates an account (issue 15 item 4; R12.1, X.1).
//!
//! Rules:
//! - The work is `accounts::service::create_with_reason_in`: one transaction with the
//!   `account.created` event, which carries the reason typed here.
//! - Only a system administrator creates a system administrator (403 for anyone else; the role
//!   is not even offered to them).
//! - A facility role (user, facility manager) needs an active facility; a staff role gets none.
//!   The facility is typed (its code or its exact name) with the active facilities offered as
//!   a `<datalist>`: a `<select>` of a whole network's hundreds of facilities is unusable, and
//!   the field works without JavaScript. The server resolves the text ([`crate::facilities::resolve_facility`]);
//!   an unknown or ambiguous name comes back as a Japanese error with the form kept. The
//!   facility's page links here with `?facility=CODE` to fill it in.
//! - The one-time password is shown once on the result page, never stored in clear; the person
//!   must change it at the first log-in. A refused form comes back with what was typed.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::views::{Choice, NewAccountPage, PasswordPage};
use crate::accounts::model::LoginId;
use crate::accounts::service::{AccountSpec, OneTimePassword, create_with_reason_in};
use crate::accounts::{AccountSettings, Reason};
use crate::auth::Role;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, render};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct NewAccountForm {
    login_id: String,
    display_name: String,
    role: String,
    /// The facility as typed: its code or its exact name.
    facility: String,
    reason: String,
}

/// `?facility=CODE` from a facility's page.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Prefill {
    facility: String,
}

/// The roles `caller` may give a new account.
fn roles_for(caller: Role, chosen: &str) -> Vec<Choice> {
    Role::ALL
        .into_iter()
        .filter(|r| *r != Role::SystemAdmin || caller == Role::SystemAdmin)
        .map(|r| Choice {
            key: r.key().into(),
            label: format!(
                "{}{}",
                r.label(),
                if r.needs_facility() {
                    "（施設）"
                } else {
                    ""
                }
            ),
            chosen: r.key() == chosen,
        })
        .collect()
}

async fn form_page(
    state: &AppState,
    page: Page,
    caller: Role,
    typed: NewAccountForm,
    error: Option<String>,
) -> AppResult<NewAccountPage> {
    let mut conn = state.db.pool().acquire().await?;
    let active = crate::facilities::list_active(&mut conn).await?;
    let chosen = crate::facilities::resolve_facility(&typed.facility, &active)
        .ok()
        .flatten();
    let facility_name = chosen
        .as_deref()
        .and_then(|c| active.iter().find(|f| f.code == c))
        .map(|f| f.name.clone());
    let facilities = active
        .into_iter()
        .map(|f| Choice {
            chosen: Some(&f.code) == chosen.as_ref(),
            label: f.name,
            key: f.code,
        })
        .collect();
    Ok(NewAccountPage {
        page: page.titled("アカウントの新規作成"),
        roles: roles_for(caller, &typed.role),
        facilities,
        facility: typed.facility,
        facility_name,
        login_id: typed.login_id,
        display_name: typed.display_name,
        reason: typed.reason,
        error,
    })
}

/// `GET /admin/accounts/new`.
pub async fn new_form(
    State(state): State<AppState>,
    caller: Caller,
    page: Page,
    Query(prefill): Query<Prefill>,
) -> AppResult<Response> {
    let typed = NewAccountForm {
        facility: prefill.facility,
        ..NewAccountForm::default()
    };
    let view = form_page(&state, page, caller.p.role, typed, None).await?;
    render(view, StatusCode::OK)
}

/// The checks of the form that need no database, in the order the fields appear.
fn parse(form: &NewAccountForm) -> Result<(Option<LoginId>, String, Role, Reason), String> {
    let login_id = match form.login_id.trim() {
        "" => None,
        s => Some(LoginId::parse(s)?),
    };
    let name = form.display_name.trim();
    if name.is_empty() {
        return Err("氏名を入力してください。".into());
    }
    if name.chars().count() > 100 {
        return Err("氏名は100文字以内で入力してください。".into());
    }
    let role = form
        .role
        .parse::<Role>()
        .map_err(|_| "役割を選んでください。".to_string())?;
    let reason = Reason::parse(&form.reason)?;
    Ok((login_id, name.to_string(), role, reason))
}

/// `POST /admin/accounts/new`.
pub async fn create(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    page: Page,
    Form(form): Form<NewAccountForm>,
) -> AppResult<Response> {
    let (login_id, name, role, reason) = match parse(&form) {
        Ok(parsed) => parsed,
        Err(message) => return refuse(&state, page, p.role, form, message).await,
    };
    if role == Role::SystemAdmin && p.role != Role::SystemAdmin {
        return Err(AppError::Forbidden);
    }
    // A staff role belongs to no facility: a facility typed before the role is ignored.
    let facility = if role.needs_facility() {
        let mut conn = state.db.pool().acquire().await?;
        let active = crate::facilities::list_active(&mut conn).await?;
        drop(conn);
        match crate::facilities::resolve_facility(&form.facility, &active) {
            Ok(code) => code,
            Err(message) => return refuse(&state, page, p.role, form, message).await,
        }
    } else {
        None
    };
    let mut spec = AccountSpec::new(login_id, &name, role, facility.as_deref());
    spec.otp_days = state.section::<AccountSettings>().one_time_password_days;
    // Hashing costs CPU: done before the transaction.
    let otp = OneTimePassword::generate().await?;
    let mut tx = state.db.begin().await?;
    let created = match create_with_reason_in(
        &mut tx,
        &spec,
        otp,
        Some(reason.as_str()),
        &actor,
        state.now(),
    )
    .await
    {
        Ok(c) => c,
        Err(DomainError::Invalid { message, .. } | DomainError::Conflict(message)) => {
            tx.rollback().await?;
            return refuse(&state, page, p.role, form, message).await;
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    let view = PasswordPage {
        page: page.titled("アカウントを作成しました"),
        login_id: created.login_id,
        display_name: name,
        account_id: created.account_id,
        password: created.one_time_password,
        expires: created.expires_at.jst(),
    };
    render(view, StatusCode::OK)
}

async fn refuse(
    state: &AppState,
    page: Page,
    caller: Role,
    typed: NewAccountForm,
    message: String,
) -> AppResult<Response> {
    let view = form_page(state, page, caller, typed, Some(message)).await?;
    render(view, StatusCode::UNPROCESSABLE_ENTITY)
}
