//! The archive format: a tar stream (crate `tar`) → zstd (crate `zstd`) → age (crate `age`, to
//! every recipient), so that `age -d -i KEY FILE | zstd -d | tar x` restores it by hand.
//!
//! Writing: every entry is hashed (SHA-256) as it streams into the tar, the encrypted bytes are
//! hashed as they go to disk (no second read of anything); tar runs on the calling thread, zstd on
//! its own worker threads (one per core), age, the archive hash and the file writes on another
//! (compression, hashing and encryption overlap). The archive is written to `.tmp-<id>.tar.zst.age` in the backup
//! directory, synced, and renamed to `<id>.tar.zst.age` only when complete; the manifest is the
//! last entry (`manifests/<id>.json`).
//!
//! Reading: decrypt with an identity, decompress, and walk the entries ([`each_entry`]), which
//! refuses anything but regular files at safe relative paths ([`safe_entry_path`]) and reads the
//! stream to its end, so that a truncated or altered archive fails age's authentication.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::Context;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use super::model::{BackupId, FileEntry, Manifest};

const CHUNK: usize = 1 << 20;

/// The path of the manifest inside the archive of `id`.
pub fn manifest_entry(id: &BackupId) -> String {
    format!("manifests/{}.json", id.as_str())
}

/// An archive being written. Dropping it unfinished removes the temporary file.
pub struct Writer {
    tar: Option<tar::Builder<zstd::Encoder<'static, Pipe>>>,
    sink: Option<JoinHandle<io::Result<Sealed>>>,
    tmp: PathBuf,
    target: PathBuf,
    id: BackupId,
    files: Vec<FileEntry>,
    mtime: u64,
    progress: ProgressBar,
    finished: bool,
}

struct Sealed {
    size: u64,
    sha256: String,
}

impl Writer {
    /// Starts `<dir>/<id>.tar.zst.age` (as a temporary file) encrypted to `recipients`.
    pub fn create(
        dir: &Path,
        id: &BackupId,
        recipients: &[age::x25519::Recipient],
        zstd_level: i32,
        mtime: u64,
        progress: ProgressBar,
    ) -> anyhow::Result<Writer> {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .context("age: cannot encrypt to the recipients")?;
        let tmp = dir.join(format!(".tmp-{}", id.archive_name()));
        let target = dir.join(id.archive_name());
        if target.exists() {
            anyhow::bail!("{} は既にあります (the archive exists)", target.display());
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let (tx, rx) = sync_channel::<Vec<u8>>(4);
        let sink = std::thread::Builder::new()
            .name("backup-encrypt".into())
            .spawn(move || seal(encryptor, file, rx))
            .context("cannot start the encryption thread")?;
        let pipe = Pipe {
            tx: Some(tx),
            buf: Vec::with_capacity(CHUNK),
        };
        let mut encoder = zstd::Encoder::new(pipe, zstd_level.clamp(1, 19))?;
        // zstd's own worker threads (one per core): compression no longer shares the calling
        // thread with tar and the entries' SHA-256. Same format; `zstd -d` reads it as before.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        if workers > 1 {
            encoder.multithread(workers as u32)?;
        }
        let mut tar = tar::Builder::new(encoder);
        tar.mode(tar::HeaderMode::Deterministic);
        Ok(Writer {
            tar: Some(tar),
            sink: Some(sink),
            tmp,
            target,
            id: id.clone(),
            files: Vec::new(),
            mtime,
            progress,
            finished: false,
        })
    }

    /// The entries written so far (for the manifest).
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Adds the file at `source` as `name`, hashing it as it streams.
    pub fn add_file(&mut self, name: &str, source: &Path) -> anyhow::Result<FileEntry> {
        let file =
            File::open(source).with_context(|| format!("cannot read {}", source.display()))?;
        let size = file.metadata()?.len();
        self.add(name, size, file)
            .with_context(|| format!("cannot archive {}", source.display()))
    }

    pub fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<FileEntry> {
        self.add(name, bytes.len() as u64, bytes)
    }

    fn add(&mut self, name: &str, size: u64, data: impl Read) -> anyhow::Result<FileEntry> {
        safe_entry_path(name).map_err(anyhow::Error::msg)?;
        let mut header = self.header(size);
        let mut reader = Hashing::new(data.take(size), self.progress.clone());
        self.builder()?
            .append_data(&mut header, name, &mut reader)
            .map_err(|e| self.broken(e))?;
        let (sha256, read) = reader.finish();
        if read != size {
            anyhow::bail!("{name} changed size while it was archived ({size} → {read} bytes)");
        }
        let entry = FileEntry {
            path: name.to_string(),
            size,
            sha256,
        };
        self.files.push(entry.clone());
        Ok(entry)
    }

    fn header(&self, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size);
        h.set_mode(0o600);
        h.set_mtime(self.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn builder(&mut self) -> anyhow::Result<&mut tar::Builder<zstd::Encoder<'static, Pipe>>> {
        self.tar
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the archive is closed"))
    }

