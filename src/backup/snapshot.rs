//! The database snapshot of a backup, taken while the server keeps serving, and the facts the
//! manifest records about it — read FROM the snapshot, so that the manifest agrees with the data.
//!
//! - SQLite: `VACUUM INTO` a new file on a pooled connection (a reader in WAL mode: writers go on,
//!   and the application's writer lock is not taken); the facts are read from that file.
//! - PostgreSQL: a REPEATABLE READ transaction exports its snapshot; the facts are read in that
//!   transaction and `pg_dump -Fc --snapshot=<id>` dumps exactly the same state while it stays
//!   open. The password goes to `pg_dump` through `PGPASSWORD`, never on its command line.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;
use sqlx::Connection;

use super::model::Counts;
use super::repo;
use crate::audit::{self, Anchor, Head};
use crate::db::{Backend, Conn, Db, KeySet, Timestamp};

/// Where the snapshot lies in an archive (and in a data directory).
pub const SQLITE_ENTRY: &str = "rainbownet.db";
pub const POSTGRES_ENTRY: &str = "db/rainbownet.pgdump";

/// What the manifest says about the database, read from the snapshot.
#[derive(Clone, Debug)]
pub struct Facts {
    pub backend: &'static str,
    pub counts: Counts,
    pub schema_version: i64,
    /// The audit chain head in the snapshot, sealed (the manifest's anchor line).
    pub anchor: Anchor,
}

/// A snapshot in a temporary file (the caller removes it).
pub struct Snapshot {
    pub file: PathBuf,
    /// Its path in the archive.
    pub entry: &'static str,
    pub facts: Facts,
}

/// The temporary file of a snapshot of `db` under `dir` for the backup `stem`.
pub fn temp_file(db: &Db, dir: &Path, stem: &str) -> PathBuf {
    match db.backend() {
        Backend::Sqlite => dir.join(format!(".tmp-{stem}.db")),
        Backend::Postgres => dir.join(format!(".tmp-{stem}.pgdump")),
    }
}

/// Takes the snapshot into `file` (which must not exist). `database_url` is the URL in effect;
/// `pg_dump` the program to run on PostgreSQL.
pub async fn take(
    db: &Db,
    database_url: &str,
    pg_dump: &str,
    file: &Path,
    now: Timestamp,
) -> anyhow::Result<Snapshot> {
    let _ = std::fs::remove_file(file);
    match db.backend() {
        Backend::Sqlite => sqlite(db, file, now).await,
        Backend::Postgres => postgres(db, database_url, pg_dump, file, now).await,
    }
}

/// What a database holds, as the manifest counts it (no key needed: a restore compares it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub counts: Counts,
    pub schema_version: i64,
    pub head: Head,
}

pub async fn seen(conn: &mut Conn) -> anyhow::Result<Seen> {
    Ok(Seen {
        counts: repo::counts(conn).await?,
        schema_version: repo::schema_version(conn).await?,
        head: audit::head(conn).await?,
    })
}

/// The facts on a connection that sees the snapshot.
pub async fn facts(
    conn: &mut Conn,
    backend: &'static str,
    keys: &KeySet,
    now: Timestamp,
) -> anyhow::Result<Facts> {
    let seen = seen(conn).await?;
    Ok(Facts {
        backend,
        anchor: Anchor::seal(&seen.head, keys.current(), now),
        counts: seen.counts,
        schema_version: seen.schema_version,
    })
}

async fn sqlite(db: &Db, file: &Path, now: Timestamp) -> anyhow::Result<Snapshot> {
    let target = file
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup directory's path is not UTF-8"))?;
    let mut conn = db.pool().acquire().await?;
    repo::vacuum_into(&mut conn, target)
        .await
        .context("SQLite のスナップショット（VACUUM INTO）に失敗しました")?;
    drop(conn);
    let facts = read_sqlite_file(file, db.keys().audit(), now).await?;
    Ok(Snapshot {
        file: file.to_path_buf(),
        entry: SQLITE_ENTRY,
        facts,
    })
}

/// The facts of a SQLite database file (a snapshot, or a restored database), opened read-only.
pub async fn read_sqlite_file(file: &Path, keys: &KeySet, now: Timestamp) -> anyhow::Result<Facts> {
    crate::db::install_drivers();
    let url = format!("sqlite://{}?mode=ro", file.display());
    let mut conn = sqlx::AnyConnection::connect(&url)
        .await
        .with_context(|| format!("cannot open the snapshot {}", file.display()))?;
    let result = facts(&mut conn, "sqlite", keys, now).await;
    conn.close().await?;
    result
}

async fn postgres(
    db: &Db,
    database_url: &str,
    pg_dump: &str,
    file: &Path,
    now: Timestamp,
) -> anyhow::Result<Snapshot> {
    let mut tx = db
        .pool()
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let snapshot_id = repo::export_snapshot(&mut tx).await?;
    let facts = facts(&mut tx, "postgres", db.keys().audit(), now).await?;
    let target = libpq_target(database_url)?;
    let mut cmd = tokio::process::Command::new(pg_dump);
    cmd.arg("--format=custom")
        .arg("--compress=0")
        .arg("--no-sync")
        .arg(format!("--snapshot={snapshot_id}"))
        .arg("--file")
        .arg(file)
        .arg("--dbname")
        .arg(&target.conninfo);
    let out = run(cmd, target.password.as_deref(), pg_dump).await;
    // The exported snapshot lives as long as this transaction: end it only after pg_dump.
    tx.rollback().await?;
    out?;
    Ok(Snapshot {
        file: file.to_path_buf(),
        entry: POSTGRES_ENTRY,
        facts,
    })
}

/// Runs a PostgreSQL client program with the password in its environment; its error output
/// becomes the error.
pub async fn run(
    mut cmd: tokio::process::Command,
    password: Option<&str>,
    program: &str,
) -> anyhow::Result<()> {
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .with_context(|| format!("{program} を実行できません (cannot run {program})"))?;
    if !out.status.success() {
        anyhow::bail!(
            "{program} が失敗しました ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A PostgreSQL URL as libpq takes it: without the password (given through `PGPASSWORD`) and
/// without sqlx's own query parameters, which libpq would refuse.
pub struct LibpqTarget {
    pub conninfo: String,
    pub password: Option<String>,
}

pub fn libpq_target(database_url: &str) -> anyhow::Result<LibpqTarget> {
    const LIBPQ_PARAMS: &[&str] = &[
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "host",
        "port",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
    ];
    let mut url =
        url::Url::parse(database_url).map_err(|_| anyhow::anyhow!("database.url is not a URL"))?;
    let password = url.password().map(percent_decode);
    let _ = url.set_password(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| LIBPQ_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    Ok(LibpqTarget {
        conninfo: url.to_string(),
        password,
    })
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|b| hex(*b)),
            bytes.get(i + 2).and_then(|b| hex(*b)),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_dump_gets_the_url_without_its_password_or_sqlx_parameters() {
        let t = libpq_target(
            "postgres://rn:p%40ss%2Fw@db.example:5433/rn?sslmode=require&statement-cache-capacity=0",
        )
        .expect("url");
        assert_eq!(t.password.as_deref(), Some("p@ss/w"));
        assert!(!t.conninfo.contains("p%40ss"), "{}", t.conninfo);
        assert_eq!(
            t.conninfo,
            "postgres://rn@db.example:5433/rn?sslmode=require"
        );
        let t = libpq_target("postgres://postgres@127.0.0.1:5432/x").expect("url");
        assert_eq!(t.password, None);
        assert_eq!(t.conninfo, "postgres://postgres@127.0.0.1:5432/x");
    }
}
