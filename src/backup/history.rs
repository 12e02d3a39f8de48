//! The history of backups as the database records it (`backup list`, the admin page, the
//! dashboard), and the reference that acceptance and software-maintenance records keep to a
//! system backup (R20.3).

use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp};
use crate::error::DomainError;
use crate::state::AppState;

use super::model::{BackupId, Kind};
pub use super::repo::BackupRow;
use super::settings::BackupSettings;
use super::{repo, repo_history};

/// Every recorded backup, oldest first.
pub async fn list(db: &Db) -> anyhow::Result<Vec<BackupRow>> {
    let mut conn = db.pool().acquire().await?;
    Ok(repo::list(&mut conn).await?)
}

/// A finished system backup, as a record that links to it shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemBackupRef {
    pub id: BackupId,
    pub finished_at: Timestamp,
    pub size_bytes: i64,
    pub sha256: String,
}

/// The system backup `id` (typed by a person or kept in a record), if it finished well: an
/// acceptance or maintenance record links to it by this (R20.3, R20.4).
pub async fn system_backup_ref(db: &Db, id: &str) -> Result<SystemBackupRef, DomainError> {
    let id = BackupId::parse(id.trim()).map_err(|m| DomainError::invalid("backup_id", m))?;
    if id.kind() != Kind::System {
        return Err(DomainError::invalid(
            "backup_id",
            format!("{id} はシステムバックアップではありません。"),
        ));
    }
    let mut conn = db.pool().acquire().await.map_err(anyhow::Error::from)?;
    let row = repo::find(&mut conn, id.as_str())
        .await?
        .ok_or(DomainError::NotFound)?;
    match (
        row.state.as_str(),
        row.finished_at,
        row.size_bytes,
        row.sha256,
    ) {
        ("ok", Some(finished_at), Some(size_bytes), Some(sha256)) => Ok(SystemBackupRef {
            id,
            finished_at,
            size_bytes,
            sha256,
        }),
        _ => Err(DomainError::invalid(
            "backup_id",
            format!("システムバックアップ {id} は正常に完了していません。"),
        )),
    }
}

/// Checks the archive of a recorded backup again (its SHA-256; every file when `identity_file`
/// is set), records the outcome on its row and audits it (`backup.verified` /
/// `backup.verify_failed`). A backup the history does not know is `NotFound`. The returned text
/// says what was found, either way.
pub async fn verify_recorded(
    state: &AppState,
    id: &BackupId,
    actor: &Actor,
    now: Timestamp,
) -> Result<String, DomainError> {
    let mut conn = state.db.pool().acquire().await?;
    repo::find(&mut conn, id.as_str())
        .await?
        .ok_or(DomainError::NotFound)?;
    drop(conn);
    let settings = state.section::<BackupSettings>();
    let dir = settings.dir_in(&state.settings.paths.data_dir);
    let identity = settings.identity_file.trim();
    let identity = (!identity.is_empty()).then(|| std::path::PathBuf::from(identity));
    let checked = id.clone();
    let result = tokio::task::spawn_blocking(move || {
        super::verify::verify(&dir, &checked, identity.as_deref())
    })
    .await
    .map_err(|e| DomainError::Internal(e.into()))?;
    let (ok, msg) = match &result {
        Ok(c) => (true, format!("{id} を検査しました: {}", c.summary())),
        Err(e) => (false, format!("{id} の検査で異常が見つかりました: {e:#}")),
    };
    let mut tx = state.db.begin().await?;
    repo_history::record_verify(&mut tx, id.as_str(), ok, &msg, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        if ok {
            "backup.verified"
        } else {
            "backup.verify_failed"
        },
        &format!("backup:{id}"),
        serde_json::json!({"ok": ok, "detail": msg}),
    )
    .await?;
    tx.commit().await?;
    Ok(msg)
}
