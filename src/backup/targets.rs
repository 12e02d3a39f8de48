//! Where archives are kept, and the copy to the second target (R21.1, MHLW guideline 6.0: the
//! primary is not the only copy).
//!
//! A [`Target`] is a directory (the primary `[backup] dir`, or a NAS share / removable disk) or an
//! S3-compatible bucket; both copy and prune go through its `list` / `put` / `get` / `read` /
//! `delete`. Rules:
//! - [`copy`] puts the archive first and its sidecar manifest (`<id>.json`) last, so a target
//!   whose listing shows a manifest holds the whole backup.
//! - Directory: each file is written under a hidden temporary name (`.<name>.partial`), fsynced,
//!   read back and checked (size and SHA-256 of the archive against the sidecar's `archive`
//!   entry), then renamed into place and the directory fsynced: a half-copied file never looks
//!   complete.
//! - S3: presigned requests (rusty-s3) sent with reqwest over plain HTTP (no TLS in this build: the
//!   endpoint must be inside a trusted network or behind a TLS-terminating proxy, see README). A
//!   file up to [`S3Target::DEFAULT_PART_SIZE`] is one PUT; a larger one is a multipart upload, one
//!   part in memory at a time, so a many-GB archive never sits in memory. After the upload a HEAD
//!   must report the expected size.
//! - The credentials never appear in a log, an error or an audit event: errors are built from the
//!   S3 error code and message and reqwest's errors without their (signed) URL, and anything that
//!   still contains the access or secret key is masked.
//! - The outcome is recorded on the `backups` row (`copied_at`, `copy_result` "ok" or "failed:
//!   <why>") and audited (`backup.copied` / `backup.copy_failed`) in one transaction. A failed copy
//!   never touches the primary.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail, ensure};
use sha2::{Digest, Sha256};

use super::model::{BackupId, FileEntry, Manifest, Object};
use super::repo_targets;
pub use super::s3::S3Target;
use super::settings::{BackupSettings, SecondTarget};
use crate::audit::{self, Actor};
use crate::state::AppState;

/// A place that keeps archives and their manifests.
#[derive(Debug)]
pub enum Target {
    Dir(PathBuf),
    S3(Box<S3Target>),
}

impl Target {
    /// The configured second target; `None` when `kind` is empty (no second copy).
    pub fn second(t: &SecondTarget) -> anyhow::Result<Option<Target>> {
        match t.kind.trim() {
            "" => Ok(None),
            "dir" => {
                let path = t.path.trim();
                ensure!(
                    !path.is_empty(),
                    "[backup.second_target] kind = \"dir\" には path の指定が必要です"
                );
                Ok(Some(Target::Dir(PathBuf::from(path))))
            }
            "s3" => Ok(Some(Target::S3(Box::new(S3Target::new(t)?)))),
            other => bail!(
                "[backup.second_target] kind は \"\"、\"dir\"、\"s3\" のいずれかです（\"{other}\" は使えません）"
            ),
        }
    }

    /// The configured second target of an installation whose primary directory is `primary`;
    /// refuses a directory that is the primary itself (its copy would be no second copy, and the
    /// shorter retention would prune both).
    pub fn second_of(settings: &BackupSettings, data_dir: &Path) -> anyhow::Result<Option<Target>> {
        let t = Target::second(&settings.second_target)?;
        if let Some(Target::Dir(path)) = &t {
            let primary = settings.dir_in(data_dir);
            let same = match (path.canonicalize(), primary.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => path == &primary,
            };
            ensure!(
                !same,
                "[backup.second_target] path が主の保管先 {} と同じです。別の場所（NAS、外付けディスク）を指定してください",
                primary.display()
            );
        }
        Ok(t)
    }

    /// Where it is, for messages and audit events (never the credentials).
    pub fn describe(&self) -> String {
        match self {
            Target::Dir(p) => format!("dir:{}", p.display()),
            Target::S3(s) => s.describe(),
        }
    }

    /// Every object (archives, manifests, anything else) directly in the target.
    pub async fn list(&self) -> anyhow::Result<Vec<Object>> {
        match self {
            Target::Dir(dir) => {
                let dir = dir.clone();
                blocking(move || dir_list(&dir)).await
            }
            Target::S3(s) => s.list().await,
        }
    }

