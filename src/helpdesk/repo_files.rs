//! SQL of the helpdesk's attachments (`helpdesk_attachments`, see [`super::files`]).

use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredFile {
    pub id: i64,
    pub blob_hash: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    #[sqlx(try_from = "crate::db::Flag")]
    pub public: bool,
    pub uploaded_by: String,
    pub uploaded_at: Timestamp,
    /// The entry (reply, memo) it came with; None: attached to the inquiry itself.
    pub entry_id: Option<i64>,
}

const COLUMNS: &str = "id, blob_hash, file_name, content_type, size_bytes, public,
    uploaded_by, uploaded_at, entry_id";

/// A checked file whose bytes are in the blob store under `hash`.
pub struct FileMeta {
    pub hash: String,
    pub file_name: String,
    pub content_type: &'static str,
    pub size: i64,
}

/// What a new row holds (the uploader is the caller).
pub struct NewFile<'a> {
    pub inquiry_id: i64,
    pub entry_id: Option<i64>,
    pub file: &'a FileMeta,
    pub public: bool,
    pub account_id: i64,
    pub by: &'a str,
}

pub async fn insert(conn: &mut Conn, f: &NewFile<'_>, now: Timestamp) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO helpdesk_attachments (inquiry_id, blob_hash, file_name, content_type,
             size_bytes, public, uploaded_by_account_id, uploaded_by, uploaded_at, entry_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(f.inquiry_id)
    .bind(&f.file.hash)
    .bind(&f.file.file_name)
    .bind(f.file.content_type)
    .bind(f.file.size)
    .bind(i64::from(f.public))
    .bind(f.account_id)
    .bind(f.by)
    .bind(now)
    .bind(f.entry_id)
    .fetch_one(&mut *conn)
    .await
}

/// An inquiry's files, oldest first (the n-th is file number n of the inquiry).
pub async fn of_inquiry(conn: &mut Conn, inquiry_id: i64) -> sqlx::Result<Vec<StoredFile>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM helpdesk_attachments WHERE inquiry_id = $1 ORDER BY id"
    )))
    .bind(inquiry_id)
    .fetch_all(&mut *conn)
    .await
}

/// File number `n` (1, 2, …) of an inquiry.
pub async fn find(conn: &mut Conn, inquiry_id: i64, n: i64) -> sqlx::Result<Option<StoredFile>> {
    if n < 1 {
        return Ok(None);
    }
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM helpdesk_attachments WHERE inquiry_id = $1
         ORDER BY id LIMIT 1 OFFSET $2"
    )))
    .bind(inquiry_id)
    .bind(n - 1)
    .fetch_optional(&mut *conn)
    .await
}
