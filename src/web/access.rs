//! Role-based access (X.3): every route is registered through [`Routes`] with an [`Access`] rule,
//! and a guard layer enforces it. There is no other way to add a route, so a route without a rule
//! cannot exist; the route × role test walks [`Routes::rules`] and checks each one for real.

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};

pub use crate::auth::{Access, RouteRule};
use crate::auth::{Principal, Stage};
use crate::error::AppError;
use crate::state::AppState;

/// Marks a request whose session just expired, so the log-in page can say so.
#[derive(Clone, Copy, Debug)]
pub struct SessionExpired;

pub struct Routes {
    router: Router<AppState>,
    rules: Vec<RouteRule>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            rules: Vec::new(),
        }
    }

    pub fn get<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add("GET", path, access, get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add("POST", path, access, post(handler))
    }

    /// A POST route that takes files: its body may reach [`super::upload::MAX_BODY_BYTES`]
    /// instead of axum's 2 MB default (which every other route keeps).
    pub fn post_upload<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let mr = post(handler).layer(super::upload::body_limit());
        self.add("POST", path, access, mr)
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        access: Access,
        mr: MethodRouter<AppState>,
    ) -> Self {
        let mr = mr.route_layer(from_fn_with_state(access, guard));
        self.router = self.router.route(path, mr);
        self.rules.push(RouteRule {
            method,
            path,
            access,
        });
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.rules.extend(other.rules);
        self
    }

    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteRule>) {
        (self.router, self.rules)
    }
}

async fn guard(State(access): State<Access>, req: Request, next: Next) -> Response {
    if access == Access::Public || access == Access::ApiKey {
        return next.run(req).await;
    }
    if matches!(access, Access::RolesOrBearer(_))
        && req.extensions().get::<Principal>().is_none()
        && req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("bearer")))
    {
        return next.run(req).await;
    }
    let Some(p) = req.extensions().get::<Principal>().cloned() else {
        if req.uri().path().starts_with("/api/") {
            let body =
                serde_json::json!({"error": "unauthenticated", "message": "認証が必要です。"});
            return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        }
        let expired = req.extensions().get::<SessionExpired>().is_some();
        return Redirect::to(if expired {
            crate::auth::LOGIN_EXPIRED_PATH
        } else {
            crate::auth::LOGIN_PATH
        })
        .into_response();
    };
    if access == Access::Onboarding {
        return next.run(req).await;
    }
    if p.stage != Stage::Complete {
        return Redirect::to(p.stage.path()).into_response();
    }
    if !access.allows(p.role) {
        tracing::warn!(login = %p.login_id, role = %p.role, path = %req.uri().path(), "forbidden");
        return AppError::Forbidden.into_response();
    }
    next.run(req).await
}
