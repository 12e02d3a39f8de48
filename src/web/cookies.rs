//! Cookie names and attributes: always HttpOnly and SameSite=Strict, Secure behind TLS.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum_extra::extract::cookie::Cookie;

pub const SESSION: &str = "rn_session";
pub const CSRF: &str = "rn_csrf";
pub const FLASH: &str = "rn_flash";

pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim().to_string()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value; `max_age` None means a browser-session cookie. Values are URL-safe
/// base64 or percent-encoded by the callers, so they need no quoting.
pub fn set(name: &str, value: &str, secure: bool, max_age_secs: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(s) = max_age_secs {
        c.push_str(&format!("; Max-Age={s}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

pub fn remove(name: &str, secure: bool) -> String {
    set(name, "", secure, Some(0))
}
