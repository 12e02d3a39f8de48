//! Anchors of the audit chain kept OUTSIDE the database (ASVS 7.3): `<data_dir>/audit/anchor.log`,
//! append-only, one sealed [`Anchor`] (JSON) per line. Someone who can write only the database can
//! neither forge a line (it is sealed with the audit key) nor remove one, so `audit verify` notices
//! rows cut off the end (with `audit_head` rewound), a chain rewritten up to an anchored row, and
//! seals stripped.
//!
//! Written by every clean `rainbownet audit verify` / `audit anchor` and by the daily
//! `audit.verify` job (whose event carries the anchor too). The backup domain (issue 11) writes
//! [`current`] into every backup's manifest as one [`Anchor::line`]; `audit verify --anchor FILE`
//! checks the database against such a file (any file of anchor lines: a copy of the anchor log,
//! an exported line, a manifest's anchor line).
//!
//! The file is not secret (the seal, not secrecy, protects it). Operators may make it append-only
//! at the file-system level (`chattr +a`) and should copy it off the server now and then. After a
//! database restore the log legitimately records a longer chain: move it aside (see README).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::model::Anchor;
use crate::db::{Conn, Db, KeySet, Timestamp};

/// The anchor log of `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("audit").join("anchor.log")
}

/// Every anchor in the file at `path`; blank lines and lines starting with `#` are skipped. A line
/// that is not an anchor is an error naming the file and the line (the file was altered).
pub fn read(path: &Path) -> anyhow::Result<Vec<Anchor>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the anchor file {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// The anchors of `data_dir`'s log; none before the first anchor is written.
pub fn read_log(data_dir: &Path) -> anyhow::Result<Vec<Anchor>> {
    let p = path(data_dir);
    if !p.exists() {
        return Ok(Vec::new());
    }
    read(&p)
}

/// The anchors in `text` (the contents of `source`).
pub fn parse(text: &str, source: &str) -> anyhow::Result<Vec<Anchor>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            Anchor::parse(l, format!("{source} line {}", i + 1)).map_err(anyhow::Error::msg)
        })
        .collect()
}

/// Appends `anchor` as one line to the file at `path` (created with its directory if missing) and
/// syncs it to disk. The file is only ever opened for appending.
pub fn append(path: &Path, anchor: &Anchor) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open the anchor file {}", path.display()))?;
    writeln!(f, "{}", anchor.line())
        .and_then(|()| f.sync_data())
        .with_context(|| format!("cannot write the anchor file {}", path.display()))
}

/// The anchor of the chain head as the database records it now, sealed with the current audit
/// key; for the backup domain to put into every backup's manifest (`anchor.line()`). It reads the
/// head only (cheap) and does not walk the chain: the daily check and `audit verify` do that, and
/// a later `audit verify --anchor MANIFEST` proves the chain still holds this head.
pub async fn current(db: &Db, now: Timestamp) -> anyhow::Result<Anchor> {
    let mut conn = db.pool().acquire().await?;
    current_on(&mut conn, db.keys().audit(), now).await
}

/// [`current`] on a given connection: the head as that connection sees it (a backup reads it
/// inside its snapshot, or from the snapshot file), sealed with the current key of `keys`.
pub async fn current_on(conn: &mut Conn, keys: &KeySet, now: Timestamp) -> anyhow::Result<Anchor> {
    let head = super::repo::head(conn).await?;
    Ok(Anchor::seal(&head, keys.current(), now))
}
