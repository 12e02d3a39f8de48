//! Checking and storing the files of an upload (issue 15 item 5, R15.1), for the inquiry's own
//! files ([`super::files`]) and the files sent with a reply (`routes_reply::respond`, `portal::reply`):
//! the type told by the first bytes, a clean name, the bytes in the blob store before the
//! transaction that records them.

use sha2::{Digest, Sha256};
use tokio::sync::OwnedRwLockReadGuard;

use super::repo_files::FileMeta;
use crate::blobs::BlobStore;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::upload::UploadedFile;

/// The content type and extension of an accepted file, from its first bytes (and, for the
/// formats that share a container, its name); None: not an accepted type.
pub fn kind_of(bytes: &[u8], name: &str) -> Option<(&'static str, &'static str)> {
    let lower = name.to_lowercase();
    if bytes.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"PK\x03\x04") && lower.ends_with(".xlsx") {
        let ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        Some((ct, "xlsx"))
    } else if bytes.starts_with(b"PK\x03\x04") && lower.ends_with(".docx") {
        let ct = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        Some((ct, "docx"))
    } else if (lower.ends_with(".txt") || lower.ends_with(".csv"))
        && std::str::from_utf8(bytes).is_ok_and(|t| {
            t.chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        })
    {
        Some(("text/plain; charset=utf-8", "txt"))
    } else {
        None
    }
}

/// The name kept and shown: no path, no control characters or quotes, at most 200 characters.
fn clean_name(s: &str) -> String {
    let base = s.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    match clean.trim() {
        "" => "添付ファイル".into(),
        t => t.to_string(),
    }
}

/// The files of an upload, checked: each with its row's data and its bytes; Err: the Japanese
/// reason one was refused (then none is kept).
pub(super) fn check(files: Vec<UploadedFile>) -> Result<Vec<(FileMeta, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for f in files {
        let name = clean_name(&f.name);
        if f.bytes.is_empty() {
            return Err(format!(
                "「{name}」は空のファイルです（空のファイルは添付できません）。"
            ));
        }
        let Some((content_type, _)) = kind_of(&f.bytes, &name) else {
            return Err(format!(
                "「{name}」は添付できません。添付できるのは PDF・PNG・JPEG・テキスト（.txt・.csv）・Excel（.xlsx）・Word（.docx）のファイルです。"
            ));
        };
        let meta = FileMeta {
            hash: hex::encode(Sha256::digest(&f.bytes)),
            file_name: name,
            content_type,
            size: f.bytes.len() as i64,
        };
        out.push((meta, f.bytes));
    }
    Ok(out)
}

/// Puts checked files into the blob store, before the transaction that records them; the
/// guard returned must be held until that transaction commits (the purge waits for it).
pub(super) async fn put_blobs(
    state: &AppState,
    files: Vec<(FileMeta, Vec<u8>)>,
) -> AppResult<(Vec<FileMeta>, OwnedRwLockReadGuard<()>)> {
    let blobs = BlobStore::of(state);
    let writing = blobs.writing().await;
    let mut metas = Vec::new();
    for (meta, bytes) in files {
        blobs
            .put(&meta.hash, &bytes)
            .await
            .map_err(AppError::Internal)?;
        metas.push(meta);
    }
    Ok((metas, writing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_told_by_its_first_bytes_not_its_name() {
        assert_eq!(kind_of(b"%PDF-1.7", "a.png").map(|k| k.1), Some("pdf"));
        assert_eq!(
            kind_of(b"\x89PNG\r\n\x1a\nxx", "a").map(|k| k.1),
            Some("png")
        );
        assert_eq!(
            kind_of(b"PK\x03\x04..", "表.xlsx").map(|k| k.1),
            Some("xlsx")
        );
        assert_eq!(kind_of(b"PK\x03\x04..", "a.zip"), None);
        assert_eq!(
            kind_of("メモ\n".as_bytes(), "memo.txt").map(|k| k.1),
            Some("txt")
        );
        assert_eq!(kind_of(b"<script>x</script>", "a.html"), None);
        assert_eq!(kind_of(b"MZ\x90\x00", "a.txt"), None);
    }
}
