//! The page context every template gets (`page.*` in `layout.html`): title, the logged-in person,
//! navigation for their role, the CSRF token, the demo banner and a flash message.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::banner::SiteBanner;
use super::cookies;
use super::csrf::CsrfToken;
use crate::auth::{Principal, Stage};
use crate::state::AppState;

#[derive(Clone, Debug)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    /// Set on the first visible link of a named group: the group's label goes before it.
    pub group_label: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct UserBadge {
    pub display_name: String,
    pub login_id: String,
    pub role_label: &'static str,
    /// Staff roles get the 日本語 / English switch (X.4); `english` is the current choice.
    pub staff: bool,
    pub english: bool,
}

#[derive(Clone, Debug)]
pub struct Page {
    pub title: String,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavLink>,
    pub csrf: String,
    pub demo_banner: bool,
    pub flash: Option<String>,
    /// Site-wide notice (see [`SiteBanner`]).
    pub banner: Option<String>,
    /// Who is looking, for [`Page::may_open`] (None: nobody logged in completely).
    pub viewer: Option<Viewer>,
}

/// A logged-in person's role and the route rules, to ask whether a link opens for them.
#[derive(Clone)]
pub struct Viewer {
    role: crate::auth::Role,
    registry: std::sync::Arc<crate::state::Registry>,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Viewer({:?})", self.role)
    }
}

impl Page {
    /// Whether the person looking may open `href`, read from the route rules as the menu is: a
    /// page shows a link (a button to another page) only to those it opens for (X.3).
    pub fn may_open(&self, href: &str) -> bool {
        self.viewer
            .as_ref()
            .is_some_and(|v| crate::auth::may_open(&v.registry.rules, v.role, href))
    }

    pub fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let principal = parts.extensions.get::<Principal>();
        let path = parts.uri.path();
        // Each entry is shown to a role only if that role may open its page, which is read from
        // the route rules: there is no second list of roles to keep in step.
        let entries = &state.registry.nav;
        // The longest matching entry is the current one (/portal/manage, not also /portal).
        let current = entries
            .iter()
            .map(|n| n.href)
            .filter(|href| path == *href || (*href != "/" && path.starts_with(&format!("{href}/"))))
            .max_by_key(|href| href.len());
        let nav = match principal {
            Some(p) if p.stage == Stage::Complete => {
                let mut last_group = "";
                entries
                    .iter()
                    .filter(|n| state.may_open(p.role, n.href))
                    .map(|n| {
                        let group_label =
                            (!n.group.is_empty() && n.group != last_group).then_some(n.group);
                        last_group = n.group;
                        NavLink {
                            href: n.href,
                            label: n.label,
                            current: current == Some(n.href),
                            group_label,
                        }
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let flash = cookies::get(&parts.headers, cookies::FLASH)
            .and_then(|v| urlencoding_decode(&v))
            .filter(|s| !s.is_empty());
        Ok(Page {
            title: String::new(),
            user: principal.map(|p| UserBadge {
                display_name: p.display_name.clone(),
                login_id: p.login_id.clone(),
                role_label: p.role.label(),
                staff: p.role.is_staff(),
                english: parts.extensions.get::<crate::i18n::Lang>()
                    == Some(&crate::i18n::Lang::En),
            }),
            nav,
            csrf: parts
                .extensions
                .get::<CsrfToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
            demo_banner: !state.settings.security.require_totp,
            flash,
            banner: parts.extensions.get::<SiteBanner>().map(|b| b.0.clone()),
            viewer: principal
                .filter(|p| p.stage == Stage::Complete)
                .map(|p| Viewer {
                    role: p.role,
                    registry: state.registry.clone(),
                }),
        })
    }
}

/// 303 to `to`, with a message shown once on the next page (its cookie is `Secure` behind TLS).
pub fn flash_redirect(state: &AppState, to: &str, message: &str) -> Response {
    let secure = state.settings.server.secure_cookies;
    let mut res = Redirect::to(to).into_response();
    let value: String = url::form_urlencoded::byte_serialize(message.as_bytes()).collect();
    if let Ok(v) = HeaderValue::from_str(&cookies::set(cookies::FLASH, &value, secure, Some(60))) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}

fn urlencoding_decode(v: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("m={v}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Clears the flash cookie once a page (not a redirect) has been shown with it.
pub async fn clear_flash(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let had = cookies::get(req.headers(), cookies::FLASH).is_some();
    let mut res = next.run(req).await;
    if had && !res.status().is_redirection() {
        let v = cookies::remove(cookies::FLASH, state.settings.server.secure_cookies);
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    res
}

/// An error page (403, 404 …) shown to a logged-in person keeps the menu and the log-out button:
/// this layer runs where the session is known and attaches the page context to an error
/// response, which the outer error-page layer renders (see `observe::render_error_page`).
pub async fn error_page_context(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut ctx = axum::http::Request::new(());
    *ctx.uri_mut() = req.uri().clone();
    if let Some(p) = req.extensions().get::<Principal>() {
        ctx.extensions_mut().insert(p.clone());
    }
    if let Some(t) = req.extensions().get::<CsrfToken>() {
        ctx.extensions_mut().insert(t.clone());
    }
    if let Some(l) = req.extensions().get::<crate::i18n::Lang>() {
        ctx.extensions_mut().insert(*l);
    }
    let mut res = next.run(req).await;
    if res.extensions().get::<crate::error::ErrorPage>().is_some() {
        let (mut parts, ()) = ctx.into_parts();
        let Ok(page) = Page::from_request_parts(&mut parts, &state).await;
        res.extensions_mut().insert(page);
    }
    res
}

/// A page rendered with its status: the one way handlers answer with HTML.
pub fn render(
    t: impl askama::Template,
    status: axum::http::StatusCode,
) -> crate::error::AppResult<Response> {
    Ok((status, axum::response::Html(t.render()?)).into_response())
}
