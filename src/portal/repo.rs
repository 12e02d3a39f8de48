//! All SQL of the portal.

use crate::db::{Conn, Timestamp};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Announcement {
    pub id: i64,
    pub category: String,
    pub title: String,
    pub body_md: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub is_public: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    pub pinned: bool,
    pub publish_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub content_updated_at: Option<Timestamp>,
    pub revision: i64,
}

/// What an editor sets on an announcement.
pub struct AnnouncementFields<'a> {
    pub category: &'a str,
    pub title: &'a str,
    pub body_md: &'a str,
    pub is_public: bool,
    pub pinned: bool,
    pub publish_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

const ANN_COLUMNS: &str = "id, category, title, body_md, is_public, pinned, publish_at,
    expires_at, content_updated_at, revision";

pub async fn insert_announcement(
    conn: &mut Conn,
    f: &AnnouncementFields<'_>,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO portal_announcements (category, title, body_md, is_public, pinned,
            publish_at, expires_at, revision, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $9) RETURNING id",
    )
    .bind(f.category)
    .bind(f.title)
    .bind(f.body_md)
    .bind(i64::from(f.is_public))
    .bind(i64::from(f.pinned))
    .bind(f.publish_at)
    .bind(f.expires_at)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// Updates only if the row is still at `base_revision`; false when someone saved in between.
