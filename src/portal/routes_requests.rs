//! Change requests from the service operator (R13.1–R13.3).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::model::{self, RequestKind, RequestState};
use super::repo_requests as repo;
use super::routes::{actor, render};
use super::views::*;
use super::{CITY, EDITORS, PARTIES};
use crate::audit;
use crate::auth::Principal;
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{ClientAddr, Page, flash_redirect};

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let items = repo::list_requests(&mut conn).await?;
    render(
        RequestsPage {
            page: page.titled("ポータル変更依頼"),
            items: items.iter().map(request_line).collect(),
            can_request: CITY.contains(&p.role),
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
    let mut tx = state.db.begin().await?;
    let id =
        repo::insert_request(&mut tx, &title, &body, &p.login_id, &p.display_name, now).await?;
    repo::insert_event(
        &mut tx,
        id,
        &p.login_id,
        &p.display_name,
        None,
        RequestState::Submitted.key(),
        "依頼を受け付けました",
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &actor(&p, &addr),
        "portal.change_requested",
        &format!("portal_change_request:{id}"),
        serde_json::json!({"title": title}),
    )
    .await?;
    tx.commit().await?;
    Ok(flash_redirect(
        &format!("/portal/requests/{id}"),
        "変更依頼を受け付けました。",
        state.settings.server.secure_cookies,
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

/// One state change: checks the expected state, records the event and the audit entry.
#[allow(clippy::too_many_arguments)]
async fn change_state(
    state: &AppState,
    p: &Principal,
    addr: &str,
    id: i64,
    from: RequestState,
    to: RequestState,
    kind: Option<RequestKind>,
    note: &str,
    now: Timestamp,
) -> AppResult<bool> {
    let mut tx = state.db.begin().await?;
    let r = repo::find_request(&mut tx, id).await?;
    let lead = (to == RequestState::Done).then(|| now.since(r.requested_at).as_mins());
    if !repo::transition(
        &mut tx,
        id,
        from.key(),
        to.key(),
        kind.map(RequestKind::key),
        lead,
        now,
    )
    .await?
    {
        return Ok(false);
    }
    repo::insert_event(
        &mut tx,
        id,
        &p.login_id,
        &p.display_name,
        Some(from.key()),
        to.key(),
        note,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &actor(p, addr),
        &format!("portal.change_request_{}", to.key()),
        &format!("portal_change_request:{id}"),
        serde_json::json!({
            "from": from.key(), "to": to.key(), "kind": kind.map(RequestKind::key),
            "lead_minutes": lead, "note": note,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
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
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    repo::find_request(&mut conn, id).await?;
    drop(conn);
    let Some(kind) = RequestKind::parse(&input.kind) else {
        let msg = "「内容のみ」か「画面設計を伴う」かを選んでください。".to_string();
        return show_with(
            &state,
            page,
            &p,
            id,
            Some(msg),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let note = match input.note.trim() {
        "" => kind.label().to_string(),
        n => format!("{}：{n}", kind.label()),
    };
    let to = kind.next_state();
    if !change_state(
        &state,
        &p,
        &addr,
        id,
        RequestState::Submitted,
        to,
        Some(kind),
        &note,
        now,
    )
    .await?
    {
        return Err(AppError::Conflict(
            "この依頼はすでに分類されています。".into(),
        ));
    }
    let msg = match kind {
        RequestKind::Content => "内容のみの変更として対応を開始しました。",
        RequestKind::Design => "画面設計を伴う変更として協議を開始しました。",
    };
    Ok(flash_redirect(
        &format!("/portal/requests/{id}"),
        msg,
        state.settings.server.secure_cookies,
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
    let now = state.now();
    let body = input.body.trim();
    let mut tx = state.db.begin().await?;
    let r = repo::find_request(&mut tx, id).await?;
    let st = RequestState::parse(&r.state).unwrap_or(RequestState::Done);
    if body.is_empty() || body.chars().count() > 10_000 {
        drop(tx);
        let msg = "メッセージを入力してください（10,000文字以内）。".to_string();
        return show_with(
            &state,
            page,
            &p,
            id,
            Some(msg),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if !model::may_discuss(st) {
        return Err(AppError::Conflict(
            "完了した依頼にはメッセージを送れません。".into(),
        ));
    }
    repo::insert_message(
        &mut tx,
        id,
        &p.login_id,
        &p.display_name,
        p.role.label(),
        body,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &actor(&p, &addr),
        "portal.change_request_message",
        &format!("portal_change_request:{id}"),
        serde_json::json!({"chars": body.chars().count()}),
    )
    .await?;
    tx.commit().await?;
    Ok(flash_redirect(
        &format!("/portal/requests/{id}"),
        "メッセージを送信しました。",
        state.settings.server.secure_cookies,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoteInput {
    note: String,
}

/// The city agrees to the design discussed (協議中 → 合意済).
pub async fn agree(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<NoteInput>,
) -> AppResult<Response> {
    let now = state.now();
    let note = match input.note.trim() {
        "" => "設計内容に合意しました",
        n => n,
    };
    if !change_state(
        &state,
        &p,
        &addr,
        id,
        RequestState::Consulting,
        RequestState::Agreed,
        None,
        note,
        now,
    )
    .await?
    {
        return Err(AppError::Conflict("協議中の依頼ではありません。".into()));
    }
    Ok(flash_redirect(
        &format!("/portal/requests/{id}"),
        "合意を記録しました。",
        state.settings.server.secure_cookies,
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
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    let r = repo::find_request(&mut conn, id).await?;
    drop(conn);
    let from = RequestState::parse(&r.state).unwrap_or(RequestState::Done);
    if !model::may_complete(from) {
        return Err(AppError::Conflict(
            "この依頼はまだ完了にできません（分類・合意が必要です）。".into(),
        ));
    }
    let note = match input.note.trim() {
        "" => "変更を反映しました",
        n => n,
    };
    if !change_state(
        &state,
        &p,
        &addr,
        id,
        from,
        RequestState::Done,
        None,
        note,
        now,
    )
    .await?
    {
        return Err(AppError::Conflict(
            "依頼の状態が変わりました。再読み込みしてください。".into(),
        ));
    }
    Ok(flash_redirect(
        &format!("/portal/requests/{id}"),
        "完了として記録しました。",
        state.settings.server.secure_cookies,
    ))
}
