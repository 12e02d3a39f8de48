//! The backup schedules of the demo network (X.4, issue 15 item 9): the daily backup the
//! service operator approved, and a monthly full backup with a service stop that the system
//! administrator proposed and that waits for her approval (her dashboard card counts it).

use super::repo_schedule as repo;
use super::service_schedule::{self, Proposal};
use super::settings::BackupSettings;
use crate::audit::Actor;
use crate::db::Timestamp;
use crate::portal::Editor;
use crate::state::AppState;

/// Seeds the schedules once (when there are none).
pub async fn seed(state: &AppState, now: Timestamp) -> anyhow::Result<()> {
    let mut conn = state.db.pool().acquire().await?;
    if !repo::list(&mut conn).await?.is_empty() {
        return Ok(());
    }
    drop(conn);
    let admin = Editor {
        login_id: "demo-admin",
        name: "管理 太郎",
        role_label: "システム管理者",
        actor: Actor::system("demo"),
    };
    let city = Editor {
        login_id: "demo-city",
        name: "清須 市子（健康福祉課）",
        role_label: "サービス運用者",
        actor: Actor::system("demo"),
    };
    let daily = Proposal {
        kind: "daily".into(),
        local_time: "02:00".into(),
        day_of_month: String::new(),
        stop_service: None,
        window_minutes: String::new(),
        note: "利用の少ない深夜に差分を取得します。".into(),
    };
    let id = service_schedule::propose(&state.db, &daily, &admin, now).await?;
    let settings = state.section::<BackupSettings>();
    service_schedule::approve(&state.db, id, "承認します。", &city, &settings, now).await?;
    let monthly = Proposal {
        kind: "monthly".into(),
        local_time: "03:00".into(),
        day_of_month: "1".into(),
        stop_service: Some("1".into()),
        window_minutes: "60".into(),
        note: "月初にフルバックアップを取得します。取得中の 1 時間は閲覧のみになります。".into(),
    };
    service_schedule::propose(&state.db, &monthly, &admin, now).await?;
    Ok(())
}