pub async fn update_announcement(
    conn: &mut Conn,
    id: i64,
    base_revision: i64,
    f: &AnnouncementFields<'_>,
    content_updated_at: Option<Timestamp>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE portal_announcements SET category = $1, title = $2, body_md = $3, is_public = $4,
            pinned = $5, publish_at = $6, expires_at = $7, content_updated_at = $8,
            revision = revision + 1, updated_at = $9
         WHERE id = $10 AND revision = $11",
    )
    .bind(f.category)
    .bind(f.title)
    .bind(f.body_md)
    .bind(i64::from(f.is_public))
    .bind(i64::from(f.pinned))
    .bind(f.publish_at)
    .bind(f.expires_at)
    .bind(content_updated_at)
    .bind(now)
    .bind(id)
    .bind(base_revision)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find_announcement(conn: &mut Conn, id: i64) -> sqlx::Result<Announcement> {
    let sql = format!("SELECT {ANN_COLUMNS} FROM portal_announcements WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// Published and unexpired at `now`, pinned first, newest first; `public_only` for the log-in
/// page and the feed.
pub async fn list_visible(
    conn: &mut Conn,
    now: Timestamp,
    public_only: bool,
    limit: i64,
) -> sqlx::Result<Vec<Announcement>> {
    let sql = format!(
        "SELECT {ANN_COLUMNS} FROM portal_announcements
         WHERE publish_at <= $1 AND (expires_at IS NULL OR expires_at > $1)
           AND ($2 = 0 OR is_public = 1)
         ORDER BY pinned DESC, publish_at DESC, id DESC LIMIT $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(i64::from(public_only))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// Sort keys of `/portal/manage` (public key, SQL; X.4); the default is the publication time,
/// newest first.
pub const ANNOUNCEMENT_SORTS: &[(&str, &str)] = &[
    ("publish", "publish_at"),
    ("title", "title"),
    ("category", "category"),
];

/// Every announcement matching `$1` ("" no search) in its title or body.
const ANNOUNCEMENT_WHERE: &str = "($1 = '' OR LOWER(title) LIKE LOWER($1) ESCAPE '\\'
    OR LOWER(body_md) LIKE LOWER($1) ESCAPE '\\')";

/// One page of every announcement (see [`ANNOUNCEMENT_WHERE`]) in `order` (one of
/// [`ANNOUNCEMENT_SORTS`]; the id breaks ties, newest first).
pub async fn page_announcements(
    conn: &mut Conn,
    like: &str,
    order: &crate::web::list::Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Announcement>> {
    let sql = format!(
        "SELECT {ANN_COLUMNS} FROM portal_announcements WHERE {ANNOUNCEMENT_WHERE}
         ORDER BY {}, id DESC LIMIT $2 OFFSET $3",
        order.sql_clause()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
}

/// How many announcements [`page_announcements`] pages through.
pub async fn count_announcements(conn: &mut Conn, like: &str) -> sqlx::Result<i64> {
    let sql = format!("SELECT COUNT(*) FROM portal_announcements WHERE {ANNOUNCEMENT_WHERE}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(like)
        .fetch_one(&mut *conn)
        .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Revision {
    pub revision: i64,
    pub title: String,
    pub body_md: String,
    pub author_login: String,
    pub author_name: String,
    pub note: String,
    pub created_at: Timestamp,
}

pub struct NewRevision<'a> {
    pub doc_kind: &'a str,
    pub doc_id: i64,
    pub revision: i64,
    pub title: &'a str,
    pub body_md: &'a str,
    pub author_login: &'a str,
    pub author_name: &'a str,
    pub note: &'a str,
}

pub async fn insert_revision(
    conn: &mut Conn,
    r: &NewRevision<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO portal_revisions (doc_kind, doc_id, revision, title, body_md, author_login,
            author_name, note, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(r.doc_kind)
    .bind(r.doc_id)
    .bind(r.revision)
    .bind(r.title)
    .bind(r.body_md)
    .bind(r.author_login)
    .bind(r.author_name)
    .bind(r.note)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn list_revisions(
    conn: &mut Conn,
    doc_kind: &str,
    doc_id: i64,
) -> sqlx::Result<Vec<Revision>> {
    sqlx::query_as(
        "SELECT revision, title, body_md, author_login, author_name, note, created_at
         FROM portal_revisions WHERE doc_kind = $1 AND doc_id = $2 ORDER BY revision DESC",
    )
    .bind(doc_kind)
    .bind(doc_id)
    .fetch_all(&mut *conn)
    .await
}

pub async fn find_revision(
    conn: &mut Conn,
    doc_kind: &str,
    doc_id: i64,
    revision: i64,
) -> sqlx::Result<Revision> {
    sqlx::query_as(
        "SELECT revision, title, body_md, author_login, author_name, note, created_at
             FROM portal_revisions WHERE doc_kind = $1 AND doc_id = $2 AND revision = $3",
    )
    .bind(doc_kind)
    .bind(doc_id)
    .bind(revision)
    .fetch_one(&mut *conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Runbook {
    pub id: i64,
    pub title: String,
    pub body_md: String,
    pub revision: i64,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

pub async fn insert_runbook(
    conn: &mut Conn,
    title: &str,
    body_md: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO portal_runbooks (title, body_md, revision, created_at, updated_at, updated_by)
         VALUES ($1, $2, 1, $3, $3, $4) RETURNING id",
    )
    .bind(title)
    .bind(body_md)
    .bind(now)
    .bind(by)
    .fetch_one(&mut *conn)
    .await
}

/// Updates only if the row is still at `base_revision`.
pub async fn update_runbook(
    conn: &mut Conn,
    id: i64,
    base_revision: i64,
    title: &str,
    body_md: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE portal_runbooks SET title = $1, body_md = $2, revision = revision + 1,
            updated_at = $3, updated_by = $4
         WHERE id = $5 AND revision = $6",
    )
    .bind(title)
    .bind(body_md)
    .bind(now)
    .bind(by)
    .bind(id)
    .bind(base_revision)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find_runbook(conn: &mut Conn, id: i64) -> sqlx::Result<Runbook> {
    sqlx::query_as(
        "SELECT id, title, body_md, revision, updated_at, updated_by
             FROM portal_runbooks WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
}

pub async fn list_runbooks(conn: &mut Conn) -> sqlx::Result<Vec<Runbook>> {
    sqlx::query_as(
        "SELECT id, title, body_md, revision, updated_at, updated_by
         FROM portal_runbooks ORDER BY title, id",
    )
    .fetch_all(&mut *conn)
    .await
}
