//! Secret keys that must stay OUT of the database (X.1 second factors and form tokens, X.2 audit
//! seal), so that a copied or altered database alone reveals no TOTP secret, cannot re-seal the
//! audit chain and cannot mint form tokens.
//!
//! Each purpose has a key set: `<data_dir>/keys/<purpose>.key`, one URL-safe base64 key of 32
//! bytes per line, the first line the current key and the others older keys still accepted for
//! reading (rotation: put a new key on the first line, re-encrypt or re-seal, then drop the old
//! line). A missing file is created with a fresh key (directory 0700, file 0600); a file that
//! group or others may read is refused. `RAINBOWNET_KEY_<PURPOSE>` (comma-separated keys, the
//! first current) replaces the file, for deployments that keep secrets in the environment.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The purposes that have keys.
pub const PURPOSES: [&str; 3] = ["totp", "audit", "csrf"];

/// One 256-bit key. Its `id` (the first 16 hex digits of its SHA-256) is what stored data
/// names to say which key sealed or encrypted it; the key itself is never printed.
#[derive(Clone)]
pub struct Key {
    id: String,
    bytes: [u8; 32],
}

impl Key {
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        let id = hex::encode(&Sha256::digest(bytes)[..8]);
        Key { id, bytes }
    }

    pub fn generate() -> Key {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        Key::from_bytes(b)
    }

    fn parse(text: &str) -> anyhow::Result<Key> {
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .context("a key is not URL-safe base64")?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| anyhow::anyhow!("a key must be 32 bytes"))?;
        Ok(Key::from_bytes(bytes))
    }

    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

/// The keys of one purpose: the current one first, then older ones still accepted.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<Key>,
    /// Where the set came from (a file path, or the environment variable's name).
    pub source: String,
}

impl KeySet {
    pub fn current(&self) -> &Key {
        &self.keys[0]
    }

    pub fn by_id(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn all(&self) -> &[Key] {
        &self.keys
    }

    fn parse(text: &str, source: String) -> anyhow::Result<KeySet> {
        let keys = text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(Key::parse)
            .collect::<anyhow::Result<Vec<_>>>()
            .with_context(|| format!("cannot read the keys of {source}"))?;
        if keys.is_empty() {
            bail!("{source} holds no key");
        }
        Ok(KeySet { keys, source })
    }
}

/// Every key set of one installation.
#[derive(Clone, Debug)]
pub struct KeyRing {
    sets: BTreeMap<&'static str, KeySet>,
}

impl KeyRing {
    /// Loads (creating where missing) the key of every purpose for `data_dir`.
    pub fn open(data_dir: &Path) -> anyhow::Result<KeyRing> {
        let dir = data_dir.join("keys");
        let mut sets = BTreeMap::new();
        for purpose in PURPOSES {
            let var = env_var(purpose);
            let set = match std::env::var(&var) {
                Ok(text) if !text.trim().is_empty() => KeySet::parse(&text, var)?,
                _ => load_or_create(&dir, purpose)?,
            };
            sets.insert(purpose, set);
        }
        Ok(KeyRing { sets })
    }

    /// A ring of fresh keys that lives only in memory (unit tests).
    pub fn ephemeral() -> KeyRing {
        let sets = PURPOSES
            .into_iter()
            .map(|p| {
                let set = KeySet {
                    keys: vec![Key::generate()],
                    source: "memory".into(),
                };
                (p, set)
            })
            .collect();
        KeyRing { sets }
    }

    /// The key set of `purpose` (one of [`PURPOSES`]).
    pub fn set(&self, purpose: &str) -> &KeySet {
        self.sets
            .get(purpose)
            .unwrap_or_else(|| panic!("no key purpose {purpose} (see PURPOSES)"))
    }

    pub fn totp(&self) -> &KeySet {
        self.set("totp")
    }

    pub fn audit(&self) -> &KeySet {
        self.set("audit")
    }

    /// Signs the pre-session value and the form tokens (`web::csrf`).
    pub fn csrf(&self) -> &KeySet {
        self.set("csrf")
    }
}

pub fn env_var(purpose: &str) -> String {
    format!("RAINBOWNET_KEY_{}", purpose.to_ascii_uppercase())
}

/// The file that holds the keys of `purpose`.
pub fn key_file(data_dir: &Path, purpose: &str) -> PathBuf {
    data_dir.join("keys").join(format!("{purpose}.key"))
}

/// Puts a fresh key first in the file of `purpose`, keeping the older ones after it, and returns
/// it. The caller re-encrypts or re-seals what the old key protected, then may drop the old line.
pub fn rotate(data_dir: &Path, purpose: &str) -> anyhow::Result<Key> {
    let dir = data_dir.join("keys");
    let old = load_or_create(&dir, purpose)?;
    let key = Key::generate();
    let mut text = format!("{}\n", key.encoded());
    for k in old.all() {
        text.push_str(&k.encoded());
        text.push('\n');
    }
    write_private(&key_file(data_dir, purpose), &text, true)?;
    Ok(key)
}

fn load_or_create(dir: &Path, purpose: &str) -> anyhow::Result<KeySet> {
    let path = dir.join(format!("{purpose}.key"));
    if !path.exists() {
        create_private_dir(dir)?;
        let text = format!(
            "# rainbownet {purpose} key: keep this file out of the database's backups' reach\n{}\n",
            Key::generate().encoded()
        );
        write_private(&path, &text, false)?;
    }
    check_private(&path)?;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    KeySet::parse(&text, path.display().to_string())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create key directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

/// Writes `text` to a file only its owner may read; `replace` swaps an existing file atomically.
fn write_private(path: &Path, text: &str, replace: bool) -> anyhow::Result<()> {
    let tmp = path.with_extension("key.tmp");
    let target = if replace { &tmp } else { path };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true)
        .create_new(!replace)
        .create(true)
        .truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(target)
        .with_context(|| format!("cannot write key file {}", target.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    if replace {
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace key file {}", path.display()))?;
    }
    Ok(())
}

fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "key file {} may be read by others (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x1_a_missing_key_file_is_created_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().expect("ok");
        let a = KeyRing::open(dir.path()).expect("ok");
        let b = KeyRing::open(dir.path()).expect("ok");
        assert_eq!(a.totp().current().bytes(), b.totp().current().bytes());
        assert_ne!(a.totp().current().bytes(), a.audit().current().bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file(dir.path(), "totp"))
                .expect("ok")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn x1_a_key_file_others_may_read_is_refused() {
        let dir = tempfile::tempdir().expect("ok");
        KeyRing::open(dir.path()).expect("ok");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = key_file(dir.path(), "audit");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("ok");
            let err = KeyRing::open(dir.path()).expect_err("refused").to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn x1_rotation_puts_a_new_key_first_and_keeps_the_old_one_readable() {
        let dir = tempfile::tempdir().expect("ok");
        let old = KeyRing::open(dir.path())
            .expect("ok")
            .totp()
            .current()
            .clone();
        let new = rotate(dir.path(), "totp").expect("ok");
        let ring = KeyRing::open(dir.path()).expect("ok");
        assert_eq!(ring.totp().current().id(), new.id());
        assert!(ring.totp().by_id(old.id()).is_some());
        assert_eq!(ring.totp().all().len(), 2);
    }

    #[test]
    fn a_malformed_key_is_refused_with_its_source() {
        let err = KeySet::parse("not-a-key", "X".into())
            .expect_err("refused")
            .to_string();
        assert!(err.contains('X'), "{err}");
        assert!(KeySet::parse("# only a comment\n", "Y".into()).is_err());
    }
}
