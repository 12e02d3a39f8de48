//! English for administrators (X.4, issue 15 item 8). Staff roles may choose English
//! (`accounts.language`, `POST /account/language`); medical users and facility managers keep
//! Japanese.
//!
//! How: the templates stay Japanese, and the Japanese text is the source of the catalogue
//! (`locales/ja.ftl`, Fluent; `locales/en.ftl` has the same ids). For a request whose session
//! chose English ([`Lang::En`] in the request's extensions, put there by the session layer),
//! [`translate`] rewrites the HTML response: every text node and readable attribute that the
//! catalogue knows becomes English (see `rewrite`), data such as names stays as entered. A
//! Japanese request never reaches the rewriter (no cost). PDF letters, mails and files sent to
//! users stay Japanese, and so does the JSON API.
//!
//! What the catalogue did not know is logged at debug and, in debug builds, counted in the
//! response header `x-untranslated`; `tests/api/english.rs` crawls every page of every staff
//! role in English and fails on any Japanese text left.

mod catalogue;
mod rewrite;

pub use catalogue::{Catalogue, EN_SOURCE, JA_SOURCE, Piece, catalogue, has_japanese, messages};
pub use rewrite::{Translated, translate_html};

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::Response;

/// The language of the pages a person sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn key(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The stored key (anything unknown is Japanese, the source language).
    pub fn from_key(key: &str) -> Lang {
        if key == "en" { Lang::En } else { Lang::Ja }
    }
}

/// Pages larger than this are sent as they are (no page of the product comes near it).
const MAX_PAGE: usize = 32 * 1024 * 1024;

/// An error page in English (see `web::observe`); the Japanese page if the rewriter fails.
pub fn translate_error_page(html: String) -> String {
    match translate_html(&html, catalogue()) {
        Ok(t) => t.html,
        Err(e) => {
            tracing::warn!(%e, "error page not translated");
            html
        }
    }
}

/// The layer: translates an HTML response when the request's session chose English.
pub async fn translate(req: Request, next: Next) -> Response {
    let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
    let res = next.run(req).await;
    let is_html = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if lang != Lang::En {
        return res;
    }
    if res.extensions().get::<crate::error::ErrorPage>().is_some() {
        // The error page is rendered by the outermost layer: it translates what is marked.
        let mut res = res;
        res.extensions_mut().insert(Lang::En);
        return res;
    }
    if !is_html {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PAGE).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(%e, "page not translated: body unreadable");
            parts.headers.remove(CONTENT_LENGTH);
            return Response::from_parts(parts, Body::empty());
        }
    };
    let Ok(html) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    match translate_html(html, catalogue()) {
        Ok(t) => {
            for text in &t.untranslated {
                tracing::debug!(text, "no English text in the catalogue");
            }
            if cfg!(debug_assertions) {
                parts.headers.insert(
                    "x-untranslated",
                    HeaderValue::from(t.untranslated.len() as u64),
                );
            }
            parts.headers.remove(CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(t.html))
        }
        Err(e) => {
            tracing::warn!(%e, "page not translated");
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}
