//! The one helper for object-level authorisation (ASVS 4.2.1, X.3). A handler that takes an
//! object id (path, query or form) looks the object up and hands the result to
//! [`ObjectGuard::check`] (or [`ObjectGuard::check_in`] inside its transaction):
//! - a missing object and an object outside the principal's [`Scope`] get the same answer,
//!   `DomainError::NotFound` (the same 404 page or FHIR outcome), so ids reveal nothing;
//! - an object outside the scope is also written to the audit chain as `access.denied`
//!   (target: the object; details: the route, the principal's facility and the object's own
//!   details; the actor columns say who), committed even though the request fails.
//!
//! Objects of the whole network behind staff-only routes are in scope for every role their route
//! admits; the route × object test pins that such routes admit no facility role.

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use serde_json::{Value, json};

use super::Caller;
use crate::audit::{self, Actor};
use crate::auth::{Owned, Scope};
use crate::db::Tx;
use crate::error::{AppError, DomainError};
use crate::state::AppState;

/// The audit action of a refused object access.
pub const ACCESS_DENIED: &str = "access.denied";

/// Checks objects against the scope of the person (or facility system) behind a request.
/// Extract it in a handler (`guard: ObjectGuard`), or build it with [`ObjectGuard::new`] for a
/// facility system's API key.
pub struct ObjectGuard {
    state: AppState,
    route: String,
    actor: Actor,
    scope: Scope,
}

/// `GET /records/patients/{id}`: the route pattern, as the audit event names it.
fn route_of(parts: &Parts) -> String {
    let path = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    format!("{} {path}", parts.method)
}

impl FromRequestParts<AppState> for ObjectGuard {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Caller { p, actor } = Caller::from_request_parts(parts, state).await?;
        Ok(ObjectGuard {
            state: state.clone(),
            route: route_of(parts),
            actor,
            scope: Scope::of(&p),
        })
    }
}

/// The route of a request (for [`ObjectGuard::new`] in handlers without a session).
pub struct RouteName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RouteName {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RouteName(route_of(parts)))
    }
}

impl ObjectGuard {
    /// For a caller without a session (a facility system's API key).
    pub fn new(state: &AppState, route: RouteName, actor: Actor, scope: Scope) -> Self {
        ObjectGuard {
            state: state.clone(),
            route: route.0,
            actor,
            scope,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The object if it exists and is within scope; otherwise `NotFound` (the same for both),
    /// having recorded a refusal in its own transaction. Do not call it while holding a `Tx`
    /// (use [`Self::check_in`]).
    pub async fn check<T: Owned>(&self, found: Option<T>) -> Result<T, DomainError> {
        let obj = found.ok_or(DomainError::NotFound)?;
        if self.scope.reaches(obj.owner()) {
            return Ok(obj);
        }
        let mut tx = self.state.db.begin().await?;
        self.record(&mut tx, &obj).await?;
        tx.commit().await?;
        Err(DomainError::NotFound)
    }

    /// [`Self::check`] inside the caller's transaction: the object and the transaction back, or
    /// `NotFound` — a refusal is recorded and committed on `tx`, a missing object rolls it back.
    /// Look the object up on `tx` before, and write nothing on it before the check.
    pub async fn check_in<T: Owned>(
        &self,
        mut tx: Tx,
        found: Option<T>,
    ) -> Result<(Tx, T), DomainError> {
        let Some(obj) = found else {
            tx.rollback().await?;
            return Err(DomainError::NotFound);
        };
        if self.scope.reaches(obj.owner()) {
            return Ok((tx, obj));
        }
        self.record(&mut tx, &obj).await?;
        tx.commit().await?;
        Err(DomainError::NotFound)
    }

    /// Records a refusal the handler decided itself (an object it may not name otherwise).
    async fn record<T: Owned>(&self, tx: &mut Tx, obj: &T) -> Result<(), DomainError> {
        let target = obj.audit_target();
        tracing::warn!(route = %self.route, object = %target, who = %self.actor.login,
            "object outside the caller's scope");
        let mut details = json!({
            "route": self.route,
            "facility_id": self.scope.facility_id,
            "channel": if self.route.contains(" /api/") { "api" } else { "ui" },
        });
        if let (Some(d), Value::Object(extra)) = (details.as_object_mut(), obj.audit_details()) {
            d.extend(extra);
        }
        audit::record(
            tx,
            self.state.now(),
            &self.actor,
            ACCESS_DENIED,
            &target,
            details,
        )
        .await?;
        Ok(())
    }
}
