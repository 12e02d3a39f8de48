//! One page of a searched list and how many rows it pages through (X.4): the list pages'
//! repositories give their table, columns and `WHERE` once, and both queries use the same
//! condition, so a page and its count never disagree. `$1` is the search pattern (`""` when
//! nothing is searched); the order is a whitelisted SQL clause (`web::list::Order`), never text
//! from the URL; the id breaks ties (newest first) so that pages never overlap.

use sqlx::any::AnyRow;

use super::Conn;

/// A list's rows: `SELECT {columns} FROM {table} WHERE {condition}`.
pub struct Listed<'a> {
    pub columns: &'a str,
    pub table: &'a str,
    pub condition: &'a str,
}

impl Listed<'_> {
    /// The rows `offset..offset + limit` in `order`.
    pub async fn page<T>(
        &self,
        conn: &mut Conn,
        like: &str,
        order: &str,
        limit: i64,
        offset: i64,
    ) -> sqlx::Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {order}, id DESC LIMIT $2 OFFSET $3",
            self.columns, self.table, self.condition
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(like)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *conn)
            .await
    }

    /// How many rows [`Listed::page`] pages through.
    pub async fn count(&self, conn: &mut Conn, like: &str) -> sqlx::Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            self.table, self.condition
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(like)
            .fetch_one(&mut *conn)
            .await
    }
}
