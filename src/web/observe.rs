//! Request ids and error pages. Every request gets an id (kept from a sane incoming
//! `X-Request-Id`, otherwise random), echoed in the `X-Request-Id` response header, carried by the
//! tracing span that every log line of the request is written in, and shown on error pages as the
//! 問い合わせ番号 so that a person's call to the helpdesk leads to the log line.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use rand::RngCore;
use tracing::Instrument;

use super::banner::SiteBanner;
use crate::error::ErrorPage;

pub const REQUEST_ID: &str = "x-request-id";

/// The id of the request being handled (a request extension).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn new_id() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// An id another proxy set is kept only if it is short and plain (it goes into logs and pages).
fn acceptable(v: &str) -> bool {
    (8..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Outermost layer: assigns the id, opens the request's span, renders error pages.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(new_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let res = next.run(req).instrument(span).await;
    let mut res = render_error_page(res, &id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// Counts the request and its latency under its route pattern (`/admin/requests/{id}`); a
/// request that matched no route counts as `unmatched`.
pub async fn measure(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let m = &state.metrics;
    m.requests
        .with_label_values(&[method.as_str(), route.as_str(), res.status().as_str()])
        .inc();
    m.latency
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    res
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorView<'a> {
    page: super::Page,
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// A response that carries an [`ErrorPage`] becomes the Japanese error page.
fn render_error_page(res: Response, id: &str) -> Response {
    let Some(page) = res.extensions().get::<ErrorPage>().cloned() else {
        return res;
    };
    if page.status.is_server_error() {
        tracing::warn!(request_id = %id, status = page.status.as_u16(), "error page shown");
    }
    let banner = res.extensions().get::<SiteBanner>().map(|b| b.0.clone());
    // The menu and log-out of a logged-in person come from `page::error_page_context`.
    let mut layout = res
        .extensions()
        .get::<super::Page>()
        .cloned()
        .unwrap_or_else(|| super::Page {
            title: String::new(),
            user: None,
            nav: Vec::new(),
            csrf: String::new(),
            demo_banner: false,
            flash: None,
            banner: None,
            viewer: None,
        });
    layout.title = page.title.to_string();
    layout.banner = banner.or(layout.banner);
    layout.flash = None;
    let view = ErrorView {
        page: layout,
        status: page.status.as_u16(),
        title: page.title,
        message: &page.message,
        request_id: id,
    };
    let english = res.extensions().get::<crate::i18n::Lang>() == Some(&crate::i18n::Lang::En);
    let (mut parts, _) = res.into_parts();
    let body = match view.render() {
        // Rendered here, outside the translating layer, which marked the response (X.4).
        Ok(html) if english => Html(crate::i18n::translate_error_page(html)).into_response(),
        Ok(html) => Html(html).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, page.title).into_response(),
    };
    let (body_parts, body) = body.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    if let Some(ct) = body_parts.headers.get(axum::http::header::CONTENT_TYPE) {
        parts
            .headers
            .insert(axum::http::header::CONTENT_TYPE, ct.clone());
    }
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incoming_id_is_kept_only_when_plain() {
        assert!(acceptable("0123456789abcdef"));
        assert!(acceptable("req-42_abc"));
        assert!(!acceptable("short"));
        assert!(!acceptable("has space in it"));
        assert!(!acceptable(&"x".repeat(65)));
        assert!(!acceptable("<script>alert(1)</script>"));
    }

    #[test]
    fn new_ids_are_sixteen_hex_characters_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 16);
        assert!(acceptable(&a));
        assert_ne!(a, b);
    }
}
