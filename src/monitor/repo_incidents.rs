//! What incidents (issue 13) read of monitoring and the one thing they change: an alert as an
//! incident is drafted from it, the monitor's last results, and the alert's `incident_id`.
//! Its SQL is here (the alerts' own file belongs to the engine).

use crate::db::{Conn, Timestamp};

/// An alert with its monitor, as an incident shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AlertLink {
    pub id: i64,
    pub monitor_id: i64,
    pub monitor_name: String,
    pub monitor_kind: String,
    pub target: String,
    /// down | up
    pub kind: String,
    pub at: Timestamp,
    pub detail: String,
    pub incident_id: Option<i64>,
}

/// One result of a monitor's slot.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ResultLine {
    pub slot_at: Timestamp,
    pub checked_at: Option<Timestamp>,
    /// up | down | missed
    pub outcome: String,
    pub response_ms: Option<i64>,
    pub status_code: Option<i64>,
    pub detail: Option<String>,
}

const ALERT_COLUMNS: &str = "a.id, a.monitor_id, m.name AS monitor_name, m.kind AS monitor_kind,
    m.target, a.kind, a.at, a.detail, a.incident_id";

pub async fn alert(conn: &mut Conn, id: i64) -> sqlx::Result<Option<AlertLink>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM monitor_alerts a JOIN monitors m ON m.id = a.monitor_id
         WHERE a.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// The alerts linked to an incident, oldest first.
pub async fn alerts_of_incident(conn: &mut Conn, incident_id: i64) -> sqlx::Result<Vec<AlertLink>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM monitor_alerts a JOIN monitors m ON m.id = a.monitor_id
         WHERE a.incident_id = $1 ORDER BY a.at, a.id"
    )))
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await
}

/// A monitor's last `limit` results up to `until`, newest first.
pub async fn last_results(
    conn: &mut Conn,
    monitor_id: i64,
    until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<ResultLine>> {
    sqlx::query_as(
        "SELECT slot_at, checked_at, outcome, response_ms, status_code, detail
         FROM monitor_results WHERE monitor_id = $1 AND slot_at <= $2
         ORDER BY slot_at DESC LIMIT $3",
    )
    .bind(monitor_id)
    .bind(until)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Links an alert to an incident on the caller's transaction (the incident audits it); false
/// when the alert is already linked to an incident.
pub async fn link(conn: &mut Conn, alert_id: i64, incident_id: i64) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE monitor_alerts SET incident_id = $1 WHERE id = $2 AND incident_id IS NULL",
    )
    .bind(incident_id)
    .bind(alert_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// The newest "down" alert not yet linked to an incident (the demo network drafts its closed
/// incident from the monitoring demo's outage).
pub async fn latest_unlinked_down_alert(conn: &mut Conn) -> sqlx::Result<Option<AlertLink>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM monitor_alerts a JOIN monitors m ON m.id = a.monitor_id
         WHERE a.kind = 'down' AND a.incident_id IS NULL ORDER BY a.at DESC, a.id DESC LIMIT 1"
    )))
    .fetch_optional(&mut *conn)
    .await
}
