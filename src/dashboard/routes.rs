use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;

use crate::auth::Principal;
use crate::error::AppResult;
use crate::state::{AppState, Card};
use crate::web::{Page, render};

#[derive(Template)]
#[template(path = "dashboard/index.html")]
pub struct DashboardPage {
    pub page: Page,
    pub greeting: String,
    pub role_label: &'static str,
    pub last_login: String,
    pub cards: Vec<Card>,
    pub notices: Vec<crate::portal::NoticeLine>,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
) -> AppResult<Response> {
    let now = state.now();
    let mut cards = Vec::new();
    for source in &state.registry.cards {
        match source(&state, &p, now).await {
            Ok(found) => cards.extend(found.into_iter().filter(|c| {
                let ok = state.may_open(p.role, &c.href);
                if !ok {
                    tracing::error!(card = %c.title, href = %c.href, role = %p.role, "card links to a page the role cannot open");
                }
                ok
            })),
            Err(e) => tracing::error!(error = %e, "a dashboard card failed"),
        }
    }
    let mut conn = state.db.pool().acquire().await?;
    let previous = crate::audit::repo::previous_login(&mut conn, p.account_id).await?;
    let view = DashboardPage {
        page: page.titled("ダッシュボード"),
        greeting: format!("{} さん", p.display_name),
        role_label: p.role.label(),
        last_login: previous
            .map(|(t, addr)| format!("{}（接続元 {addr}）", t.jst()))
            .unwrap_or_else(|| "今回が初めてのログインです".into()),
        cards,
        notices: crate::portal::latest(&state, now, 5).await?,
    };
    render(view, axum::http::StatusCode::OK)
}
