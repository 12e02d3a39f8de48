//! Handing letters over (issue 15, defects 1 and 2): processing and re-issuing answer with a
//! page that carries a one-time download link (`handoff`), never with the PDF itself, so the
//! page the operator sees afterwards is current; a re-issue is confirmed with a reason first.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::service::{self, Handler, LetterData};
use super::views::{LettersReadyPage, ReissuePage};
use super::{handoff, letter};
use crate::accounts::Reason;
use crate::accounts::service as accounts;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{ClientAddr, Page, flash_redirect, render};

/// Renders the letters and keeps the PDF for the operator's download; returns the link token.
pub async fn hold(
    state: &AppState,
    p: &Principal,
    letters: &[LetterData],
    name: String,
) -> AppResult<String> {
    let font = letter::font(&state.settings)?;
    let helpdesk = state
        .section::<crate::helpdesk::HelpdeskSettings>()
        .contact_line(&state.settings.calendar);
    let url = &state.settings.server.public_url;
    let bytes = letter::render(&font, letters, url, helpdesk.as_deref());
    Ok(handoff::hold(&state.db, p.account_id, &name, &bytes, state.now()).await?)
}

/// The token, when a download is still waiting for this operator.
pub async fn waiting(state: &AppState, p: &Principal, token: &str) -> AppResult<Option<String>> {
    let ok =
        !token.is_empty() && handoff::waiting(&state.db, p.account_id, token, state.now()).await?;
    Ok(ok.then(|| token.to_string()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenQuery {
    t: String,
    account: Option<i64>,
}

/// `GET /admin/requests/letters/pdf?t=…`: the PDF, once.
pub async fn download(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    let Some((name, bytes)) = handoff::take(&state.db, p.account_id, &q.t, state.now()).await?
    else {
        let view = LettersReadyPage {
            page: page.titled("封書のダウンロード"),
            token: None,
            account: q.account,
        };
        return render(view, StatusCode::GONE);
    };
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (CONTENT_TYPE, "application/pdf".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /admin/requests/letters?t=…`: the page after a re-issue, with the download link.
pub async fn ready(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    let token = waiting(&state, &p, &q.t).await?;
    let status = if token.is_some() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    let view = LettersReadyPage {
        page: page.titled("封書のダウンロード"),
        token,
        account: q.account,
    };
    render(view, status)
}

async fn reissue_page(
    state: &AppState,
    page: Page,
    account_id: i64,
    form: ReissueForm,
    error: Option<String>,
) -> AppResult<ReissuePage> {
    let mut conn = state.db.pool().acquire().await?;
    let person = accounts::find_person(&mut conn, account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(facility_id) = person.facility_id else {
        return Err(AppError::NotFound);
    };
    let facility = crate::facilities::find(&mut conn, facility_id).await?;
    Ok(ReissuePage {
        page: page.titled("封書の再発行"),
        person,
        facility_name: facility.name,
        reason: form.reason,
        error,
    })
}

/// `GET /admin/accounts/{id}/reissue`: what a re-issue does, a reason and a check box.
pub async fn reissue_form(
    State(state): State<AppState>,
    page: Page,
    Path(account_id): Path<i64>,
) -> AppResult<Response> {
    let view = reissue_page(&state, page, account_id, ReissueForm::default(), None).await?;
    render(view, StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReissueForm {
    reason: String,
    confirm: String,
}

pub async fn reissue(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Path(account_id): Path<i64>,
    Form(form): Form<ReissueForm>,
) -> AppResult<Response> {
    let reason = match Reason::confirmed(&form.reason, &form.confirm) {
        Ok(r) => r,
        Err(message) => {
            let view = reissue_page(&state, page, account_id, form, Some(message)).await?;
            return render(view, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let now = state.now();
    letter::font(&state.settings)?;
    let otp_days = state
        .section::<crate::accounts::AccountSettings>()
        .one_time_password_days;
    let result = service::reissue(
        &state.db,
        account_id,
        &reason,
        &Handler {
            account_id: Some(p.account_id),
            actor: crate::audit::Actor::of(&p, &addr),
        },
        otp_days,
        now,
    )
    .await;
    let l = match result {
        Ok(l) => l,
        Err(DomainError::Invalid { message, .. } | DomainError::Conflict(message)) => {
            let view = reissue_page(&state, page, account_id, form, Some(message)).await?;
            return render(view, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(e) => return Err(e.into()),
    };
    let name = format!("letter-{}-reissue.pdf", l.login_id);
    let token = hold(&state, &p, &[l], name).await?;
    Ok(flash_redirect(
        &state,
        &format!("/admin/requests/letters?t={token}&account={account_id}"),
        "新しい初期パスワードを発行しました。以前のパスワードは使えません。",
    ))
}
