//! Reading the configured log files (the job `firewall.ingest`, `rainbownet firewall ingest`).
//!
//! A file's content is known by its fingerprint, the SHA-256 of its first line: renamed by
//! rotation (`kern.log` → `kern.log.1`), copied by copytruncate or compressed (`kern.log.2.gz`,
//! read through gzip), it keeps its fingerprint and is continued from the offset already read,
//! never read again. A file shorter than what was read of it was truncated and is read anew. A
//! last line without its newline waits for the next run (plain files only). Each batch (at most
//! `BATCH_BYTES` of a file) is parsed off the async threads, aggregated in memory, and written in
//! one transaction that first moves the file's offset from the value it was read at: a second
//! runner that read the same lines finds the offset moved and writes nothing, so no line is
//! counted twice, and a crash loses nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::model::{Action, FirewallSettings, ParseContext};
use super::parse::{Parsed, parse_line};
use super::repo::{self, FileRow, HourAgg, MinuteAgg, Progress};
use crate::db::{Constraint, Db, Timestamp, constraint};

/// Bytes of a plain file parsed per batch (and transaction).
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Longer lines are consumed and counted as unreadable.
const MAX_LINE: usize = 64 * 1024;
/// The fingerprint covers at most this much of the first line.
const FINGERPRINT_BYTES: usize = 4096;

/// What one run did.
#[derive(Debug, Default)]
pub struct IngestSummary {
    pub files: usize,
    pub lines: i64,
    pub events: i64,
    pub other: i64,
    pub errors: i64,
    /// Sources or files that could not be read (and why).
    pub problems: Vec<String>,
}

impl IngestSummary {
    pub fn message(&self) -> String {
        let mut m = format!(
            "{} ファイルを確認し、{} 行を読みました（ファイアウォールの記録 {} 件、その他 {} 行、読めない行 {} 行）。",
            self.files, self.lines, self.events, self.other, self.errors
        );
        if !self.problems.is_empty() {
            m.push_str(&format!(" 読めなかったもの: {}", self.problems.join(" / ")));
        }
        m
    }
}

/// Reads every configured source, then drops traffic rows past their retention.
pub async fn ingest(
    db: &Db,
    s: &FirewallSettings,
    now: Timestamp,
) -> anyhow::Result<IngestSummary> {
    let mut summary = IngestSummary::default();
    let sources = s.sources.clone();
    let (files, problems) = tokio::task::spawn_blocking(move || candidates(&sources)).await?;
    summary.problems = problems;
    for path in files {
        summary.files += 1;
        if let Err(e) = ingest_file(db, s, &path, now, &mut summary).await {
            summary.problems.push(format!("{}: {e:#}", path.display()));
        }
    }
    let mut conn = db.pool().acquire().await?;
    let days = |d: u32| jiff::SignedDuration::from_hours(24 * i64::from(d.max(1)));
    repo::purge(
        &mut conn,
        now.minus(days(s.raw_keep_days)),
        now.minus(days(s.hourly_keep_days)),
    )
    .await?;
    Ok(summary)
}

/// The files of the configured sources, oldest first (so that rotated files come before the
/// live one), and the sources that could not be listed.
pub fn candidates(sources: &[String]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let mut problems = Vec::new();
    let add = |p: PathBuf, files: &mut Vec<_>| {
        if let Ok(m) = std::fs::metadata(&p)
            && m.is_file()
        {
            files.push((m.modified().unwrap_or(std::time::UNIX_EPOCH), p));
        }
    };
    for source in sources {
        let path = PathBuf::from(source.trim());
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => match std::fs::read_dir(&path) {
                Ok(entries) => {
                    for e in entries.flatten() {
                        if !e.file_name().to_string_lossy().starts_with('.') {
                            add(e.path(), &mut files);
                        }
                    }
                }
                Err(e) => problems.push(format!("{source}: {e}")),
            },
            Ok(_) => add(path, &mut files),
            Err(e) => problems.push(format!("{source}: {e}")),
        }
    }
    files.sort();
    files.dedup_by(|a, b| a.1 == b.1);
    (files.into_iter().map(|(_, p)| p).collect(), problems)
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