    /// Stores the local file `src` as `name`; `expect` (size and SHA-256) is checked against what
    /// the target holds afterwards (a directory: size and hash read back; S3: the size by HEAD).
    /// Returns the stored size.
    pub async fn put(
        &self,
        name: &str,
        src: &Path,
        expect: Option<&FileEntry>,
    ) -> anyhow::Result<u64> {
        plain_name(name)?;
        let expect = expect.cloned();
        match self {
            Target::Dir(dir) => {
                let (dir, name, src) = (dir.clone(), name.to_string(), src.to_path_buf());
                blocking(move || dir_put(&dir, &name, &src, expect.as_ref())).await
            }
            Target::S3(s) => s.put(name, src, expect.as_ref()).await,
        }
    }

    /// Copies the object `name` into the local file `dest`; returns its size.
    pub async fn get(&self, name: &str, dest: &Path) -> anyhow::Result<u64> {
        plain_name(name)?;
        match self {
            Target::Dir(dir) => {
                let (src, dest) = (dir.join(name), dest.to_path_buf());
                blocking(move || {
                    std::fs::copy(&src, &dest).with_context(|| format!("{}", src.display()))
                })
                .await
            }
            Target::S3(s) => s.get(name, dest).await,
        }
    }

    /// A small object (a manifest) in memory.
    pub async fn read(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        plain_name(name)?;
        match self {
            Target::Dir(dir) => {
                let path = dir.join(name);
                tokio::fs::read(&path)
                    .await
                    .with_context(|| format!("{}", path.display()))
            }
            Target::S3(s) => s.read(name).await,
        }
    }

    /// Removes `name`; an object already gone is not an error.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        plain_name(name)?;
        match self {
            Target::Dir(dir) => {
                let path = dir.join(name);
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(anyhow!(e).context(format!("{}", path.display()))),
                }
            }
            Target::S3(s) => s.delete(name).await,
        }
    }

    /// The manifests (`<id>.json` beside the archives) this target holds, oldest first. A file
    /// that is not a readable manifest of the id it is named after is skipped (and logged): prune
    /// never removes what it cannot read.
    pub async fn manifests(&self) -> anyhow::Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for o in self.list().await? {
            let Some(stem) = o.name.strip_suffix(".json") else {
                continue;
            };
            let Ok(id) = BackupId::parse(stem) else {
                continue;
            };
            let bytes = self.read(&o.name).await?;
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) if m.id == id => out.push(m),
                Ok(_) => tracing::warn!(name = %o.name, target = %self.describe(),
                    "a manifest names another backup; skipped"),
                Err(e) => tracing::warn!(name = %o.name, target = %self.describe(), error = %e,
                    "an unreadable manifest; skipped"),
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

/// Copies backup `id` (archive, then sidecar manifest) from the primary directory to the second
/// target, records the outcome on its `backups` row and audits it. Nothing configured: nothing
/// done. A failure is recorded and returned; the primary is only read.
pub async fn copy(state: &AppState, id: &BackupId) -> anyhow::Result<()> {
    let settings = state.section::<BackupSettings>();
    let primary = settings.dir_in(&state.settings.paths.data_dir);
    let (place, result) = match Target::second_of(&settings, &state.settings.paths.data_dir) {
        Ok(None) => return Ok(()),
        Ok(Some(t)) => (t.describe(), copy_to(&t, &primary, id).await),
        Err(e) => ("(設定の誤り)".to_string(), Err(e)),
    };
    let result = result.map_err(|e| anyhow!(redact(&format!("{e:#}"), &settings.second_target)));
    let now = state.now();
    let (outcome, action, details) = match &result {
        Ok(size) => (
            "ok".to_string(),
            "backup.copied",
            serde_json::json!({"target": place, "size_bytes": size}),
        ),
        Err(e) => (
            format!("failed: {e}"),
            "backup.copy_failed",
            serde_json::json!({"target": place, "error": e.to_string()}),
        ),
    };
    let mut tx = state.db.begin().await?;
    repo_targets::record_copy(&mut tx, id, now, &outcome).await?;
    audit::record(
        &mut tx,
        now,
        &Actor::system("backup.copy"),
        action,
        &format!("backup:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(backup = %id, target = %place, error = %e, "copy to the second target failed");
            Err(e.context(format!(
                "{id} を第二の保管先 {place} に複製できませんでした"
            )))
        }
    }
}

/// Puts the archive and then its sidecar; returns the archive's size.
pub async fn copy_to(target: &Target, primary: &Path, id: &BackupId) -> anyhow::Result<u64> {
    let sidecar = primary.join(id.manifest_name());
    let bytes = tokio::fs::read(&sidecar)
        .await
        .with_context(|| format!("{}", sidecar.display()))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a manifest", sidecar.display()))?;
    ensure!(
        &manifest.id == id,
        "{} names another backup ({})",
        sidecar.display(),
        manifest.id
    );
    let archive = manifest
        .archive
        .as_ref()
        .ok_or_else(|| anyhow!("{} has no archive entry", sidecar.display()))?;
    let size = target
        .put(
            &id.archive_name(),
            &primary.join(id.archive_name()),
            Some(archive),
        )
        .await?;
    target.put(&id.manifest_name(), &sidecar, None).await?;
    Ok(size)
}

