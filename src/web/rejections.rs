//! Extractor rejections (a wrong content type, an unparsable path id, a missing form field) come
//! out of axum as short English plain text. People must see a calm Japanese page instead, so any
//! plain-text 4xx outside `/api/` is replaced by the matching error page. API routes keep their
//! own JSON errors.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ErrorPage;

pub async fn japanese_errors(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    let plain = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    let ours = res.extensions().get::<ErrorPage>().is_some();
    if api || ours || !status.is_client_error() || !plain || status == StatusCode::UNAUTHORIZED {
        return res;
    }
    let (title, message) = match status {
        StatusCode::NOT_FOUND => (
            "ページが見つかりません",
            "お探しのページは見つかりませんでした。",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "この操作はできません",
            "このページでは、その方法での送信は受け付けていません。画面のボタンから操作してください。",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "送信内容が大きすぎます",
            "送信された内容が上限を超えています。",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "送信の形式が正しくありません",
            "画面のフォームから送信してください。",
        ),
        _ => (
            "入力内容に誤りがあります",
            "送信された内容を読み取れませんでした。画面を開き直して、もう一度お試しください。",
        ),
    };
    ErrorPage::response(status, title, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_rejected_form_becomes_a_japanese_page() {
        async fn handler(
            axum::Form(_f): axum::Form<std::collections::HashMap<String, i64>>,
        ) -> &'static str {
            "ok"
        }
        let app = Router::new()
            .route("/x", post(handler))
            .layer(axum::middleware::from_fn(japanese_errors))
            .layer(axum::middleware::from_fn(crate::web::observe::request_id));
        let req = Request::post("/x")
            .header(CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("{}"))
            .expect("request");
        let res = app.oneshot(req).await.expect("response");
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        let text = String::from_utf8(body.to_vec()).expect("utf8");
        assert!(text.contains("送信の形式が正しくありません"), "{text}");
        assert!(
            text.contains("画面のフォームから送信してください"),
            "{text}"
        );
        assert!(text.contains("問い合わせ番号"), "{text}");
    }
}
