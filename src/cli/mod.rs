//! The command line: `serve`, `migrate`, `demo`, `account …`, `audit verify`, `job …`. Every
//! command that touches data takes `--config FILE` and `--data-dir DIR`, before or after its name.

mod calendar;
mod paper;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::accounts::LoginId;
use crate::accounts::service::{self as accounts, AccountSpec};
use crate::audit::{self, Actor};
use crate::auth::Role;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::db::Db;
use crate::startup::Application;
use crate::state::AppState;

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
    /// Accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Background jobs.
    #[command(subcommand)]
    Job(JobCommand),
    /// Participating facilities.
    #[command(subcommand)]
    Facility(FacilityCommand),
    /// API keys of facility systems (FHIR intake).
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// The business calendar (R15.1).
    #[command(subcommand)]
    Calendar(CalendarCommand),
}

#[derive(Subcommand, Debug)]
pub enum FacilityCommand {
    /// Register a facility.
    Add {
        /// 10-digit facility code (医療機関コード / 介護事業所番号).
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// 病院 / 診療所 / 歯科 / 薬局 / 訪問看護 / 介護事業所 / その他
        #[arg(long)]
        kind: String,
        #[arg(long, default_value = "")]
        postal_code: String,
        #[arg(long, default_value = "")]
        address: String,
        #[arg(long, default_value = "")]
        phone: String,
        #[arg(long, default_value = "")]
        fax: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApikeyCommand {
    /// Issue a key for a facility and print it once (only its hash is kept).
    Create {
        #[arg(long)]
        facility: String,
        #[arg(long, default_value = "連携システム")]
        label: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CalendarCommand {
    /// Prints `open` or `closed <reason>` for an instant, e.g. 2026-05-06T10:00+09:00.
    Check { at: String },
    /// Prints a month (YYYY-MM) with closed days marked.
    Month { month: String },
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create an account and print its one-time password.
    Create {
        #[arg(long)]
        role: String,
        #[arg(long)]
        login_id: String,
        #[arg(long)]
        name: Option<String>,
        /// Facility code (required for facility_manager and user).
        #[arg(long)]
        facility: Option<String>,
    },
    /// Lift a lock.
    Unlock {
        #[arg(long)]
        login_id: String,
    },
    /// Issue a new one-time password (prints it once).
    ResetPassword {
        #[arg(long)]
        login_id: String,
    },
    /// Register a user of a facility from a paper request and write the sealed letter (PDF).
    /// Prints the new user ID; the password is only in the letter.
    Issue {
        /// Facility code.
        #[arg(long)]
        facility: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        kana: String,
        #[arg(long, default_value = "その他")]
        job_type: String,
        #[arg(long, default_value = "")]
        contact: String,
        /// The date written on the paper request (YYYY-MM-DD; default today).
        #[arg(long)]
        paper_date: Option<String>,
        /// Where to write the sealed letter.
        #[arg(long, value_name = "FILE.pdf")]
        letter: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole hash chain; exits 1 and names the first broken row if it is broken.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// Run one job once (under its lease).
    Run { name: String },
    /// List jobs and their last runs.
    List,
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

fn app_state(settings: Settings, db: Db) -> AppState {
    AppState {
        db,
        settings: Arc::new(settings),
        clock: Arc::new(SystemClock),
        rules: Arc::new(crate::startup::routes().into_parts().1),
    }
}

pub async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let mut settings = load_settings(&cli.common)?;
    init_tracing(&settings);
    let now = SystemClock.now();
    match cli.command {
        Command::Serve { bind } => {
            if let Some(b) = bind {
                settings.server.bind = b;
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
                settings.server.bind = b;
            }
            settings.security.require_totp = with_totp;
            let db = connect(&settings).await?;
            let logins = crate::demo::prepare(&db, now).await?;
            let app = Application::build_with_db(settings, Arc::new(SystemClock), db).await?;
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
                    pad(l.login_id, 17),
                    pad(l.role.label(), 17),
                    l.password
                );
            }
            println!("\n停止するには Ctrl-C を押してください。");
            app.run_until_stopped().await?;
        }
        Command::Account(cmd) => {
            let db = connect(&settings).await?;
            let actor = Actor::cli();
            match cmd {
                AccountCommand::Create {
                    role,
                    login_id,
                    name,
                    facility,
                } => {
                    let role: Role = role.parse()?;
                    let login_id = LoginId::parse(&login_id).map_err(anyhow::Error::msg)?;
                    let display = name.unwrap_or_else(|| login_id.to_string());
                    let mut spec =
                        AccountSpec::new(Some(login_id), &display, role, facility.as_deref());
                    spec.otp_days = settings.accounts.one_time_password_days;
                    let created = accounts::create_account(&db, &spec, &actor, now)
                        .await
                        .map_err(user_error)?;
                    println!("ログインID: {}", created.login_id);
                    println!("初期パスワード: {}", created.one_time_password);
                    println!(
                        "有効期限: {}（初回ログイン時に変更が必要です）",
                        created.expires_at.jst()
                    );
                }
                AccountCommand::Unlock { login_id } => {
                    let done = accounts::unlock_by_login_id(&db, &login_id, &actor, now)
                        .await
                        .map_err(user_error)?;
                    println!(
                        "{}",
                        if done {
                            "ロックを解除しました。"
                        } else {
                            "このアカウントはロックされていません。"
                        }
                    );
                }
                AccountCommand::Issue {
                    facility,
                    name,
                    kana,
                    job_type,
                    contact,
                    paper_date,
                    letter,
                } => {
                    paper::issue_from_paper(
                        &db,
                        &settings,
                        &facility,
                        &name,
                        &kana,
                        &job_type,
                        &contact,
                        paper_date.as_deref(),
                        &letter,
                        now,
                    )
                    .await?;
                }
                AccountCommand::ResetPassword { login_id } => {
                    let id = accounts::id_by_login_id(&db, &login_id)
                        .await
                        .map_err(user_error)?
                        .ok_or_else(|| anyhow::anyhow!("ログインID {login_id} は見つかりません"))?;
                    let (otp, expires) = accounts::reset_password(&db, id, &actor, now)
                        .await
                        .map_err(user_error)?;
                    println!("新しい初期パスワード: {otp}");
                    println!("有効期限: {}", expires.jst());
                }
            }
            db.close().await;
        }
        Command::Audit(AuditCommand::Verify) => {
            let db = connect(&settings).await?;
            let mut conn = db.pool().acquire().await?;
            let report = audit::verify(&mut conn).await?;
            drop(conn);
            db.close().await;
            return Ok(match report.broken {
                None => {
                    println!(
                        "OK: 監査ログ {} 行のハッシュチェーンは正常です。",
                        report.rows
                    );
                    ExitCode::SUCCESS
                }
                Some(b) => {
                    println!(
                        "NG: 監査ログ {} 行目で改ざんを検出しました（row {}: {}）。",
                        b.id, b.id, b.reason
                    );
                    ExitCode::from(1)
                }
            });
        }
        Command::Facility(FacilityCommand::Add {
            code,
            name,
            kind,
            postal_code,
            address,
            phone,
            fax,
        }) => {
            let db = connect(&settings).await?;
            let f = crate::facilities::NewFacility {
                code: crate::facilities::FacilityCode::parse(&code).map_err(anyhow::Error::msg)?,
                name: name.trim().to_string(),
                kind: crate::facilities::FacilityKind::parse(&kind).map_err(anyhow::Error::msg)?,
                postal_code,
                address,
                phone,
                fax,
            };
            if f.name.is_empty() {
                anyhow::bail!("施設名を指定してください。");
            }
            crate::facilities::add(&db, &f, &Actor::cli(), now)
                .await
                .map_err(user_error)?;
            db.close().await;
            println!(
                "施設を登録しました: {} {}（{}）",
                f.code,
                f.name,
                f.kind.label()
            );
        }
        Command::Apikey(ApikeyCommand::Create { facility, label }) => {
            let db = connect(&settings).await?;
            let (id, key) =
                crate::records::create_api_key(&db, &facility, &label, &Actor::cli(), now)
                    .await
                    .map_err(user_error)?;
            db.close().await;
            println!("API キー（ID {id}、施設 {facility}）: {key}");
            println!(
                "このキーは再表示できません。安全な方法で施設の連携システムに設定してください。"
            );
        }
        Command::Calendar(cmd) => {
            let db = connect(&settings).await?;
            let mut conn = db.pool().acquire().await?;
            let cal = crate::calendar::load(&mut conn, &settings.calendar).await?;
            drop(conn);
            db.close().await;
            return calendar::calendar_command(&cal, cmd);
        }
        Command::Job(cmd) => {
            let db = connect(&settings).await?;
            let state = app_state(settings, db);
            match cmd {
                JobCommand::Run { name } => {
                    let result = crate::jobs::run(&state, &name, &crate::jobs::holder_id()).await;
                    state.db.close().await;
                    return Ok(match result {
                        Ok(msg) => {
                            println!("{name}: {msg}");
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            eprintln!("{name}: {e:#}");
                            ExitCode::from(1)
                        }
                    });
                }
                JobCommand::List => {
                    for job in crate::jobs::all() {
                        let s = crate::jobs::status(&state, job.name).await?;
                        println!(
                            "{:<18} {:<24} last: {} {}",
                            job.name,
                            job.label,
                            s.last_finished_at
                                .map(|t| t.jst_seconds())
                                .unwrap_or_else(|| "-".into()),
                            s.last_status.unwrap_or_default()
                        );
                    }
                }
            }
            state.db.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn user_error(e: crate::error::AppError) -> anyhow::Error {
    match e {
        crate::error::AppError::Internal(e) => e,
        other => anyhow::anyhow!(match other {
            crate::error::AppError::BadRequest(m) | crate::error::AppError::Conflict(m) => m,
            crate::error::AppError::NotFound => "見つかりません".to_string(),
            o => o.to_string(),
        }),
    }
}

/// Pads for a terminal, counting East Asian characters as two columns.
fn pad(s: &str, width: usize) -> String {
    let w: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w).max(1)))
}
