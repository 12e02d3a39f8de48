//! The checks themselves: ICMP echo (`ping.rs`, a TCP connect check when the process may not
//! open ICMP sockets), HTTP(S) (`http.rs`) and the certificate's expiry (`cert.rs`). A check
//! never fails as a Rust error: whatever goes wrong is a "down" [`Probe`] with a Japanese detail.
//! One [`Checker`] is shared by all checks of a run (one ICMP socket, one HTTP connection pool).

mod cert;
mod http;
mod ping;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use super::model::{Kind, Monitor};
use super::settings::MonitorSettings;
use crate::db::Timestamp;

pub use cert::not_after;

/// What one check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub up: bool,
    pub response_ms: Option<i64>,
    pub status_code: Option<i64>,
    pub cert_days_left: Option<i64>,
    /// Why it failed (empty when it did not).
    pub detail: String,
    /// The monitor's note after this check (why ping fell back to TCP), None for no note.
    pub note: Option<String>,
}

impl Probe {
    fn down(detail: impl Into<String>) -> Probe {
        Probe {
            up: false,
            response_ms: None,
            status_code: None,
            cert_days_left: None,
            detail: detail.into(),
            note: None,
        }
    }
}

/// How the checks of one run reach their targets.
#[derive(Clone)]
pub struct Checker {
    inner: Arc<Inner>,
}

struct Inner {
    http: Result<reqwest::Client, String>,
    icmp: ping::Icmp,
    seq: AtomicU16,
    tcp_port: u16,
}

impl Checker {
    /// Opens the ICMP sockets (or notes why not) and builds the HTTP client. Call it inside the
    /// runtime.
    pub fn new(settings: &MonitorSettings) -> Checker {
        crate::tls::install_provider();
        Checker {
            inner: Arc::new(Inner {
                http: http::client(settings),
                icmp: ping::Icmp::open(settings),
                seq: AtomicU16::new(0),
                tcp_port: settings.tcp_port,
            }),
        }
    }

    /// Whether ping checks go out as ICMP echo (false: TCP connect checks, see the note).
    pub fn icmp_available(&self) -> bool {
        self.inner.icmp.available()
    }

    /// Checks `monitor` once; `now` dates the certificate's days left.
    pub async fn check(&self, monitor: &Monitor, now: Timestamp) -> Probe {
        let timeout =
            std::time::Duration::from_millis(monitor.timeout_ms.clamp(100, 120_000) as u64);
        match monitor.kind() {
            Kind::Ping => {
                let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
                self.inner
                    .icmp
                    .check(
                        &monitor.target,
                        self.inner.tcp_port,
                        seq,
                        monitor.id,
                        timeout,
                    )
                    .await
            }
            Kind::Http => match &self.inner.http {
                Ok(client) => http::check(client, monitor, timeout, now).await,
                Err(e) => Probe::down(format!("HTTP クライアントを準備できません: {e}")),
            },
        }
    }
}
