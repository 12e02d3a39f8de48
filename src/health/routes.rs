use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Liveness: the process answers (the database is `/readyz`'s business).
pub async fn health() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Readiness: the database answers and every migration of this build is applied.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.db.pending_migrations().await {
        Ok(0) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))).into_response(),
        Ok(n) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "migrations_pending", "pending": n})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database_unavailable"})),
            )
                .into_response()
        }
    }
}

/// Prometheus text. A logged-in system administrator reaches it through the access rule; a
/// scraper sends the `[metrics] bearer_token` (an empty setting admits no scraper).
pub async fn metrics(
    State(state): State<AppState>,
    principal: Option<axum::Extension<crate::auth::Principal>>,
    headers: axum::http::HeaderMap,
) -> Response {
    if principal.is_none() {
        let expected = state.settings.metrics.bearer_token.as_bytes();
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .as_bytes();
        let ok = !expected.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(expected, given));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                "unauthorized\n",
            )
                .into_response();
        }
    }
    let pool = state.db.pool();
    let size = i64::from(pool.size());
    let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
    let g = &state.metrics.db_connections;
    g.with_label_values(&["in_use"]).set(size - idle);
    g.with_label_values(&["idle"]).set(idle);
    g.with_label_values(&["max"])
        .set(i64::from(state.settings.database.max_connections));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
