//! `[blobs]`: where attachments are kept. Credentials for S3 are never in this section: they come
//! from the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`)
//! environment variables.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::s3_store::S3Blobs;

/// Which store holds the blobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Files under `<data_dir>/blobs` (one instance per data directory).
    #[default]
    Local,
    /// An S3-compatible bucket (several instances may share it).
    S3,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Local => "local",
            StoreKind::S3 => "s3",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobSettings {
    /// `"local"` (default) or `"s3"`.
    pub store: StoreKind,
    /// `http(s)://host:port` of the S3-compatible service (AWS: `https://s3.<region>.amazonaws.com`).
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_region: String,
    /// Path-style URLs (`endpoint/bucket/key`: MinIO, Ceph, moto); off for AWS virtual-host URLs.
    pub s3_path_style: bool,
    /// Put before every key (`""`: keys are `blobs/ab/cdef…`).
    pub s3_prefix: String,
    /// An unreferenced blob is deleted by a purge only when it was last written at least this
    /// long ago (by the object store's own clock); an intake rewrites an existing blob older than
    /// half of it. See the module's rules.
    pub collect_grace_minutes: u32,
    /// The built store, once per application (not a setting).
    #[serde(skip)]
    pub(super) built: OnceLock<Result<Arc<S3Blobs>, Arc<str>>>,
}

impl Default for BlobSettings {
    fn default() -> Self {
        BlobSettings {
            store: StoreKind::Local,
            s3_endpoint: String::new(),
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_path_style: true,
            s3_prefix: String::new(),
            collect_grace_minutes: 60,
            built: OnceLock::new(),
        }
    }
}

impl BlobSettings {
    /// The grace period of [`Self::collect_grace_minutes`].
    pub fn grace(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(i64::from(self.collect_grace_minutes))
    }
}
