//! Backup identities, kinds and the manifest (pure; unit-tested).
//!
//! Archive layout (every path relative to a data directory, so that extracting the archives of a
//! chain in order into an empty directory gives a data directory `serve` can start on):
//! - `rainbownet.db` (SQLite snapshot) or `db/rainbownet.pgdump` (pg_dump custom format);
//! - `blobs/…` (the content-addressed store; a daily carries only the blobs new since its parent);
//! - `config/rainbownet.toml` (the settings in effect, with secrets replaced by `***`);
//! - system backups only: `system/about.json` and `system/audit/anchor.log` (a copy, out of the
//!   live log's place);
//! - `manifests/<id>.json` (this backup's manifest, the last entry; also written beside the
//!   archive as `<id>.json`).
//!
//! Never in an archive: `keys/` (kept apart on purpose, see README), `backups/`, `audit/anchor.log`.
//! A restore adds `manifests/<id>.anchor` (the anchor line) and starts `audit/anchor.log` with it.

use serde::{Deserialize, Serialize};

/// monthly: full (database + every blob); daily: database + blobs new since the parent; system:
/// configuration and system data (R20.3), no application data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Monthly,
    Daily,
    System,
}

impl Kind {
    pub fn key(self) -> &'static str {
        match self {
            Kind::Monthly => "monthly",
            Kind::Daily => "daily",
            Kind::System => "system",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Monthly => "月次（フル）",
            Kind::Daily => "日次（差分）",
            Kind::System => "システム",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Monthly, Kind::Daily, Kind::System]
            .into_iter()
            .find(|k| k.key() == s)
    }
}

/// `20261127T030000Z-daily`: UTC time of the start, then the kind; sorts by time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackupId(String);

impl BackupId {
    pub fn new(started: jiff::Timestamp, kind: Kind) -> BackupId {
        BackupId(format!(
            "{}-{}",
            started.strftime("%Y%m%dT%H%M%SZ"),
            kind.key()
        ))
    }

    pub fn parse(s: &str) -> Result<BackupId, String> {
        let (time, kind) = s
            .split_once('-')
            .ok_or_else(|| format!("バックアップIDの形式が正しくありません: {s}"))?;
        let ok_time = time.len() == 16
            && time.ends_with('Z')
            && time.as_bytes()[8] == b'T'
            && time
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 8 || i == 15 || b.is_ascii_digit());
        if !ok_time || Kind::parse(kind).is_none() {
            return Err(format!("バックアップIDの形式が正しくありません: {s}"));
        }
        Ok(BackupId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> Kind {
        self.0
            .rsplit('-')
            .next()
            .and_then(Kind::parse)
            .unwrap_or(Kind::Daily)
    }

    /// The archive's file name.
    pub fn archive_name(&self) -> String {
        format!("{}.tar.zst.age", self.0)
    }

    /// The manifest's file name beside the archive.
    pub fn manifest_name(&self) -> String {
        format!("{}.json", self.0)
    }
}

impl TryFrom<String> for BackupId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        BackupId::parse(&s)
    }
}

impl From<BackupId> for String {
    fn from(id: BackupId) -> String {
        id.0
    }
}

impl std::fmt::Display for BackupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One file in the archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What the snapshot holds (read from the snapshot itself, so they agree with it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub documents: i64,
    pub patients: i64,
    pub accounts: i64,
    pub audit_rows: i64,
}

/// The manifest of one backup: inside the archive (`manifests/<id>.json`) and beside it
/// (`<id>.json`, with `archive` filled in: the archive's own size and SHA-256, which the copy
/// inside cannot know).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: BackupId,
    pub kind: Kind,
    /// The monthly full this backup builds on (itself for a monthly; none for system).
    pub chain: Option<BackupId>,
    /// The previous backup of the chain (a daily's blobs are those new since it).
    pub parent: Option<BackupId>,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: String,
    pub software_version: String,
    /// The newest migration applied in the snapshot.
    pub schema_version: i64,
    /// "sqlite" or "postgres".
    pub backend: String,
    pub counts: Counts,
    /// The audit chain head in the snapshot, and the sealed anchor line
    /// (`audit verify --anchor` reads it).
    pub audit_head_seq: i64,
    pub audit_head_hash: String,
    pub audit_anchor: String,
    pub files: Vec<FileEntry>,
    /// Filled in only in the copy beside the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<FileEntry>,
}

pub const MANIFEST_FORMAT: u32 = 1;

/// One object in a target's listing (its name without the prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub name: String,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_names_its_time_and_kind_and_sorts_by_time() {
        let t: jiff::Timestamp = "2026-11-27T03:00:00Z".parse().expect("time");
        let id = BackupId::new(t, Kind::Daily);
        assert_eq!(id.as_str(), "20261127T030000Z-daily");
        assert_eq!(id.kind(), Kind::Daily);
        assert_eq!(BackupId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(id.archive_name(), "20261127T030000Z-daily.tar.zst.age");
        let later = BackupId::new(t + jiff::SignedDuration::from_hours(24), Kind::Monthly);
        assert!(id < later);
    }

    #[test]
    fn a_malformed_id_is_refused_not_used_as_a_path() {
        for bad in [
            "",
            "x",
            "../../etc-daily",
            "20261127T030000Z-weekly",
            "20261127T030000Z",
        ] {
            assert!(BackupId::parse(bad).is_err(), "{bad}");
        }
    }
}
