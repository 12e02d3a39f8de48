//! `rainbownet backup …`: `run [--monthly]`, `system`, `list`, `verify ID`, `restore ID --to DIR`,
//! `keygen --out FILE`. Progress bars (bytes archived, entries restored) are drawn only when
//! stderr is a terminal. `verify`, `restore` and `keygen` never open the application's database:
//! the backup directory is the truth (`--from DIR` reads another one, e.g. on a new machine).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, FromArgMatches};
use indicatif::{ProgressBar, ProgressStyle};

use super::model::{BackupId, Kind, Manifest};
use super::repo::BackupRow;
use super::restore::{RestoreOptions, RestoredDb};
use super::settings::BackupSettings;
use super::{age_keys, catalog, history, restore, run, verify};
use crate::audit::Actor;
use crate::db::{Db, Timestamp};
use crate::domain::{CliCommand, CliContext};

const GROUP: &str = super::CLI_GROUP;
const ABOUT: &str = super::CLI_ABOUT;

#[derive(Args, Debug)]
struct RunArgs {
    /// A monthly full backup (default: a daily one, which carries only new blobs).
    #[arg(long)]
    monthly: bool,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The backup ID (first column of `backup list`).
    id: String,
    /// An age identity file: also decrypt and check every file (default: [backup] identity_file).
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// The directory holding the archives (default: the configured backup directory).
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RestoreArgs {
    /// The backup ID; its whole chain (monthly, then dailies up to it) is restored.
    id: String,
    /// An empty directory to restore into (a data directory `serve --data-dir` starts on).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// The age identity file (default: [backup] identity_file).
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// The directory holding the archives (default: the configured backup directory).
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
    /// PostgreSQL backups: an EMPTY database to pg_restore into.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args, Debug)]
struct KeygenArgs {
    /// Where to write the new age identity (mode 0600; an existing file is never overwritten).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn command(
    run: for<'a> fn(
        &'a CliContext,
        &'a clap::ArgMatches,
    ) -> crate::state::BoxFuture<'a, anyhow::Result<ExitCode>>,
    make: fn() -> clap::Command,
) -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: make,
        run,
    }
}

pub fn run() -> CliCommand {
    command(
        |ctx, m| Box::pin(run_backup(ctx, m)),
        || {
            RunArgs::augment_args(clap::Command::new("run").about(
                "Take a backup now: daily (database + new blobs) or --monthly (full); written, \
                 read back and recorded.",
            ))
        },
    )
}

pub fn system() -> CliCommand {
    command(
        |ctx, _| Box::pin(run_system(ctx)),
        || {
            clap::Command::new("system")
                .about("Back up the configuration and system data (R20.3): no application data.")
        },
    )
}

pub fn list() -> CliCommand {
    command(
        |ctx, _| Box::pin(run_list(ctx)),
        || {
            clap::Command::new("list")
                .about("One backup a line: ID, kind, start (JST), size, result, verified, drilled.")
        },
    )
}

pub fn verify() -> CliCommand {
    command(
        |ctx, m| Box::pin(run_verify(ctx, m)),
        || {
            VerifyArgs::augment_args(clap::Command::new("verify").about(
                "Check an archive against its manifest (SHA-256; with an identity every file); \
                 exits 1 on any difference.",
            ))
        },
    )
}

pub fn restore() -> CliCommand {
    command(
        |ctx, m| Box::pin(run_restore(ctx, m)),
        || {
            RestoreArgs::augment_args(clap::Command::new("restore").about(
                "Restore a backup's chain into an empty directory (and, for PostgreSQL, an empty \
                 database), checking every file.",
            ))
        },
    )
}

pub fn keygen() -> CliCommand {
    command(
        |ctx, m| Box::pin(run_keygen(ctx, m)),
        || {
            KeygenArgs::augment_args(clap::Command::new("keygen").about(
                "Write a new age identity file (0600) and print its public key for [backup] \
                 recipients.",
            ))
        },
    )
}

fn bytes_bar() -> ProgressBar {
    bar("{spinner} [{elapsed_precise}] [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
}

fn entries_bar() -> ProgressBar {
    bar("{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} ファイル")
}

fn bar(template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(0).with_style(style)
}

fn settings(ctx: &CliContext) -> std::sync::Arc<BackupSettings> {
    ctx.section::<BackupSettings>()
}

fn backup_dir(ctx: &CliContext, from: Option<&Path>) -> PathBuf {
    from.map(Path::to_path_buf)
        .unwrap_or_else(|| settings(ctx).dir_in(&ctx.settings.paths.data_dir))
}

fn identity(ctx: &CliContext, given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let s = settings(ctx);
        Some(PathBuf::from(s.identity_file.trim())).filter(|p| !p.as_os_str().is_empty())
    })
}

