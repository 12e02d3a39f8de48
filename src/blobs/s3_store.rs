//! The S3 store: objects `<s3_prefix>blobs/ab/cdef…` in an S3-compatible bucket, through the
//! shared client [`crate::s3::S3Client`] (see the module's rules for the grace period).

use std::sync::OnceLock;

use anyhow::anyhow;
use rusty_s3::Credentials;

use super::hash::{is_hash, key_of};
use crate::s3::{S3Client, S3Place};

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

#[derive(Debug)]
pub struct S3Blobs {
    client: S3Client,
    grace: jiff::SignedDuration,
}

impl S3Blobs {
    /// A store in the bucket at `place`, with the credentials of the environment.
    pub fn new(place: &S3Place, grace: jiff::SignedDuration) -> anyhow::Result<S3Blobs> {
        let client = S3Client::new(place, credentials()?).map_err(|e| e.context("[blobs]"))?;
        Ok(S3Blobs { client, grace })
    }

    pub fn describe(&self) -> String {
        self.client.describe()
    }

    /// A HEAD first: an object that exists with the right size and was written less than half
    /// the grace period ago is left as it is (a no-op); else the bytes are PUT, which also
    /// renews an old object's age, so a purge running meanwhile cannot collect it.
    pub(super) async fn put(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let key = key_of(hash);
        if let Some(h) = self.client.head(&key).await?
            && h.size == bytes.len() as u64
            && h.age().is_some_and(|age| age < self.grace / 2)
        {
            return Ok(());
        }
        self.client.put_bytes(&key, bytes.to_vec()).await
    }

    /// PUT whatever is there.
    pub(super) async fn replace(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.client.put_bytes(&key_of(hash), bytes.to_vec()).await
    }

    pub(super) async fn get(&self, hash: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.client.get_bytes(&key_of(hash)).await
    }

    pub(super) async fn size(&self, hash: &str) -> anyhow::Result<Option<u64>> {
        Ok(self.client.head(&key_of(hash)).await?.map(|h| h.size))
    }

    /// Whether the object exists and was last written at least the grace period ago.
    pub(super) async fn collectable(&self, hash: &str) -> anyhow::Result<bool> {
        Ok(match self.client.head(&key_of(hash)).await? {
            Some(h) => h.age().is_some_and(|age| age >= self.grace),
            None => false,
        })
    }

    pub(super) async fn remove(&self, hash: &str) -> anyhow::Result<bool> {
        self.client.delete(&key_of(hash)).await?;
        Ok(true)
    }

    pub(super) async fn list(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let mut out: Vec<(String, u64)> = self
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
}
