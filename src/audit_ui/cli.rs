//! `rainbownet audit verify`: exits 1 and names the first broken row if the chain is broken.

use std::process::ExitCode;

use crate::domain::{CliCommand, CliContext};

pub fn verify() -> CliCommand {
    CliCommand {
        group: "audit",
        group_about: "The audit log.",
        command: || {
            clap::Command::new("verify").about(
                "Check the whole hash chain; exits 1 and names the first broken row if it is broken.",
            )
        },
        run: |ctx, _| Box::pin(run(ctx)),
    }
}

async fn run(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let mut conn = db.pool().acquire().await?;
    let report = crate::audit::verify(&mut conn).await?;
    drop(conn);
    db.close().await;
    Ok(match report.broken {
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
    })
}
