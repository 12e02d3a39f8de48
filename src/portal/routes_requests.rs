//! Change requests from the service operator (R13.1–R13.3).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::model::{self, RequestKind, RequestState};
use super::repo_lists as lists;
use super::repo_requests as repo;
use super::service::Editor;
use super::service_requests as service;
use super::views::*;
use super::{CITY, EDITORS, PARTIES};
use crate::auth::Principal;
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::render;
use crate::web::{ClientAddr, Page, flash_redirect};

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    // Searched, sorted and paged in SQL with the count (X.4), no 500-row cap.
    let order = q.order(lists::REQUEST_SORTS, "requested", Dir::Desc);
    let like = q.like().unwrap_or_default();
    let mut conn = state.db.pool().acquire().await?;
    let total = lists::count_requests(&mut conn, &like).await?;
    let items = lists::page_requests(&mut conn, &like, &order, q.limit(), q.offset()).await?;
    let pager = Pager::new::<&str>("/portal/requests", &q, total, &[]);
    render(
        RequestsPage {
            page: page.titled("ポータル変更依頼"),
            items: items.iter().map(request_line).collect(),
            can_request: CITY.contains(&p.role),
            q: q.text().unwrap_or_default().to_string(),
            pager,
        },
        StatusCode::OK,
    )
}

pub async fn new_form(page: Page) -> AppResult<Response> {
    render(
        RequestNewPage {
            page: page.titled("ポータル変更の依頼"),
            title: String::new(),
            body: String::new(),
            error_title: None,
            error_body: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewRequestInput {
    title: String,
    body: String,
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Form(input): Form<NewRequestInput>,
) -> AppResult<Response> {
    let now = state.now();
    let title = input.title.trim().to_string();
    let body = input.body.trim().to_string();
    let error_title = match title.chars().count() {
        0 => Some("件名を入力してください。".to_string()),
        n if n > 200 => Some("件名は200文字以内にしてください。".to_string()),
        _ => None,
    };
    let error_body = match body.chars().count() {
        0 => Some("依頼内容を入力してください。".to_string()),
        n if n > 20_000 => Some("依頼内容は20,000文字以内にしてください。".to_string()),
        _ => None,
    };
    if error_title.is_some() || error_body.is_some() {
        return render(
            RequestNewPage {
                page: page.titled("ポータル変更の依頼"),
                title,
                body,
                error_title,
                error_body,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let editor = Editor::of(&p, &addr);
    let id = service::submit_change_request(&state.db, &title, &body, &editor, now).await?;
    Ok(flash_redirect(
        &state,
        &format!("/portal/requests/{id}"),
        "変更依頼を受け付けました。",
    ))
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    show_with(&state, page, &p, id, None, StatusCode::OK).await
}

async fn show_with(
    state: &AppState,
    page: Page,
    p: &Principal,
    id: i64,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let r = repo::find_request(&mut conn, id).await?;
    let st = RequestState::parse(&r.state).unwrap_or(RequestState::Submitted);
    let label = |k: &str| {
        RequestState::parse(k)
            .map(RequestState::label)
            .unwrap_or("不明")
    };
    let history = repo::list_events(&mut conn, id)
        .await?
        .into_iter()
        .map(|e| HistoryLine {
            at: e.at.jst(),
            who: e.who,
            change: match e.from_state.as_deref() {
                Some(f) => format!("{} → {}", label(f), label(&e.to_state)),
                None => label(&e.to_state).to_string(),
            },
            note: e.text,
        })
        .collect();
    let messages = repo::list_messages(&mut conn, id)
        .await?
        .into_iter()
        .map(|(at, who, body)| MessageLine {
            at: at.jst(),
            who,
            body,
        })
        .collect();
    let editor = EDITORS.contains(&p.role);
    let city = CITY.contains(&p.role);
    render(
        RequestShowPage {
            page: page.titled(format!("変更依頼 #{id}")),
            item: request_line(&r),
            history,
            messages,
            can_classify: editor && st == RequestState::Submitted,
            can_discuss: PARTIES.contains(&p.role) && model::may_discuss(st),
            can_agree: city && st == RequestState::Consulting,
            can_complete: editor && model::may_complete(st),
            error,
        },
        status,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ClassifyInput {
    kind: String,
    note: String,
}

pub async fn classify(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<ClassifyInput>,
) -> AppResult<Response> {
    let kind = RequestKind::parse(&input.kind);
    let editor = Editor::of(&p, &addr);
    let classified =
        service::classify_change_request(&state.db, id, kind, &input.note, &editor, state.now())
            .await;
    let kind = match classified {
        Ok(kind) => kind,
        Err(DomainError::Invalid { message, .. }) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show_with(&state, page, &p, id, Some(message), status).await;
        }
        Err(e) => return Err(e.into()),
    };
    let msg = match kind {
        RequestKind::Content => "内容のみの変更として対応を開始しました。",
        RequestKind::Design => "画面設計を伴う変更として協議を開始しました。",
    };
    Ok(flash_redirect(
        &state,
        &format!("/portal/requests/{id}"),
        msg,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MessageInput {
    body: String,
}

pub async fn message(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<MessageInput>,
) -> AppResult<Response> {
    let editor = Editor::of(&p, &addr);
    let posted =
        service::post_change_request_message(&state.db, id, &input.body, &editor, state.now())
            .await;
    match posted {
        Ok(()) => {}
        Err(DomainError::Invalid { message, .. }) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show_with(&state, page, &p, id, Some(message), status).await;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(flash_redirect(
        &state,
        &format!("/portal/requests/{id}"),
        "メッセージを送信しました。",
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoteInput {
    note: String,
    confirm: String,
}

/// The city agrees to the design discussed (協議中 → 合意済). The agreement binds the city, so it
/// takes a ticked check box (issue 15, defect 8); without it the page comes back saying so.
pub async fn agree(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<NoteInput>,
) -> AppResult<Response> {
    if input.confirm != "yes" {
        let error = Some("合意する前に、協議の内容を確認したことをチェックしてください。".into());
        return show_with(
            &state,
            page,
            &p,
            id,
            error,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let editor = Editor::of(&p, &addr);
    service::agree_change_request(&state.db, id, &input.note, &editor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        &format!("/portal/requests/{id}"),
        "合意を記録しました。",
    ))
}

/// The work is done and published (対応中 / 合意済 → 完了); the lead time is recorded.
pub async fn complete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<NoteInput>,
) -> AppResult<Response> {
    let editor = Editor::of(&p, &addr);
    service::complete_change_request(&state.db, id, &input.note, &editor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        &format!("/portal/requests/{id}"),
        "完了として記録しました。",
    ))
}