fn open(path: &Path, gz: bool) -> std::io::Result<Box<dyn BufRead>> {
    let f = std::fs::File::open(path)?;
    Ok(if gz {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::new(f))
    })
}

/// Reads one line into `buf` (cleared), keeping at most `MAX_LINE` bytes of it; returns the
/// bytes consumed (0 at the end) and whether the line ended with a newline.
fn read_line(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    buf.clear();
    let mut consumed = 0;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok((consumed, false));
        }
        let (n, done) = match avail.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&avail[..n.min(room)]);
        r.consume(n);
        consumed += n;
        if done {
            return Ok((consumed, true));
        }
    }
}

/// The fingerprint of a content: SHA-256 of its first line (up to `FINGERPRINT_BYTES`); `None`
/// while the first line is incomplete, or for a file that is not text.
fn fingerprint(r: &mut dyn BufRead) -> std::io::Result<Option<String>> {
    let mut first = Vec::new();
    r.take(FINGERPRINT_BYTES as u64)
        .read_until(b'\n', &mut first)?;
    if first.is_empty()
        || first.contains(&0)
        || (!first.ends_with(b"\n") && first.len() < FINGERPRINT_BYTES)
    {
        return Ok(None);
    }
    Ok(Some(hex::encode(Sha256::digest(&first))))
}

type MinuteKey = (i64, String, String, String, u16, Action);
type HourKey = (i64, String, String, u16, Action);

/// One batch of a file, parsed and aggregated.
#[derive(Default)]
struct Batch {
    minutes: HashMap<MinuteKey, (i64, Timestamp, Timestamp)>,
    hours: HashMap<HourKey, i64>,
    sources: HashMap<String, (Timestamp, Timestamp)>,
    lines: i64,
    events: i64,
    other: i64,
    errors: i64,
    last_error: Option<String>,
    /// Bytes consumed.
    consumed: i64,
    eof: bool,
}

impl Batch {
    fn line(&mut self, text: &str, ctx: &ParseContext) {
        self.lines += 1;
        match parse_line(text, ctx) {
            Parsed::Other => self.other += 1,
            Parsed::Error(why) => {
                self.errors += 1;
                let clipped: String = text.trim_end().chars().take(300).collect();
                self.last_error = Some(format!("{why}: {clipped}"));
            }
            Parsed::Event(e) => {
                self.events += 1;
                let src = e.src.to_string();
                let dst = e.dst.map(|d| d.to_string()).unwrap_or_default();
                let ms = e.at.millis();
                let minute = ms.div_euclid(60_000) * 60_000;
                let hour = ms.div_euclid(3_600_000) * 3_600_000;
                let m = self
                    .minutes
                    .entry((
                        minute,
                        src.clone(),
                        dst,
                        e.proto.clone(),
                        e.dst_port,
                        e.action,
                    ))
                    .or_insert((0, e.at, e.at));
                m.0 += 1;
                m.1 = m.1.min(e.at);
                m.2 = m.2.max(e.at);
                *self
                    .hours
                    .entry((hour, src.clone(), e.proto, e.dst_port, e.action))
                    .or_default() += 1;
                let s = self.sources.entry(src).or_insert((e.at, e.at));
                s.0 = s.0.min(e.at);
                s.1 = s.1.max(e.at);
            }
        }
    }
}

