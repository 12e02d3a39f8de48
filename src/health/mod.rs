//! Health and metrics for the people and machines that watch the service (R22.1 monitoring
//! targets this too): `GET /healthz` (the process answers), `GET /readyz` (the database answers
//! and its migrations are current; 503 otherwise) and `GET /metrics` (Prometheus text: requests
//! and latency by route, intake documents, job runs and failures, database pool use), readable by
//! system administrators or with the bearer token of `[metrics]`.

mod routes;

use crate::auth::Role;
use crate::domain::Domain;
use crate::web::{Access, Routes};

/// Who reads `/metrics` in the browser (scrapers use the bearer token).
pub const METRICS_READERS: &[Role] = &[Role::SystemAdmin];

pub fn domain() -> Domain {
    Domain::new("health").routes(
        Routes::new()
            .get("/healthz", Access::Public, routes::health)
            .get("/readyz", Access::Public, routes::ready)
            .get(
                "/metrics",
                Access::RolesOrBearer(METRICS_READERS),
                routes::metrics,
            ),
    )
}
