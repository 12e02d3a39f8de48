//! The backup schedules of the demo network (X.4, issue 15 item 9): the daily backup the
//! service operator approved, and a monthly full backup with a service stop that the system
//! administrator proposed and that waits for her approval (her dashboard card counts it).
//!
//! The demo is set up as a real installation would be (issue 15 item 9): an age key pair is made
//! in the demo's data directory at its first start (as `rainbownet backup keygen` does) and used
//! as `[backup] recipients` and `identity_file` unless the settings name their own; the network
//! seed then takes one backup and drills it, so that the administrator's cards show a verified
//! backup and a successful drill, and the `backup.drill` job has what it needs at every start.

use std::path::Path;

use super::repo_schedule as repo;
use super::service_schedule::{self, Proposal};
use super::settings::BackupSettings;
use super::{Kind, age_keys, catalog, drill, run};
use crate::audit::Actor;
use crate::config::Settings;
use crate::db::Timestamp;
use crate::portal::Editor;
use crate::state::AppState;

/// The demo's key file, in its data directory (a real installation keeps a second key offline).
const KEY_FILE: &str = "backup-demo-key.txt";

/// Gives the demo's `[backup]` section a key pair made in the data directory (once; reused at
/// later starts) unless the settings configure recipients or an identity file themselves.
pub fn demo_keys(settings: &mut Settings, now: Timestamp) -> anyhow::Result<()> {
    let mut backup: BackupSettings = match settings.sections.get("backup") {
        Some(v) => serde_json::from_value(v.clone())?,
        None => BackupSettings::default(),
    };
    if !backup.recipients.is_empty() || !backup.identity_file.trim().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&settings.paths.data_dir)?;
    let path = settings.paths.data_dir.join(KEY_FILE);
    let public = if path.exists() {
        public_key_of(&path)?
    } else {
        age_keys::generate(&path, now)?
    };
    backup.recipients = vec![public];
    backup.identity_file = path.display().to_string();
    settings.set_section("backup", &backup);
    Ok(())
}

/// The public key `age_keys::generate` wrote beside the secret one.
fn public_key_of(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .map(|k| k.trim().to_string())
        .ok_or_else(|| anyhow::anyhow!("{} に公開鍵の行がありません", path.display()))
}

/// Seeds the schedules once (when there are none), and a first backup and its drill when the
/// keys are configured and there is no backup yet.
pub async fn seed(state: &AppState, now: Timestamp) -> anyhow::Result<()> {
    first_backup(state, now).await?;
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

/// One backup and its restore drill, through the same code as the page's buttons.
async fn first_backup(state: &AppState, now: Timestamp) -> anyhow::Result<()> {
    let settings = state.section::<BackupSettings>();
    let dir = settings.dir_in(&state.settings.paths.data_dir);
    if settings.recipients.is_empty()
        || settings.identity_file.trim().is_empty()
        || !catalog::list(&dir)?.is_empty()
    {
        return Ok(());
    }
    let actor = Actor::system("demo");
    run::backup_now(state, Kind::Daily, "cli", &actor, now).await?;
    drill::drill(state, &actor, now).await?;
    Ok(())
}
