//! Readiness: the database answers and every migration of this build is applied.

use sqlx::Row;

use super::{Backend, Db};

impl Db {
    /// How many migrations of this build the database has not applied (0 when current).
    pub async fn pending_migrations(&self) -> anyhow::Result<usize> {
        let migrator = match self.backend() {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(self.pool())
            .await?;
        let applied: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("version"))
            .collect::<Result<_, _>>()?;
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }
}
