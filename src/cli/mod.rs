//! The command line: `serve`, `migrate`, `demo`, and every domain's commands (`Domain::cli`:
//! `account …`, `facility add`, `apikey create`, `calendar …`, `audit verify`, `job …`). Every
//! command that touches data takes `--config FILE` and `--data-dir DIR`, before or after its name.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::db::Db;
use crate::domain::{CliCommand, CliContext};
use crate::startup::Application;

#[derive(Parser, Debug)]
#[command(
    name = "rainbownet",
    version,
    about = "きよすレインボーネット 運用管理システム"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// Configuration file (TOML); see config/rainbownet.example.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database, blobs, backups).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web application.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Serve a demo network (its own data directory, demo-data by default) and print its log-ins.
    Demo {
        #[arg(long)]
        bind: Option<String>,
        /// Keep TOTP required for staff roles, as in production.
        #[arg(long)]
        with_totp: bool,
    },
}

pub fn load_settings(common: &Common) -> anyhow::Result<Settings> {
    let mut s = Settings::load(common.config.as_deref())?;
    if let Some(dir) = &common.data_dir {
        s.paths.data_dir = dir.clone();
    }
    Ok(s)
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log.filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database, &settings.paths.data_dir).await?;
    db.migrate().await?;
    Ok(db)
}

/// The built-in commands and every domain's (`Domain::cli`), grouped by their first word.
fn command_line(domains: &[CliCommand]) -> clap::Command {
    let mut groups: Vec<(&str, &str, Vec<clap::Command>)> = Vec::new();
    for c in domains {
        match groups.iter_mut().find(|(g, _, _)| *g == c.group) {
            Some((_, _, leaves)) => leaves.push((c.command)()),
            None => groups.push((c.group, c.group_about, vec![(c.command)()])),
        }
    }
    groups
        .into_iter()
        .fold(Cli::command(), |cmd, (group, about, leaves)| {
            cmd.subcommand(
                clap::Command::new(group)
                    .about(about)
                    .subcommand_required(true)
                    .arg_required_else_help(true)
                    .subcommands(leaves),
            )
        })
}

pub async fn main() -> anyhow::Result<ExitCode> {
    crate::tls::install_provider();
    let commands: Vec<CliCommand> = crate::startup::domains()
        .into_iter()
        .flat_map(|d| d.cli)
        .collect();
    let matches = command_line(&commands).get_matches();
    let common = Common::from_arg_matches(&matches)?;
    let mut settings = load_settings(&common)?;
    init_tracing(&settings);
    // Every command refuses a settings section that is malformed or that no domain owns.
    let registry = Arc::new(crate::startup::registry(&settings)?);
    let now = SystemClock.now();
    if let Some((group, sub)) = matches.subcommand()
        && let Some((leaf, args)) = sub.subcommand()
        && let Some(c) = commands
            .iter()
            .find(|c| c.group == group && (c.command)().get_name() == leaf)
    {
        let ctx = CliContext {
            settings,
            now,
            registry,
        };
        return (c.run)(&ctx, args).await;
    }
    let cli = Cli::from_arg_matches(&matches)?;
    match cli.command {
        Command::Serve { bind } => {
            if let Some(b) = bind {
                settings.server.rebind(b);
            }
            if let Some(w) = settings.server.public_url_warning() {
                tracing::warn!("{w}");
                eprintln!("警告: {w}");
            }
            tracing::info!(?settings, "starting");
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            println!("rainbownet: http://{}/", app.local_addr());
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = connect(&settings).await?;
            db.close().await;
            println!("マイグレーションを適用しました。");
        }
        Command::Demo { bind, with_totp } => {
            if cli.common.data_dir.is_none()
                && settings.paths.data_dir == Settings::default().paths.data_dir
            {
                settings.paths.data_dir = PathBuf::from("demo-data");
            }
            if let Some(b) = bind {
                settings.server.rebind(b);
            }
            settings.security.require_totp = with_totp;
            crate::backup::demo_keys(&mut settings, now)?;
            crate::records::demo_review(&mut settings)?;
            let db = connect(&settings).await?;
            let logins = crate::demo::prepare(&db, now).await?;
            let app = Application::build_with_db(settings, Arc::new(SystemClock), db).await?;
            crate::demo::prepare_network(app.state(), now).await?;
            let url = format!("http://{}/", app.local_addr());
            println!("\nきよすレインボーネット 運用管理システム — デモ");
            println!("URL: {url}");
            println!(
                "データベース: {}",
                crate::config::redact_url(&app.state().settings.database_url())
            );
            if !with_totp {
                println!(
                    "※ デモのため、職員ロールの二要素認証は無効です（全ページにその旨を表示します）。"
                );
            }
            println!(
                "\n{}{}初期パスワード（初回ログイン時に変更）",
                pad("ログインID", 17),
                pad("役割", 17)
            );
            for l in &logins {
                println!(
                    "{}{}{}",
                    pad(&l.login_id, 17),
                    pad(l.role.label(), 17),
                    l.password
                );
            }
            println!("\n停止するには Ctrl-C を押してください。");
            app.run_until_stopped().await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Pads for a terminal, counting East Asian characters as two columns.
fn pad(s: &str, width: usize) -> String {
    let w: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w).max(1)))
}
