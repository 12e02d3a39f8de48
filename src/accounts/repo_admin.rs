//! SQL of the administrators' account operations (`admin`): enabling, role changes and the
//! count of active system administrators, read under lock.

use super::model::Account;
use super::repo::ACCOUNT_COLUMNS;
use crate::auth::Role;
use crate::db::Conn;

/// `FOR UPDATE` on PostgreSQL; SQLite has none (its write transactions begin IMMEDIATE, which
/// already serialises them).
fn lock(conn: &mut Conn) -> &'static str {
    match conn.backend_name() {
        "PostgreSQL" => " FOR UPDATE",
        _ => "",
    }
}

pub async fn find_for_update(conn: &mut Conn, id: i64) -> sqlx::Result<Option<Account>> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1{}",
        lock(conn)
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
}

/// The ids of the active (not disabled) system administrators, locked until the transaction
/// ends, so that two removals at once cannot both see "another one remains".
pub async fn active_admins_locked(conn: &mut Conn) -> sqlx::Result<Vec<i64>> {
    let sql = format!(
        "SELECT id FROM accounts WHERE role = $1 AND disabled_at IS NULL ORDER BY id{}",
        lock(conn)
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(Role::SystemAdmin.key())
        .fetch_all(&mut *conn)
        .await
}

/// Lifts a disabling; returns whether the account was disabled.
pub async fn enable(conn: &mut Conn, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET disabled_at = NULL, disabled_reason = NULL
          WHERE id = $1 AND disabled_at IS NOT NULL",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_role(conn: &mut Conn, id: i64, role: Role) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2")
        .bind(role.key())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
