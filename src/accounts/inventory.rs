//! Account inventory (棚卸し): accounts that deserve a look — unused for `inactive_days`, of a
//! withdrawn facility, locked, or with a one-time password never used — and the record of each
//! review (who, when, outcome).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jiff::SignedDuration;

use super::repo::{self, InventoryRow};
use crate::audit::Actor;
use crate::auth::{Principal, Role};
use crate::db::Timestamp;
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{ClientAddr, Page, flash_redirect};

pub struct Line {
    pub login_id: String,
    pub name: String,
    pub role: String,
    pub facility: String,
    pub note: String,
}

pub struct Section {
    pub key: &'static str,
    pub title: String,
    pub lines: Vec<Line>,
}

pub struct Review {
    pub at: String,
    pub by: String,
    pub outcome: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "accounts/inventory.html")]
pub struct InventoryPage {
    pub page: Page,
    pub sections: Vec<Section>,
    pub reviews: Vec<Review>,
    pub error: Option<String>,
}

fn line(r: &InventoryRow, note: String) -> Line {
    Line {
        login_id: r.login_id.clone(),
        name: r.display_name.clone(),
        role: r
            .role
            .parse::<Role>()
            .map(|x| x.label().to_string())
            .unwrap_or_else(|_| r.role.clone()),
        facility: r.facility_name.clone().unwrap_or_else(|| "—".into()),
        note,
    }
}

/// Sorts active accounts into the four review lists. Pure, so it is tested without a server.
pub fn classify(rows: &[InventoryRow], now: Timestamp, inactive_days: i64) -> Vec<Section> {
    let idle_before = now.minus(SignedDuration::from_hours(24 * inactive_days));
    let mut inactive = Vec::new();
    let mut withdrawn = Vec::new();
    let mut locked = Vec::new();
    let mut unused = Vec::new();
    for r in rows {
        let last = r.last_login_at.unwrap_or(r.created_at);
        if r.last_login_at.is_some() && last < idle_before {
            inactive.push(line(r, format!("最終ログイン {}", last.jst())));
        }
        if let Some(w) = r.facility_withdrawn_at {
            withdrawn.push(line(r, format!("施設の脱退 {}", w.jst())));
        }
        if r.locked_until.is_some_and(|u| u > now) {
            locked.push(line(
                r,
                format!(
                    "ロック開始 {}",
                    r.locked_at.map(|t| t.jst()).unwrap_or_default()
                ),
            ));
        }
        if r.must_change_password != 0 && r.last_login_at.is_none() {
            let note = match r.password_expires_at {
                Some(e) if e <= now => format!("初期パスワード期限切れ（{}）", e.jst()),
                Some(e) => format!("初期パスワード未使用（期限 {}）", e.jst()),
                None => "初期パスワード未使用".into(),
            };
            unused.push(line(r, note));
        }
    }
    vec![
        Section {
            key: "inactive",
            title: format!("{inactive_days}日以上使われていないアカウント"),
            lines: inactive,
        },
        Section {
            key: "withdrawn",
            title: "脱退した施設のアカウント".into(),
            lines: withdrawn,
        },
        Section {
            key: "locked",
            title: "ロック中のアカウント".into(),
            lines: locked,
        },
        Section {
            key: "unused",
            title: "初期パスワードが使われていないアカウント".into(),
            lines: unused,
        },
    ]
}

async fn page_view(
    state: &AppState,
    page: Page,
    error: Option<String>,
) -> AppResult<InventoryPage> {
    let mut conn = state.db.pool().acquire().await?;
    let rows = repo::inventory(&mut conn).await?;
    let sections = classify(
        &rows,
        state.now(),
        state.section::<super::AccountSettings>().inactive_days,
    );
    let reviews = repo::reviews(&mut conn, 20)
        .await?
        .into_iter()
        .map(|(at, by, outcome, summary)| Review {
            at: at.jst(),
            by,
            outcome,
            summary,
        })
        .collect();
    Ok(InventoryPage {
        page: page.titled("アカウント棚卸し"),
        sections,
        reviews,
        error,
    })
}

pub async fn index(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    Ok(Html(page_view(&state, page, None).await?.render()?).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    outcome: String,
}

pub async fn review(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Form(form): Form<ReviewForm>,
) -> AppResult<Response> {
    let result = super::service::review_inventory(
        &state.db,
        &form.outcome,
        state.section::<super::AccountSettings>().inactive_days,
        p.account_id,
        &Actor::of(&p, &addr),
        state.now(),
    )
    .await;
    match result {
        Ok(_) => Ok(flash_redirect(
            "/admin/inventory",
            "棚卸しの結果を記録しました。",
            state.settings.server.secure_cookies,
        )),
        Err(DomainError::Invalid { message, .. }) => {
            let view = page_view(&state, page, Some(message)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(view.render()?)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
