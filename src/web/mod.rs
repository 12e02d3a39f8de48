//! Shared HTTP machinery that knows no domain: access rules and the route builder, the object
//! guard ([`ObjectGuard`]: every id from a request is checked against the caller's scope),
//! sessions, CSRF, cookies, security headers, the page context for the layout, flash messages.

mod access;
mod banner;
pub mod cookies;
pub mod csrf;
pub mod headers;
pub mod objects;
pub mod observe;
mod page;
pub mod rejections;
pub mod session;
mod statics;

pub use access::{Access, RouteRule, Routes, SessionExpired};
pub use banner::SiteBanner;
pub use csrf::CsrfToken;
pub use objects::{ObjectGuard, RouteName};
pub use observe::RequestId;
pub use page::{NavLink, Page, clear_flash, flash_redirect, render};
pub use statics::router as static_router;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

/// The client's address as text, for the audit log.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

impl Default for ClientAddr {
    fn default() -> Self {
        Self("unknown".into())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Puts the peer address into the extensions (outermost layer, before sessions and CSRF).
pub async fn client_addr(mut req: Request, next: Next) -> Response {
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    req.extensions_mut().insert(ClientAddr(addr));
    next.run(req).await
}

/// The user agent, cut to a sane length, for the access log.
pub fn user_agent(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// The logged-in person behind a request and the audit actor for what they do (who, role,
/// client address): `Caller { p, actor }: Caller` in a handler's arguments.
pub struct Caller {
    pub p: crate::auth::Principal,
    pub actor: crate::audit::Actor,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = crate::error::AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let p = parts
            .extensions
            .get::<crate::auth::Principal>()
            .cloned()
            .ok_or(crate::error::AppError::Unauthenticated)?;
        let addr = parts
            .extensions
            .get::<ClientAddr>()
            .cloned()
            .unwrap_or_default();
        let actor = crate::audit::Actor::of(&p, &addr.0);
        Ok(Caller { p, actor })
    }
}
