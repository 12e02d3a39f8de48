//! `rainbownet job run NAME | list`: for cron-style operation and for looking.

use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use crate::domain::{CliCommand, CliContext};

const GROUP: &str = "job";
const ABOUT: &str = "Background jobs.";

#[derive(Args, Debug)]
struct RunArgs {
    name: String,
}

pub fn run() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            RunArgs::augment_args(
                clap::Command::new("run").about("Run one job once (under its lease)."),
            )
        },
        run: |ctx, m| Box::pin(run_one(ctx, m)),
    }
}

pub fn list() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || clap::Command::new("list").about("List jobs and their last runs."),
        run: |ctx, _| Box::pin(list_all(ctx)),
    }
}

async fn run_one(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let name = RunArgs::from_arg_matches(m)?.name;
    let state = ctx.state(ctx.db().await?);
    let result = super::runner::run(&state, &name, &super::runner::holder_id()).await;
    state.db.close().await;
    Ok(match result {
        Ok(msg) => {
            println!("{name}: {msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::from(1)
        }
    })
}

async fn list_all(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let state = ctx.state(ctx.db().await?);
    for job in &state.registry.jobs {
        let s = super::runner::status(&state, job.name).await?;
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
    state.db.close().await;
    Ok(ExitCode::SUCCESS)
}
