//! PLACEHOLDER until the engine lands (`backup: engine` on main): the contract's signature only.
//! Delete this file when merging the real engine.

use super::{BackupId, Kind};
use crate::audit::Actor;
use crate::db::Timestamp;
use crate::state::AppState;

pub struct Report {
    pub id: BackupId,
}

pub async fn backup_now(
    _state: &AppState,
    _kind: Kind,
    _trigger: &str,
    _actor: &Actor,
    _now: Timestamp,
) -> anyhow::Result<Report> {
    anyhow::bail!("the backup engine is not merged yet")
}
