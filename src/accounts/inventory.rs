//! Account inventory (棚卸し): accounts that deserve a look — unused for `inactive_days`, of a
//! withdrawn facility, locked, or with a one-time password never used — and the record of each
//! review (who, when, outcome).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::repo;
use super::review::{Section, classify};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

pub struct Review {
    pub at: String,
    pub by: String,
    pub outcome: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "accounts/inventory.html")]
pub struct InventoryPage {
    pub page: Page,
    pub sections: Vec<Section>,
    pub reviews: Vec<Review>,
    pub error: Option<String>,
}

async fn page_view(
    state: &AppState,
    page: Page,
    error: Option<String>,
) -> AppResult<InventoryPage> {
    let mut conn = state.db.pool().acquire().await?;
    let rows = repo::inventory(&mut conn).await?;
    let sections = classify(
        &rows,
        state.now(),
        state
            .section::<super::model::AccountSettings>()
            .inactive_days,
    );
    let reviews = repo::reviews(&mut conn, 20)
        .await?
        .into_iter()
        .map(|(at, by, outcome, summary)| Review {
            at: at.jst(),
            by,
            outcome,
            summary,
        })
        .collect();
    Ok(InventoryPage {
        page: page.titled("アカウント棚卸し"),
        sections,
        reviews,
        error,
    })
}

pub async fn index(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    Ok(Html(page_view(&state, page, None).await?.render()?).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    outcome: String,
}

pub async fn review(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    page: Page,
    Form(form): Form<ReviewForm>,
) -> AppResult<Response> {
    let result = super::service::review_inventory(
        &state.db,
        &form.outcome,
        state
            .section::<super::model::AccountSettings>()
            .inactive_days,
        p.account_id,
        &actor,
        state.now(),
    )
    .await;
    match result {
        Ok(_) => Ok(flash_redirect(
            &state,
            "/admin/inventory",
            "棚卸しの結果を記録しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            let view = page_view(&state, page, Some(message)).await?;
            render(view, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}
