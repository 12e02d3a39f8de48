//! The S3-compatible second target (see [`super::targets`] for the rules every target keeps),
//! through the shared client [`crate::s3::S3Client`]: presigned requests (rusty-s3) sent with
//! reqwest over plain HTTP; one PUT up to [`S3Target::DEFAULT_PART_SIZE`], a multipart upload
//! above it (one part in memory at a time); a HEAD checks the size afterwards. Errors carry the
//! S3 error code and message, never a signed URL or a key.

use std::path::Path;

use anyhow::{Context, ensure};
use rusty_s3::Credentials;

use super::model::{FileEntry, Object};
use super::settings::SecondTarget;
use crate::s3::{S3Client, S3Place};

/// An S3-compatible bucket (path-style or virtual-host URLs), through presigned requests.
pub struct S3Target {
    client: S3Client,
}

impl std::fmt::Debug for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl S3Target {
    /// 16 MiB: a larger file goes up in parts of this size (S3 allows 10,000 parts: 160 GB).
    pub const DEFAULT_PART_SIZE: u64 = S3Client::DEFAULT_PART_SIZE;
    /// S3's smallest part (except the last).
    pub const MIN_PART_SIZE: u64 = S3Client::MIN_PART_SIZE;

    pub fn new(t: &SecondTarget) -> anyhow::Result<S3Target> {
        let endpoint = t.endpoint.trim();
        let url: url::Url = endpoint.parse().with_context(|| {
            format!("[backup.second_target] endpoint が URL ではありません: {endpoint}")
        })?;
        ensure!(
            url.scheme() == "http",
            "[backup.second_target] endpoint は http:// のみ使えます（この版は TLS を持ちません。\
             信頼できる内部ネットワークの中か、TLS を終端するプロキシの内側を指定してください）: {endpoint}"
        );
        ensure!(
            !t.bucket.trim().is_empty(),
            "[backup.second_target] bucket を指定してください"
        );
        ensure!(
            !t.access_key.is_empty() && !t.secret_key.is_empty(),
            "[backup.second_target] access_key と secret_key（環境変数 \
             RAINBOWNET__BACKUP__SECOND_TARGET__SECRET_KEY）を指定してください"
        );
        let place = S3Place {
            endpoint: url,
            bucket: t.bucket.trim().to_string(),
            region: t.region.trim().to_string(),
            path_style: t.path_style,
            prefix: t.prefix.clone(),
        };
        let client = S3Client::new(
            &place,
            Credentials::new(t.access_key.clone(), t.secret_key.clone()),
        )
        .map_err(|e| e.context("[backup.second_target]"))?;
        Ok(S3Target { client })
    }

    /// Uploads above `bytes` go in parts of `bytes` (at least [`Self::MIN_PART_SIZE`]).
    pub fn with_part_size(self, bytes: u64) -> S3Target {
        S3Target {
            client: self.client.with_part_size(bytes),
        }
    }

    pub fn describe(&self) -> String {
        self.client.describe()
    }

    /// The objects directly under the prefix (none of a deeper "folder").
    pub(super) async fn list(&self) -> anyhow::Result<Vec<Object>> {
        Ok(self
            .client
            .list("")
            .await?
            .into_iter()
            .filter(|o| !o.name.contains('/'))
            .map(|o| Object {
                name: o.name,
                size: o.size,
            })
            .collect())
    }

    /// The object's size by HEAD; `None` when it does not exist.
    pub async fn size(&self, name: &str) -> anyhow::Result<Option<u64>> {
        Ok(self.client.head(name).await?.map(|h| h.size))
    }

    pub(super) async fn put(
        &self,
        name: &str,
        src: &Path,
        expect: Option<&FileEntry>,
    ) -> anyhow::Result<u64> {
        if let Some(e) = expect {
            let local = tokio::fs::metadata(src)
                .await
                .with_context(|| format!("{}", src.display()))?
                .len();
            ensure!(
                local == e.size,
                "{}: {local} bytes, the manifest says {}",
                src.display(),
                e.size
            );
        }
        self.client.put_file(name, src).await
    }

    pub(super) async fn get(&self, name: &str, dest: &Path) -> anyhow::Result<u64> {
        self.client.get_to_file(name, dest).await
    }

    pub(super) async fn read(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        self.client
            .get_bytes(name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("S3 GET: HTTP 404 Not Found NoSuchKey"))
    }

    pub(super) async fn delete(&self, name: &str) -> anyhow::Result<()> {
        self.client.delete(name).await
    }
}
