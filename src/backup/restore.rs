//! Restoring a backup: the chain (its monthly, then each daily up to the backup) extracted in
//! order into an EMPTY directory, every entry checked against its manifest as it is written, so
//! that the directory is a data directory `serve --data-dir DIR` starts on (SQLite). A path that
//! a later archive of the chain also holds (the database snapshot) is checked but written only
//! from the last one. PostgreSQL: the dump is kept in `DIR/db/` and, given `--database-url` (an
//! EMPTY database), restored there with `pg_restore`.
//!
//! Afterwards the restored database is compared with the manifest (counts and audit head), and
//! the manifest's anchor line is written to `DIR/manifests/<id>.anchor` and as the first line of
//! `DIR/audit/anchor.log`, so `audit verify` checks the restored chain against the backup's head.
//! The keys (`keys/`) are not in any archive: restore them from their own offline copy.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::ProgressBar;
use sqlx::Connection;

use super::archive::{self, sync_dir};
use super::model::{BackupId, Kind, Manifest};
use super::snapshot::{self, POSTGRES_ENTRY, SQLITE_ENTRY};
use super::verify::Expect;
use super::{age_keys, catalog};
use crate::config::redact_url;

/// How to restore (the programs and the progress display).
pub struct RestoreOptions {
    pub pg_restore: String,
    /// Counts entries restored.
    pub progress: ProgressBar,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            pg_restore: "pg_restore".into(),
            progress: ProgressBar::hidden(),
        }
    }
}

/// Where the database went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoredDb {
    /// The SQLite file in the restored directory.
    Sqlite(PathBuf),
    /// Restored into this PostgreSQL database (URL shown without its password).
    Postgres(String),
    /// A PostgreSQL dump left in the directory (no `--database-url` given).
    PostgresDump(PathBuf),
    /// A system backup holds no database.
    None,
}

#[derive(Clone, Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub chain: Vec<BackupId>,
    pub files: usize,
    pub bytes: u64,
    pub database: RestoredDb,
    /// The manifest's anchor line, for `audit verify --anchor` (none for a system backup).
    pub anchor_file: Option<PathBuf>,
}

/// [`restore_with`] with the default options.
pub async fn restore(
    dir: &Path,
    id: &BackupId,
    identity: &Path,
    to: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<Restored> {
    restore_with(
        dir,
        id,
        identity,
        to,
        database_url,
        &RestoreOptions::default(),
    )
    .await
}

/// Restores the chain of `id` from `dir` into the empty directory `to` (see the module's rules).
pub async fn restore_with(
    dir: &Path,
    id: &BackupId,
    identity: &Path,
    to: &Path,
    database_url: Option<&str>,
    options: &RestoreOptions,
) -> anyhow::Result<Restored> {
    crate::db::install_drivers();
    let chain = catalog::chain_of(dir, id)?;
    let last = chain
        .last()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("empty chain"))?;
    match (last.backend.as_str(), database_url) {
        ("postgres", Some(url)) => ensure_empty_postgres(url).await?,
        (_, Some(_)) => anyhow::bail!(
            "--database-url は PostgreSQL のバックアップにだけ使えます（{id} は {}） (--database-url is for PostgreSQL backups)",
            last.backend
        ),
        _ => {}
    }
    age_keys::identities(identity)?;
    prepare_target(to)?;
    let total: u64 = chain.iter().map(|m| m.files.len() as u64 + 1).sum();
    options.progress.set_length(total);
    let (dir2, to2, chain2, key, progress) = (
        dir.to_path_buf(),
        to.to_path_buf(),
        chain.clone(),
        identity.to_path_buf(),
        options.progress.clone(),
    );
    let (files, bytes) = tokio::task::spawn_blocking(move || {
        let identities = age_keys::identities(&key)?;
        extract_chain(&dir2, &chain2, &identities, &to2, &progress)
    })
    .await??;
    options.progress.finish_and_clear();

    let database = match (last.kind, last.backend.as_str(), database_url) {
        (Kind::System, _, _) => RestoredDb::None,
        (_, "postgres", Some(url)) => {
            let dump = to.join(POSTGRES_ENTRY);
            let target = snapshot::libpq_target(url)?;
            let mut cmd = tokio::process::Command::new(&options.pg_restore);
            cmd.arg("--no-owner")
                .arg("--no-privileges")
                .arg("--exit-on-error")
                .arg("--single-transaction")
                .arg("--dbname")
                .arg(&target.conninfo)
                .arg(&dump);
            snapshot::run(cmd, target.password.as_deref(), &options.pg_restore).await?;
            let mut conn = sqlx::AnyConnection::connect(url).await?;
            let seen = snapshot::seen(&mut conn).await;
            conn.close().await?;
            compare(&last, &seen?)?;
            RestoredDb::Postgres(redact_url(url))
        }
        (_, "postgres", None) => RestoredDb::PostgresDump(to.join(POSTGRES_ENTRY)),
        _ => {
            let file = to.join(SQLITE_ENTRY);
            let url = format!("sqlite://{}?mode=ro", file.display());
            let mut conn = sqlx::AnyConnection::connect(&url)
                .await
                .with_context(|| format!("cannot open the restored {}", file.display()))?;
            let seen = snapshot::seen(&mut conn).await;
            conn.close().await?;
            compare(&last, &seen?)?;
            RestoredDb::Sqlite(file)
        }
    };
    let anchor_file = if last.kind == Kind::System || last.audit_anchor.is_empty() {
        None
    } else {
        Some(write_anchor(to, &last)?)
    };
    Ok(Restored {
        chain: chain.iter().map(|m| m.id.clone()).collect(),
        manifest: last,
        files,
        bytes,
        database,
        anchor_file,
    })
}

