//! The backups in a directory, read from the manifests beside the archives (`<id>.json`): the
//! directory, not the database, is the truth for restore and prune (the database may be the thing
//! being restored). A sidecar is written only after its archive was written and read back, so
//! every listed backup has a complete archive. Chains: a monthly full and the dailies built on it,
//! each naming its parent.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::archive::sync_dir;
use super::model::{BackupId, Kind, Manifest};

/// What a directory holds: the manifests (oldest first) and the sidecars that could not be read.
#[derive(Debug, Default)]
pub struct Catalog {
    pub manifests: Vec<Manifest>,
    pub problems: Vec<String>,
}

/// Reads every sidecar in `dir` (a missing directory holds none). Temporary files are skipped; a
/// corrupt sidecar, or one whose id is not its file name, is reported in `problems`.
pub fn scan(dir: &Path) -> anyhow::Result<Catalog> {
    let mut catalog = Catalog::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(catalog),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        if name.starts_with('.') || BackupId::parse(stem).is_err() {
            continue;
        }
        match read_sidecar(&entry.path()) {
            Ok(m) if m.id.as_str() == stem => catalog.manifests.push(m),
            Ok(m) => catalog.problems.push(format!(
                "{name}: 中のID {} がファイル名と違います (id differs from the file name)",
                m.id
            )),
            Err(e) => catalog.problems.push(format!("{name}: {e:#}")),
        }
    }
    sort(&mut catalog.manifests);
    Ok(catalog)
}

/// The manifests in `dir`, oldest first; corrupt sidecars are logged and left out.
pub fn list(dir: &Path) -> anyhow::Result<Vec<Manifest>> {
    let c = scan(dir)?;
    for p in &c.problems {
        tracing::warn!(dir = %dir.display(), "backup manifest unreadable: {p}");
    }
    Ok(c.manifests)
}

fn sort(manifests: &mut [Manifest]) {
    manifests.sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
}

pub fn sidecar_path(dir: &Path, id: &BackupId) -> PathBuf {
    dir.join(id.manifest_name())
}

pub fn read_sidecar(path: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} はバックアップのマニフェストとして読めません (corrupt manifest: {e})",
            path.display()
        )
    })
}

/// The manifest of `id` in `dir`.
pub fn find(dir: &Path, id: &BackupId) -> anyhow::Result<Manifest> {
    let path = sidecar_path(dir, id);
    if !path.exists() {
        anyhow::bail!(
            "バックアップ {id} は {} にありません (no such backup)",
            dir.display()
        );
    }
    read_sidecar(&path)
}

/// Writes the sidecar manifest atomically (temporary file, sync, rename, sync the directory).
pub fn write_sidecar(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let path = sidecar_path(dir, &manifest.id);
    let tmp = dir.join(format!(".tmp-{}", manifest.id.manifest_name()));
    let result = (|| -> anyhow::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(manifest)?)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        sync_dir(dir)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// The chain that restores `id`: its monthly first, then each daily up to `id` (a system backup
/// is a chain of its own). A missing link is an error naming it.
pub fn chain_in(all: &[Manifest], id: &BackupId) -> Result<Vec<Manifest>, String> {
    let find = |id: &BackupId| all.iter().find(|m| &m.id == id);
    let mut at = find(id).ok_or_else(|| format!("バックアップ {id} がありません"))?;
    let mut chain = vec![at.clone()];
    while at.kind == Kind::Daily {
        let parent = at
            .parent
            .as_ref()
            .ok_or_else(|| format!("日次 {} に親がありません", at.id))?;
        at = find(parent).ok_or_else(|| {
            format!(
                "{} の親 {parent} がありません（チェーンが欠けています） (missing parent)",
                at.id
            )
        })?;
        if chain.len() > all.len() {
            return Err(format!("{id} のチェーンが循環しています"));
        }
        chain.push(at.clone());
    }
    chain.reverse();
    let monthly = chain[0].id.clone();
    if let Some(m) = chain
        .iter()
        .find(|m| m.kind == Kind::Daily && m.chain.as_ref() != Some(&monthly))
    {
        return Err(format!("{} が別の月次を指しています", m.id));
    }
    Ok(chain)
}

/// [`chain_in`] over the sidecars of `dir`.
pub fn chain_of(dir: &Path, id: &BackupId) -> anyhow::Result<Vec<Manifest>> {
    let all = list(dir)?;
    chain_in(&all, id).map_err(anyhow::Error::msg)
}

/// What the next backup of a requested kind is: a daily builds on the newest monthly's chain
/// (its parent is the chain's newest member) and carries only blobs that chain lacks; with no
/// monthly yet, or a chain that is broken, a daily request takes a monthly instead and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: Kind,
    /// The monthly a daily builds on (a monthly's own id is set when it is named).
    pub chain: Option<BackupId>,
    pub parent: Option<BackupId>,
    /// Archive paths of the blobs already in the chain (`blobs/…`).
    pub known_blobs: BTreeSet<String>,
    pub note: Option<String>,
}