/// Parses from the reader's current position: up to `max` bytes (at line ends), or to the end.
/// A final line without its newline is left unread unless `final_line` (a compressed file).
fn read_batch(
    r: &mut dyn BufRead,
    max: usize,
    final_line: bool,
    ctx: &ParseContext,
) -> std::io::Result<Batch> {
    let mut b = Batch::default();
    let mut buf = Vec::new();
    loop {
        let (n, complete) = read_line(r, &mut buf)?;
        if n == 0 || (!complete && !final_line) {
            b.eof = true;
            break;
        }
        b.consumed += n as i64;
        if n > MAX_LINE {
            b.lines += 1;
            b.errors += 1;
            b.last_error = Some(format!("{} バイトを超える行", MAX_LINE));
        } else {
            b.line(&String::from_utf8_lossy(&buf), ctx);
        }
        if b.consumed as usize >= max {
            break;
        }
    }
    Ok(b)
}

/// Where a file was found.
struct Found {
    path: String,
    dev: i64,
    inode: i64,
    size: i64,
    gz: bool,
}

async fn ingest_file(
    db: &Db,
    s: &FirewallSettings,
    path: &Path,
    now: Timestamp,
    summary: &mut IngestSummary,
) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)?;
    let found = Found {
        path: path.display().to_string(),
        dev: meta.dev() as i64,
        inode: meta.ino() as i64,
        size: meta.len() as i64,
        gz: is_gz(path),
    };
    let mut conn = db.pool().acquire().await?;
    if found.gz
        && let Some(row) = repo::finished_gz(&mut conn, found.dev, found.inode, found.size).await?
    {
        repo::touch_file(&mut conn, row.id, &found.path, found.dev, found.inode, now).await?;
        return Ok(());
    }
    drop(conn);
    let p = path.to_path_buf();
    let gz = found.gz;
    let fp = tokio::task::spawn_blocking(move || fingerprint(&mut *open(&p, gz)?))
        .await?
        .context("先頭の行を読めません")?;
    let Some(fp) = fp else {
        return Ok(()); // empty, not text, or its first line is still being written
    };
    loop {
        let mut conn = db.pool().acquire().await?;
        let row = repo::file_by_fingerprint(&mut conn, &fp).await?;
        drop(conn);
        let (start, restarted) = match &row {
            Some(r) if !gz && found.size < r.read_offset => (0, true),
            Some(r) => (r.read_offset, false),
            None => (0, false),
        };
        if let Some(r) = &row
            && !gz
            && start >= found.size
        {
            let mut conn = db.pool().acquire().await?;
            repo::touch_file(&mut conn, r.id, &found.path, found.dev, found.inode, now).await?;
            return Ok(());
        }
        let ctx = s.context(now);
        let p = path.to_path_buf();
        let read = tokio::task::spawn_blocking(move || -> anyhow::Result<Batch> {
            let mut r = open(&p, gz)?;
            if gz {
                let skipped =
                    std::io::copy(&mut (&mut r).take(start as u64), &mut std::io::sink())?;
                anyhow::ensure!(
                    skipped == start as u64,
                    "展開した内容が既に読んだ長さ（{start} バイト）より短くなっています"
                );
                Ok(read_batch(&mut *r, usize::MAX, true, &ctx)?)
            } else {
                let mut f = std::fs::File::open(&p)?;
                f.seek(SeekFrom::Start(start as u64))?;
                Ok(read_batch(
                    &mut BufReader::new(f),
                    BATCH_BYTES,
                    false,
                    &ctx,
                )?)
            }
        })
        .await?;
        let batch = match read {
            Ok(b) => b,
            Err(e) => {
                if let Some(r) = &row {
                    let mut conn = db.pool().acquire().await?;
                    repo::file_error(&mut conn, r.id, &format!("{e:#}"), now).await?;
                }
                return Err(e);
            }
        };
        if batch.consumed == 0 && !gz {
            if let Some(r) = &row {
                let mut conn = db.pool().acquire().await?;
                repo::touch_file(&mut conn, r.id, &found.path, found.dev, found.inode, now).await?;
            }
            return Ok(());
        }
        let eof = batch.eof || gz;
        if !write(db, row.as_ref(), &fp, &found, start, restarted, &batch, now).await? {
            return Ok(()); // another runner read these lines first
        }
        summary.lines += batch.lines;
        summary.events += batch.events;
        summary.other += batch.other;
        summary.errors += batch.errors;
        if eof {
            return Ok(());
        }
    }
}

