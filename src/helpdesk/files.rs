//! Attachments of an inquiry (issue 15 item 5, R15.1): the requester (`/support/{id}`) and the
//! staff (`/helpdesk/{id}`) attach files to an inquiry.
//!
//! Rules:
//! - At most 10 MB ([`crate::web::upload::MAX_FILE_BYTES`], the files of one submit together); PDF, PNG, JPEG, text (.txt/.csv) and Excel/Word (.xlsx/.docx) only,
//!   told by the file's first bytes (the declared type is ignored); an empty, too large or other
//!   file is refused with a Japanese message on the inquiry's page (422), nothing stored.
//! - Files also come with a reply ([`super::uploads`], then
//!   `service::add_entry_with_files`): the row names its entry, a memo's files are the staff's,
//!   and the page lists each file under its reply.
//! - The bytes go to the blob store BEFORE the transaction that records the row and its audit
//!   event (`helpdesk.attachment_added`), holding [`BlobStore::writing`] until it commits; the
//!   records' purge counts the rows as references (`records::repo::blob_referenced`).
//! - A staff member may mark a file as an internal memo: listed and served to the staff only.
//!   The requester sees the files of their own inquiry (anyone else's: not found, audited by
//!   `web::ObjectGuard`).
//! - A download is always `Content-Disposition: attachment` with the original name (RFC 8187),
//!   `X-Content-Type-Options: nosniff`, and audited (`helpdesk.attachment_read`).

use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::repo_files::{self, StoredFile};
use super::service::{self, Uploader};
use super::uploads::{check, kind_of, put_blobs};
use super::views::FormAt;
use super::{portal, routes};
use crate::audit::{self, Actor};
use crate::auth::Principal;
use crate::blobs::BlobStore;
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::upload::Upload;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect};

/// Stores the upload's file on the inquiry and records it; Err: the Japanese reason it was
/// refused.
async fn store(
    state: &AppState,
    id: i64,
    p: &Principal,
    actor: &Actor,
    up: Upload,
    staff: bool,
) -> AppResult<Result<(), String>> {
    let public = !(staff && up.has("internal"));
    let files = match up.files().and_then(check) {
        Ok(files) if files.is_empty() => {
            return Ok(Err(
                "添付するファイルを選んでください（空のファイルは添付できません）。".into(),
            ));
        }
        Ok(files) => files,
        Err(e) => return Ok(Err(e)),
    };
    let (files, _writing) = put_blobs(state, files).await?;
    let now: Timestamp = state.now();
    let mut tx = state.db.begin().await?;
    let uploader = Uploader {
        account_id: p.account_id,
        name: &p.display_name,
    };
    service::add_files(&mut tx, id, None, public, &uploader, &files, actor, now).await?;
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
    up: Upload,
) -> AppResult<Response> {
    routes::inquiry(&state, id).await?;
    match store(&state, id, &p, &actor, up, true).await? {
        Ok(()) => Ok(flash_redirect(
            &state,
            &format!("/helpdesk/{id}"),
            "ファイルを添付しました。",
        )),
        Err(e) => routes::show_page(&state, page, id, FormAt::Attachment, Some(e)).await,
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
    up: Upload,
) -> AppResult<Response> {
    portal::own_inquiry(&state, &guard, id).await?;
    match store(&state, id, &p, &actor, up, false).await? {
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
