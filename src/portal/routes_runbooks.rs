//! Runbooks (運転手順書, R22.3): system administrators only, versioned, printable.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::model;
use super::repo::{self, NewRevision};
use super::routes::{actor, render};
use super::views::*;
use crate::audit;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{ClientAddr, Page, flash_redirect};

const DOC_RUNBOOK: &str = "runbook";

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
    let mut tx = state.db.begin().await?;
    let id = repo::insert_runbook(&mut tx, &title, &input.body, &p.login_id, now).await?;
    repo::insert_revision(
        &mut tx,
        &NewRevision {
            doc_kind: DOC_RUNBOOK,
            doc_id: id,
            revision: 1,
            title: &title,
            body_md: &input.body,
            author_login: &p.login_id,
            author_name: &p.display_name,
            note: "作成",
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &actor(&p, &addr),
        "portal.runbook_created",
        &format!("portal_runbook:{id}"),
        serde_json::json!({"title": title}),
    )
    .await?;
    tx.commit().await?;
    Ok(flash_redirect(
        &format!("/portal/runbooks/{id}"),
        "運転手順書を登録しました（第1版）。",
        state.settings.server.secure_cookies,
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
    let mut tx = state.db.begin().await?;
    let updated = repo::update_runbook(
        &mut tx,
        id,
        base_revision,
        &title,
        &input.body,
        &p.login_id,
        now,
    )
    .await?;
    if !updated {
        drop(tx);
        let e = "編集中に他の人が保存しました。履歴で最新の内容を確認してから、もう一度保存してください。";
        let status = StatusCode::CONFLICT;
        return show_page(&state, page, id, edit, None, Some(e.into()), status).await;
    }
    let revision = base_revision + 1;
    repo::insert_revision(
        &mut tx,
        &NewRevision {
            doc_kind: DOC_RUNBOOK,
            doc_id: id,
            revision,
            title: &title,
            body_md: &input.body,
            author_login: &p.login_id,
            author_name: &p.display_name,
            note: "編集",
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &actor(&p, &addr),
        "portal.runbook_updated",
        &format!("portal_runbook:{id}"),
        serde_json::json!({"title": title, "revision": revision}),
    )
    .await?;
    tx.commit().await?;
    Ok(flash_redirect(
        &format!("/portal/runbooks/{id}"),
        &format!("運転手順書を保存しました（第{revision}版）。"),
        state.settings.server.secure_cookies,
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
    let mut tx = state.db.begin().await?;
    let r = repo::find_runbook(&mut tx, id).await?;
    let old = repo::find_revision(&mut tx, DOC_RUNBOOK, id, from).await?;
    let ok = repo::update_runbook(
        &mut tx,
        id,
        r.revision,
        &old.title,
        &old.body_md,
        &p.login_id,
        now,
    )
    .await?;
    if !ok {
        return Err(AppError::Conflict(
            "他の人が同時に保存しました。もう一度お試しください。".into(),
        ));
    }
    let revision = r.revision + 1;
    let note = format!("第{from}版から復元");
    repo::insert_revision(
        &mut tx,
        &NewRevision {
            doc_kind: DOC_RUNBOOK,
            doc_id: id,
            revision,
            title: &old.title,
            body_md: &old.body_md,
            author_login: &p.login_id,
            author_name: &p.display_name,
            note: &note,
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &actor(&p, &addr),
        "portal.runbook_restored",
        &format!("portal_runbook:{id}"),
        serde_json::json!({"from_revision": from, "revision": revision}),
    )
    .await?;
    tx.commit().await?;
    Ok(flash_redirect(
        &format!("/portal/runbooks/{id}"),
        &format!("第{from}版の内容を第{revision}版として復元しました。"),
        state.settings.server.secure_cookies,
    ))
}
