//! Handlers of an incident's files: the attachments (upload, download — each read is
//! audited) and the printed report (別紙3 PDF, draft or final).

use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::model::IncidentsSettings;
use super::repo;
use super::routes::{after, clip, find_guarded};
use super::service;
use crate::blobs::BlobStore;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::upload::{Upload, UploadedFile};
use crate::web::{Caller, ObjectGuard, Page};

// ---- attachments ----

/// A file name safe to keep and show: no path, no control characters, at most 200 characters.
fn safe_file_name(s: &str) -> String {
    let base = s.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    if clean.trim().is_empty() {
        "添付資料".into()
    } else {
        clean.trim().to_string()
    }
}

pub async fn attach(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    up: Upload,
) -> AppResult<Response> {
    let now = state.now();
    find_guarded(&state, &guard, id).await?;
    let note = up.field("note").to_string();
    let file = up
        .files()
        .map(|files| files.into_iter().find(|f| f.field == "file"));
    let result = match file {
        Err(message) => Err(DomainError::invalid("file", message)),
        Ok(None) => Err(DomainError::invalid(
            "file",
            "添付するファイルを選んでください。",
        )),
        Ok(Some(UploadedFile {
            name,
            content_type: ct,
            bytes,
            ..
        })) => {
            let store = BlobStore::of(&state);
            service::add_attachment(
                &state.db,
                &store,
                id,
                &safe_file_name(&name),
                &clip(&ct, 100),
                &bytes,
                &clip(&note, 1_000),
                &actor,
                now,
            )
            .await
            .map(|_| ())
        }
    };
    after(&state, page, &p, id, result, "添付資料を追加しました。").await
}

pub async fn download(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    guard: ObjectGuard,
    Path((id, n)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let now = state.now();
    find_guarded(&state, &guard, id).await?;
    let mut conn = state.db.pool().acquire().await?;
    let a = repo::find_attachment(&mut conn, id, n)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    let bytes = BlobStore::of(&state).get(&a.blob_hash).await?;
    service::record_attachment_read(&state.db, id, n, &a.file_name, &actor, now).await?;
    Ok(crate::records::objects::download(
        bytes,
        Some(&a.content_type),
        &format!("incident-{id}-{n}"),
    ))
}

// ---- the printed report ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReportQuery {
    /// `final` for the final version; anything else prints a draft.
    kind: String,
}

pub async fn report_pdf(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let inc = find_guarded(&state, &guard, id).await?;
    let draft = q.kind != "final";
    let settings = state.section::<IncidentsSettings>();
    let bytes = service::print(
        &state.db,
        &state.settings.pdf,
        &settings,
        &inc,
        draft,
        &actor,
        now,
    )
    .await?;
    let kind = if draft { "draft" } else { "final" };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"incident-{}-{kind}.pdf\"",
        inc.number
    )) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
