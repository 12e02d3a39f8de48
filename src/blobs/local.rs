//! The local store: `<data_dir>/blobs/ab/cdef…` named by the SHA-256 of the content. A blob is
//! written to a temporary file, fsync'ed, renamed into place and its directory fsync'ed, so a
//! file under its final name is always complete; it is never changed afterwards.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::hash::is_hash;

#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("blobs"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, hash: &str) -> Option<PathBuf> {
        is_hash(hash).then(|| self.root.join(&hash[..2]).join(&hash[2..]))
    }

    pub(super) async fn put(&self, hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self
            .path(hash)
            .ok_or_else(|| anyhow::anyhow!("not a sha256: {hash}"))?;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes)).await??;
        Ok(())
    }

    /// The blob's bytes; `None` when there is no such file.
    pub(super) async fn get(&self, hash: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self
            .path(hash)
            .ok_or_else(|| anyhow::anyhow!("not a sha256: {hash}"))?;
        match tokio::fs::read(path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn remove(&self, hash: &str) -> anyhow::Result<bool> {
        let Some(path) = self.path(hash) else {
            return Ok(false);
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every blob (hash, size), in hash order; temporary and foreign files are left out.
    pub(super) async fn list(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || list_dir(&root)).await?
    }
}

fn list_dir(root: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    use anyhow::Context;
    let mut out = Vec::new();
    let dirs = match std::fs::read_dir(root) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", root.display())),
    };
    for d in dirs {
        let d = d?;
        let prefix = d.file_name().to_string_lossy().into_owned();
        if !d.file_type()?.is_dir() || prefix.len() != 2 {
            continue;
        }
        for f in std::fs::read_dir(d.path())? {
            let f = f?;
            let hash = format!("{prefix}{}", f.file_name().to_string_lossy());
            if f.file_type()?.is_file() && is_hash(&hash) {
                out.push((hash, f.metadata()?.len()));
            }
        }
    }
    out.sort();
    Ok(out)
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
