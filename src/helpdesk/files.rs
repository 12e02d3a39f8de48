//! Attachments of an inquiry (issue 15 item 5, R15.1): the requester (`/support/{id}`) and the
//! staff (`/helpdesk/{id}`) attach files to an inquiry.
//!
//! Rules:
//! - At most [`MAX_BYTES`]; PDF, PNG, JPEG, text (.txt/.csv) and Excel/Word (.xlsx/.docx) only,
//!   told by the file's first bytes (the declared type is ignored); an empty, too large or other
//!   file is refused with a Japanese message on the inquiry's page (422), nothing stored.
//! - The bytes go to the blob store BEFORE the transaction that records the row and its audit
//!   event (`helpdesk.attachment_added`), holding [`BlobStore::writing`] until it commits; the
//!   records' purge counts the rows as references (`records::repo::blob_referenced`).
//! - A staff member may mark a file as an internal memo: listed and served to the staff only.
//!   The requester sees the files of their own inquiry (anyone else's: not found, audited by
//!   `web::ObjectGuard`).
//! - A download is always `Content-Disposition: attachment` with the original name (RFC 8187),
//!   `X-Content-Type-Options: nosniff`, and audited (`helpdesk.attachment_read`).

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::repo_files::{self, NewFile, StoredFile};
use super::{portal, routes};
use crate::audit::{self, Actor};
use crate::auth::Principal;
use crate::blobs::BlobStore;
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect};

/// The largest file accepted (the server's request body limit is 2 MB as well).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

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

/// One upload: the file's name and bytes, and the staff's 内部メモ box.
struct Upload {
    name: String,
    bytes: Vec<u8>,
    internal: bool,
}

async fn read_upload(m: Result<Multipart, MultipartRejection>) -> Result<Upload, String> {
    let mut m =
        m.map_err(|_| "フォームから送信してください（multipart/form-data）。".to_string())?;
    // The message names MAX_BYTES.
    let too_large = || "ファイルが大きすぎます（2 MB まで）。".to_string();
    let mut up = Upload {
        name: String::new(),
        bytes: Vec::new(),
        internal: false,
    };
    loop {
        let field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err("送信内容を読み取れませんでした。".into()),
        };
        match field.name().unwrap_or("") {
            "file" => {
                up.name = field.file_name().unwrap_or("").to_string();
                up.bytes = match field.bytes().await {
                    Ok(b) => b.to_vec(),
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(too_large());
                    }
                    Err(_) => return Err("ファイルを読み取れませんでした。".into()),
                };
            }
            "internal" => up.internal = true,
            _ => {}
        }
    }
    if up.bytes.is_empty() {
        return Err("添付するファイルを選んでください（空のファイルは添付できません）。".into());
    }
    if up.bytes.len() > MAX_BYTES {
        return Err(too_large());
    }
    Ok(up)
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

/// Stores the upload and records it; Err: the Japanese reason it was refused.
async fn store(
    state: &AppState,
    id: i64,
    p: &Principal,
    actor: &Actor,
    up: Result<Upload, String>,
    staff: bool,
) -> AppResult<Result<(), String>> {
    let up = match up {
        Ok(up) => up,
        Err(e) => return Ok(Err(e)),
    };
    let name = clean_name(&up.name);
    let Some((content_type, _)) = kind_of(&up.bytes, &name) else {
        return Ok(Err(
            "添付できるのは PDF・PNG・JPEG・テキスト（.txt・.csv）・Excel（.xlsx）・Word（.docx）のファイルです。".into(),
        ));
    };
    let now: Timestamp = state.now();
    let hash = hex::encode(Sha256::digest(&up.bytes));
    let blobs = BlobStore::of(state);
    let _writing = blobs.writing().await;
    blobs
        .put(&hash, &up.bytes)
        .await
        .map_err(AppError::Internal)?;
    let public = !(staff && up.internal);
    let mut tx = state.db.begin().await?;
    let fid = repo_files::insert(
        &mut tx,
        &NewFile {
            inquiry_id: id,
            hash: &hash,
            file_name: &name,
            content_type,
            size: up.bytes.len() as i64,
            public,
            account_id: p.account_id,
            by: &p.display_name,
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "helpdesk.attachment_added",
        &format!("inquiry:{id}"),
        json!({"attachment": fid, "file_name": name, "content_type": content_type,
               "sha256": hash, "size": up.bytes.len(), "public": public}),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// `POST /helpdesk/{id}/attachments` (multipart, CSRF token in the query): the staff attach a
/// file, marked 内部メモ (`internal`) to keep it from the requester.
pub async fn staff_attach(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    m: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    routes::inquiry(&state, id).await?;
    match store(&state, id, &p, &actor, read_upload(m).await, true).await? {
        Ok(()) => Ok(flash_redirect(
            &state,
            &format!("/helpdesk/{id}"),
            "ファイルを添付しました。",
        )),
        Err(e) => routes::show_page(&state, page, id, Some(e)).await,
    }
}

/// `POST /support/{id}/attachments` (multipart, CSRF token in the query): the requester
/// attaches a file to their own inquiry.
pub async fn portal_attach(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    m: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    portal::own_inquiry(&state, &guard, id).await?;
    match store(&state, id, &p, &actor, read_upload(m).await, false).await? {
        Ok(()) => Ok(flash_redirect(
            &state,
            &format!("/support/{id}"),
            "ファイルを添付しました。",
        )),
        Err(e) => portal::show_page(&state, page, &guard, id, Some(e)).await,
    }
}

/// `GET /helpdesk/{id}/attachments/{n}`: file number `n` of the inquiry (any), for the staff.
pub async fn staff_download(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Path((id, n)): Path<(i64, i64)>,
) -> AppResult<Response> {
    routes::inquiry(&state, id).await?;
    serve(&state, &actor, id, n, true).await
}

/// `GET /support/{id}/attachments/{n}`: a file of the requester's own inquiry, not a memo's.
pub async fn portal_download(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    guard: ObjectGuard,
    Path((id, n)): Path<(i64, i64)>,
) -> AppResult<Response> {
    portal::own_inquiry(&state, &guard, id).await?;
    serve(&state, &actor, id, n, false).await
}

async fn serve(
    state: &AppState,
    actor: &Actor,
    id: i64,
    n: i64,
    staff: bool,
) -> AppResult<Response> {
    let mut tx = state.db.begin().await?;
    let f: StoredFile = repo_files::find(&mut tx, id, n)
        .await?
        .filter(|f| staff || f.public)
        .ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        state.now(),
        actor,
        "helpdesk.attachment_read",
        &format!("inquiry:{id}"),
        json!({"attachment": f.id, "number": n, "file_name": f.file_name, "channel": if staff { "staff" } else { "portal" }}),
    )
    .await?;
    tx.commit().await?;
    let bytes = BlobStore::of(state).get(&f.blob_hash).await?;
    let ext = kind_of(&bytes, &f.file_name).map_or("bin", |(_, ext)| ext);
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&f.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let disposition =
        crate::records::objects::disposition(&f.file_name, &format!("inquiry-{id}-{n}"), ext);
    h.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
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
