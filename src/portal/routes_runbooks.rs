//! Runbooks (運転手順書, R22.3): system administrators only, versioned, printable.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::model;
use super::repo;
use super::service::{self, Editor};
use super::views::*;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::render;
use crate::web::{ClientAddr, Page, flash_redirect};

use super::service::DOC_RUNBOOK;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RunbookInput {
    title: String,
    body: String,
    /// Text, so that a mangled value is a conflict message rather than a bare 422.
    base_revision: String,
    action: String,
}

fn check(title: &str, body: &str) -> Option<String> {
    if title.is_empty() || title.chars().count() > 200 {
        Some("件名を200文字以内で入力してください。".into())
    } else if body.trim().is_empty() || body.chars().count() > 200_000 {
        Some("本文を入力してください（200,000文字以内）。".into())
    } else {
        None
    }
}

async fn list_page(
    state: &AppState,
    page: Page,
    title: String,
    body: String,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let items = repo::list_runbooks(&mut conn).await?;
    render(
        RunbooksPage {
            page: page.titled("運転手順書"),
            items: items.iter().map(runbook_line).collect(),
            title,
            body,
            error,
        },
        status,
    )
}

pub async fn index(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    list_page(
        &state,
        page,
        String::new(),
        String::new(),
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Form(input): Form<RunbookInput>,
) -> AppResult<Response> {
    let now = state.now();
    let title = input.title.trim().to_string();
    if let Some(e) = check(&title, &input.body) {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return list_page(&state, page, title, input.body, Some(e), status).await;
    }
    let editor = Editor::of(&p, &addr);
    let id = service::create_runbook(&state.db, &title, &input.body, &editor, now).await?;
    Ok(flash_redirect(
        &state,
        &format!("/portal/runbooks/{id}"),
        "運転手順書を登録しました（第1版）。",
    ))
}

#[allow(clippy::too_many_arguments)]
async fn show_page(
    state: &AppState,
    page: Page,
    id: i64,
    edit: Option<(String, String, i64)>,
    preview: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let r = repo::find_runbook(&mut conn, id).await?;
    let revs = repo::list_revisions(&mut conn, DOC_RUNBOOK, id).await?;
    let (title, body, base_revision) =
        edit.unwrap_or_else(|| (r.title.clone(), r.body_md.clone(), r.revision));
    render(
        RunbookPage {
            page: page.titled(r.title.clone()),
            item: runbook_line(&r),
            body_html: model::render_markdown(&r.body_md),
            title,
            body,
            base_revision,
            preview,
            error,
            revisions: revision_lines(&revs, r.revision),
            restore_base: format!("/portal/runbooks/{id}"),
        },
        status,
    )
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    show_page(&state, page, id, None, None, None, StatusCode::OK).await
}

pub async fn update(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<RunbookInput>,
) -> AppResult<Response> {
    let now = state.now();
    let title = input.title.trim().to_string();
    let base_revision: i64 = input.base_revision.trim().parse().unwrap_or(0);
    let edit = Some((title.clone(), input.body.clone(), base_revision));
    let mut conn = state.db.pool().acquire().await?;
    repo::find_runbook(&mut conn, id).await?;
    drop(conn);
    if let Some(e) = check(&title, &input.body) {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return show_page(&state, page, id, edit, None, Some(e), status).await;
    }
    if input.action == "preview" {
        let preview = Some(model::render_markdown(&input.body));
        return show_page(&state, page, id, edit, preview, None, StatusCode::OK).await;
    }
    let editor = Editor::of(&p, &addr);
    let saved = service::update_runbook(
        &state.db,
        id,
        base_revision,
        &title,
        &input.body,
        &editor,
        now,
    )
    .await;
    let revision = match saved {
        Ok(revision) => revision,
        Err(DomainError::Conflict(message)) => {
            let status = StatusCode::CONFLICT;
            return show_page(&state, page, id, edit, None, Some(message), status).await;
        }
        Err(e) => return Err(e.into()),
    };
    Ok(flash_redirect(
        &state,
        &format!("/portal/runbooks/{id}"),
        &format!("運転手順書を保存しました（第{revision}版）。"),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RestoreInput {
    revision: String,
}

pub async fn restore(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<RestoreInput>,
) -> AppResult<Response> {
    let now = state.now();
    let Ok(from) = input.revision.trim().parse::<i64>() else {
        return Err(AppError::BadRequest("復元する版を選んでください。".into()));
    };
    let editor = Editor::of(&p, &addr);
    let revision = service::restore_runbook(&state.db, id, from, &editor, now).await?;
    Ok(flash_redirect(
        &state,
        &format!("/portal/runbooks/{id}"),
        &format!("第{from}版の内容を第{revision}版として復元しました。"),
    ))
}
