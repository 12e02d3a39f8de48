//! Alerts: a monitor's state change (up → down after the retries, down → up), raised by the
//! engine on the transaction that records the check.

use super::model::Monitor;
use crate::db::{Timestamp, Tx};

/// Which way a monitor changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    Down,
    Up,
}

impl AlertKind {
    pub fn key(self) -> &'static str {
        match self {
            AlertKind::Down => "down",
            AlertKind::Up => "up",
        }
    }
}

/// Records the alert of `monitor`'s change on the caller's transaction and returns its id.
pub async fn raise(
    tx: &mut Tx,
    monitor: &Monitor,
    kind: AlertKind,
    detail: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO monitor_alerts (monitor_id, kind, at, detail) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(monitor.id)
    .bind(kind.key())
    .bind(now)
    .bind(detail)
    .fetch_one(&mut **tx)
    .await
}
