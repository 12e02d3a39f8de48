//! Shared HTTP machinery that knows no domain: access rules and the route builder, the object
//! guard ([`ObjectGuard`]: every id from a request is checked against the caller's scope),
//! sessions, CSRF, cookies, security headers, the page context for the layout, flash messages,
//! the spreadsheet exports that every domain writes through (`export`: formula injection), and
//! the FHIR API's errors as OperationOutcomes (`fhir`: every error under `/api/fhir`), and search,
//! sorting and paging for list pages (`list`).

mod access;
mod banner;
pub mod cookies;
pub mod csrf;
pub mod export;
pub mod fhir;
pub mod headers;
pub mod list;
mod list_pager;
mod list_query;
pub mod objects;
pub mod observe;
mod page;
pub mod rejections;
pub mod session;
mod statics;
pub mod upload;

pub use access::{Access, RouteRule, Routes, SessionExpired};
pub use banner::SiteBanner;
pub use csrf::CsrfToken;
pub use objects::{ObjectGuard, RouteName};
pub use observe::RequestId;
pub use page::{NavLink, Page, clear_flash, error_page_context, flash_redirect, render};
pub use statics::router as static_router;
pub use upload::Upload;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

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

/// Puts the client address into the extensions (outermost layer, before sessions and CSRF):
/// the peer address, or, when the peer is one of `server.trusted_proxies`, the address that
/// `X-Forwarded-For` names (see [`client_ip`]).
pub async fn client_addr(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| {
            client_ip(
                c.0.ip(),
                req.headers(),
                &state.settings.server.trusted_proxies,
            )
        })
        .map_or_else(|| "unknown".into(), |ip| ip.to_string());
    req.extensions_mut().insert(ClientAddr(addr));
    next.run(req).await
}

/// The client of a request that came from `peer`. `X-Forwarded-For` counts only when the peer
/// is a trusted proxy (an empty list ignores it): its entries are read from the right, skipping
/// trusted proxies, and the first address that is not one is the client. An entry that is not an
/// address ends the walk at the last trusted hop, so a forged or garbled header never yields
/// more than the proxies themselves vouch for.
pub fn client_ip(
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[crate::config::ProxyNet],
) -> IpAddr {
    let peer = crate::config::canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        hops.extend(value.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.iter().rev().take(32) {
        let parsed = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()));
        let Some(ip) = parsed else {
            break;
        };
        client = crate::config::canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    client
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<crate::config::ProxyNet> {
        list.iter().map(|s| s.parse().expect("net")).collect()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let h = xff(&["198.51.100.7"]);
        assert_eq!(client_ip(ip("192.0.2.1"), &h, &[]), ip("192.0.2.1"));
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("192.0.2.1"), &h, &trusted), ip("192.0.2.1"));
        assert_eq!(client_ip(ip("10.1.1.1"), &h, &trusted), ip("198.51.100.7"));
        assert_eq!(
            client_ip(ip("10.1.1.1"), &HeaderMap::new(), &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1"]);
        // A client that sends its own X-Forwarded-For cannot choose its address: the proxy
        // appends the real one, which is read first.
        let h = xff(&["203.0.113.66, 198.51.100.7, 10.2.2.2"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        let h = xff(&["203.0.113.66", "198.51.100.7"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        let h = xff(&["[2001:db8::1]:4711"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("2001:db8::1"));
    }

    #[test]
    fn a_garbled_hop_stops_at_the_last_trusted_one() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = xff(&["198.51.100.7, unknown, 10.0.0.5"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.5"));
        let h = xff(&["not an address"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"));
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &xff(&["198.51.100.7"]), &trusted),
            ip("198.51.100.7"),
            "a dual-stack socket's mapped IPv4 peer is the IPv4 address"
        );
    }
}
