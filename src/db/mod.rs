//! The database: one SQL text for two backends through sqlx's `AnyPool`.
//!
//! Rules (see ARCHITECTURE.md): `$1` placeholders; ids are integers; instants are [`Timestamp`]
//! text; no boolean columns (a flag is a nullable timestamp of when it became true, or an integer
//! 0/1), because sqlx's Any driver does not decode SQLite booleans; constraint errors are told apart
//! by [`constraint`] (kind), never by constraint name. Migrations live in `migrations/sqlite` and
//! `migrations/postgres`, paired by name, and run at start-up and by `rainbownet migrate`.

mod decode;
pub mod fingerprints;
mod group;
pub mod keys;
mod page;
mod ready;
mod settings;
mod timestamp;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::{Arc, Once};
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::ErrorKind;
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use decode::{Flag, SetAt, TextKey};
pub use group::{GroupCommit, ROWS_PER_INSERT, pow2_chunks, value_rows};
pub use keys::{Key, KeyRing, KeySet};
pub use page::Listed;
pub use settings::{DatabaseSettings, Synchronous, redact_url};
pub use timestamp::{Timestamp, tokyo};

pub type Conn = sqlx::AnyConnection;

/// A write transaction from [`Db::begin`]. On SQLite it holds the database's writer lock until
/// it commits, rolls back or is dropped. It dereferences to the connection, so `&mut tx` (or
/// `&mut *tx`) goes wherever a `&mut Conn` is taken.
pub struct Tx {
    inner: Transaction<'static, Any>,
    // Dropped after `inner` (fields drop in order), so the rollback is queued first.
    _writer: Option<OwnedMutexGuard<()>>,
    keys: Arc<KeyRing>,
}

impl Tx {
    /// The keys kept outside the database (the audit seal is written with them).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Marks a point this transaction can return to ([`Tx::rollback_to_savepoint`]) without
    /// ending; savepoints nest, the innermost is the one released or rolled back.
    pub async fn savepoint(&mut self) -> sqlx::Result<()> {
        self.inner.execute("SAVEPOINT rn_sp").await.map(drop)
    }

    pub async fn release_savepoint(&mut self) -> sqlx::Result<()> {
        self.inner
            .execute("RELEASE SAVEPOINT rn_sp")
            .await
            .map(drop)
    }

    pub async fn rollback_to_savepoint(&mut self) -> sqlx::Result<()> {
        self.inner.execute("ROLLBACK TO SAVEPOINT rn_sp").await?;
        self.inner
            .execute("RELEASE SAVEPOINT rn_sp")
            .await
            .map(drop)
    }
}

impl Tx {
    pub async fn commit(self) -> sqlx::Result<()> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        self.inner.rollback().await
    }
}

impl Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.inner
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database of one application. Clones share the pool, the SQLite writer lock and the
/// group-commit queues; all of them end with the last clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite admits one writer at a time. Its busy handler makes a waiting writer sleep
    /// (1, 2, 5 … ms), which under a stream of writes costs far more than the writes; writers of
    /// every domain queue here instead, and the lock is handed on at once.
    writer: Arc<Mutex<()>>,
    groups: Arc<group::Groups>,
    /// Keys kept outside the database, under `data_dir/keys` (see [`keys`]).
    keys: Arc<KeyRing>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
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

/// Installs sqlx's `Any` drivers, once per process ([`Db::connect`] does it too); for code that
/// opens a connection of its own (a backup's snapshot file, a restored database).
pub fn install_drivers() {
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

impl Db {
    /// Opens the database of `settings`; the default SQLite file lives in `data_dir`, which is
    /// created if needed.
    pub async fn connect(settings: &DatabaseSettings, data_dir: &Path) -> anyhow::Result<Db> {
        install_drivers();
        let url = settings.url_in(data_dir);
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
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let keys = Arc::new(KeyRing::open(data_dir)?);
        let options: AnyConnectOptions = url
            .parse()
            .with_context(|| format!("invalid database url {}", redact_url(&url)))?;
        let synchronous = settings.synchronous;
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            // sqlx pings a connection before handing it out. A SQLite connection lives in this
            // process and cannot go away under us, and the ping is a round trip to its worker
            // thread on every request; a PostgreSQL connection can (a restart, a proxy's idle
            // cut), so it is still checked there.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers work while one writer commits. FULL (the default)
                        // syncs every commit, so an acknowledged write survives a power loss;
                        // NORMAL survives application crashes only (`database.synchronous`).
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute(synchronous.pragma()).await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    } else {
                        // No JIT compilation: our queries are short, but a few carry large
                        // cost estimates (a LIMIT over a walk of an index), and PostgreSQL's
                        // default JIT then spent ~200 ms compiling each one (the patient list
                        // took 250 ms instead of 20 ms at 200,000 patients; benches/prefecture.rs).
                        conn.execute("SET jit = off").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to {}", redact_url(&url)))?;
        Ok(Db {
            pool,
            backend,
            writer: Arc::new(Mutex::new(())),
            groups: Arc::default(),
            keys,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The keys kept outside the database (TOTP secrets, the audit seal).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// A write transaction. On SQLite it first queues for this database's writer lock (held
    /// by the [`Tx`] until it ends), then takes SQLite's write lock up front (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads before it writes fails with a busy-snapshot error when
    /// another connection commits in between, and the audit chain reads its head before writing.
    /// PostgreSQL takes no lock here. Never call it while holding another `Tx` of the same
    /// database: on SQLite that waits for itself.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => {
                let writer = Arc::clone(&self.writer).lock_owned().await;
                Ok(Tx {
                    inner: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _writer: Some(writer),
                    keys: Arc::clone(&self.keys),
                })
            }
            Backend::Postgres => Ok(Tx {
                inner: self.pool.begin().await?,
                _writer: None,
                keys: Arc::clone(&self.keys),
            }),
        }
    }

    /// This database's group-commit queue for items of type `T` answered with `R`
    /// (see [`GroupCommit`]).
    pub fn group<T: Send + 'static, R: Send + 'static>(&self) -> Arc<GroupCommit<T, R>> {
        self.groups.get()
    }

    /// The value of type `V` that lives with this database (one per type, created on first use,
    /// shared by every clone, dropped with the last): a cache of rows, for instance.
    pub fn shared<V: Default + Send + Sync + 'static>(&self) -> Arc<V> {
        self.groups.shared()
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