/// Masks the configured keys wherever they appear in a message (belt and braces: errors are
/// built without the signed URLs already).
fn redact(message: &str, t: &SecondTarget) -> String {
    let mut out = message.to_string();
    for secret in [&t.secret_key, &t.access_key] {
        if secret.len() >= 4 {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// A name is a plain file name (it comes from a `BackupId`; never a path).
fn plain_name(name: &str) -> anyhow::Result<()> {
    ensure!(
        !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']) && name != "..",
        "not a plain object name: {name}"
    );
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f).await?
}

fn dir_list(dir: &Path) -> anyhow::Result<Vec<Object>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow!(e).context(format!("{}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        out.push(Object {
            name,
            size: meta.len(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Size and SHA-256 (hex) of a file.
pub fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn dir_put(dir: &Path, name: &str, src: &Path, expect: Option<&FileEntry>) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.partial"));
    let done = dir.join(name);
    let written = (|| -> anyhow::Result<u64> {
        let mut from = std::fs::File::open(src).with_context(|| format!("{}", src.display()))?;
        let mut to = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
        std::io::copy(&mut from, &mut to).with_context(|| format!("{}", tmp.display()))?;
        to.flush()?;
        to.sync_all()
            .with_context(|| format!("fsync {}", tmp.display()))?;
        drop(to);
        let (size, sha256) = hash_file(&tmp)?;
        if let Some(e) = expect {
            ensure!(
                size == e.size && sha256 == e.sha256,
                "{name}: the copy on the target does not match the manifest (size {size} / {}, \
                 SHA-256 {sha256} / {})",
                e.size,
                e.sha256
            );
        }
        Ok(size)
    })();
    let size = match written {
        Ok(size) => size,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &done).with_context(|| format!("{}", done.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsync {}", dir.display()))?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_in_messages() {
        let t = SecondTarget {
            access_key: "AKIAEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI".into(),
            ..SecondTarget::default()
        };
        let m = redact("x AKIAEXAMPLE y wJalrXUtnFEMI z", &t);
        assert_eq!(m, "x *** y *** z");
    }

    #[test]
    fn only_plain_names_reach_a_target() {
        for bad in ["", "../x", "a/b", ".hidden", "a\\b", ".."] {
            assert!(plain_name(bad).is_err(), "{bad}");
        }
        assert!(plain_name("20261127T030000Z-daily.tar.zst.age").is_ok());
    }

    #[test]
    fn the_primary_directory_is_refused_as_the_second_target() {
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(tmp.path().join("backups")).expect("dir");
        let mut settings = BackupSettings::default();
        settings.second_target.kind = "dir".into();
        settings.second_target.path = format!("{}/./backups/", tmp.path().display());
        assert!(Target::second_of(&settings, tmp.path()).is_err());
        settings.second_target.path = tmp.path().join("nas").display().to_string();
        assert!(
            Target::second_of(&settings, tmp.path())
                .expect("ok")
                .is_some()
        );
    }

    #[test]
    fn an_unknown_or_incomplete_second_target_is_refused() {
        let mut t = SecondTarget {
            kind: "ftp".into(),
            ..SecondTarget::default()
        };
        assert!(Target::second(&t).is_err());
        t.kind = "dir".into();
        assert!(Target::second(&t).is_err(), "dir without a path");
        t.kind = "s3".into();
        t.endpoint = "http://127.0.0.1:9000".into();
        t.bucket = "b".into();
        assert!(Target::second(&t).is_err(), "s3 without keys");
        t.access_key = "AKIAEXAMPLE".into();
        t.secret_key = "wJalrXUtnFEMI".into();
        t.prefix = "/rainbownet".into();
        let s = Target::second(&t).expect("s3").expect("some");
        assert_eq!(s.describe(), "s3:http://127.0.0.1:9000/b/rainbownet/");
        let shown = format!("{s:?}");
        assert!(!shown.contains("wJalrXUtnFEMI") && !shown.contains("AKIAEXAMPLE"));
        t.endpoint = "https://s3.example.jp".into();
        assert!(
            Target::second(&t).is_err(),
            "no TLS in this build: refused, not tried"
        );
        t.kind = String::new();
        assert!(Target::second(&t).expect("none").is_none());
    }
}
