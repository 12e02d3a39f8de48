//! The page language of a staff person (X.4, issue 15 item 8): `POST /account/language` with
//! `language=ja|en` from the switch in the header. Stored on the account, so the choice
//! survives log-out; audited (`account.language_changed`). Facility roles keep Japanese: the
//! route answers them 403, and the session ignores a stored `en` for them (`web::session`).

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::REFERER;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::repo;
use crate::audit;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::web::Caller;

#[derive(Deserialize)]
pub struct LanguageForm {
    language: String,
}

pub async fn update(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    headers: HeaderMap,
    Form(form): Form<LanguageForm>,
) -> AppResult<Response> {
    if !p.role.is_staff() {
        return Err(AppError::Forbidden);
    }
    let lang = match form.language.as_str() {
        "ja" => Lang::Ja,
        "en" => Lang::En,
        _ => {
            return Err(AppError::BadRequest(
                "表示言語の指定が正しくありません。".into(),
            ));
        }
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let from = repo::set_language(&mut tx, p.account_id, lang.key()).await?;
    if from.as_deref() != Some(lang.key()) {
        audit::record(
            &mut tx,
            now,
            &actor,
            "account.language_changed",
            &format!("account:{}", p.account_id),
            json!({"from": from, "to": lang.key()}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&back_to(&headers)).into_response())
}

/// The page the switch was pressed on (a path of this site only), else the dashboard.
fn back_to(headers: &HeaderMap) -> String {
    let referer = headers
        .get(REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok());
    match referer {
        Some(u) if u.path().starts_with('/') && !u.path().starts_with("//") => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        _ => "/".to_string(),
    }
}
