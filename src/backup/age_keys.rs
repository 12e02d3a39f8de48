//! The age keys of backups: the recipients every archive is encrypted to (`[backup] recipients`,
//! public keys, parsed strictly: a backup refuses to run with none or with a malformed one), the
//! identity files that decrypt (read-back checks, drills, restore), and `backup keygen`.

use std::io::Write;
use std::path::Path;

use age::x25519;
use anyhow::Context;

use crate::db::Timestamp;

/// The configured recipients, every one parsed; none, or any malformed one, is an error that
/// names it (a backup encrypted to fewer keys than intended must not be written).
pub fn recipients(configured: &[String]) -> anyhow::Result<Vec<x25519::Recipient>> {
    if configured.iter().all(|r| r.trim().is_empty()) {
        anyhow::bail!(
            "[backup] recipients に age の公開鍵（age1…）が設定されていないため、バックアップを作成できません \
             (no backup recipients configured; make a key pair with `rainbownet backup keygen --out FILE`)"
        );
    }
    configured
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.trim().parse::<x25519::Recipient>().map_err(|e| {
                anyhow::anyhow!(
                    "[backup] recipients の {} 番目が age の公開鍵ではありません: {:?} ({e})",
                    i + 1,
                    shorten(r)
                )
            })
        })
        .collect()
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 24 {
        format!("{}…", s.chars().take(24).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Every identity in an age identity file (`AGE-SECRET-KEY-1…` lines, as `age-keygen` writes).
pub fn identities(path: &Path) -> anyhow::Result<Vec<Box<dyn age::Identity>>> {
    let file = age::IdentityFile::from_file(path.display().to_string()).with_context(|| {
        format!(
            "復号の鍵ファイル {} を読めません (cannot read the identity file)",
            path.display()
        )
    })?;
    let ids = file.into_identities().map_err(|e| {
        anyhow::anyhow!(
            "{} は age の秘密鍵ファイルではありません (not an age identity file: {e})",
            path.display()
        )
    })?;
    if ids.is_empty() {
        anyhow::bail!(
            "{} に age の秘密鍵がありません (no identity in the file)",
            path.display()
        );
    }
    Ok(ids)
}

/// Writes a new identity to `out` (mode 0600, refusing to overwrite a file) in age-keygen's format
/// and returns its public key (`age1…`) for `[backup] recipients`.
pub fn generate(out: &Path, now: Timestamp) -> anyhow::Result<String> {
    use age::secrecy::ExposeSecret;
    let identity = x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(out).with_context(|| {
        format!(
            "{} を作成できません（既にあるファイルは上書きしません） (cannot create the key file)",
            out.display()
        )
    })?;
    writeln!(f, "# created: {now}")?;
    writeln!(f, "# public key: {public}")?;
    writeln!(f, "{}", identity.to_string().expose_secret())?;
    f.sync_all()?;
    Ok(public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_recipient_or_a_malformed_one_is_refused_with_its_position() {
        let err = recipients(&[]).expect_err("none");
        assert!(err.to_string().contains("recipients"), "{err}");
        let err = recipients(&["  ".into()]).expect_err("blank");
        assert!(err.to_string().contains("recipients"), "{err}");
        let good = x25519::Identity::generate().to_public().to_string();
        assert_eq!(
            recipients(std::slice::from_ref(&good)).expect("one").len(),
            1
        );
        let err = recipients(&[good, "age1notakey".into()]).expect_err("malformed");
        assert!(err.to_string().contains("2 番目"), "{err}");
    }

    #[test]
    fn a_generated_key_file_is_private_reads_back_and_is_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("rn-agekeys-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("backup.key");
        let now: Timestamp = "2026-11-27T03:00:00.000Z".parse().expect("time");
        let public = generate(&path, now).expect("generate");
        assert!(public.starts_with("age1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(identities(&path).expect("identities").len(), 1);
        assert!(generate(&path, now).is_err(), "an existing file is kept");
        let _ = std::fs::remove_dir_all(dir);
    }
}
