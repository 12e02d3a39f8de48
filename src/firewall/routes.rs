//! Handlers: the list of reviews with the state of the sources, a review, its sign-off.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::model::FirewallSettings;
use super::views::{self, IndexPage, ReviewPage};
use super::{SIGNERS, repo, service};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

pub async fn index(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let s = state.section::<FirewallSettings>();
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    let files = repo::recent_files(&mut conn, 100).await?;
    let reviews = repo::list_reviews(&mut conn, 200).await?;
    drop(conn);
    render(
        IndexPage {
            page: page.titled("ファイアウォールログ"),
            period: s.period.label(),
            grace_days: s.grace_days,
            thresholds: format!(
                "ポートスキャン: {} 分以内に {} 以上の宛先ポート／総当たり: {} 分以内に認証ポートへ {} 回以上",
                s.scan_minutes, s.scan_ports, s.burst_minutes, s.burst_attempts
            ),
            internal: s
                .internal
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            sources: s.sources.iter().map(|p| views::source_line(p)).collect(),
            error_total: files.iter().map(|f| f.errors).sum(),
            files: files.iter().map(views::file_line).collect(),
            reviews: reviews
                .iter()
                .map(|r| views::review_line(r, &s, now))
                .collect(),
        },
        StatusCode::OK,
    )
}

async fn review_page(
    state: &AppState,
    page: Page,
    id: i64,
    can_sign: bool,
    form: Option<(String, String)>,
) -> AppResult<Response> {
    let s = state.section::<FirewallSettings>();
    let mut conn = state.db.pool().acquire().await?;
    let r = repo::find_review(&mut conn, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    drop(conn);
    let mut view = ReviewPage::new(page, &r, &s, state.now(), can_sign);
    let status = match form {
        Some((remarks, error)) => {
            view.remarks = remarks;
            view.error = Some(error);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        None => StatusCode::OK,
    };
    render(view, status)
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    review_page(&state, page, id, SIGNERS.contains(&p.role), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignForm {
    remarks: String,
}

pub async fn sign(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(f): Form<SignForm>,
) -> AppResult<Response> {
    match service::sign(
        &state.db,
        id,
        p.account_id,
        &p.display_name,
        &f.remarks,
        &actor,
        state.now(),
    )
    .await
    {
        Ok(()) => Ok(flash_redirect(
            &state,
            &format!("/admin/firewall/reviews/{id}"),
            "レビューの確認を記録しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            review_page(&state, page, id, true, Some((f.remarks, message))).await
        }
        Err(e) => Err(e.into()),
    }
}
