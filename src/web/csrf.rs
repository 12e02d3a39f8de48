//! Form bodies and CSRF (X.1). Every POST outside `/api/` must carry the form token in the field
//! `csrf_token`, the query string or the `x-csrf-token` header. The token is bound to what the
//! server issued, never to a value the client made up:
//! - with a session cookie (`rn_session`), the token is HMAC-SHA256 over the session token, with the
//!   `csrf` key kept outside the database ([`crate::db::keys`]); a new session (log-in, password
//!   change) therefore means a new token, and a token is worth nothing with another session;
//! - before log-in (the log-in form), the token is the HMAC over a pre-session value: the `rn_csrf`
//!   cookie holds a random nonce and the server's HMAC of it (`nonce.mac`), issued by this layer
//!   when missing or not signed by the server. A self-made cookie is refused, so a POST needs a
//!   page load first. Log-in and log-out issue a fresh pre-session value ([`rotate`]).
//!
//! Both cookies are HttpOnly and SameSite=Strict. Any key of the `csrf` set is accepted (rotation).
//! Form bodies are limited to `max_form_bytes` (uploads to `max_upload_bytes`) (413) and must be
//! UTF-8 (400). A refused request reaches no handler, so nothing is written.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::cookies;
use crate::db::{Key, KeySet};
use crate::error::{AppError, ErrorPage};
use crate::state::AppState;

/// The token to put in forms (`<input type="hidden" name="csrf_token">`).
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// The token bound to the pre-session value; the session loader puts it in place of
/// [`CsrfToken`] when the session cookie turns out to be stale (its response clears the cookie).
#[derive(Clone, Debug)]
pub struct PreSessionToken(pub String);

/// Put on a response (see [`rotate`]) to have a fresh pre-session value issued with it.
#[derive(Clone, Copy, Debug)]
struct RotatePreSession;

/// Issues a fresh pre-session value with this response (log-in and log-out), so that a token
/// seen before is worthless afterwards.
pub fn rotate(res: &mut Response) {
    res.extensions_mut().insert(RotatePreSession);
}

/// The form token for a session token issued in this very response (a rotated session), so that
/// the page sent with the new cookie carries forms that the next request accepts.
pub fn token_for_session(keys: &KeySet, session_token: &str) -> String {
    token_with(keys.current(), Anchor::Session(session_token))
}

/// What a form token is bound to.
#[derive(Clone, Copy, Debug)]
enum Anchor<'a> {
    Session(&'a str),
    PreSession(&'a str),
}

fn mac(key: &Key, parts: &[&str]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p.as_bytes());
        m.update(b"\0");
    }
    m.finalize().into_bytes().into()
}

fn token_with(key: &Key, anchor: Anchor<'_>) -> String {
    let parts = match anchor {
        Anchor::Session(s) => ["rainbownet-csrf-v1", "session", s],
        Anchor::PreSession(n) => ["rainbownet-csrf-v1", "pre-session", n],
    };
    URL_SAFE_NO_PAD.encode(mac(key, &parts))
}

/// Whether `sent` is the token of `anchor` under any key of the set.
fn token_ok(keys: &KeySet, anchor: Anchor<'_>, sent: &str) -> bool {
    keys.all().iter().fold(false, |ok, k| {
        ok | bool::from(token_with(k, anchor).as_bytes().ct_eq(sent.as_bytes()))
    })
}

fn pre_mac(key: &Key, nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(
        key,
        &["rainbownet-csrf-v1", "pre-session-value", nonce],
    ))
}

/// A fresh pre-session cookie value (`nonce.mac`) and its nonce.
fn issue_pre(keys: &KeySet) -> (String, String) {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let nonce = URL_SAFE_NO_PAD.encode(b);
    (
        format!("{nonce}.{}", pre_mac(keys.current(), &nonce)),
        nonce,
    )
}

/// The nonce of a pre-session cookie value the server signed (with any key of the set).
fn verify_pre(keys: &KeySet, value: &str) -> Option<String> {
    let (nonce, sent) = value.split_once('.')?;
    if nonce.len() < 43 {
        return None;
    }
    let ok = keys.all().iter().fold(false, |ok, k| {
        ok | bool::from(pre_mac(k, nonce).as_bytes().ct_eq(sent.as_bytes()))
    });
    ok.then(|| nonce.to_string())
}

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let secure = state.settings.server.secure_cookies;
    let keys = state.db.keys().csrf();
    let session = cookies::get(req.headers(), cookies::SESSION).filter(|s| !s.is_empty());
    let signed_pre = cookies::get(req.headers(), cookies::CSRF).and_then(|v| verify_pre(keys, &v));
    let (fresh_pre, pre_nonce) = match &signed_pre {
        Some(n) => (None, n.clone()),
        None => {
            let (value, nonce) = issue_pre(keys);
            (Some(value), nonce)
        }
    };
    let pre_token = token_with(keys.current(), Anchor::PreSession(&pre_nonce));
    let token = match &session {
        Some(s) => token_with(keys.current(), Anchor::Session(s)),
        None => pre_token.clone(),
    };
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(CsrfToken(token));
    parts.extensions.insert(PreSessionToken(pre_token));

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
        // With a session, only its token; without one, only the token of a pre-session value
        // this server signed. The log-in form also takes the pre-session token while an older
        // session cookie is still around (that session is ended by the log-in).
        let is_login = parts.uri.path() == crate::auth::LOGIN_PATH;
        let ok = sent.as_deref().is_some_and(|sent| {
            let by_session = session
                .as_deref()
                .is_some_and(|s| token_ok(keys, Anchor::Session(s), sent));
            let by_pre = (session.is_none() || is_login)
                && signed_pre
                    .as_deref()
                    .is_some_and(|n| token_ok(keys, Anchor::PreSession(n), sent));
            by_session || by_pre
        });
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
    let value = if res.extensions().get::<RotatePreSession>().is_some() {
        Some(issue_pre(keys).0)
    } else {
        fresh_pre
    };
    if let Some(value) = value
        && let Ok(v) = HeaderValue::from_str(&cookies::set(cookies::CSRF, &value, secure, None))
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
    use crate::db::KeyRing;

    #[test]
    fn x1_a_self_made_pre_session_value_is_refused() {
        let ring = KeyRing::ephemeral();
        let keys = ring.csrf();
        let (value, nonce) = issue_pre(keys);
        assert_eq!(verify_pre(keys, &value).as_deref(), Some(nonce.as_str()));
        let forged = "A".repeat(64);
        assert_eq!(
            verify_pre(keys, &forged),
            None,
            "any long value was accepted before"
        );
        assert_eq!(
            verify_pre(keys, &format!("{nonce}.{}", "B".repeat(43))),
            None
        );
        let other = KeyRing::ephemeral();
        let (elsewhere, _) = issue_pre(other.csrf());
        assert_eq!(
            verify_pre(keys, &elsewhere),
            None,
            "signed with another key"
        );
    }

    #[test]
    fn x1_a_form_token_is_bound_to_its_session_or_pre_session_value() {
        let ring = KeyRing::ephemeral();
        let keys = ring.csrf();
        let a = token_with(keys.current(), Anchor::Session("session-a"));
        assert!(token_ok(keys, Anchor::Session("session-a"), &a));
        assert!(!token_ok(keys, Anchor::Session("session-b"), &a));
        assert!(
            !token_ok(keys, Anchor::PreSession("session-a"), &a),
            "kinds differ"
        );
        let other = KeyRing::ephemeral();
        let b = token_with(other.csrf().current(), Anchor::Session("session-a"));
        assert!(!token_ok(keys, Anchor::Session("session-a"), &b));
    }

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
