//! Taking one backup now ([`backup_now`]): what each kind holds, the `backups` row (running →
//! ok / failed) and its audit events, and the read-back check.
//!
//! - monthly: the database snapshot and every blob of the configured store (`[blobs]`: the local
//!   directory's files are streamed; an S3 bucket's objects are read one at a time through
//!   `blobs::BlobStore`, each checked against its hash; either way the entry is `blobs/ab/cdef…`);
//! - daily: the database snapshot and only the blobs its chain lacks (see `catalog::plan`; with no
//!   monthly yet it takes a monthly and says so);
//! - system (R20.3, R20.4): the configuration (secrets replaced), `system/about.json` (software and
//!   schema versions, the migrations applied, the backend, where data and backups live, which key
//!   purposes exist — never a key) and a copy of the audit anchor log as
//!   `system/audit/anchor.log` (evidence kept apart from a data restore, which must not overwrite
//!   the live log). Jobs, leases, schedules and the backup history are tables: they are in the
//!   database snapshots. No application data.
//!
//! Every archive holds `config/rainbownet.toml`. Blobs are listed AFTER the snapshot, under the
//! blob store's writers' gate (so a purge cannot remove a blob the snapshot references while the
//! archive is written; a purge waits for the backup). Two backups never run at once: a claim on
//! the backup directory in the process, and a `running` row younger than [`STALE_AFTER_HOURS`] refuses another (an older
//! one was left by a stopped process and is marked failed). The archive is read back before its
//! sidecar manifest is written; a backup whose read-back fails leaves no archive.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::ProgressBar;

use super::archive::Writer;
use super::catalog::{self, Plan};
use super::model::{BackupId, Kind, MANIFEST_FORMAT, Manifest};
use super::settings::BackupSettings;
use super::snapshot::{self, Facts};
use super::verify::{self, Checked};
use super::{age_keys, redact, repo};
use crate::audit::{self, Actor};
use crate::blobs::BlobStore;
use crate::db::{Backend, Timestamp};
use crate::state::AppState;

/// A `running` row younger than this means another backup is in progress.
pub const STALE_AFTER_HOURS: i64 = 6;

/// The configuration copy's path in every archive.
pub const CONFIG_ENTRY: &str = "config/rainbownet.toml";

/// The backup directories a backup is being written to in this process.
static RUNNING: std::sync::Mutex<BTreeSet<PathBuf>> = std::sync::Mutex::new(BTreeSet::new());

/// This process's claim on a backup directory, released when dropped.
struct Claim(PathBuf);

