//! The published schedule of service stops and maintenance windows (R21.2, R21.3, R10.1).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};

use super::model::{self, WindowKind};
use super::repo_requests as repo;
use super::routes::{actor, render};
use super::views::*;
use super::{CITY, EDITORS, NewWindow, WindowError, schedule_window};
use crate::audit;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{ClientAddr, Page, flash_redirect};

async fn page_with(
    state: &AppState,
    page: Page,
    p: &Principal,
    form: WindowForm,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    let items = repo::list_windows(&mut conn).await?;
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
        },
        status,
    )
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
) -> AppResult<Response> {
    let form = WindowForm {
        kind: WindowKind::Maintenance.key().into(),
        services: "全サービス".into(),
        ..Default::default()
    };
    page_with(&state, page, &p, form, None, StatusCode::OK).await
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
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
            Some(msg),
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
    let mut tx = state.db.begin().await?;
    match schedule_window(&mut tx, &w, &actor(&p, &addr), now).await {
        Ok(_) => {}
        Err(WindowError::Db(e)) => return Err(e.into()),
        Err(e) => {
            drop(tx);
            let msg = e.to_string();
            return page_with(
                &state,
                page,
                &p,
                form,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    }
    tx.commit().await?;
    Ok(flash_redirect(
        "/portal/schedules",
        "予定を登録しました。サービス運用者の承認後にポータルへ掲載されます。",
        state.settings.server.secure_cookies,
    ))
}

/// The service operator approves a proposed window; from then on it is published.
pub async fn approve(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let w = repo::find_window(&mut tx, id).await?;
    let who = format!("{}（{}）", p.display_name, p.login_id);
    if !repo::approve_window(&mut tx, id, &who, now).await? {
        return Err(AppError::Conflict(
            "この予定はすでに承認されています。".into(),
        ));
    }
    audit::record(
        &mut tx,
        now,
        &actor(&p, &addr),
        "portal.window_approved",
        &format!("portal_schedule:{id}"),
        serde_json::json!({"title": w.title, "kind": w.kind,
            "starts_at": w.starts_at.to_db(), "ends_at": w.ends_at.to_db()}),
    )
    .await?;
    tx.commit().await?;
    Ok(flash_redirect(
        "/portal/schedules",
        "予定を承認しました。ポータルに掲載されます。",
        state.settings.server.secure_cookies,
    ))
}
