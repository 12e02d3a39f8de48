//! SQL of documents, attachments, tombstones, and the read events of the audit log.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::readable;
use crate::db::{Conn, Timestamp};

// ---- documents ----

pub async fn find_by_identifier(
    conn: &mut Conn,
    facility_id: i64,
    system: &str,
    value: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query(
        "SELECT id, content_hash FROM documents
         WHERE facility_id = $1 AND identifier_system = $2 AND identifier_value = $3",
    )
    .bind(facility_id)
    .bind(system)
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| Ok((r.try_get("id")?, r.try_get("content_hash")?)))
    .transpose()
}

pub struct NewDocument<'a> {
    pub patient_id: i64,
    pub facility_id: i64,
    pub bundle_type: &'a str,
    pub identifier_system: &'a str,
    pub identifier_value: &'a str,
    pub type_code: &'a str,
    pub type_label: &'a str,
    pub title: &'a str,
    pub doc_date: &'a str,
    pub content_hash: &'a str,
    /// Length of the JSON text, and the text as stored ([`crate::records::packed`]).
    pub content_len: usize,
    pub packed: &'a [u8],
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Inserts many documents (of one or several senders) in one statement; returns (id, sender,
/// identifier system, value) of those inserted (an identifier the sender already used is skipped).
pub async fn insert_documents(
    conn: &mut Conn,
    docs: &[NewDocument<'_>],
) -> sqlx::Result<Vec<(i64, i64, String, String)>> {
    if docs.is_empty() {
        return Ok(Vec::new());
    }
    // content is '' for a packed document.
    let sql = format!(
        "INSERT INTO documents (patient_id, facility_id, bundle_type, identifier_system,
            identifier_value, type_code, type_label, title, doc_date, content_hash, content,
            content_zstd, size_bytes, sent_at, expires_at) VALUES {}
         ON CONFLICT DO NOTHING RETURNING id, facility_id, identifier_system, identifier_value",
        crate::db::value_rows(conn, docs.len(), 15)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for d in docs {
        q = q
            .bind(d.patient_id)
            .bind(d.facility_id)
            .bind(d.bundle_type)
            .bind(d.identifier_system)
            .bind(d.identifier_value)
            .bind(d.type_code)
            .bind(d.type_label)
            .bind(d.title)
            .bind(d.doc_date)
            .bind(d.content_hash)
            .bind("")
            .bind(d.packed)
            .bind(d.content_len as i64)
            .bind(d.sent_at)
            .bind(d.expires_at);
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("facility_id")?,
                r.try_get("identifier_system")?,
                r.try_get("identifier_value")?,
            ))
        })
        .collect()
}