impl Claim {
    fn take(dir: &Path) -> anyhow::Result<Claim> {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        if !running.insert(dir.to_path_buf()) {
            anyhow::bail!(
                "別のバックアップを実行中です (another backup into {} is running)",
                dir.display()
            );
        }
        Ok(Claim(dir.to_path_buf()))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

/// What a finished backup reports.
#[derive(Clone, Debug)]
pub struct Report {
    pub id: BackupId,
    /// The sidecar manifest (with `archive` filled in).
    pub manifest: Manifest,
    pub size_bytes: u64,
    /// The whole backup, from its start to the recorded end (read-back included).
    pub duration: Duration,
    /// Of which the read-back check.
    pub verify_duration: Duration,
    /// The read-back result (`ok`, or `ok: …` when only the checksum could be checked).
    pub verified: String,
    /// Why the kind differs from the one requested (a daily with no monthly yet).
    pub note: Option<String>,
}

/// Takes one backup of `kind` now (see the module's rules). `trigger` is `cli`, `ui` or
/// `schedule:<id>`; `now` is its start.
pub async fn backup_now(
    state: &AppState,
    kind: Kind,
    trigger: &str,
    actor: &Actor,
    now: Timestamp,
) -> anyhow::Result<Report> {
    backup_now_with(state, kind, trigger, actor, now, &ProgressBar::hidden()).await
}

/// [`backup_now`] drawing the bytes archived on `progress`.
pub async fn backup_now_with(
    state: &AppState,
    kind: Kind,
    trigger: &str,
    actor: &Actor,
    now: Timestamp,
    progress: &ProgressBar,
) -> anyhow::Result<Report> {
    let settings = state.section::<BackupSettings>();
    let dir = settings.dir_in(&state.settings.paths.data_dir);
    let _claim = Claim::take(&dir)?;
    create_private_dir(&dir)?;
    let plan = catalog::plan(&catalog::list(&dir)?, kind);
    let id = BackupId::new(now.as_jiff(), plan.kind);
    let chain = match plan.kind {
        Kind::Monthly => Some(id.clone()),
        Kind::Daily => plan.chain.clone(),
        Kind::System => None,
    };
    for stale in start(state, &id, &plan, chain.as_ref(), trigger, actor, now).await? {
        remove_temp_files(&dir, &stale);
    }
    let clock = Instant::now();
    let written = write(
        state, &settings, &dir, &id, &plan, chain, now, clock, progress,
    )
    .await;
    let duration = clock.elapsed();
    let finished = now.plus(jiff::SignedDuration::try_from(duration).unwrap_or_default());
    match written {
        Ok((manifest, checked, verify_duration)) => {
            let report = Report {
                id: id.clone(),
                size_bytes: manifest.archive.as_ref().map_or(0, |a| a.size),
                manifest,
                duration,
                verify_duration,
                verified: checked.summary(),
                note: plan.note.clone(),
            };
            record_ok(state, &report, trigger, actor, finished).await?;
            // The second copy (R21.1): recorded on the row and audited by `copy` itself; a
            // failure leaves this backup valid, and the next `backup.prune` run catches it up.
            if let Err(e) = super::targets::copy(state, &report.id).await {
                tracing::warn!(backup = %report.id, "{e:#}");
            }
            Ok(report)
        }
        Err(e) => {
            let msg = format!("{e:#}");
            if let Err(rec) =
                record_failed(state, &id, plan.kind, &msg, actor, finished, duration).await
            {
                tracing::error!(backup = %id, "cannot record the failed backup: {rec:#}");
            }
            Err(e.context(format!("バックアップ {id} に失敗しました")))
        }
    }
}

/// Records the `running` row (and marks rows left `running` by a stopped process as failed,
/// returning their ids), or refuses when another backup is in progress.
async fn start(
    state: &AppState,
    id: &BackupId,
    plan: &Plan,
    chain: Option<&BackupId>,
    trigger: &str,
    actor: &Actor,
    now: Timestamp,
) -> anyhow::Result<Vec<String>> {
    let stale_before = now.minus(jiff::SignedDuration::from_hours(STALE_AFTER_HOURS));
    let mut tx = state.db.begin().await?;
    let mut stale = Vec::new();
    for (other, started) in repo::running(&mut tx).await? {
        if started >= stale_before {
            anyhow::bail!(
                "別のバックアップ {other} が {} から実行中です (another backup is running)",
                started.jst_seconds()
            );
        }
        let why = "中断されました（実行中のままプロセスが停止） (interrupted)";
        stale.push(other.clone());
        repo::finish_failed(&mut tx, &other, now, 0, why).await?;
        audit::record(
            &mut tx,
            now,
            actor,
            "backup.failed",
            &format!("backup:{other}"),
            serde_json::json!({"error": why, "started_at": started}),
        )
        .await?;
    }
    repo::insert_running(
        &mut tx,
        &repo::NewRow {
            id: id.as_str(),
            kind: plan.kind.key(),
            chain_id: chain.map(BackupId::as_str),
            parent_id: plan.parent.as_ref().map(BackupId::as_str),
            trigger,
            started_at: now,
        },
    )
    .await
    .map_err(|e| match crate::db::constraint(&e) {
        Some(crate::db::Constraint::Unique) => {
            anyhow::anyhow!("バックアップ {id} は既にあります（同じ秒に2回） (duplicate id)")
        }
        _ => e.into(),
    })?;
    audit::record(
        &mut tx,
        now,
        actor,
        "backup.started",
        &format!("backup:{id}"),
        serde_json::json!({"kind": plan.kind.key(), "trigger": trigger, "note": plan.note}),
    )
    .await?;
    tx.commit().await?;
    Ok(stale)
}

/// Removes what an interrupted backup `id` left in `dir` (its temporary files only).
fn remove_temp_files(dir: &Path, id: &str) {
    for suffix in [".tar.zst.age", ".json", ".db", ".pgdump"] {
        let _ = std::fs::remove_file(dir.join(format!(".tmp-{id}{suffix}")));
    }
}

/// One blob file of the store and its path in the archive.
struct Blob {
    entry: String,
    hash: String,
    size: u64,
    /// The local store's file (streamed into the archive); `None`: read through the store
    /// (S3), one blob in memory at a time, its hash checked.
    path: Option<PathBuf>,
}

/// Writes the archive and its sidecar; returns the sidecar manifest, the read-back result and
/// how long the read-back took.
#[allow(clippy::too_many_arguments)]
async fn write(
    state: &AppState,
    settings: &BackupSettings,
    dir: &Path,
    id: &BackupId,
    plan: &Plan,
    chain: Option<BackupId>,
    now: Timestamp,
    clock: Instant,
    progress: &ProgressBar,
) -> anyhow::Result<(Manifest, Checked, Duration)> {
    let recipients = age_keys::recipients(&settings.recipients)?;
    let identity = Some(settings.identity_file.trim())
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    if let Some(path) = &identity {
        age_keys::identities(path).context("[backup] identity_file")?;
    }
    let store = BlobStore::of(state);
    // Held until the archive is written: no blob the snapshot references can be purged meanwhile.
    let gate = match plan.kind {
        Kind::System => None,
        _ => Some(store.writing().await),
    };
    let mut temp = TempFile(None);
    let (facts, db_entry) = match plan.kind {
        Kind::System => (live_facts(state, now).await?, None),
        _ => {
            let file = snapshot::temp_file(&state.db, dir, id.as_str());
            temp.0 = Some(file.clone());
            let s = snapshot::take(
                &state.db,
                &state.settings.database_url(),
                &settings.pg_dump,
                &file,
                now,
            )
            .await?;
            (s.facts, Some((s.entry, s.file)))
        }
    };
    let blobs: Vec<Blob> = match plan.kind {
        Kind::System => Vec::new(),
        _ => list_blobs(&store)
            .await?
            .into_iter()
            .filter(|b| !plan.known_blobs.contains(&b.entry))
            .collect(),
    };
    let mut extra = vec![(
        CONFIG_ENTRY.to_string(),
        redact::config_toml(&state.settings)?.into_bytes(),
    )];
    if plan.kind == Kind::System {
        extra.extend(system_files(state, dir, now).await?);
    }
    let total: u64 = blobs.iter().map(|b| b.size).sum::<u64>()
        + db_entry
            .as_ref()
            .and_then(|(_, f)| f.metadata().ok())
            .map_or(0, |m| m.len());
    progress.set_length(total);
    let base = Manifest {
        format: MANIFEST_FORMAT,
        id: id.clone(),
        kind: plan.kind,
        chain,
        parent: plan.parent.clone(),
        started_at: now.to_string(),
        finished_at: String::new(),
        software_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: facts.schema_version,
        backend: facts.backend.to_string(),
        audit_head_seq: facts.anchor.seq,
        audit_head_hash: facts.anchor.hash.clone(),
        audit_anchor: facts.anchor.line(),
        counts: facts.counts.clone(),
        files: Vec::new(),
        archive: None,
    };
    let (dir2, id2, level, bar) = (
        dir.to_path_buf(),
        id.clone(),
        settings.zstd_level,
        progress.clone(),
    );
    let mtime = u64::try_from(now.unix_seconds()).unwrap_or(0);
    let (runtime, store2) = (tokio::runtime::Handle::current(), store.clone());
    let manifest = tokio::task::spawn_blocking(move || -> anyhow::Result<Manifest> {
        let mut w = Writer::create(&dir2, &id2, &recipients, level, mtime, bar)?;
        if let Some((entry, file)) = &db_entry {
            w.add_file(entry, file)?;
        }
        for b in &blobs {
            match &b.path {
                Some(path) => w.add_file(&b.entry, path)?,
                None => {
                    let bytes = runtime
                        .block_on(store2.get(&b.hash))
                        .with_context(|| format!("{} ({})", b.entry, store2.describe()))?;
                    w.add_bytes(&b.entry, &bytes)?
                }
            };
        }
        for (name, bytes) in &extra {
            w.add_bytes(name, bytes)?;
        }
        let mut m = base;
        m.files = w.files().to_vec();
        let elapsed = jiff::SignedDuration::try_from(clock.elapsed()).unwrap_or_default();
        m.finished_at = now.plus(elapsed).to_string();
        m.archive = Some(w.finish(&m)?);
        Ok(m)
    })
    .await??;
    drop(gate);
    drop(temp);
    progress.finish_and_clear();
    let archive = dir.join(id.archive_name());
    let (dir2, m2) = (dir.to_path_buf(), manifest.clone());
    let verify_started = Instant::now();
    let checked = tokio::task::spawn_blocking(move || -> anyhow::Result<Checked> {
        let ids = identity.as_deref().map(age_keys::identities).transpose()?;
        verify::verify_manifest(&dir2, &m2, ids.as_deref(), &ProgressBar::hidden())
    })
    .await?
    .and_then(|c| catalog::write_sidecar(dir, &manifest).map(|()| c));
    match checked {
        Ok(c) => Ok((manifest, c, verify_started.elapsed())),
        Err(e) => {
            let _ = std::fs::remove_file(&archive);
            Err(e.context("書き込んだアーカイブの読み戻しに失敗したため、削除しました"))
        }
    }
}

/// Removes the snapshot's temporary file however the backup ends.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The facts of the live database (a system backup takes no snapshot), in one read transaction.
async fn live_facts(state: &AppState, now: Timestamp) -> anyhow::Result<Facts> {
    let backend = match state.db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let mut tx = state.db.pool().begin().await?;
    let facts = snapshot::facts(&mut tx, backend, state.db.keys().audit(), now).await;
    tx.rollback().await?;
    facts
}

/// A system backup's own files (see the module's rules).
async fn system_files(
    state: &AppState,
    dir: &Path,
    now: Timestamp,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let data_dir = &state.settings.paths.data_dir;
    let mut conn = state.db.pool().acquire().await?;
    let migrations: Vec<serde_json::Value> = repo::migrations(&mut conn)
        .await?
        .into_iter()
        .map(|(v, d)| serde_json::json!({"version": v, "description": d}))
        .collect();
    drop(conn);
    let about = serde_json::json!({
        "software_version": env!("CARGO_PKG_VERSION"),
        "taken_at": now,
        "backend": match state.db.backend() { Backend::Sqlite => "sqlite", Backend::Postgres => "postgres" },
        "database_url": crate::config::redact_url(&state.settings.database_url()),
        "data_dir": data_dir,
        "backup_dir": dir,
        "migrations": migrations,
        "key_purposes": crate::db::keys::PURPOSES,
        "keys_note": "鍵（keys/）はバックアップに含めません。別の安全な場所に保管してください。",
    });
    let mut files = vec![(
        "system/about.json".to_string(),
        serde_json::to_vec_pretty(&about)?,
    )];
    let log = audit::anchor::path(data_dir);
    if log.exists() {
        files.push((
            "system/audit/anchor.log".to_string(),
            std::fs::read(&log).with_context(|| format!("cannot read {}", log.display()))?,
        ));
    }
    Ok(files)
}

/// Every blob of the configured store, in name order (the local store's are streamed from
/// their files).
async fn list_blobs(store: &BlobStore) -> anyhow::Result<Vec<Blob>> {
    Ok(store
        .list()
        .await
        .with_context(|| format!("cannot list the blobs of {}", store.describe()))?
        .into_iter()
        .map(|(hash, size)| Blob {
            entry: crate::blobs::key_of(&hash),
            path: match &store {
                BlobStore::Local(l) => l.path(&hash),
                _ => None,
            },
            hash,
            size,
        })
        .collect())
}

pub(super) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
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

async fn record_ok(
    state: &AppState,
    r: &Report,
    trigger: &str,
    actor: &Actor,
    finished: Timestamp,
) -> anyhow::Result<()> {
    let m = &r.manifest;
    let archive = m
        .archive
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no archive"))?;
    let mut tx = state.db.begin().await?;
    repo::finish_ok(
        &mut tx,
        r.id.as_str(),
        &repo::Finished {
            finished_at: finished,
            duration_ms: i64::try_from(r.duration.as_millis()).unwrap_or(i64::MAX),
            size_bytes: i64::try_from(archive.size).unwrap_or(i64::MAX),
            sha256: &archive.sha256,
            file_count: m.files.len() as i64,
            counts: &m.counts,
            audit_head_seq: m.audit_head_seq,
            verified_at: finished,
            verify_result: &r.verified,
            chain_id: m.chain.as_ref().map(BackupId::as_str),
            parent_id: m.parent.as_ref().map(BackupId::as_str),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        finished,
        actor,
        "backup.completed",
        &format!("backup:{}", r.id),
        serde_json::json!({
            "kind": m.kind.key(),
            "trigger": trigger,
            "chain": m.chain,
            "parent": m.parent,
            "size_bytes": archive.size,
            "sha256": archive.sha256,
            "files": m.files.len(),
            "counts": m.counts,
            "audit_head_seq": m.audit_head_seq,
            "verified": r.verified,
            "duration_ms": r.duration.as_millis() as u64,
            "note": r.note,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn record_failed(
    state: &AppState,
    id: &BackupId,
    kind: Kind,
    error: &str,
    actor: &Actor,
    finished: Timestamp,
    duration: Duration,
) -> anyhow::Result<()> {
    let mut tx = state.db.begin().await?;
    repo::finish_failed(
        &mut tx,
        id.as_str(),
        finished,
        i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
        error,
    )
    .await?;
    audit::record(
        &mut tx,
        finished,
        actor,
        "backup.failed",
        &format!("backup:{id}"),
        serde_json::json!({"kind": kind.key(), "error": error}),
    )
    .await?;
    super::notify::admins(
        &mut tx,
        state,
        "backup.failed",
        format!("backup:{id}"),
        format!("{}バックアップが失敗しました（{id}）", kind.label()),
        format!(
            "{}バックアップ {id} が失敗しました。\n\n理由: {error}",
            kind.label()
        ),
        finished,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
