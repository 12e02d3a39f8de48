//! Reading a backup back against its manifest. Without a key: the archive's size and SHA-256
//! against the sidecar (one flipped byte is found without decrypting). With an identity: every
//! entry decrypted and checked (size and SHA-256), none missing, none extra, and the manifest
//! inside the archive equal to the one beside it.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use indicatif::ProgressBar;

use super::archive::{self, Hashing};
use super::model::{BackupId, FileEntry, Manifest};
use super::{age_keys, catalog};

/// What a check covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub id: BackupId,
    pub archive_bytes: u64,
    /// The entries checked after decryption (`None`: no identity, checksum only).
    pub entries: Option<usize>,
}

impl Checked {
    /// For the `backups.verify_result` column and the terminal.
    pub fn summary(&self) -> String {
        match self.entries {
            Some(_) => "ok".into(),
            None => "ok: SHA-256 のみ（復号の鍵なし） (checksum only, no identity)".into(),
        }
    }
}

/// Checks the backup `id` in `dir`; with `identity` (an age identity file) its contents too.
pub fn verify(dir: &Path, id: &BackupId, identity: Option<&Path>) -> anyhow::Result<Checked> {
    let manifest = catalog::find(dir, id)?;
    let ids = identity.map(age_keys::identities).transpose()?;
    verify_manifest(dir, &manifest, ids.as_deref(), &ProgressBar::hidden())
}

/// [`verify`] for a manifest already read (with `archive` filled in).
pub fn verify_manifest(
    dir: &Path,
    manifest: &Manifest,
    identities: Option<&[Box<dyn age::Identity>]>,
    progress: &ProgressBar,
) -> anyhow::Result<Checked> {
    let expected = manifest.archive.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "{} のマニフェストにアーカイブの大きさとハッシュがありません (the sidecar lacks `archive`)",
            manifest.id
        )
    })?;
    let path = dir.join(manifest.id.archive_name());
    if !path.exists() {
        anyhow::bail!(
            "アーカイブ {} がありません (archive missing)",
            path.display()
        );
    }
    let (size, sha256) = archive::hash_file(&path, progress)?;
    if size != expected.size {
        anyhow::bail!(
            "アーカイブ {} の大きさがマニフェストと違います: {size} バイト（記録 {} バイト）。破損または改ざんです (size mismatch)",
            path.display(),
            expected.size
        );
    }
    if sha256 != expected.sha256 {
        anyhow::bail!(
            "アーカイブ {} の SHA-256 がマニフェストと一致しません。破損または改ざんです (checksum mismatch)",
            path.display()
        );
    }
    let entries = match identities {
        Some(ids) => {
            let mut expect = Expect::new(manifest);
            archive::each_entry(&path, ids, |name, size, r| {
                expect.entry(name, size, r, io::sink(), progress)
            })?;
            Some(expect.finish()?)
        }
        None => None,
    };
    Ok(Checked {
        id: manifest.id.clone(),
        archive_bytes: size,
        entries,
    })
}

/// The entries an archive must hold, checked as they come (used by verify and restore).
pub struct Expect<'a> {
    manifest: &'a Manifest,
    files: BTreeMap<&'a str, &'a FileEntry>,
    inner_manifest: String,
    seen_manifest: bool,
    seen: usize,
}

impl<'a> Expect<'a> {
    pub fn new(manifest: &'a Manifest) -> Self {
        Expect {
            manifest,
            files: manifest
                .files
                .iter()
                .map(|f| (f.path.as_str(), f))
                .collect(),
            inner_manifest: archive::manifest_entry(&manifest.id),
            seen_manifest: false,
            seen: 0,
        }
    }

    /// Whether `name` is the manifest inside the archive.
    pub fn is_manifest(&self, name: &str) -> bool {
        name == self.inner_manifest
    }

    /// Checks one entry while copying it to `out`.
    pub fn entry(
        &mut self,
        name: &str,
        size: u64,
        r: &mut dyn Read,
        mut out: impl io::Write,
        progress: &ProgressBar,
    ) -> anyhow::Result<()> {
        let id = &self.manifest.id;
        if self.is_manifest(name) {
            if self.seen_manifest || size > 256 << 20 {
                anyhow::bail!("{id}: {name} が不正です (bad manifest entry)");
            }
            let mut bytes = Vec::with_capacity(size as usize);
            r.read_to_end(&mut bytes)?;
            out.write_all(&bytes)?;
            let inside: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("{id}: アーカイブ内のマニフェストが読めません: {e}")
            })?;
            let mut beside = self.manifest.clone();
            beside.archive = None;
            if inside != beside {
                anyhow::bail!(
                    "{id}: アーカイブ内のマニフェストが横のマニフェストと違います (manifests differ)"
                );
            }
            self.seen_manifest = true;
            return Ok(());
        }
        let Some(want) = self.files.remove(name) else {
            anyhow::bail!(
                "{id}: マニフェストにないファイル {name} がアーカイブにあります（または重複） (extra entry)"
            );
        };
        let mut h = Hashing::new(r, progress.clone());
        io::copy(&mut h, &mut out)?;
        let (sha256, len) = h.finish();
        if len != want.size || size != want.size {
            anyhow::bail!(
                "{id}: {name} の大きさがマニフェストと違います: {len} バイト（記録 {} バイト） (size mismatch)",
                want.size
            );
        }
        if sha256 != want.sha256 {
            anyhow::bail!("{id}: {name} の SHA-256 がマニフェストと違います (checksum mismatch)");
        }
        self.seen += 1;
        Ok(())
    }

    /// After the last entry: nothing missing. Returns the number of entries checked.
    pub fn finish(self) -> anyhow::Result<usize> {
        let id = &self.manifest.id;
        if let Some(missing) = self.files.keys().next() {
            anyhow::bail!(
                "{id}: マニフェストにある {missing} ほか {} 件がアーカイブにありません (missing entries)",
                self.files.len() - 1
            );
        }
        if !self.seen_manifest {
            anyhow::bail!(
                "{id}: アーカイブにマニフェスト {} がありません",
                self.inner_manifest
            );
        }
        Ok(self.seen + 1)
    }
}
