//! Staff handlers of the team work: assignment and priority, merging a duplicate, canned replies.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::repo;
use super::repo_team;
use super::routes::clip;
use super::service_team;
use super::views::{CannedPage, CannedTyped, MergeForm, MergePage};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AssignForm {
    assignee: String,
    priority: String,
}

pub async fn assign(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(f): Form<AssignForm>,
) -> AppResult<Response> {
    let assignee =
        match f.assignee.trim() {
            "" => None,
            s => Some(s.parse::<i64>().map_err(|_| {
                DomainError::invalid("assignee", "担当者を一覧から選んでください。")
            })?),
        };
    service_team::assign(
        &state.db,
        id,
        assignee,
        f.priority.trim(),
        p.account_id,
        &actor,
        state.now(),
    )
    .await?;
    Ok(flash_redirect(
        &state,
        &format!("/helpdesk/{id}"),
        "担当者と優先度を保存しました。",
    ))
}

async fn merge_page(
    state: &AppState,
    page: Page,
    id: i64,
    form: MergeForm,
    error: Option<String>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let inq = repo::find(&mut conn, id).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        MergePage {
            page: page.titled(format!("問い合わせ #{id} を統合する")),
            inq,
            form,
            error,
        },
        status,
    )
}

pub async fn merge_form(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    merge_page(&state, page, id, MergeForm::default(), None).await
}

pub async fn merge(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(f): Form<MergeForm>,
) -> AppResult<Response> {
    let into = f.into.trim().trim_start_matches('#').parse::<i64>().ok();
    let error = match into {
        None => Some("統合先の問い合わせ番号を入力してください。".to_string()),
        Some(_) if f.confirm.is_empty() => {
            Some("確認のチェックを入れてください（統合は取り消せません）。".to_string())
        }
        Some(_) => None,
    };
    let (Some(into), None) = (into, error.clone()) else {
        return merge_page(&state, page, id, f, error).await;
    };
    match service_team::merge(
        &state.db,
        id,
        into,
        &clip(&f.reason, 1_000),
        (p.account_id, &p.display_name),
        &actor,
        state.now(),
    )
    .await
    {
        Ok(()) => Ok(flash_redirect(
            &state,
            &format!("/helpdesk/{into}"),
            &format!("問い合わせ #{id} をこの問い合わせに統合しました。"),
        )),
        Err(DomainError::Invalid { message, .. }) | Err(DomainError::Conflict(message)) => {
            merge_page(&state, page, id, f, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn canned_page(
    state: &AppState,
    page: Page,
    error: Option<(Option<i64>, String)>,
    typed: CannedTyped,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let replies = repo_team::canned(&mut conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c.title, c.body, c.created_by, c.created_at.jst()))
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        CannedPage {
            page: page.titled("定型文"),
            replies,
            error,
            typed,
        },
        status,
    )
}

pub async fn canned_index(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    canned_page(&state, page, None, CannedTyped::default()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CannedForm {
    title: String,
    body: String,
    reason: String,
    confirm: String,
}

pub async fn canned_create(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    Form(f): Form<CannedForm>,
) -> AppResult<Response> {
    match service_team::add_canned(
        &state.db,
        &clip(&f.title, 100),
        &clip(&f.body, 5_000),
        &actor,
        state.now(),
    )
    .await
    {
        Ok(_) => Ok(flash_redirect(
            &state,
            "/helpdesk/canned",
            "定型文を追加しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            let typed = CannedTyped {
                title: f.title,
                body: f.body,
                reason: String::new(),
            };
            canned_page(&state, page, Some((None, message)), typed).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn canned_retire(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
    Form(f): Form<CannedForm>,
) -> AppResult<Response> {
    // A refusal comes back in this reply's form, with the reason as typed.
    let typed = CannedTyped {
        reason: f.reason.clone(),
        ..CannedTyped::default()
    };
    if f.confirm.is_empty() {
        let error = Some((Some(id), "確認のチェックを入れてください。".into()));
        return canned_page(&state, page, error, typed).await;
    }
    match service_team::retire_canned(&state.db, id, &clip(&f.reason, 1_000), &actor, state.now())
        .await
    {
        Ok(()) => Ok(flash_redirect(
            &state,
            "/helpdesk/canned",
            "定型文を取り下げました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            canned_page(&state, page, Some((Some(id), message)), typed).await
        }
        Err(e) => Err(e.into()),
    }
}
