//! `[backup]` settings (documented in `config/rainbownet.example.toml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// age recipients (`age1…` public keys); every archive is encrypted to all of them. The
    /// private keys stay offline. A backup refuses to run without at least one.
    pub recipients: Vec<String>,
    /// An age identity file kept on the server for read-back checks and restore drills (an extra
    /// recipient whose public key is also in `recipients`). Empty: archives are checked by their
    /// SHA-256 only and drills cannot run (the dashboard says so).
    pub identity_file: String,
    /// Where archives (`<id>.tar.zst.age`) and their manifests (`<id>.json`) are written.
    /// Empty: `<data_dir>/backups`.
    pub dir: String,
    /// How long backups are kept (R21.1: one year).
    pub keep_days: u32,
    /// Restore drill interval in days (weekly).
    pub drill_every_days: u32,
    /// A scheduled backup not started this many minutes after its time is not run late but
    /// recorded as missed (and one still running this long after is reported too).
    pub missed_after_minutes: u32,
    /// A monthly backup that stops the service is announced on the portal at least this many
    /// days before (R21.3): its first occurrence is the first one this far after approval.
    pub stop_notice_days: u32,
    /// zstd level (1–19); 3 is zstd's default and keeps up with the disk on 2 cores.
    pub zstd_level: i32,
    /// Programs for the PostgreSQL snapshot and restore (same major version as the server).
    pub pg_dump: String,
    pub pg_restore: String,
    /// The second copy (NAS, removable disk, or an S3-compatible bucket).
    pub second_target: SecondTarget,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            recipients: Vec::new(),
            identity_file: String::new(),
            dir: String::new(),
            keep_days: 365,
            drill_every_days: 7,
            missed_after_minutes: 120,
            stop_notice_days: 7,
            zstd_level: 3,
            pg_dump: "pg_dump".into(),
            pg_restore: "pg_restore".into(),
            second_target: SecondTarget::default(),
        }
    }
}

impl BackupSettings {
    /// The primary backup directory under `data_dir` unless configured.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        if self.dir.trim().is_empty() {
            data_dir.join("backups")
        } else {
            PathBuf::from(self.dir.trim())
        }
    }
}

/// `[backup.second_target]`: `kind` is "" (none), "dir" or "s3".
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecondTarget {
    pub kind: String,
    /// kind = "dir": the directory (a mounted NAS share or removable disk).
    pub path: String,
    /// kind = "s3": endpoint URL (`https://s3.example.jp`, or `http://127.0.0.1:9000`), bucket,
    /// region, key prefix and credentials.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    pub access_key: String,
    pub secret_key: String,
    /// Path-style URLs (`endpoint/bucket/key`), as most self-hosted S3 servers want.
    pub path_style: bool,
    /// Retention of the second copy, in days.
    pub keep_days: u32,
}

impl Default for SecondTarget {
    fn default() -> Self {
        SecondTarget {
            kind: String::new(),
            path: String::new(),
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            prefix: String::new(),
            access_key: String::new(),
            secret_key: String::new(),
            path_style: true,
            keep_days: 365,
        }
    }
}

impl std::fmt::Debug for SecondTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondTarget")
            .field("kind", &self.kind)
            .field("path", &self.path)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field(
                "secret_key",
                &if self.secret_key.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("keep_days", &self.keep_days)
            .finish()
    }
}
