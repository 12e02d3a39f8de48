//! [`BlobStore`]: the one way to the blobs, whichever store holds them (see the module's rules).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, anyhow, bail, ensure};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::hash::{BlobError, check_hash, hash_of, is_hash};
use super::local::LocalStore;
use super::s3_store::S3Blobs;
use super::settings::{BlobSettings, StoreKind};
use crate::s3::S3Place;
use crate::state::AppState;

/// The content-addressed store of attachments: a local directory or an S3-compatible bucket.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub enum BlobStore {
    Local(LocalStore),
    S3(Arc<S3Blobs>),
    /// A store that could not be built (its every call fails with why); `serve` refuses to start
    /// with one, so only a misconfigured CLI run meets it.
    Broken(Arc<str>),
}

fn gate() -> Arc<RwLock<()>> {
    static GATE: OnceLock<Arc<RwLock<()>>> = OnceLock::new();
    GATE.get_or_init(|| Arc::new(RwLock::new(()))).clone()
}

impl BlobStore {
    /// The store the application is configured with (`[blobs] store`), built once.
    pub fn of(state: &AppState) -> BlobStore {
        let settings = state.section::<BlobSettings>();
        Self::configured(&settings, &state.settings.paths.data_dir)
    }

    /// The configured store for `data_dir`; an S3 store is built once per settings value.
    pub fn configured(settings: &BlobSettings, data_dir: &Path) -> BlobStore {
        match settings.store {
            StoreKind::Local => BlobStore::local(data_dir),
            StoreKind::S3 => match settings.built.get_or_init(|| {
                s3(settings)
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}").into())
            }) {
                Ok(s) => BlobStore::S3(Arc::clone(s)),
                Err(why) => BlobStore::Broken(Arc::clone(why)),
            },
        }
    }

    /// The directory store under `data_dir`.
    pub fn local(data_dir: &Path) -> BlobStore {
        BlobStore::Local(LocalStore::new(data_dir))
    }

    /// A store of `kind` from `settings` (whatever `settings.store` says: `blobs migrate` builds
    /// the other one); fails on a bad endpoint, an empty bucket or missing credentials.
    pub fn build(
        kind: StoreKind,
        settings: &BlobSettings,
        data_dir: &Path,
    ) -> anyhow::Result<BlobStore> {
        Ok(match kind {
            StoreKind::Local => BlobStore::local(data_dir),
            StoreKind::S3 => BlobStore::S3(Arc::new(s3(settings)?)),
        })
    }

    /// Where the blobs are, for messages (never credentials).
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Local(l) => format!("local:{}", l.root().display()),
            BlobStore::S3(s) => s.describe(),
            BlobStore::Broken(why) => format!("broken: {why}"),
        }
    }

    /// Held by a writer from before its `put` until its transaction commits (in this process).
    pub async fn writing(&self) -> OwnedRwLockReadGuard<()> {
        gate().read_owned().await
    }

    /// Held by a purge while it looks for and deletes unreferenced blobs (in this process).
    pub async fn collecting(&self) -> OwnedRwLockWriteGuard<()> {
        gate().write_owned().await
    }

    /// Stores `bytes` under `hash` (which the caller computed; it is checked) unless already
    /// there. Call it before the transaction that references the blob, never inside one.
    pub async fn put(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        checked(hash, bytes)?;
        match self {
            BlobStore::Local(l) => l.put(hash, bytes).await,
            BlobStore::S3(s) => s.put(hash, bytes).await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// Writes `bytes` under `hash` even when an object of that name is there (a copy found
    /// damaged by `blobs migrate`).
    pub async fn replace(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        checked(hash, bytes)?;
        match self {
            BlobStore::Local(l) => {
                l.remove(hash).await?;
                l.put(hash, bytes).await
            }
            BlobStore::S3(s) => s.replace(hash, bytes).await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// The blob's bytes, checked against its hash ([`BlobError`] when missing or corrupt).
    pub async fn get(&self, hash: &str) -> anyhow::Result<Vec<u8>> {
        ensure!(is_hash(hash), "not a sha256: {hash}");
        let bytes = match self {
            BlobStore::Local(l) => l.get(hash).await?,
            BlobStore::S3(s) => s.get(hash).await?,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        };
        let bytes = bytes.ok_or_else(|| BlobError::Missing(hash.to_string()))?;
        check_hash(hash, &bytes)?;
        Ok(bytes)
    }

    /// Whether a purge may delete the blob now (the caller then checks that nothing refers to
    /// it, and only then calls [`Self::remove`]): always for the local store; for S3 when the
    /// object exists and was last written at least the grace period ago.
    pub async fn collectable(&self, hash: &str) -> anyhow::Result<bool> {
        if !is_hash(hash) {
            return Ok(false);
        }
        match self {
            BlobStore::Local(_) => Ok(true),
            BlobStore::S3(s) => s.collectable(hash).await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// Removes a blob (the caller has checked that nothing refers to it); whether it was there.
    pub async fn remove(&self, hash: &str) -> anyhow::Result<bool> {
        if !is_hash(hash) {
            return Ok(false);
        }
        match self {
            BlobStore::Local(l) => l.remove(hash).await,
            BlobStore::S3(s) => s.remove(hash).await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// Every blob of the store as (hash, size), in hash order.
    pub async fn list(&self) -> anyhow::Result<Vec<(String, u64)>> {
        match self {
            BlobStore::Local(l) => l.list().await,
            BlobStore::S3(s) => s.list().await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// Whether a blob is stored (and its size), without reading it.
    pub async fn size(&self, hash: &str) -> anyhow::Result<Option<u64>> {
        ensure!(is_hash(hash), "not a sha256: {hash}");
        match self {
            BlobStore::Local(l) => {
                let path = l.path(hash).ok_or_else(|| anyhow!("not a sha256"))?;
                match tokio::fs::metadata(path).await {
                    Ok(m) => Ok(Some(m.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            BlobStore::S3(s) => s.size(hash).await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }
}

fn checked(hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
    ensure!(is_hash(hash), "not a sha256: {hash}");
    ensure!(
        hash_of(bytes) == hash,
        "blob content does not match its hash"
    );
    Ok(())
}

/// The S3 store of `[blobs]` (validated here, so that a bad setting names its key).
fn s3(settings: &BlobSettings) -> anyhow::Result<S3Blobs> {
    let endpoint = settings.s3_endpoint.trim();
    let url: url::Url = endpoint
        .parse()
        .with_context(|| format!("[blobs] s3_endpoint が URL ではありません: {endpoint:?}"))?;
    ensure!(
        matches!(url.scheme(), "http" | "https"),
        "[blobs] s3_endpoint は http:// か https:// で始めてください: {endpoint}"
    );
    ensure!(
        !settings.s3_bucket.trim().is_empty(),
        "[blobs] s3_bucket を指定してください"
    );
    let place = S3Place {
        endpoint: url,
        bucket: settings.s3_bucket.trim().to_string(),
        region: settings.s3_region.trim().to_string(),
        path_style: settings.s3_path_style,
        prefix: settings.s3_prefix.clone(),
    };
    S3Blobs::new(&place, settings.grace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_is_stored_under_its_hash_read_back_checked_and_removed() {
        let dir = std::env::temp_dir().join(format!("rn-blobs-{}", rand::random::<u64>()));
        let store = BlobStore::local(&dir);
        let bytes = b"%PDF-1.4 test";
        let hash = hash_of(bytes);
        store.put(&hash, bytes).await.expect("put");
        store.put(&hash, bytes).await.expect("put twice is fine");
        assert_eq!(store.get(&hash).await.expect("get"), bytes);
        let BlobStore::Local(l) = &store else {
            panic!("local")
        };
        let path = l.path(&hash).expect("path");
        assert!(path.starts_with(dir.join("blobs").join(&hash[..2])));
        assert!(
            store.put(&"0".repeat(64), bytes).await.is_err(),
            "wrong hash"
        );
        assert_eq!(
            store.list().await.expect("list"),
            vec![(hash.clone(), bytes.len() as u64)]
        );
        std::fs::write(&path, b"tampered").expect("tamper");
        let err = store.get(&hash).await.expect_err("corrupt");
        assert!(
            matches!(err.downcast_ref::<BlobError>(), Some(BlobError::Corrupt(_))),
            "{err:#}"
        );
        assert!(store.remove(&hash).await.expect("remove"));
        let err = store.get(&hash).await.expect_err("missing");
        assert!(matches!(
            err.downcast_ref::<BlobError>(),
            Some(BlobError::Missing(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_s3_store_needs_an_endpoint_and_a_bucket() {
        let mut s = BlobSettings {
            store: StoreKind::S3,
            ..BlobSettings::default()
        };
        let dir = Path::new("/nonexistent");
        assert!(matches!(
            BlobStore::configured(&s, dir),
            BlobStore::Broken(_)
        ));
        s = BlobSettings {
            store: StoreKind::S3,
            s3_endpoint: "ftp://example".into(),
            s3_bucket: "b".into(),
            ..BlobSettings::default()
        };
        let err = BlobStore::build(StoreKind::S3, &s, dir).expect_err("ftp");
        assert!(err.to_string().contains("s3_endpoint"), "{err:#}");
    }
}