/// `to` must be empty (or not exist yet): a restore never mixes with other files.
fn prepare_target(to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        let mut entries = std::fs::read_dir(to)
            .with_context(|| format!("復元先 {} を読めません", to.display()))?;
        if entries.next().is_some() {
            anyhow::bail!(
                "復元先 {} が空ではありません。空のディレクトリを指定してください (the target directory is not empty)",
                to.display()
            );
        }
    }
    create_private_dir(to)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Extracts every archive of the chain, in order; returns (files written, bytes written).
fn extract_chain(
    dir: &Path,
    chain: &[Manifest],
    identities: &[Box<dyn age::Identity>],
    to: &Path,
    progress: &ProgressBar,
) -> anyhow::Result<(usize, u64)> {
    let mut written: Vec<PathBuf> = Vec::new();
    let mut bytes = 0u64;
    // Each file is synced on a second thread as soon as it is written, so that the disk writes it
    // back while the next ones are decrypted (all are synced before the restore returns).
    let (synced, to_sync) = std::sync::mpsc::channel::<PathBuf>();
    let syncer = std::thread::Builder::new()
        .name("restore-sync".into())
        .spawn(move || -> std::io::Result<()> {
            for f in to_sync {
                File::open(&f)?.sync_all()?;
            }
            Ok(())
        })
        .context("cannot start the sync thread")?;
    for (i, manifest) in chain.iter().enumerate() {
        // Paths a later archive of the chain holds again are checked here, written from it.
        let later: BTreeSet<&str> = chain[i + 1..]
            .iter()
            .flat_map(|m| m.files.iter().map(|f| f.path.as_str()))
            .collect();
        let path = dir.join(manifest.id.archive_name());
        let mut expect = Expect::new(manifest);
        archive::each_entry(&path, identities, |name, size, r| {
            progress.inc(1);
            if later.contains(name) && !expect.is_manifest(name) {
                return expect.entry(name, size, r, std::io::sink(), &ProgressBar::hidden());
            }
            let dest = to.join(name);
            if let Some(parent) = dest.parent() {
                create_private_dir(parent)?;
            }
            let file = create_file(&dest)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            expect.entry(name, size, r, &mut out, &ProgressBar::hidden())?;
            out.flush()?;
            let _ = synced.send(dest.clone());
            written.push(dest);
            bytes += size;
            Ok(())
        })
        .with_context(|| format!("{} の復元に失敗しました", manifest.id))?;
        expect.finish()?;
    }
    // Everything to disk before the restore is reported done.
    drop(synced);
    syncer
        .join()
        .map_err(|_| anyhow::anyhow!("the sync thread panicked"))?
        .context("cannot sync the restored files")?;
    let mut dirs = BTreeSet::new();
    for f in &written {
        if let Some(p) = f.parent() {
            dirs.insert(p.to_path_buf());
        }
    }
    for d in dirs {
        sync_dir(&d)?;
    }
    Ok((written.len(), bytes))
}

fn create_file(path: &Path) -> anyhow::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// The restored database must hold what the manifest says.
fn compare(m: &Manifest, seen: &snapshot::Seen) -> anyhow::Result<()> {
    if seen.counts != m.counts
        || seen.head.seq != m.audit_head_seq
        || seen.head.last_hash != m.audit_head_hash
    {
        anyhow::bail!(
            "復元したデータベースがマニフェストと一致しません (the restored database differs from the manifest): \
             件数 {:?} / 記録 {:?}、監査ログ {} 行目 / 記録 {} 行目",
            seen.counts,
            m.counts,
            seen.head.seq,
            m.audit_head_seq
        );
    }
    Ok(())
}

/// Writes the manifest's anchor line as `manifests/<id>.anchor` and starts the restored
/// directory's anchor log with it.
fn write_anchor(to: &Path, m: &Manifest) -> anyhow::Result<PathBuf> {
    let file = to.join("manifests").join(format!("{}.anchor", m.id));
    std::fs::write(&file, format!("{}\n", m.audit_anchor))
        .with_context(|| format!("cannot write {}", file.display()))?;
    let log = to.join("audit");
    create_private_dir(&log)?;
    std::fs::write(log.join("anchor.log"), format!("{}\n", m.audit_anchor))?;
    Ok(file)
}

async fn ensure_empty_postgres(url: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
    let n = super::repo::postgres_table_count(&mut conn).await;
    conn.close().await?;
    if n? > 0 {
        anyhow::bail!(
            "復元先のデータベース {} は空ではありません。空のデータベースを指定してください (the target database is not empty)",
            redact_url(url)
        );
    }
    Ok(())
}
