//! The history of backups as the database records it (`backup list`, the admin page, the
//! dashboard), and the reference that acceptance and software-maintenance records keep to a
//! system backup (R20.3).

use crate::db::{Db, Timestamp};
use crate::error::DomainError;

use super::model::{BackupId, Kind};
use super::repo;
pub use super::repo::BackupRow;

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
