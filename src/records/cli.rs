//! `rainbownet apikey create`.

use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use crate::audit::Actor;
use crate::domain::{CliCommand, CliContext, cli_error};

#[derive(Args, Debug)]
struct CreateArgs {
    #[arg(long)]
    facility: String,
    #[arg(long, default_value = "連携システム")]
    label: String,
}

pub fn create_key() -> CliCommand {
    CliCommand {
        group: "apikey",
        group_about: "API keys of facility systems (FHIR intake).",
        command: || {
            CreateArgs::augment_args(
                clap::Command::new("create")
                    .about("Issue a key for a facility and print it once (only its hash is kept)."),
            )
        },
        run: |ctx, m| Box::pin(run_create(ctx, m)),
    }
}

async fn run_create(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = CreateArgs::from_arg_matches(m)?;
    let db = ctx.db().await?;
    let (id, key) =
        super::service::create_api_key(&db, &a.facility, &a.label, &Actor::cli(), ctx.now)
            .await
            .map_err(cli_error)?;
    db.close().await;
    println!("API キー（ID {id}、施設 {}）: {key}", a.facility);
    println!("このキーは再表示できません。安全な方法で施設の連携システムに設定してください。");
    Ok(ExitCode::SUCCESS)
}
