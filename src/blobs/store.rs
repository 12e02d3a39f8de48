//! [`BlobStore`]: the one way to the blobs, whichever store holds them (see the module's rules).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, anyhow, bail, ensure};
use rusty_s3::Credentials;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::local::LocalStore;
use super::settings::{BlobSettings, StoreKind};
use crate::s3::{S3Client, S3Place};
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

/// Why a read found no good blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} is missing from the store")]
    Missing(String),
    #[error("blob {0} is corrupt: its content does not match its hash")]
    Corrupt(String),
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

/// The SHA-256 of `bytes`, lower-case hex.
pub fn hash_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn check_hash(hash: &str, bytes: &[u8]) -> Result<(), BlobError> {
    if hash_of(bytes) == hash {
        Ok(())
    } else {
        Err(BlobError::Corrupt(hash.to_string()))
    }
}

/// The key of a blob in a bucket (after the configured prefix): `blobs/ab/cdef…`, the same path
/// as in the local directory and in backup archives.
pub fn key_of(hash: &str) -> String {
    format!("blobs/{}/{}", &hash[..2], &hash[2..])
}

static PROCESS_CREDENTIALS: OnceLock<(String, String)> = OnceLock::new();

/// Credentials for every S3 blob store this process builds afterwards, in place of the
/// environment's (for tests, which may not change the environment, and for embedding).
pub fn use_credentials(access_key: &str, secret_key: &str) {
    let _ = PROCESS_CREDENTIALS.set((access_key.to_string(), secret_key.to_string()));
}

fn credentials() -> anyhow::Result<Credentials> {
    if let Some((k, s)) = PROCESS_CREDENTIALS.get() {
        return Ok(Credentials::new(k.clone(), s.clone()));
    }
    Credentials::from_env().ok_or_else(|| {
        anyhow!(
            "[blobs] store = \"s3\" には環境変数 AWS_ACCESS_KEY_ID と AWS_SECRET_ACCESS_KEY が必要です \
             (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    })
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
            StoreKind::S3 => settings
                .built
                .get_or_init(|| {
                    Self::build(StoreKind::S3, settings, data_dir)
                        .map_err(|e| Arc::from(format!("{e:#}")))
                })
                .clone()
                .unwrap_or_else(BlobStore::Broken),
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
        match kind {
            StoreKind::Local => Ok(BlobStore::local(data_dir)),
            StoreKind::S3 => {
                let endpoint = settings.s3_endpoint.trim();
                let url: url::Url = endpoint.parse().with_context(|| {
                    format!("[blobs] s3_endpoint が URL ではありません: {endpoint:?}")
                })?;
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
                let client = S3Client::new(&place, credentials()?)
                    .map_err(|e| e.context("[blobs]"))?;
                Ok(BlobStore::S3(Arc::new(S3Blobs {
                    client,
                    grace: settings.grace(),
                })))
            }
        }
    }

    /// Where the blobs are, for messages (never credentials).
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Local(l) => format!("local:{}", l.root().display()),
            BlobStore::S3(s) => s.client.describe(),
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
        ensure!(is_hash(hash), "not a sha256: {hash}");
        if hash_of(bytes) != hash {
            bail!("blob content does not match its hash");
        }
        match self {
            BlobStore::Local(l) => l.put(hash, bytes).await,
            BlobStore::S3(s) => s.put(hash, bytes).await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// Writes `bytes` under `hash` even when an object of that name is there (a copy found
    /// damaged by `blobs migrate`).
    pub async fn replace(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        ensure!(is_hash(hash), "not a sha256: {hash}");
        if hash_of(bytes) != hash {
            bail!("blob content does not match its hash");
        }
        match self {
            BlobStore::Local(l) => {
                l.remove(hash).await?;
                l.put(hash, bytes).await
            }
            BlobStore::S3(s) => s.client.put_bytes(&key_of(hash), bytes.to_vec()).await,
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// The blob's bytes, checked against its hash ([`BlobError`] when missing or corrupt).
    pub async fn get(&self, hash: &str) -> anyhow::Result<Vec<u8>> {
        ensure!(is_hash(hash), "not a sha256: {hash}");
        let bytes = match self {
            BlobStore::Local(l) => l.get(hash).await?,
            BlobStore::S3(s) => s.client.get_bytes(&key_of(hash)).await?,
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
        match self {
            BlobStore::Local(_) => Ok(is_hash(hash)),
            BlobStore::S3(s) => {
                if !is_hash(hash) {
                    return Ok(false);
                }
                Ok(match s.client.head(&key_of(hash)).await? {
                    Some(h) => h.age().is_some_and(|age| age >= s.grace),
                    None => false,
                })
            }
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// Removes a blob (the caller has checked that nothing refers to it); whether it was there.
    pub async fn remove(&self, hash: &str) -> anyhow::Result<bool> {
        match self {
            BlobStore::Local(l) => l.remove(hash).await,
            BlobStore::S3(s) => {
                if !is_hash(hash) {
                    return Ok(false);
                }
                s.client.delete(&key_of(hash)).await?;
                Ok(true)
            }
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }

    /// Every blob of the store as (hash, size), in hash order.
    pub async fn list(&self) -> anyhow::Result<Vec<(String, u64)>> {
        match self {
            BlobStore::Local(l) => l.list().await,
            BlobStore::S3(s) => {
                let mut out: Vec<(String, u64)> = s
                    .client
                    .list("blobs/")
                    .await?
                    .into_iter()
                    .filter_map(|o| {
                        let rest = o.name.strip_prefix("blobs/")?;
                        let (a, b) = rest.split_once('/')?;
                        let hash = format!("{a}{b}");
                        (a.len() == 2 && is_hash(&hash)).then_some((hash, o.size))
                    })
                    .collect();
                out.sort();
                Ok(out)
            }
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
            BlobStore::S3(s) => Ok(s.client.head(&key_of(hash)).await?.map(|h| h.size)),
            BlobStore::Broken(why) => bail!("blob store: {why}"),
        }
    }
}

/// The S3 store: objects `<prefix>blobs/ab/cdef…`.
#[derive(Debug)]
pub struct S3Blobs {
    client: S3Client,
    grace: jiff::SignedDuration,
}

impl S3Blobs {
    /// A HEAD first: an object that exists with the right size and was written less than half
    /// the grace period ago is left as it is (a no-op); else the bytes are PUT, which also
    /// renews an old object's age, so a purge running meanwhile cannot collect it.
    async fn put(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let key = key_of(hash);
        if let Some(h) = self.client.head(&key).await?
            && h.size == bytes.len() as u64
            && h.age().is_some_and(|age| age < self.grace / 2)
        {
            return Ok(());
        }
        self.client.put_bytes(&key, bytes.to_vec()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_is_stored_under_its_hash_and_read_back() {
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
        assert!(l.path("../../etc/passwd").is_none());
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
    fn a_blob_key_is_its_local_path() {
        let h = hash_of(b"x");
        assert_eq!(key_of(&h), format!("blobs/{}/{}", &h[..2], &h[2..]));
    }
}
