//! The service's own measurements, in Prometheus text at `GET /metrics`: requests and their
//! latency by route pattern (never by concrete URL, so ids do not multiply the series), intake
//! documents, job runs and failures, and the database pool. One [`Metrics`] value per application
//! (kept in `AppState`), so that two applications in one process never mix their counts.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub intake_documents: IntCounterVec,
    pub job_runs: IntCounterVec,
    pub db_connections: IntGaugeVec,
    /// Credential attempts refused by the throttle (429), by kind and limit.
    pub auth_throttled: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("rainbownet".into()), None)
            .unwrap_or_else(|_| Registry::new());
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route pattern and status",
            ),
            &["method", "route", "status"],
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        );
        let intake_documents = IntCounterVec::new(
            Opts::new(
                "intake_documents_total",
                "FHIR documents accepted by the intake API, by how they came",
            ),
            &["channel"],
        );
        let job_runs = IntCounterVec::new(
            Opts::new("job_runs_total", "Background job runs by job and result"),
            &["job", "status"],
        );
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections (in_use, idle, max)",
            ),
            &["state"],
        );
        let auth_throttled = IntCounterVec::new(
            Opts::new(
                "auth_throttled_total",
                "Credential attempts refused by the throttle, by kind (login, second_factor, password_change) and limit (address, global)",
            ),
            &["kind", "limit"],
        );
        let m = Metrics {
            registry,
            requests: requests.expect("static metric definition"),
            latency: latency.expect("static metric definition"),
            intake_documents: intake_documents.expect("static metric definition"),
            job_runs: job_runs.expect("static metric definition"),
            db_connections: db_connections.expect("static metric definition"),
            auth_throttled: auth_throttled.expect("static metric definition"),
        };
        for c in [
            Box::new(m.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.latency.clone()),
            Box::new(m.intake_documents.clone()),
            Box::new(m.job_runs.clone()),
            Box::new(m.db_connections.clone()),
            Box::new(m.auth_throttled.clone()),
        ] {
            if let Err(e) = m.registry.register(c) {
                tracing::error!(error = %e, "metric not registered");
            }
        }
        m
    }

    /// Everything, in the Prometheus text format (0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_text_with_their_labels() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["GET", "/x/{id}", "200"])
            .inc();
        m.latency
            .with_label_values(&["GET", "/x/{id}"])
            .observe(0.003);
        m.job_runs.with_label_values(&["audit.verify", "ok"]).inc();
        let text = m.render();
        assert!(text.contains(
            "rainbownet_http_requests_total{method=\"GET\",route=\"/x/{id}\",status=\"200\"} 1"
        ));
        assert!(text.contains("# TYPE rainbownet_http_request_duration_seconds histogram"));
        assert!(text.contains("rainbownet_job_runs_total{job=\"audit.verify\",status=\"ok\"} 1"));
    }
}
