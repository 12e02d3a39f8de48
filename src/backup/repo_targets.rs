//! The SQL of the copy to the second target and of pruning (the `backups` columns they own).

use crate::db::{Conn, Timestamp};

use super::model::BackupId;

/// The outcome of a copy to the second target ("ok" or "failed: <why>"); false when the backup
/// has no row (it was taken before this database, or the row is the engine's still to write).
pub async fn record_copy(
    conn: &mut Conn,
    id: &BackupId,
    at: Timestamp,
    result: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE backups SET copied_at = $1, copy_result = $2 WHERE id = $3")
        .bind(at)
        .bind(result)
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A backup removed from the primary directory.
pub async fn mark_pruned(conn: &mut Conn, id: &BackupId, at: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE backups SET state = 'pruned', pruned_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
