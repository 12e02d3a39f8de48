//! Same keys on every instance (issue 16 items 2-3): two instances on one database must seal the
//! audit chain, read TOTP secrets and check form tokens with the same keys, or one instance's
//! seals fail the other's check and its sessions' forms are refused. Each start compares its
//! key sets with the key ids recorded in `key_fingerprints` (the id is the first 16 hex digits
//! of the key's SHA-256, the name audit rows already carry; never the key):
//! - nothing recorded for a purpose: this start records its current key's id;
//! - the recorded id is in this instance's set: fine, and when this instance's current key is a
//!   newer one (a rotation: new key first, old key kept) the record moves to it;
//! - the recorded id is not in this instance's set: the start is refused with a message that
//!   says which key set differs (another instance uses other keys).

use anyhow::bail;

use super::keys::PURPOSES;
use super::{Db, Timestamp};

pub async fn check_shared_keys(db: &Db, now: Timestamp) -> anyhow::Result<()> {
    let mut conn = db.pool().acquire().await?;
    for purpose in PURPOSES {
        let set = db.keys().set(purpose);
        let current = set.current().id();
        sqlx::query(
            "INSERT INTO key_fingerprints (purpose, key_id, recorded_at) VALUES ($1, $2, $3)
             ON CONFLICT (purpose) DO NOTHING",
        )
        .bind(purpose)
        .bind(current)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let recorded: String =
            sqlx::query_scalar("SELECT key_id FROM key_fingerprints WHERE purpose = $1")
                .bind(purpose)
                .fetch_one(&mut *conn)
                .await?;
        if recorded == current {
            continue;
        }
        if set.by_id(&recorded).is_none() {
            bail!(
                "鍵 {purpose} がこのデータベースを使う他のインスタンスと異なります（記録済みの鍵 ID {recorded}、この起動の鍵 ID {current}）。すべてのインスタンスで同じ鍵ファイル（data_dir/keys/{purpose}.key）または RAINBOWNET_KEY_{} を使ってください。",
                purpose.to_uppercase()
            );
        }
        sqlx::query("UPDATE key_fingerprints SET key_id = $1, recorded_at = $2 WHERE purpose = $3")
            .bind(current)
            .bind(now)
            .bind(purpose)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
