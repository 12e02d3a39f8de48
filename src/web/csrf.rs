//! Form bodies and CSRF. Every POST outside `/api/` must carry the token of the `rn_csrf` cookie
//! (double-submit; the cookie is HttpOnly and SameSite=Strict) in the form field `csrf_token`, the
//! query string or the `x-csrf-token` header. Form bodies are limited to `max_form_bytes` (uploads to
//! `max_upload_bytes`) (413)
//! and must be UTF-8 (400). A refused request reaches no handler, so nothing is written.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::cookies;
use crate::error::{AppError, ErrorPage};
use crate::state::AppState;

/// The token to put in forms (`<input type="hidden" name="csrf_token">`).
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b)
}

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let secure = state.settings.server.secure_cookies;
    let existing = cookies::get(req.headers(), cookies::CSRF).filter(|t| t.len() >= 32);
    let token = existing.clone().unwrap_or_else(new_token);
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(CsrfToken(token.clone()));

    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let req = if unsafe_method && !parts.uri.path().starts_with("/api/") {
        let is_upload = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        let limit = if is_upload {
            state.settings.server.max_upload_bytes
        } else {
            state.settings.server.max_form_bytes
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return AppError::TooLarge.into_response();
        }
        let Ok(bytes) = to_bytes(body, limit).await else {
            return AppError::TooLarge.into_response();
        };
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut sent: Option<String> = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if sent.is_none() {
            sent = parts
                .uri
                .query()
                .and_then(|q| field(q.as_bytes(), "csrf_token"));
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            if !is_utf8_form(&bytes) {
                return ErrorPage::response(
                    StatusCode::BAD_REQUEST,
                    "文字コードが正しくありません",
                    "送信された内容を UTF-8 として読み取れませんでした。ページを開き直してから、もう一度送信してください。",
                );
            }
            if let Some(t) = field(&bytes, "csrf_token") {
                sent = Some(t);
            }
        }
        let ok = match (&existing, &sent) {
            (Some(cookie), Some(sent)) => bool::from(cookie.as_bytes().ct_eq(sent.as_bytes())),
            _ => false,
        };
        if !ok {
            tracing::warn!(path = %parts.uri.path(), "csrf token missing or wrong");
            return ErrorPage::response(
                StatusCode::FORBIDDEN,
                "フォームの有効期限が切れました",
                "安全のため、この送信は受け付けられませんでした。ページを再読み込みしてから、もう一度操作してください。",
            );
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        Request::from_parts(parts, body)
    };

    let mut res = next.run(req).await;
    if existing.is_none()
        && let Ok(v) = HeaderValue::from_str(&cookies::set(cookies::CSRF, &token, secure, None))
    {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}

/// The value of one field of an urlencoded body or query.
fn field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded_pairs(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn form_urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = decode(it.next()?)?;
            let v = decode(it.next().unwrap_or(b""))?;
            Some((k, v))
        })
}

/// Percent-decodes (with `+` as space); None if the result is not UTF-8.
fn decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if i + 2 >= raw.len() {
                    return None;
                }
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn is_utf8_form(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok()
        && body
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .all(|pair| {
                pair.split(|b| *b == b'=')
                    .all(|part| decode(part).is_some())
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_percent_decoded() {
        assert_eq!(
            field(b"a=1&csrf_token=x%2By+z", "csrf_token").as_deref(),
            Some("x+y z")
        );
        assert_eq!(
            field(b"name=%E6%B8%85%E9%A0%88", "name").as_deref(),
            Some("清須")
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused() {
        assert!(is_utf8_form(b"name=%E6%B8%85"));
        assert!(
            !is_utf8_form(b"name=%82%A0"),
            "Shift_JIS bytes, percent-encoded"
        );
        assert!(
            !is_utf8_form(&[b'n', b'=', 0x82, 0xA0]),
            "raw Shift_JIS bytes"
        );
        assert!(!is_utf8_form(b"name=%ZZ"), "broken escape");
    }
}
