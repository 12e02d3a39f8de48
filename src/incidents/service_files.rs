//! An incident's files (re-exported by `service`): 添付資料 in the records' blob store and the
//! prints of the 障害報告書 (each kept and audited).

use serde_json::json;
use sha2::{Digest, Sha256};

use super::model::{self, Incident};
use super::repo;
use crate::audit::{self, Actor};
use crate::blobs::BlobStore;
use crate::db::{Db, Timestamp};
use crate::error::DomainError;

/// Records that `actor` downloaded attachment `n` of incident `id` — after the object store
/// answered, in a short transaction of its own, so that only a read that happened is recorded and
/// no transaction waits on the store.
pub async fn record_attachment_read(
    db: &Db,
    id: i64,
    n: i64,
    file_name: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.attachment_read",
        &format!("incident:{id}"),
        json!({"attachment": n, "file_name": file_name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Stores a 添付資料 in the blob store and records it (the blob write is held open against the
/// purge until the row is committed, as records do).
#[allow(clippy::too_many_arguments)]
pub async fn add_attachment(
    db: &Db,
    store: &BlobStore,
    id: i64,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
    note: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    if bytes.is_empty() {
        return Err(DomainError::invalid(
            "file",
            "添付するファイルを選んでください。",
        ));
    }
    let hash = hex::encode(Sha256::digest(bytes));
    let _writing = store.writing().await;
    store.put(&hash, bytes).await?;
    let mut tx = db.begin().await?;
    repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let aid = repo::insert_attachment(
        &mut tx,
        id,
        &hash,
        file_name,
        content_type,
        bytes.len() as i64,
        note,
        &actor.login,
        now,
    )
    .await?;
    repo::add_timeline(
        &mut tx,
        id,
        now,
        "attachment",
        &format!("添付資料「{file_name}」を追加しました。"),
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.attachment_added",
        &format!("incident:{id}"),
        json!({
            "attachment": aid,
            "file_name": file_name,
            "content_type": content_type,
            "sha256": hash,
            "size": bytes.len(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(aid)
}

/// Records a print of the 障害報告書 (who, when, draft or final, the PDF's SHA-256).
async fn record_print(
    db: &Db,
    id: i64,
    kind: &str,
    revision: i64,
    pdf: &[u8],
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let sha = hex::encode(Sha256::digest(pdf));
    let mut tx = db.begin().await?;
    let pid = repo::insert_print(&mut tx, id, kind, revision, &sha, &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.report_printed",
        &format!("incident:{id}"),
        json!({ "print": pid, "kind": kind, "revision": revision, "sha256": sha }),
    )
    .await?;
    tx.commit().await?;
    Ok(pid)
}

/// Prints the 障害報告書: a draft at any stage, the final version only once 報告済 (else a
/// `Conflict`). The PDF is rendered outside any transaction (on the blocking pool), then the
/// print is recorded with its SHA-256 and audited.
pub async fn print(
    db: &Db,
    pdf: &crate::pdf::PdfSettings,
    settings: &model::IncidentsSettings,
    inc: &Incident,
    draft: bool,
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<u8>, DomainError> {
    if !draft && !inc.status().is_closed() {
        return Err(DomainError::conflict(
            "正式版の障害報告書は、状態が「報告済」になってから印刷できます。それまでは案として印刷してください。",
        ));
    }
    let mut conn = db.pool().acquire().await?;
    let data = super::report::data(&mut conn, settings, inc, draft, now).await?;
    drop(conn);
    let pdf = pdf.clone();
    let bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let font = crate::pdf::Font::load(&pdf)?;
        Ok(super::report::render(&font, &data))
    })
    .await
    .map_err(anyhow::Error::from)??;
    let kind = if draft { "draft" } else { "final" };
    record_print(db, inc.id, kind, inc.revision, &bytes, actor, now).await?;
    Ok(bytes)
}