pub async fn insert_attachment(
    conn: &mut Conn,
    document_id: i64,
    ordinal: i64,
    a: &crate::records::attachments::Attachment,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO document_attachments (document_id, ordinal, blob_hash, content_type, title, size_bytes)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(document_id)
    .bind(ordinal)
    .bind(&a.hash)
    .bind(&a.content_type)
    .bind(&a.title)
    .bind(a.bytes.len() as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub struct DocumentRow {
    pub id: i64,
    pub patient_id: i64,
    pub facility_name: String,
    pub type_label: String,
    pub title: String,
    pub doc_date: String,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    /// The JSON text (unpacked from `content_zstd`, or `content` of a document stored before
    /// migration 0051).
    pub content: String,
}

pub(super) const DOC_COLUMNS: &str = "d.id, d.patient_id, f.name AS facility_name, d.type_label, d.title, d.doc_date, d.sent_at, d.expires_at, d.content, d.content_zstd";

impl<'r> sqlx::FromRow<'r, AnyRow> for DocumentRow {
    fn from_row(r: &'r AnyRow) -> sqlx::Result<Self> {
        let packed: Option<Vec<u8>> = r.try_get("content_zstd")?;
        let content = match packed {
            Some(frame) => {
                crate::records::packed::unpack(&frame).map_err(|e| sqlx::Error::ColumnDecode {
                    index: "content_zstd".into(),
                    source: Box::new(e),
                })?
            }
            None => r.try_get("content")?,
        };
        Ok(DocumentRow {
            id: r.try_get("id")?,
            patient_id: r.try_get("patient_id")?,
            facility_name: r.try_get("facility_name")?,
            type_label: r.try_get("type_label")?,
            title: r.try_get("title")?,
            doc_date: r.try_get("doc_date")?,
            sent_at: r.try_get("sent_at")?,
            expires_at: r.try_get("expires_at")?,
            content,
        })
    }
}

#[derive(sqlx::FromRow)]
struct DocumentWithAccess {
    #[sqlx(flatten)]
    document: DocumentRow,
    may_read: i64,
}

/// A document and whether `facility_id` may read it (a document held for the right-patient
/// review, or rejected there, is read by nobody).
pub async fn find_document(
    conn: &mut Conn,
    id: i64,
    facility_id: i64,
) -> sqlx::Result<Option<(DocumentRow, bool)>> {
    let sql = format!(
        "SELECT {DOC_COLUMNS}, CASE WHEN d.review_state IS NULL AND {} THEN 1 ELSE 0 END AS may_read
         FROM documents d JOIN facilities f ON f.id = d.facility_id WHERE d.id = $2",
        readable("$1", "d.patient_id", "d.facility_id")
    );
    Ok(
        sqlx::query_as::<_, DocumentWithAccess>(sqlx::AssertSqlSafe(sql))
            .bind(facility_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| (r.document, r.may_read == 1)),
    )
}

#[derive(sqlx::FromRow)]
pub struct AttachmentRow {
    pub ordinal: i64,
    pub blob_hash: String,
    pub content_type: String,
    pub title: String,
    pub size_bytes: i64,
}

pub async fn attachments(conn: &mut Conn, document_id: i64) -> sqlx::Result<Vec<AttachmentRow>> {
    sqlx::query_as(
        "SELECT ordinal, blob_hash, content_type, title, size_bytes FROM document_attachments
         WHERE document_id = $1 ORDER BY ordinal",
    )
    .bind(document_id)
    .fetch_all(&mut *conn)
    .await
}

// ---- retention ----

#[derive(sqlx::FromRow)]
pub struct ExpiredLine {
    pub id: i64,
    #[sqlx(rename = "name")]
    pub facility_name: String,
    pub type_label: String,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    pub size_bytes: i64,
}

pub async fn expired(
    conn: &mut Conn,
    now: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<ExpiredLine>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, f.name, d.type_label, d.sent_at, d.expires_at, d.size_bytes
         FROM documents d JOIN facilities f ON f.id = d.facility_id
         WHERE d.expires_at <= $1 ORDER BY d.expires_at, d.id LIMIT {}",
        limit.clamp(1, 10_000)
    )))
    .bind(now)
    .fetch_all(&mut *conn)
    .await
}

/// Replaces an expired document by its tombstone; returns its attachments' blob hashes, or
/// None when the document is gone or not expired.
pub async fn purge_document(
    conn: &mut Conn,
    id: i64,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<Option<Vec<String>>> {
    let inserted = sqlx::query(
        "INSERT INTO document_tombstones (document_id, facility_id, content_hash, sent_at, expires_at, purged_at, purged_by)
         SELECT id, facility_id, content_hash, sent_at, expires_at, $1, $2 FROM documents
         WHERE id = $3 AND expires_at <= $1",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    let hashes = attachments(conn, id)
        .await?
        .into_iter()
        .map(|a| a.blob_hash)
        .collect();
    sqlx::query("DELETE FROM document_attachments WHERE document_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM documents WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(hashes))
}

/// Whether anything still refers to a blob: a document's attachment, a consent's scan, an
/// incident's 添付資料, a helpdesk inquiry's file (never purged either), or the minutes of an incident's extraordinary committee (issue 13;
/// incidents are never purged, so their blobs stay).
pub async fn blob_referenced(conn: &mut Conn, hash: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS x FROM document_attachments WHERE blob_hash = $1
         UNION ALL SELECT 1 AS x FROM consents WHERE scan_hash = $1 OR withdrawn_scan_hash = $1
         UNION ALL SELECT 1 AS x FROM incident_recurrence_reports WHERE minutes_hash = $1
         UNION ALL SELECT 1 AS x FROM incident_attachments WHERE blob_hash = $1
         UNION ALL SELECT 1 AS x FROM helpdesk_attachments WHERE blob_hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?
    .is_some())
}
