//! Errors. [`DomainError`] is what a service function fails with: a kind (not found, forbidden,
//! conflict, invalid field) and a message written for the person. [`AppError`] is what a handler
//! fails with; `From<DomainError>` is the one mapping between them, so no handler reads an error's
//! text. Internal text never reaches the user: it is logged once (with the request id in the span)
//! and the person sees a calm Japanese page (rendered by `web`, which knows the request).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

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

/// What a service (a state change of a domain) fails with. Messages are Japanese, for the person.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("見つかりません。")]
    NotFound,
    #[error("この操作を行う権限がありません。")]
    Forbidden,
    /// The state does not allow it (already applied, withdrawn, a duplicate …).
    #[error("{0}")]
    Conflict(String),
    /// A value the person entered; `field` names the form field it belongs to.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        DomainError::Conflict(message.into())
    }
}

impl From<sqlx::Error> for DomainError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => DomainError::NotFound,
            other => DomainError::Internal(other.into()),
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound => AppError::NotFound,
            DomainError::Forbidden => AppError::Forbidden,
            DomainError::Conflict(m) => AppError::Conflict(m),
            DomainError::Invalid { message, .. } => AppError::BadRequest(message),
            DomainError::Internal(e) => AppError::Internal(e),
        }
    }
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

/// The page an error shows: status, title and message. `AppError::into_response` attaches it to
/// the response; `web`'s error-page layer renders it with the request id and the site banner.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl ErrorPage {
    pub fn response(
        status: StatusCode,
        title: &'static str,
        message: impl Into<String>,
    ) -> Response {
        let page = ErrorPage {
            status,
            title,
            message: message.into(),
        };
        let mut res = (status, page.title).into_response();
        res.extensions_mut().insert(page);
        res
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
            AppError::Unauthenticated => Redirect::to(crate::auth::LOGIN_PATH).into_response(),
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
