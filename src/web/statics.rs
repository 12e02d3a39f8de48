//! Static files, compiled into the binary so that it runs from anywhere.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::access::{Access, Routes};
use crate::error::AppError;

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "print.css",
        "text/css; charset=utf-8",
        include_str!("../../static/print.css"),
    ),
];

/// A small rainbow arc (32 × 32, one PNG inside an ICO): browsers ask for `/favicon.ico` on
/// every first visit, and a 404 there fills the log with noise.
const FAVICON: &[u8] = include_bytes!("../../static/favicon.ico");

pub fn router() -> Routes {
    Routes::new()
        .get("/static/{file}", Access::Public, serve)
        .get("/favicon.ico", Access::Public, favicon)
}

async fn favicon() -> Response {
    (
        [
            (CONTENT_TYPE, "image/x-icon"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

async fn serve(Path(file): Path<String>) -> Result<Response, AppError> {
    let (_, mime, body) = FILES
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (CONTENT_TYPE, *mime),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        *body,
    )
        .into_response())
}
