//! All SQL of the audit log.

use super::model::{AuditRow, Head};
use crate::db::{Conn, Timestamp};

/// Claims the next sequence number. Updating the head row first is what serialises writers:
/// PostgreSQL holds its row lock, SQLite its write lock, until the transaction ends.
pub async fn claim_next(conn: &mut Conn) -> sqlx::Result<(i64, String)> {
    sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, last_hash")
        .fetch_one(&mut *conn)
        .await
}

/// Claims `n` sequence numbers at once: the last of them and the hash before the first.
pub async fn claim_many(conn: &mut Conn, n: i64) -> sqlx::Result<(i64, String)> {
    sqlx::query_as("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, last_hash")
        .bind(n)
        .fetch_one(&mut *conn)
        .await
}

/// Inserts rows already chained and sealed (in order), in multi-row statements, and moves the
/// head's hash to the last of them.
pub async fn insert_many(conn: &mut Conn, rows: &[AuditRow]) -> sqlx::Result<()> {
    let Some(last) = rows.last() else {
        return Ok(());
    };
    for chunk in crate::db::pow2_chunks(rows, 16) {
        let mut sql = String::from(
            "INSERT INTO audit_events (id, at, actor_account_id, actor_login, actor_role, action,
                                       target, details, client_addr, prev_hash, hash, key_id) VALUES ",
        );
        for i in 0..chunk.len() {
            let params: Vec<String> = (1..=12).map(|k| format!("${}", i * 12 + k)).collect();
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("({})", params.join(", ")));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.id)
                .bind(r.at)
                .bind(r.actor_account_id)
                .bind(&r.actor_login)
                .bind(&r.actor_role)
                .bind(&r.action)
                .bind(&r.target)
                .bind(&r.details)
                .bind(&r.client_addr)
                .bind(&r.prev_hash)
                .bind(&r.hash)
                .bind(&r.key_id);
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&last.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes the head row's lock now, until the transaction ends, without claiming a number (see
/// `audit::lock_head`). Non-portable: SQLite has no `FOR UPDATE`; there a write transaction
/// (`BEGIN IMMEDIATE`) holds the database's write lock already.
pub async fn lock_head(conn: &mut Conn) -> sqlx::Result<()> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn insert(conn: &mut Conn, r: &AuditRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_account_id, actor_login, actor_role, action, target,
                                   details, client_addr, prev_hash, hash, key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(r.id)
    .bind(r.at)
    .bind(r.actor_account_id)
    .bind(&r.actor_login)
    .bind(&r.actor_role)
    .bind(&r.action)
    .bind(&r.target)
    .bind(&r.details)
    .bind(&r.client_addr)
    .bind(&r.prev_hash)
    .bind(&r.hash)
    .bind(&r.key_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&r.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn head(conn: &mut Conn) -> sqlx::Result<Head> {
    sqlx::query_as("SELECT seq, last_hash, unsealed FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await
}

const COLUMNS: &str = "id, at, actor_account_id, actor_login, actor_role, action, target, details,
                       client_addr, prev_hash, hash, key_id";

/// Rows with `id > after`, in id order, at most `limit` (for walking the chain in pages).
pub async fn page_after(conn: &mut Conn, after: i64, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// Filters of the audit page and CSV export. Empty strings mean "any".
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Filter {
    pub from: String,
    pub to: String,
    pub action: String,
    pub actor: String,
    pub target: String,
}

pub struct Range {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

pub async fn search(
    conn: &mut Conn,
    f: &Filter,
    range: &Range,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events
         WHERE ($1 = '' OR at >= $1) AND ($2 = '' OR at < $2)
           AND ($3 = '' OR action LIKE $3 || '%')
           AND ($4 = '' OR actor_login = $4)
           AND ($5 = '' OR target LIKE '%' || $5 || '%')
         ORDER BY id DESC LIMIT $6 OFFSET $7"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(range.from.map(|t| t.to_db()).unwrap_or_default())
        .bind(range.to.map(|t| t.to_db()).unwrap_or_default())
        .bind(f.action.trim())
        .bind(f.actor.trim())
        .bind(f.target.trim())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
}

/// Events of one kind for one target, newest first (used by dashboards).
pub async fn latest_of(conn: &mut Conn, action: &str, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM audit_events WHERE action = $1 ORDER BY id DESC LIMIT $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(action)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// The log-in before the current one (time and address), shown on the dashboard so that people
/// notice a log-in that was not theirs.
pub async fn previous_login(
    conn: &mut Conn,
    account_id: i64,
) -> sqlx::Result<Option<(Timestamp, String)>> {
    sqlx::query_as(
        "SELECT at, client_addr FROM audit_events
          WHERE actor_account_id = $1 AND action = 'auth.login'
          ORDER BY id DESC LIMIT 1 OFFSET 1",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await
}
