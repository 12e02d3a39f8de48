//! `rainbownet blobs migrate --to s3|local` and `rainbownet blobs verify` (see the module's
//! rules). Neither opens the database. A progress bar is drawn only when stderr is a terminal.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, FromArgMatches};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;

use super::hash::BlobError;
use super::settings::{BlobSettings, StoreKind};
use super::store::BlobStore;
use crate::domain::{CliCommand, CliContext};

const GROUP: &str = "blobs";
const ABOUT: &str = "The attachment store (local directory or S3-compatible bucket)";

#[derive(Args, Debug)]
struct MigrateArgs {
    /// Where to copy every blob: `s3` (from the local directory to [blobs] s3_*) or `local`
    /// (back from the bucket).
    #[arg(long, value_name = "s3|local")]
    to: String,
    /// Blobs copied at once.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// Blobs read at once.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
}

pub fn migrate() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            MigrateArgs::augment_args(clap::Command::new("migrate").about(
                "Copy every blob to the other store, reading each back and checking its SHA-256; \
                 idempotent (run it again to resume). Then set [blobs] store.",
            ))
        },
        run: |ctx, m| Box::pin(run_migrate(ctx, m)),
    }
}

pub fn verify() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            VerifyArgs::augment_args(
                clap::Command::new("verify")
                    .about("Read every blob of the configured store and check its SHA-256; exits 1 on any bad one."),
            )
        },
        run: |ctx, m| Box::pin(run_verify(ctx, m)),
    }
}

fn bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} ({eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    ProgressBar::new(len as u64).with_style(style)
}

/// What became of one blob.
enum Outcome {
    Copied,
    AlreadyThere,
}

async fn run_migrate(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = MigrateArgs::from_arg_matches(m)?;
    let settings = ctx.section::<BlobSettings>();
    let data_dir = &ctx.settings.paths.data_dir;
    let to_kind = match args.to.trim() {
        "s3" => StoreKind::S3,
        "local" => StoreKind::Local,
        other => bail!("--to は s3 か local です（{other:?} は使えません）"),
    };
    let from_kind = match to_kind {
        StoreKind::S3 => StoreKind::Local,
        StoreKind::Local => StoreKind::S3,
    };
    let from = BlobStore::build(from_kind, &settings, data_dir)?;
    let to = BlobStore::build(to_kind, &settings, data_dir)?;
    let hashes = from.list().await?;
    eprintln!(
        "{} 件の添付ファイルを {} から {} へ移します",
        hashes.len(),
        from.describe(),
        to.describe()
    );
    let progress = bar(hashes.len());
    let results = for_each(
        hashes.into_iter().map(|(h, _)| h).collect(),
        args.jobs,
        &progress,
        move |hash| {
            let (from, to) = (from.clone(), to.clone());
            async move { copy_one(&from, &to, &hash).await }
        },
    )
    .await;
    progress.finish_and_clear();
    let (mut copied, mut present, mut failed) = (0usize, 0usize, 0usize);
    for (hash, r) in results {
        match r {
            Ok(Outcome::Copied) => copied += 1,
            Ok(Outcome::AlreadyThere) => present += 1,
            Err(e) => {
                failed += 1;
                eprintln!("失敗 {hash}: {e:#}");
            }
        }
    }
    println!(
        "コピー {copied} 件、移行済み {present} 件（読み戻して SHA-256 を確認）、失敗 {failed} 件"
    );
    if failed > 0 {
        eprintln!(
            "失敗したものがあります。原因を取り除いてから、もう一度実行してください（続きから再開します）。"
        );
        return Ok(ExitCode::from(1));
    }
    if to_kind == StoreKind::S3 && settings.store != StoreKind::S3 {
        println!("すべて確認できました。[blobs] store = \"s3\" に切り替えて再起動してください。");
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies one blob (read and checked at the source), unless the destination already holds it
/// intact; either way the destination's copy is read back and checked.
async fn copy_one(from: &BlobStore, to: &BlobStore, hash: &str) -> anyhow::Result<Outcome> {
    let bytes = from.get(hash).await?;
    if to.size(hash).await? == Some(bytes.len() as u64) && to.get(hash).await.is_ok() {
        return Ok(Outcome::AlreadyThere);
    }
    to.replace(hash, &bytes).await?;
    to.get(hash).await?;
    Ok(Outcome::Copied)
}

async fn run_verify(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = VerifyArgs::from_arg_matches(m)?;
    let settings = ctx.section::<BlobSettings>();
    let store = BlobStore::build(settings.store, &settings, &ctx.settings.paths.data_dir)?;
    let hashes = store.list().await?;
    let progress = bar(hashes.len());
    let results = for_each(
        hashes.into_iter().map(|(h, _)| h).collect(),
        args.jobs,
        &progress,
        move |hash| {
            let store = store.clone();
            async move { store.get(&hash).await.map(|_| ()) }
        },
    )
    .await;
    progress.finish_and_clear();
    let total = results.len();
    let mut bad = 0usize;
    for (hash, r) in results {
        if let Err(e) = r {
            bad += 1;
            let why = match e.downcast_ref::<BlobError>() {
                Some(BlobError::Corrupt(_)) => "内容がハッシュと一致しません".to_string(),
                Some(BlobError::Missing(_)) => "見つかりません".to_string(),
                None => format!("{e:#}"),
            };
            println!("不良 {hash}: {why}");
        }
    }
    println!("{total} 件を確認、不良 {bad} 件");
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs `f` on every item with at most `jobs` at once; results in item order.
async fn for_each<F, Fut, T>(
    items: Vec<String>,
    jobs: usize,
    progress: &ProgressBar,
    f: F,
) -> Vec<(String, anyhow::Result<T>)>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut set = JoinSet::new();
    let mut out = Vec::with_capacity(items.len());
    let mut collect = |r: Result<(String, anyhow::Result<T>), tokio::task::JoinError>| match r {
        Ok(pair) => out.push(pair),
        Err(e) => out.push((String::new(), Err(anyhow::anyhow!("task failed: {e}")))),
    };
    for item in items {
        while set.len() >= jobs.max(1) {
            if let Some(r) = set.join_next().await {
                progress.inc(1);
                collect(r);
            }
        }
        let fut = f(item.clone());
        set.spawn(async move { (item, fut.await) });
    }
    while let Some(r) = set.join_next().await {
        progress.inc(1);
        collect(r);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