fn parse_id(s: &str) -> anyhow::Result<BackupId> {
    BackupId::parse(s.trim()).map_err(anyhow::Error::msg)
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

async fn run_backup(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = RunArgs::from_arg_matches(m)?;
    let kind = if args.monthly {
        Kind::Monthly
    } else {
        Kind::Daily
    };
    take(ctx, kind).await
}

async fn run_system(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    take(ctx, Kind::System).await
}

async fn take(ctx: &CliContext, kind: Kind) -> anyhow::Result<ExitCode> {
    let state = ctx.state(ctx.db().await?);
    let bar = bytes_bar();
    let result = run::backup_now_with(&state, kind, "cli", &Actor::cli(), ctx.now, &bar).await;
    bar.finish_and_clear();
    state.db.close().await;
    let r = result?;
    let dir = settings(ctx).dir_in(&ctx.settings.paths.data_dir);
    let m = &r.manifest;
    println!(
        "バックアップ {}（{}）を作成しました。",
        r.id,
        m.kind.label()
    );
    println!(
        "  アーカイブ: {}（{}、ファイル {} 件、{:.1} 秒）",
        dir.join(r.id.archive_name()).display(),
        human_bytes(r.size_bytes),
        m.files.len(),
        r.duration.as_secs_f64()
    );
    println!(
        "  読み戻し検査: {}（{:.1} 秒）",
        r.verified,
        r.verify_duration.as_secs_f64()
    );
    if m.kind != Kind::System {
        println!(
            "  文書 {} 件、患者 {} 人、アカウント {} 件、監査ログ {} 行（先頭 {} 行目）",
            m.counts.documents,
            m.counts.patients,
            m.counts.accounts,
            m.counts.audit_rows,
            m.audit_head_seq
        );
    }
    if let Some(chain) = m.chain.as_ref().filter(|c| *c != &m.id) {
        println!(
            "  チェーン: 月次 {chain} の上の日次（親 {}）",
            m.parent.as_ref().map(BackupId::as_str).unwrap_or("-")
        );
    }
    if let Some(note) = &r.note {
        println!("  ※ {note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The application's database if it exists (a SQLite file is not created just to list).
async fn existing_db(ctx: &CliContext) -> Option<Db> {
    let url = ctx.settings.database_url();
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or(rest);
        if !Path::new(path).exists() {
            return None;
        }
    }
    match ctx.db().await {
        Ok(db) => Some(db),
        Err(e) => {
            eprintln!(
                "注意: データベースに接続できないため、ディレクトリの内容だけを表示します ({e:#})"
            );
            None
        }
    }
}

async fn run_list(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let dir = backup_dir(ctx, None);
    let catalog = catalog::scan(&dir)?;
    let rows = match existing_db(ctx).await {
        Some(db) => {
            let rows = history::list(&db).await;
            db.close().await;
            rows?
        }
        None => Vec::new(),
    };
    for line in list_lines(&catalog.manifests, &rows) {
        println!("{line}");
    }
    for p in &catalog.problems {
        eprintln!("注意: 読めないマニフェストがあります: {p}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per backup, ID first: from the directory (the truth) and the recorded history.
pub fn list_lines(manifests: &[Manifest], rows: &[BackupRow]) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut all: BTreeMap<String, (Option<&Manifest>, Option<&BackupRow>)> = BTreeMap::new();
    for m in manifests {
        all.entry(m.id.to_string()).or_default().0 = Some(m);
    }
    for r in rows {
        all.entry(r.id.clone()).or_default().1 = Some(r);
    }
    let mut items: Vec<_> = all.into_iter().collect();
    let started = |(_, (m, r)): &(String, (Option<&Manifest>, Option<&BackupRow>))| {
        m.map(|m| m.started_at.clone())
            .or_else(|| r.map(|r| r.started_at.to_string()))
            .unwrap_or_default()
    };
    items.sort_by_key(|i| (started(i), i.0.clone()));
    let jst = |s: &str| {
        s.parse::<Timestamp>()
            .map(|t| t.jst_seconds())
            .unwrap_or_else(|_| s.to_string())
    };
    items
        .iter()
        .map(|item| {
            let (id, (m, r)) = item;
            let kind = m
                .map(|m| m.kind.key().to_string())
                .or_else(|| r.map(|r| r.kind.clone()))
                .unwrap_or_default();
            let size = m
                .and_then(|m| m.archive.as_ref())
                .map(|a| human_bytes(a.size))
                .or_else(|| r.and_then(|r| r.size_bytes).map(|n| human_bytes(n as u64)))
                .unwrap_or_else(|| "-".into());
            let result = match (m, r) {
                (Some(_), Some(r)) if r.state == "ok" => "ok".to_string(),
                (Some(_), None) => "ok（ディレクトリのみ）".to_string(),
                (Some(_), Some(r)) => r.state.clone(),
                (None, Some(r)) if r.state == "ok" => "missing（アーカイブなし）".to_string(),
                (None, Some(r)) => match &r.error {
                    Some(e) => format!("{}: {}", r.state, e.lines().next().unwrap_or("")),
                    None => r.state.clone(),
                },
                (None, None) => "-".into(),
            };
            let verified = r
                .and_then(|r| {
                    r.verified_at.map(|t| {
                        format!(
                            "{} {}",
                            t.jst_seconds(),
                            r.verify_result.as_deref().unwrap_or("")
                        )
                    })
                })
                .unwrap_or_else(|| "-".into());
            let drilled = r
                .and_then(|r| {
                    r.drilled_at.map(|t| {
                        format!(
                            "{} {}",
                            t.jst_seconds(),
                            r.drill_result.as_deref().unwrap_or("")
                        )
                    })
                })
                .unwrap_or_else(|| "-".into());
            format!(
                "{id}  {kind:<7}  {}  {size:>9}  {result}  検査: {verified}  復元訓練: {drilled}",
                jst(&started(item))
            )
        })
        .collect()
}

async fn run_verify(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = VerifyArgs::from_arg_matches(m)?;
    let id = parse_id(&args.id)?;
    let dir = backup_dir(ctx, args.from.as_deref());
    let key = identity(ctx, args.identity);
    let (dir2, id2) = (dir.clone(), id.clone());
    let result =
        tokio::task::spawn_blocking(move || verify::verify(&dir2, &id2, key.as_deref())).await?;
    Ok(match result {
        Ok(c) => {
            match c.entries {
                Some(n) => println!(
                    "OK: バックアップ {id} のアーカイブ（{}）は SHA-256 がマニフェストと一致し、復号して {n} 件のファイルをすべて確認しました。",
                    human_bytes(c.archive_bytes)
                ),
                None => println!(
                    "OK: バックアップ {id} のアーカイブ（{}）は SHA-256 がマニフェストと一致します（中身の確認には --identity FILE）。",
                    human_bytes(c.archive_bytes)
                ),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("NG: バックアップ {id} の検査に失敗しました: {e:#}");
            ExitCode::from(1)
        }
    })
}

async fn run_restore(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = RestoreArgs::from_arg_matches(m)?;
    let id = parse_id(&args.id)?;
    let dir = backup_dir(ctx, args.from.as_deref());
    let Some(key) = identity(ctx, args.identity) else {
        anyhow::bail!(
            "復号の鍵を --identity FILE で指定してください（オフラインで保管している age の秘密鍵） (an identity is needed)"
        );
    };
    let options = RestoreOptions {
        pg_restore: settings(ctx).pg_restore.clone(),
        progress: entries_bar(),
    };
    let r = restore::restore_with(
        &dir,
        &id,
        &key,
        &args.to,
        args.database_url.as_deref(),
        &options,
    )
    .await;
    options.progress.finish_and_clear();
    let r = r?;
    let to = &args.to;
    let chain: Vec<&str> = r.chain.iter().map(BackupId::as_str).collect();
    println!(
        "バックアップ {id} を {} に復元しました（チェーン: {}、ファイル {} 件、{}）。",
        to.display(),
        chain.join(" → "),
        r.files,
        human_bytes(r.bytes)
    );
    println!(
        "  件数（マニフェストと一致）: 文書 {} 件、患者 {} 人、アカウント {} 件、監査ログ {} 行",
        r.manifest.counts.documents,
        r.manifest.counts.patients,
        r.manifest.counts.accounts,
        r.manifest.counts.audit_rows
    );
    let db_env = match &r.database {
        RestoredDb::Sqlite(f) => {
            println!("  データベース: {}", f.display());
            String::new()
        }
        RestoredDb::Postgres(url) => {
            println!("  データベース: {url} に pg_restore しました");
            format!("RAINBOWNET__DATABASE__URL={url} ")
        }
        RestoredDb::PostgresDump(f) => {
            println!(
                "  データベース: ダンプ {} （空のデータベースへ: pg_restore --no-owner --no-privileges --exit-on-error --dbname URL {}）",
                f.display(),
                f.display()
            );
            "RAINBOWNET__DATABASE__URL=URL ".to_string()
        }
        RestoredDb::None => {
            println!("  システムバックアップ（設定とシステムの記録。データベースは含みません）");
            String::new()
        }
    };
    if let Some(anchor) = &r.anchor_file {
        println!("確認の手順:");
        println!(
            "  1. 鍵（keys/）はバックアップに含まれません。別に保管している写しを {} に戻してください（ディレクトリ 0700、ファイル 0600）。",
            to.join("keys").display()
        );
        println!(
            "  2. {db_env}rainbownet --data-dir {} audit verify --anchor {}",
            to.display(),
            anchor.display()
        );
        println!("  3. {db_env}rainbownet --data-dir {} serve", to.display());
        println!(
            "  ※ {} はこのバックアップのアンカーから始まります。元のサーバーの audit/anchor.log は復元後のチェーンより長い記録を持つため、そのまま戻さず退避してください（README「バックアップと復元」）。",
            to.join("audit/anchor.log").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_keygen(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = KeygenArgs::from_arg_matches(m)?;
    let public = age_keys::generate(&args.out, ctx.now)?;
    println!("{public}");
    eprintln!(
        "秘密鍵を {} に書き出しました（0600）。公開鍵（上の行）を [backup] recipients に加え、秘密鍵はサーバーの外（オフライン）に保管してください。",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
