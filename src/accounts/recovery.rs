//! The person's own recovery codes: `GET /account/recovery-codes` says how many are left (and
//! whether older ones were invalidated); `POST` issues ten new ones after a current TOTP code
//! and shows them once. Only for accounts with TOTP; others get 404.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::second_factor;
use super::throttle::{self, Attempt};
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{ClientAddr, Page, render};

#[derive(Template)]
#[template(path = "accounts/recovery_regenerate.html")]
pub struct RegeneratePage {
    pub page: Page,
    pub unused: i64,
    /// When older codes were invalidated (JST), if the person has not issued new ones since.
    pub invalidated: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "accounts/recovery_regenerated.html")]
pub struct RegeneratedPage {
    pub page: Page,
    pub codes: Vec<String>,
}

async fn form_view(
    state: &AppState,
    page: Page,
    p: &Principal,
    error: Option<String>,
) -> AppResult<RegeneratePage> {
    let status = second_factor::recovery_status(&state.db, p.account_id).await?;
    if !status.totp_enabled {
        return Err(AppError::NotFound);
    }
    Ok(RegeneratePage {
        page: page.titled("リカバリーコードの再発行"),
        unused: status.unused,
        invalidated: status.invalidated_at.map(|t| t.jst()),
        error,
    })
}

pub async fn form(
    State(state): State<AppState>,
    page: Page,
    axum::Extension(p): axum::Extension<Principal>,
) -> AppResult<Response> {
    render(form_view(&state, page, &p, None).await?, StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

pub async fn regenerate(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if form.code.trim().is_empty() {
        let error = Some("認証アプリに表示されている6桁のコードを入力してください。".into());
        let view = form_view(&state, page, &p, error).await?;
        return render(view, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // A TOTP code is checked here too, so it is throttled like the log-in's second step.
    let permit = match throttle::admit(&state, &addr, Attempt::SecondFactor).await {
        Ok(permit) => permit,
        Err(r) => {
            let view = form_view(&state, page, &p, Some(throttle::message(&r))).await?;
            return render(view, StatusCode::TOO_MANY_REQUESTS)
                .map(|res| throttle::too_many(res, &r));
        }
    };
    let issued = second_factor::regenerate_recovery_codes(
        &state.db,
        &state.settings.security,
        &p,
        &form.code,
        &addr,
        state.now(),
    )
    .await?;
    match issued {
        Some(codes) => {
            permit.succeeded().await;
            render(
                RegeneratedPage {
                    page: page.titled("新しいリカバリーコード"),
                    codes,
                },
                StatusCode::OK,
            )
        }
        None => {
            let error = Some(
                "コードが正しくありません。認証アプリに表示されている最新の6桁を入力してください。"
                    .into(),
            );
            let view = form_view(&state, page, &p, error).await?;
            render(view, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}
