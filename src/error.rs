//! `AppError`: what a handler can fail with. Internal text never reaches the user: it is logged
//! once (with the request path in the span) and the person sees a calm Japanese page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("payload too large")]
    TooLarge,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => AppError::NotFound,
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(anyhow::anyhow!("template: {e}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub banner: Option<String>,
}

impl ErrorPage {
    pub fn response(
        status: StatusCode,
        title: &'static str,
        message: impl Into<String>,
    ) -> Response {
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message: message.into(),
            banner: crate::web::current_banner(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, title).into_response(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => ErrorPage::response(
                StatusCode::NOT_FOUND,
                "ページが見つかりません",
                "お探しのページは見つかりませんでした。URL をご確認のうえ、トップページからお進みください。",
            ),
            AppError::Unauthenticated => Redirect::to("/login").into_response(),
            AppError::Forbidden => ErrorPage::response(
                StatusCode::FORBIDDEN,
                "アクセス権限がありません",
                "このページを表示する権限がありません。必要な場合はシステム管理者にお問い合わせください。",
            ),
            AppError::Conflict(msg) => {
                ErrorPage::response(StatusCode::CONFLICT, "処理できませんでした", msg)
            }
            AppError::BadRequest(msg) => {
                ErrorPage::response(StatusCode::BAD_REQUEST, "入力内容に誤りがあります", msg)
            }
            AppError::TooLarge => ErrorPage::response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "送信内容が大きすぎます",
                "送信された内容が上限を超えています。内容を分けて送信してください。",
            ),
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                ErrorPage::response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "システムエラーが発生しました",
                    "申し訳ありません。処理中に問題が発生しました。時間をおいて再度お試しください。解決しない場合はヘルプデスクにご連絡ください。",
                )
            }
        }
    }
}
