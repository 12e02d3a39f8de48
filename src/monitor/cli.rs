//! `rainbownet monitor …`: `add`, `list` and `run --once`.
//!
//! `monitor run --once` checks every unpaused monitor now, records the results (and alerts,
//! as the scheduler would) and exits with status 0 when no monitor is down afterwards, 1 when at
//! least one is (errors also end non-zero), so that scripts and other monitoring can use it.

use std::process::ExitCode;

use clap::{ArgGroup, Args, FromArgMatches};

use super::model::{Kind, Name, NewMonitor, State, Target, parse_interval, parse_timeout};
use super::settings::MonitorSettings;
use super::{repo, scheduler, service};
use crate::audit::Actor;
use crate::domain::{CliCommand, CliContext, cli_error};

const GROUP: &str = "monitor";
const ABOUT: &str = "Monitoring (R22.1): add and list monitors, check them now.";

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("what").required(true).args(["ping", "http"])))]
struct AddArgs {
    /// The monitor's name.
    #[arg(long)]
    name: String,
    /// Ping this host or address (`host:port` names the port of the TCP fallback).
    #[arg(long, value_name = "HOST")]
    ping: Option<String>,
    /// Check this http(s) URL.
    #[arg(long, value_name = "URL")]
    http: Option<String>,
    /// How often: 30s, 5m, 15m, 1h (default: [monitor] ping/http_interval_seconds).
    #[arg(long, value_name = "D")]
    interval: Option<String>,
    /// Failed checks in a row before "down" (default: [monitor] retries).
    #[arg(long, value_name = "N")]
    retries: Option<i64>,
    /// HTTP: text the response must contain.
    #[arg(long, value_name = "K")]
    keyword: Option<String>,
    /// HTTP: the status expected (default: any 2xx or 3xx).
    #[arg(long, value_name = "CODE")]
    status: Option<i64>,
    /// HTTP: an RFC 6901 pointer into a JSON response (with --json-value).
    #[arg(long, value_name = "POINTER", requires = "json_value")]
    json_pointer: Option<String>,
    /// HTTP: the value expected at --json-pointer.
    #[arg(long, value_name = "VALUE", requires = "json_pointer")]
    json_value: Option<String>,
    /// HTTP: slower than this many milliseconds counts as a failure.
    #[arg(long, value_name = "MS")]
    max_response_ms: Option<i64>,
    /// HTTPS: a certificate expiring in fewer days counts as a failure.
    #[arg(long, value_name = "DAYS")]
    cert_min_days: Option<i64>,
    /// One check's timeout, e.g. 10s (default: [monitor] timeout_ms).
    #[arg(long, value_name = "D")]
    timeout: Option<String>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Check every monitor once now and exit (the only mode: the scheduler runs in `serve`).
    #[arg(long, required = true)]
    once: bool,
}

pub fn add() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            AddArgs::augment_args(
                clap::Command::new("add").about("Add a monitor (ping or HTTP); it starts pending."),
            )
        },
        run: |ctx, m| Box::pin(run_add(ctx, m)),
    }
}

pub fn list() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            clap::Command::new("list").about(
                "One monitor a line: id, name, kind, target, state (up/down/pending/paused).",
            )
        },
        run: |ctx, _| Box::pin(run_list(ctx)),
    }
}

pub fn run() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            RunArgs::augment_args(clap::Command::new("run").about(
                "Check every monitor now, record the results and alerts; exit 1 if any is down.",
            ))
        },
        run: |ctx, m| Box::pin(run_once(ctx, m)),
    }
}

/// The monitor described by the arguments, with `[monitor]`'s defaults.
fn new_monitor(a: AddArgs, s: &MonitorSettings) -> anyhow::Result<NewMonitor> {
    let msg = anyhow::Error::msg;
    let (kind, target) = match (a.ping, a.http) {
        (Some(h), None) => (Kind::Ping, h),
        (None, Some(u)) => (Kind::Http, u),
        _ => anyhow::bail!("--ping か --http のどちらか一つを指定してください。"),
    };
    let mut m = NewMonitor::with_defaults(
        Name::parse(&a.name).map_err(msg)?,
        kind,
        Target::parse(kind, &target).map_err(msg)?,
        s,
    );
    if let Some(i) = a.interval {
        m.interval_seconds = parse_interval(&i).map_err(msg)?;
    }
    if let Some(t) = a.timeout {
        m.timeout_ms = parse_timeout(&t).map_err(msg)?;
    }
    if let Some(r) = a.retries {
        if !(1..=100).contains(&r) {
            anyhow::bail!("--retries は 1 から 100 で指定してください。");
        }
        m.retries = r;
    }
    if kind == Kind::Ping
        && (a.keyword.is_some()
            || a.status.is_some()
            || a.json_pointer.is_some()
            || a.max_response_ms.is_some()
            || a.cert_min_days.is_some())
    {
        anyhow::bail!("--keyword などの条件は --http の監視にだけ指定できます。");
    }
    m.keyword = a.keyword.filter(|k| !k.is_empty());
    m.expect_status = a.status;
    m.json_pointer = a.json_pointer;
    m.json_value = a.json_value;
    m.max_response_ms = a.max_response_ms;
    m.cert_min_days = a.cert_min_days;
    m.check().map_err(msg)?;
    Ok(m)
}

async fn run_add(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = AddArgs::from_arg_matches(m)?;
    let new = new_monitor(a, &ctx.section::<MonitorSettings>())?;
    let db = ctx.db().await?;
    let id = service::add(&db, &new, &Actor::cli(), ctx.now)
        .await
        .map_err(cli_error)?;
    db.close().await;
    println!(
        "監視を登録しました: {id} {}（{}、{} 秒ごと）",
        new.name,
        new.kind.label(),
        new.interval_seconds
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_list(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let monitors = {
        let mut conn = db.pool().acquire().await?;
        repo::list_by_kind(&mut conn, None).await?
    };
    db.close().await;
    for m in monitors {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            m.id,
            m.name,
            m.kind,
            m.target,
            m.status_key()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_once(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let _ = RunArgs::from_arg_matches(m)?;
    let db = ctx.db().await?;
    let state = ctx.state(db.clone());
    let (summary, done) = scheduler::run_all(&state, ctx.now).await?;
    let mut any_down = false;
    {
        let mut conn = db.pool().acquire().await?;
        for (claim, probe) in &done {
            let now_state = repo::find(&mut conn, claim.monitor.id)
                .await?
                .map(|m| m.state())
                .unwrap_or(State::Pending);
            any_down |= now_state == State::Down;
            let ms = probe
                .response_ms
                .map(|v| format!("{v}ms"))
                .unwrap_or_default();
            println!(
                "{}\t{}\t{}\t{}\t{}{}",
                claim.monitor.id,
                claim.monitor.name,
                if probe.up { "up" } else { "down" },
                ms,
                probe.detail,
                if claim.record {
                    ""
                } else {
                    "（この枠は記録済みのため記録せず）"
                }
            );
            if let Some(note) = &probe.note {
                println!("\t注記: {note}");
            }
        }
    }
    db.close().await;
    eprintln!("{}", summary.message());
    Ok(if any_down {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
