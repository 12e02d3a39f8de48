//! `rainbownet facility add`.

use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use super::model::{FacilityCode, FacilityKind, NewFacility};
use crate::audit::Actor;
use crate::domain::{CliCommand, CliContext, cli_error};

#[derive(Args, Debug)]
struct AddArgs {
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
}

pub fn add() -> CliCommand {
    CliCommand {
        group: "facility",
        group_about: "Participating facilities.",
        command: || AddArgs::augment_args(clap::Command::new("add").about("Register a facility.")),
        run: |ctx, m| Box::pin(run_add(ctx, m)),
    }
}

async fn run_add(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = AddArgs::from_arg_matches(m)?;
    let f = NewFacility {
        code: FacilityCode::parse(&a.code).map_err(anyhow::Error::msg)?,
        name: a.name.trim().to_string(),
        kind: FacilityKind::parse(&a.kind).map_err(anyhow::Error::msg)?,
        postal_code: a.postal_code,
        address: a.address,
        phone: a.phone,
        fax: a.fax,
    };
    if f.name.is_empty() {
        anyhow::bail!("施設名を指定してください。");
    }
    let db = ctx.db().await?;
    super::service::add(&db, &f, &Actor::cli(), ctx.now)
        .await
        .map_err(cli_error)?;
    db.close().await;
    println!(
        "施設を登録しました: {} {}（{}）",
        f.code,
        f.name,
        f.kind.label()
    );
    Ok(ExitCode::SUCCESS)
}