    /// A write error; when the encryption thread stopped, its own error says why.
    fn broken(&mut self, e: io::Error) -> anyhow::Error {
        if e.kind() == io::ErrorKind::BrokenPipe {
            self.tar = None;
            if let Some(Err(real)) = self.sink.take().map(|h| h.join()).and_then(Result::ok) {
                return anyhow::Error::new(real).context("cannot write the archive");
            }
        }
        anyhow::Error::new(e).context("cannot write the archive")
    }

    /// Writes the manifest as the last entry, closes the streams, syncs the file and renames it
    /// into place; returns the archive's own size and SHA-256.
    pub fn finish(mut self, manifest: &Manifest) -> anyhow::Result<FileEntry> {
        let mut inside = manifest.clone();
        inside.archive = None;
        let json = serde_json::to_vec_pretty(&inside)?;
        let name = manifest_entry(&self.id);
        let mut header = self.header(json.len() as u64);
        let tar = self.builder()?;
        tar.append_data(&mut header, &name, json.as_slice())
            .map_err(|e| self.broken(e))?;
        let tar = self
            .tar
            .take()
            .ok_or_else(|| anyhow::anyhow!("the archive is closed"))?;
        let closed = tar
            .into_inner()
            .and_then(|zstd| zstd.finish())
            .and_then(Pipe::close);
        let sealed = self
            .sink
            .take()
            .ok_or_else(|| anyhow::anyhow!("the archive is closed"))?
            .join()
            .map_err(|_| anyhow::anyhow!("the encryption thread panicked"))?
            .context("cannot write the archive")?;
        closed.context("cannot write the archive")?;
        std::fs::rename(&self.tmp, &self.target)
            .with_context(|| format!("cannot rename to {}", self.target.display()))?;
        self.finished = true;
        sync_dir(self.target.parent().unwrap_or(Path::new(".")))?;
        Ok(FileEntry {
            path: self.id.archive_name(),
            size: sealed.size,
            sha256: sealed.sha256,
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Closing the pipe ends the encryption thread; wait for it, then remove its file.
        drop(self.tar.take());
        if let Some(h) = self.sink.take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// The encryption thread: age → hash → file, then sync.
fn seal(encryptor: age::Encryptor, file: File, rx: Receiver<Vec<u8>>) -> io::Result<Sealed> {
    let out = HashingWriter {
        inner: BufWriter::with_capacity(CHUNK, file),
        sha: Sha256::new(),
        len: 0,
    };
    let mut age = encryptor.wrap_output(out)?;
    for chunk in rx {
        age.write_all(&chunk)?;
    }
    let mut out = age.finish()?;
    out.inner.flush()?;
    let file = out.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(Sealed {
        size: out.len,
        sha256: hex::encode(out.sha.finalize()),
    })
}

/// Hands zstd's output to the encryption thread in chunks.
struct Pipe {
    tx: Option<SyncSender<Vec<u8>>>,
    buf: Vec<u8>,
}

impl Pipe {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        match &self.tx {
            Some(tx) => tx
                .send(chunk)
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the encryption stopped")),
            None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed")),
        }
    }

    fn close(mut self) -> io::Result<()> {
        self.send()?;
        self.tx = None;
        Ok(())
    }
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct HashingWriter<W> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.sha.update(&data[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it (and counts it on a progress bar).
pub struct Hashing<R> {
    inner: R,
    sha: Sha256,
    len: u64,
    progress: ProgressBar,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R, progress: ProgressBar) -> Self {
        Hashing {
            inner,
            sha: Sha256::new(),
            len: 0,
            progress,
        }
    }

    /// The hex SHA-256 and the number of bytes read.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.sha.finalize()), self.len)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.len += n as u64;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// The size and SHA-256 of a file, read once.
pub fn hash_file(path: &Path, progress: &ProgressBar) -> io::Result<(u64, String)> {
    let mut r = Hashing::new(
        BufReader::with_capacity(CHUNK, File::open(path)?),
        progress.clone(),
    );
    io::copy(&mut r, &mut io::sink())?;
    let (sha, len) = r.finish();
    Ok((len, sha))
}

/// A path inside an archive that is safe to extract under a directory: relative, no `..`, `.`,
/// empty or backslash component, no NUL, not a directory; returned as given.
pub fn safe_entry_path(name: &str) -> Result<&str, String> {
    let bad = |why: &str| Err(format!("安全でないパスです ({why}): {name:?}"));
    if name.is_empty() || name.len() > 1024 {
        return bad("empty or too long");
    }
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return bad("absolute or not a plain path");
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("a component is empty, . or ..");
    }
    Ok(name)
}

/// The plaintext stream of an archive.
pub type Plain = zstd::Decoder<'static, BufReader<age::stream::StreamReader<BufReader<File>>>>;

/// Opens an archive for reading with `identities`.
pub fn open(path: &Path, identities: &[Box<dyn age::Identity>]) -> anyhow::Result<Plain> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let decryptor = age::Decryptor::new_buffered(BufReader::with_capacity(CHUNK, file))
        .map_err(|e| anyhow::anyhow!("{} は age の暗号文ではありません: {e}", path.display()))?;
    let reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| {
            anyhow::anyhow!(
                "{} を復号できません（鍵が違うか、壊れています）: {e}",
                path.display()
            )
        })?;
    Ok(zstd::Decoder::new(reader)?)
}

/// Calls `f(path, size, contents)` for every entry of the archive, in order. Anything but a
/// regular file at a safe path is an error. The stream is then read to its end (age
/// authenticates its last chunk only there).
pub fn each_entry(
    path: &Path,
    identities: &[Box<dyn age::Identity>],
    mut f: impl FnMut(&str, u64, &mut dyn Read) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut archive = tar::Archive::new(open(path, identities)?);
    for entry in archive
        .entries()
        .context("アーカイブが tar として読めません (not a tar stream)")?
    {
        let mut entry =
            entry.context("アーカイブが壊れています（復号または展開できません） (damaged)")?;
        let raw = entry.path_bytes().into_owned();
        let name =
            String::from_utf8(raw).map_err(|_| anyhow::anyhow!("an entry's path is not UTF-8"))?;
        safe_entry_path(&name).map_err(anyhow::Error::msg)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            anyhow::bail!("{name} is not a regular file in the archive");
        }
        let size = entry.size();
        f(&name, size, &mut entry)?;
        // Whatever `f` left unread is skipped by the next `entries` step.
    }
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink())
        .context("アーカイブの終わりが壊れています（欠けているか改ざん） (damaged at its end)")?;
    Ok(())
}

/// Syncs a directory (so a rename in it survives a power loss).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_may_be_extracted() {
        for ok in [
            "rainbownet.db",
            "blobs/ab/cdef",
            "manifests/20261127T030000Z-daily.json",
        ] {
            assert_eq!(safe_entry_path(ok), Ok(ok));
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "blobs/../../x",
            "blobs//x",
            "./x",
            "blobs/",
            "a\\b",
            "a\0b",
        ] {
            assert!(safe_entry_path(bad).is_err(), "{bad:?}");
        }
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rn-archive-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    fn manifest(id: &BackupId, files: &[FileEntry]) -> Manifest {
        Manifest {
            format: super::super::model::MANIFEST_FORMAT,
            id: id.clone(),
            kind: id.kind(),
            chain: Some(id.clone()),
            parent: None,
            started_at: "2026-11-27T03:00:00.000Z".into(),
            finished_at: "2026-11-27T03:00:01.000Z".into(),
            software_version: "test".into(),
            schema_version: 12,
            backend: "sqlite".into(),
            counts: Default::default(),
            audit_head_seq: 0,
            audit_head_hash: String::new(),
            audit_anchor: String::new(),
            files: files.to_vec(),
            archive: None,
        }
    }

