//! The database: one SQL text for two backends through sqlx's `AnyPool`.
//!
//! Rules (see ARCHITECTURE.md): `$1` placeholders; ids are integers; instants are [`Timestamp`]
//! text; no boolean columns (a flag is a nullable timestamp of when it became true, or an integer
//! 0/1), because sqlx's Any driver does not decode SQLite booleans; constraint errors are told apart
//! by [`constraint`] (kind), never by constraint name. Migrations live in `migrations/sqlite` and
//! `migrations/postgres`, paired by name, and run at start-up and by `rainbownet migrate`.

mod decode;
mod ready;
mod timestamp;

use std::sync::Once;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::ErrorKind;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use decode::{Flag, SetAt, TextKey};
pub use timestamp::{Timestamp, tokyo};

use crate::config::{Settings, redact_url};

pub type Tx = Transaction<'static, Any>;
pub type Conn = sqlx::AnyConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// What kind of constraint a failed statement broke, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    Unique,
    ForeignKey,
    Other,
}

pub fn constraint(err: &sqlx::Error) -> Option<Constraint> {
    let db_err = err.as_database_error()?;
    Some(match db_err.kind() {
        ErrorKind::UniqueViolation => Constraint::Unique,
        ErrorKind::ForeignKeyViolation => Constraint::ForeignKey,
        _ => Constraint::Other,
    })
}

static DRIVERS: Once = Once::new();

impl Db {
    pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let url = settings.database_url();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!(
                "database.url は sqlite:// か postgres:// で始めてください (got {})",
                redact_url(&url)
            );
        };
        if backend == Backend::Sqlite {
            std::fs::create_dir_all(&settings.paths.data_dir).with_context(|| {
                format!(
                    "cannot create data directory {}",
                    settings.paths.data_dir.display()
                )
            })?;
        }
        let options: AnyConnectOptions = url
            .parse()
            .with_context(|| format!("invalid database url {}", redact_url(&url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(settings.database.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers work while one writer commits; NORMAL is durable
                        // across application crashes and is the WAL recommendation.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to {}", redact_url(&url)))?;
        Ok(Db { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads before it writes fails with a busy-snapshot error when
    /// another connection commits in between, and the audit chain reads its head before writing.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .context("database migration failed")?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
