//! The "my sessions" page (`/account/sessions`): every logged-in role sees its own live sessions
//! and may end another one, or all others. Handlers: parse → `service_sessions` → render/303.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::model::device_of;
use super::service_sessions;
use super::views::{SessionView, SessionsPage};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect, render};

const PAGE: &str = "/account/sessions";

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    let sec = &state.settings.security;
    let lines = service_sessions::own_sessions(&state.db, sec, &p, state.now()).await?;
    let sessions: Vec<SessionView> = lines
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            device: device_of(&s.user_agent),
            user_agent: s.user_agent,
            client_addr: s.client_addr,
            started: s.created_at.jst(),
            last_seen: s.last_seen_at.jst(),
            current: s.id == p.session_id,
        })
        .collect();
    let others = sessions.iter().filter(|s| !s.current).count();
    render(
        SessionsPage {
            page: page.titled("ログイン中の端末"),
            sessions,
            others,
            limit: sec.max_sessions_per_account,
            idle_minutes: sec.session_idle_minutes,
        },
        StatusCode::OK,
    )
}

pub async fn end(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let sec = &state.settings.security;
    let now = state.now();
    let ended = service_sessions::end_own(&state.db, sec, (&p, &guard), &actor, id, now).await?;
    let msg = if ended {
        "セッションを終了しました。その端末では、次の操作からログインが必要になります。"
    } else {
        "このセッションはすでに終了しています。"
    };
    Ok(flash_redirect(&state, PAGE, msg))
}

pub async fn end_others(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
) -> AppResult<Response> {
    let sec = &state.settings.security;
    let n = service_sessions::end_others(&state.db, sec, &p, &actor, state.now()).await?;
    let msg = if n > 0 {
        format!("この端末以外のセッションを {n} 件終了しました。")
    } else {
        "ほかにログイン中のセッションはありません。".to_string()
    };
    Ok(flash_redirect(&state, PAGE, &msg))
}