pub fn plan(all: &[Manifest], requested: Kind) -> Plan {
    let plain = |kind, note: Option<String>| Plan {
        kind,
        chain: None,
        parent: None,
        known_blobs: BTreeSet::new(),
        note,
    };
    if requested != Kind::Daily {
        return plain(requested, None);
    }
    let Some(monthly) = all.iter().rev().find(|m| m.kind == Kind::Monthly) else {
        return plain(
            Kind::Monthly,
            Some(
                "月次（フル）バックアップがまだないため、日次の代わりに月次を作成しました。".into(),
            ),
        );
    };
    let parent = all
        .iter()
        .rev()
        .find(|m| {
            m.id == monthly.id || (m.kind == Kind::Daily && m.chain == Some(monthly.id.clone()))
        })
        .unwrap_or(monthly);
    match chain_in(all, &parent.id) {
        Ok(chain) if chain[0].id == monthly.id => Plan {
            kind: Kind::Daily,
            chain: Some(monthly.id.clone()),
            parent: Some(parent.id.clone()),
            known_blobs: chain
                .iter()
                .flat_map(|m| m.files.iter())
                .filter(|f| f.path.starts_with("blobs/"))
                .map(|f| f.path.clone())
                .collect(),
            note: None,
        },
        Ok(_) | Err(_) => plain(
            Kind::Monthly,
            Some(format!(
                "月次 {} からのチェーンが欠けているため、日次の代わりに月次を作成しました。",
                monthly.id
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::model::{FileEntry, MANIFEST_FORMAT};

    fn m(id: &str, parent: Option<&str>, chain: Option<&str>, blobs: &[&str]) -> Manifest {
        let id = BackupId::parse(id).expect("id");
        Manifest {
            format: MANIFEST_FORMAT,
            kind: id.kind(),
            started_at: id.as_str()[..16].to_string(),
            id,
            chain: chain.map(|c| BackupId::parse(c).expect("chain")),
            parent: parent.map(|p| BackupId::parse(p).expect("parent")),
            finished_at: String::new(),
            software_version: String::new(),
            schema_version: 0,
            backend: "sqlite".into(),
            counts: Default::default(),
            audit_head_seq: 0,
            audit_head_hash: String::new(),
            audit_anchor: String::new(),
            files: blobs
                .iter()
                .map(|b| FileEntry {
                    path: format!("blobs/{b}"),
                    size: 1,
                    sha256: String::new(),
                })
                .collect(),
            archive: None,
        }
    }

    const M1: &str = "20261101T030000Z-monthly";
    const D1: &str = "20261102T030000Z-daily";
    const D2: &str = "20261103T030000Z-daily";
    const S1: &str = "20261103T040000Z-system";

    fn ids(chain: &[Manifest]) -> Vec<&str> {
        chain.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn a_daily_builds_on_the_newest_chain_and_knows_its_blobs() {
        let all = vec![
            m(M1, None, Some(M1), &["aa/1", "bb/2"]),
            m(D1, Some(M1), Some(M1), &["cc/3"]),
            m(D2, Some(D1), Some(M1), &[]),
            m(S1, None, None, &[]),
        ];
        let p = plan(&all, Kind::Daily);
        assert_eq!(p.kind, Kind::Daily);
        assert_eq!(p.parent.as_ref().map(BackupId::as_str), Some(D2));
        assert_eq!(p.chain.as_ref().map(BackupId::as_str), Some(M1));
        assert_eq!(
            p.known_blobs.into_iter().collect::<Vec<_>>(),
            ["blobs/aa/1", "blobs/bb/2", "blobs/cc/3"]
        );
        assert_eq!(
            ids(&chain_in(&all, &BackupId::parse(D2).expect("id")).expect("chain")),
            [M1, D1, D2]
        );
        assert_eq!(
            ids(&chain_in(&all, &BackupId::parse(S1).expect("id")).expect("chain")),
            [S1]
        );
        // A new monthly starts a new chain: the next daily builds on it alone.
        let mut later = all.clone();
        later.push(m(
            "20261201T030000Z-monthly",
            None,
            Some("20261201T030000Z-monthly"),
            &["dd/4"],
        ));
        let p = plan(&later, Kind::Daily);
        assert_eq!(
            p.parent.as_ref().map(BackupId::as_str),
            Some("20261201T030000Z-monthly")
        );
        assert_eq!(p.known_blobs.len(), 1);
    }

    #[test]
    fn a_daily_without_a_monthly_or_with_a_broken_chain_becomes_a_monthly_and_says_so() {
        let p = plan(&[], Kind::Daily);
        assert_eq!((p.kind, p.parent.is_none()), (Kind::Monthly, true));
        assert!(p.note.is_some());
        // D1 was removed by hand: D2's chain is broken, so is a daily built on it.
        let broken = vec![
            m(M1, None, Some(M1), &["aa/1"]),
            m(D2, Some(D1), Some(M1), &[]),
        ];
        let err = chain_in(&broken, &BackupId::parse(D2).expect("id")).expect_err("broken");
        assert!(err.contains(D1), "{err}");
        let p = plan(&broken, Kind::Daily);
        assert_eq!(p.kind, Kind::Monthly);
        assert!(p.note.expect("note").contains(M1));
        assert_eq!(plan(&broken, Kind::Monthly).kind, Kind::Monthly);
        assert_eq!(plan(&broken, Kind::System).kind, Kind::System);
    }

    #[test]
    fn the_catalog_skips_temporary_files_and_reports_a_corrupt_sidecar() {
        let dir = std::env::temp_dir().join(format!("rn-catalog-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        let d1 = m(D1, Some(M1), Some(M1), &[]);
        let m1 = m(M1, None, Some(M1), &[]);
        write_sidecar(&dir, &d1).expect("write");
        write_sidecar(&dir, &m1).expect("write");
        std::fs::write(dir.join(format!(".tmp-{D2}.json")), "{").expect("tmp");
        std::fs::write(dir.join(format!("{D2}.json")), "{ not json").expect("corrupt");
        std::fs::write(dir.join("notes.json"), "{}").expect("other");
        let c = scan(&dir).expect("scan");
        assert_eq!(ids(&c.manifests), [M1, D1], "oldest first");
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert!(c.problems[0].contains(D2));
        assert!(
            scan(&dir.join("missing"))
                .expect("none")
                .manifests
                .is_empty()
        );
        assert!(find(&dir, &BackupId::parse(S1).expect("id")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
