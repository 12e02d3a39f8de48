//! The published schedule of service stops and maintenance windows (R21.2, R21.3, R10.1).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};

use super::model::{self, WindowKind};
use super::repo_lists as lists;
use super::service::Editor;
use super::service_requests as service;
use super::views::*;
use super::{CITY, EDITORS, NewWindow};
use crate::auth::Principal;
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::render;
use crate::web::{Caller, ClientAddr, Page, flash_redirect};

async fn page_with(
    state: &AppState,
    page: Page,
    p: &Principal,
    form: WindowForm,
    (q, error): (&ListQuery, Option<String>),
    status: StatusCode,
) -> AppResult<Response> {
    // Searched, sorted and paged in SQL with the count (X.4), no 500-row cap.
    let now = state.now();
    let order = q.order(lists::WINDOW_SORTS, "starts", Dir::Desc);
    let like = q.like().unwrap_or_default();
    let mut conn = state.db.pool().acquire().await?;
    let total = lists::count_windows(&mut conn, &like).await?;
    let items = lists::page_windows(&mut conn, &like, &order, q.limit(), q.offset()).await?;
    let pager = Pager::new::<&str>("/portal/schedules", q, total, &[]);
    render(
        SchedulesPage {
            page: page.titled("サービス停止・保守の予定"),
            items: items.iter().map(|w| window_line(w, now)).collect(),
            can_propose: EDITORS.contains(&p.role),
            can_approve: CITY.contains(&p.role),
            kinds: WindowKind::ALL
                .iter()
                .map(|k| KindOption {
                    key: k.key(),
                    label: k.label(),
                })
                .collect(),
            form,
            error,
            q: q.text().unwrap_or_default().to_string(),
            pager,
        },
        status,
    )
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let form = WindowForm {
        kind: WindowKind::Maintenance.key().into(),
        services: "全サービス".into(),
        ..Default::default()
    };
    page_with(&state, page, &p, form, (&q, None), StatusCode::OK).await
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Form(form): Form<WindowForm>,
) -> AppResult<Response> {
    let now = state.now();
    let kind = WindowKind::parse(&form.kind);
    let starts = model::parse_local(&form.starts_at);
    let ends = model::parse_local(&form.ends_at);
    let (Some(kind), Some(starts_at), Some(ends_at)) = (kind, starts, ends) else {
        let msg = "種別、開始日時、終了日時を入力してください。".to_string();
        return page_with(
            &state,
            page,
            &p,
            form,
            (&ListQuery::default(), Some(msg)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let services = if form.services.trim().is_empty() {
        "全サービス"
    } else {
        form.services.trim()
    };
    let w = NewWindow {
        kind,
        title: &form.title,
        starts_at,
        ends_at,
        services,
        reason: &form.reason,
        source: "portal",
    };
    match service::propose_window(&state.db, &w, &actor, now).await {
        Ok(_) => {}
        Err(DomainError::Invalid { message, .. }) => {
            return page_with(
                &state,
                page,
                &p,
                form,
                (&ListQuery::default(), Some(message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(flash_redirect(
        &state,
        "/portal/schedules",
        "予定を登録しました。サービス運用者の承認後にポータルへ掲載されます。",
    ))
}

/// The service operator approves a proposed window; from then on it is published.
pub async fn approve(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    service::approve_window(&state.db, id, &Editor::of(&p, &addr), state.now()).await?;
    Ok(flash_redirect(
        &state,
        "/portal/schedules",
        "予定を承認しました。ポータルに掲載されます。",
    ))
}