    #[test]
    fn what_is_written_reads_back_entry_by_entry_with_the_same_hashes() {
        let dir = temp_dir();
        let identity = age::x25519::Identity::generate();
        let id = BackupId::parse("20261127T030000Z-monthly").expect("id");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.join("big.bin"), &big).expect("write");
        let mut w = Writer::create(
            &dir,
            &id,
            &[identity.to_public()],
            3,
            0,
            ProgressBar::hidden(),
        )
        .expect("writer");
        w.add_file("blobs/ab/big", &dir.join("big.bin"))
            .expect("big");
        w.add_bytes("config/rainbownet.toml", b"[server]\n")
            .expect("small");
        let files = w.files().to_vec();
        let archive = w.finish(&manifest(&id, &files)).expect("finish");
        let path = dir.join(id.archive_name());
        assert_eq!(
            hash_file(&path, &ProgressBar::hidden()).expect("hash"),
            (archive.size, archive.sha256.clone())
        );
        assert!(!dir.join(format!(".tmp-{}", id.archive_name())).exists());
        let ids: Vec<Box<dyn age::Identity>> = vec![Box::new(identity)];
        let mut seen = Vec::new();
        each_entry(&path, &ids, |name, size, r| {
            let mut h = Hashing::new(r, ProgressBar::hidden());
            io::copy(&mut h, &mut io::sink())?;
            let (sha, len) = h.finish();
            assert_eq!(len, size);
            seen.push((name.to_string(), sha));
            Ok(())
        })
        .expect("reads");
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], (files[0].path.clone(), files[0].sha256.clone()));
        assert_eq!(seen[2].0, manifest_entry(&id));
        // Another key cannot open it.
        let other: Vec<Box<dyn age::Identity>> = vec![Box::new(age::x25519::Identity::generate())];
        assert!(each_entry(&path, &other, |_, _, _| Ok(())).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_abandoned_archive_leaves_no_file() {
        let dir = temp_dir();
        let identity = age::x25519::Identity::generate();
        let id = BackupId::parse("20261127T030000Z-daily").expect("id");
        let mut w = Writer::create(
            &dir,
            &id,
            &[identity.to_public()],
            3,
            0,
            ProgressBar::hidden(),
        )
        .expect("writer");
        w.add_bytes("a", b"x").expect("add");
        assert!(w.add_file("b", &dir.join("missing")).is_err());
        drop(w);
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
