//! The user's notification list, read marks and preferences.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::views::{Item, ListPage, SettingsPage};
use super::{Kind, repo, service};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

const PER_PAGE: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    unread: String,
    page: String,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let unread_only = !q.unread.is_empty();
    let n = q.page.trim().parse::<i64>().unwrap_or(1).max(1);
    let mut conn = state.db.pool().acquire().await?;
    let (rows, total) = repo::list(
        &mut conn,
        p.account_id,
        unread_only,
        PER_PAGE,
        (n - 1) * PER_PAGE,
    )
    .await?;
    let unread = repo::unread_count(&mut conn, p.account_id).await?;
    let items = rows
        .into_iter()
        .map(|r| Item {
            id: r.id,
            kind: Kind::parse(&r.kind).map_or("通知", Kind::label),
            subject: r.subject,
            body: r.body,
            link: r.link_path,
            mailed: r.mail_id.is_some(),
            at: r.created_at.jst(),
            unread: r.read_at.is_none(),
        })
        .collect();
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    render(
        ListPage {
            page: page.titled(format!("通知（未読 {unread} 件）")),
            items,
            unread,
            total,
            unread_only,
            page_no: n,
            pages,
        },
        StatusCode::OK,
    )
}

pub async fn read_one(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    service::read_one(&state.db, p.account_id, id, &actor, state.now()).await?;
    Ok(flash_redirect(&state, "/notifications", "既読にしました。"))
}

pub async fn read_all(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
) -> AppResult<Response> {
    let n = service::read_all(&state.db, p.account_id, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        "/notifications",
        &format!("{n} 件を既読にしました。"),
    ))
}

async fn settings_page(
    state: &AppState,
    page: Page,
    account_id: i64,
    form: Option<(String, Vec<Kind>)>,
    error: Option<String>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let (email, on) = match form {
        Some(f) => f,
        None => {
            let off = repo::kinds_off(&mut conn, account_id).await?;
            (
                repo::address(&mut conn, account_id)
                    .await?
                    .unwrap_or_default(),
                Kind::ALL
                    .into_iter()
                    .filter(|k| !off.iter().any(|o| o == k.key()))
                    .collect(),
            )
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        SettingsPage {
            page: page.titled("通知の設定"),
            email,
            kinds: Kind::ALL
                .into_iter()
                .map(|k| (k.key(), k.label(), on.contains(&k)))
                .collect(),
            error,
        },
        status,
    )
}

pub async fn settings_form(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    settings_page(&state, page, p.account_id, None, None).await
}

/// The form's fields: `email` and one checkbox per kind, named by the kind's key.
pub async fn save_settings(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let email = fields
        .iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let on: Vec<Kind> = fields.iter().filter_map(|(k, _)| Kind::parse(k)).collect();
    match service::save_preferences(&state.db, p.account_id, &email, &on, &actor, state.now()).await
    {
        Ok(()) => Ok(flash_redirect(
            &state,
            "/notifications/settings",
            "通知の設定を保存しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            settings_page(&state, page, p.account_id, Some((email, on)), Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}
