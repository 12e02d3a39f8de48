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
