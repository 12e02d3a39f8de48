//! The content-addressed blob store: `<data_dir>/blobs/ab/cdef…` named by the SHA-256 of the
//! content. A blob is written to a temporary file, fsync'ed, renamed into place and its directory
//! fsync'ed, so a file under its final name is always complete; it is never changed afterwards.
//!
//! Writers hold [`BlobStore::writing`] from the write until their transaction commits, and the
//! purge holds [`BlobStore::collecting`] while it deletes unreferenced files: a blob that a new
//! document is about to reference can never be collected in between (one process per data dir).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
}

fn gate() -> Arc<RwLock<()>> {
    static GATE: OnceLock<Arc<RwLock<()>>> = OnceLock::new();
    GATE.get_or_init(|| Arc::new(RwLock::new(()))).clone()
}

pub fn is_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl BlobStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("blobs"),
        }
    }

    pub async fn writing(&self) -> OwnedRwLockReadGuard<()> {
        gate().read_owned().await
    }

    pub async fn collecting(&self) -> OwnedRwLockWriteGuard<()> {
        gate().write_owned().await
    }

    pub fn path(&self, hash: &str) -> Option<PathBuf> {
        is_hash(hash).then(|| self.root.join(&hash[..2]).join(&hash[2..]))
    }

    /// Stores `bytes` under their hash (which the caller computed) unless already there.
    pub async fn put(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self
            .path(hash)
            .ok_or_else(|| anyhow::anyhow!("not a sha256: {hash}"))?;
        if hex::encode(Sha256::digest(bytes)) != hash {
            anyhow::bail!("blob content does not match its hash");
        }
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes)).await??;
        Ok(())
    }

    pub async fn get(&self, hash: &str) -> anyhow::Result<Vec<u8>> {
        let path = self
            .path(hash)
            .ok_or_else(|| anyhow::anyhow!("not a sha256: {hash}"))?;
        Ok(tokio::fs::read(path).await?)
    }

    /// Removes a blob's file (the caller has checked that nothing refers to it).
    pub async fn remove(&self, hash: &str) -> anyhow::Result<bool> {
        let Some(path) = self.path(hash) else {
            return Ok(false);
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_is_stored_under_its_hash_and_read_back() {
        let dir = std::env::temp_dir().join(format!("rn-blobs-{}", rand::random::<u64>()));
        let store = BlobStore::new(&dir);
        let bytes = b"%PDF-1.4 test";
        let hash = hex::encode(Sha256::digest(bytes));
        store.put(&hash, bytes).await.expect("put");
        store.put(&hash, bytes).await.expect("put twice is fine");
        assert_eq!(store.get(&hash).await.expect("get"), bytes);
        let path = store.path(&hash).expect("path");
        assert!(path.starts_with(dir.join("blobs").join(&hash[..2])));
        assert!(
            store.put(&"0".repeat(64), bytes).await.is_err(),
            "wrong hash"
        );
        assert!(store.path("../../etc/passwd").is_none());
        assert!(store.remove(&hash).await.expect("remove"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