/// Writes a batch in one transaction, after moving the file's offset (or claiming a new file);
/// false when another runner got there first.
#[allow(clippy::too_many_arguments)]
async fn write(
    db: &Db,
    row: Option<&FileRow>,
    fp: &str,
    found: &Found,
    start: i64,
    restarted: bool,
    b: &Batch,
    now: Timestamp,
) -> anyhow::Result<bool> {
    let progress = Progress {
        path: &found.path,
        dev: found.dev,
        inode: found.inode,
        size: found.size,
        gz: found.gz,
        to: start + b.consumed,
        lines: b.lines,
        events: b.events,
        other: b.other,
        errors: b.errors,
        last_error: b.last_error.as_deref(),
        restarted,
    };
    let mut tx = db.begin().await?;
    let claimed = match row {
        None => match repo::insert_file(&mut tx, fp, &progress, now).await {
            Ok(()) => true,
            Err(e) if constraint(&e) == Some(Constraint::Unique) => false,
            Err(e) => return Err(e.into()),
        },
        Some(r) => repo::advance_file(&mut tx, r.id, r.read_offset, &progress, now).await?,
    };
    if !claimed {
        tx.rollback().await?;
        return Ok(false);
    }
    let minutes: Vec<MinuteAgg> = b
        .minutes
        .iter()
        .map(
            |((m, src, dst, proto, port, action), (hits, first, last))| MinuteAgg {
                minute: Timestamp::from_millis(*m).unwrap_or(*first),
                src: src.clone(),
                dst: dst.clone(),
                proto: proto.clone(),
                dst_port: i64::from(*port),
                action: action.key(),
                hits: *hits,
                first_at: *first,
                last_at: *last,
            },
        )
        .collect();
    let hours: Vec<HourAgg> = b
        .hours
        .iter()
        .map(|((h, src, proto, port, action), hits)| HourAgg {
            hour: Timestamp::from_millis(*h).unwrap_or(now),
            src: src.clone(),
            proto: proto.clone(),
            dst_port: i64::from(*port),
            action: action.key(),
            hits: *hits,
        })
        .collect();
    let sources: Vec<(String, Timestamp, Timestamp)> = b
        .sources
        .iter()
        .map(|(s, (a, z))| (s.clone(), *a, *z))
        .collect();
    repo::add_minutes(&mut tx, &minutes).await?;
    repo::add_hours(&mut tx, &hours).await?;
    repo::add_sources(&mut tx, &sources).await?;
    tx.commit().await?;
    Ok(true)
}

/// Reads log text that is not a file (the demo's sample log) as if it were one, named `name`.
pub async fn ingest_text(
    db: &Db,
    s: &FirewallSettings,
    name: &str,
    text: &str,
    now: Timestamp,
) -> anyhow::Result<IngestSummary> {
    let mut summary = IngestSummary {
        files: 1,
        ..Default::default()
    };
    let Some(fp) = fingerprint(&mut text.as_bytes())? else {
        return Ok(summary);
    };
    let mut conn = db.pool().acquire().await?;
    let row = repo::file_by_fingerprint(&mut conn, &fp).await?;
    drop(conn);
    let start = row.as_ref().map_or(0, |r| r.read_offset);
    let rest = text.as_bytes().get(start as usize..).unwrap_or_default();
    let batch = read_batch(&mut &*rest, usize::MAX, true, &s.context(now))?;
    let found = Found {
        path: name.to_string(),
        dev: 0,
        inode: 0,
        size: text.len() as i64,
        gz: false,
    };
    if write(db, row.as_ref(), &fp, &found, start, false, &batch, now).await? {
        summary.lines = batch.lines;
        summary.events = batch.events;
        summary.other = batch.other;
        summary.errors = batch.errors;
    }
    Ok(summary)
}
