//! The public status on the log-in page: one word for the whole service, computed from the
//! monitors' states and the portal's maintenance window, with no internal detail (no names,
//! targets or addresses).

use super::repo_uptime;
use crate::db::Timestamp;
use crate::state::AppState;

/// What the log-in page says about the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicStatus {
    /// Every watched monitor is up (or still being checked).
    Normal,
    /// At least one watched monitor is down.
    Degraded,
    /// An approved portal window covers now.
    Maintenance,
}

impl PublicStatus {
    pub fn label(self) -> &'static str {
        match self {
            PublicStatus::Normal => "正常",
            PublicStatus::Degraded => "一部に障害",
            PublicStatus::Maintenance => "メンテナンス中",
        }
    }

    pub fn note(self) -> &'static str {
        match self {
            PublicStatus::Normal => "サービスは通常どおりご利用いただけます。",
            PublicStatus::Degraded => {
                "一部のサービスで障害が発生しています。復旧に努めていますので、しばらくお待ちください。"
            }
            PublicStatus::Maintenance => {
                "保守作業のため、サービスの全部または一部を停止しています。予定はお知らせをご覧ください。"
            }
        }
    }

    /// The badge's tone (`badge-ok` …).
    pub fn tone(self) -> &'static str {
        match self {
            PublicStatus::Normal => "ok",
            PublicStatus::Degraded => "alert",
            PublicStatus::Maintenance => "warn",
        }
    }
}

/// The service's status at `now`; None when nothing is watched and no window is on (the page
/// then says nothing rather than claim 正常).
pub async fn public_status(state: &AppState, now: Timestamp) -> sqlx::Result<Option<PublicStatus>> {
    let mut conn = state.db.pool().acquire().await?;
    if crate::portal::maintenance_window_at(&mut conn, now)
        .await?
        .is_some()
    {
        return Ok(Some(PublicStatus::Maintenance));
    }
    let (watched, down) = repo_uptime::watched_and_down(&mut conn).await?;
    Ok(match (watched, down) {
        (0, _) => None,
        (_, 0) => Some(PublicStatus::Normal),
        _ => Some(PublicStatus::Degraded),
    })
}
