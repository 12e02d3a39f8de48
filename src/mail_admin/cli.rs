//! `rainbownet mail send-test --to ADDR`: queues a test mail (audited) and sends it at once
//! through the configured server, printing the server's answer or the error (exit 1 when not
//! sent: the mail then stays queued, or failed, as the page shows).
//! `rainbownet mail queue [--all]`: the queued and failed mails (with `--all`, the last sent
//! ones too), one a line, the id first.

use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use crate::audit::Actor;
use crate::domain::{CliCommand, CliContext};
use crate::mail::repo::{self, Which};

const GROUP: &str = "mail";
const ABOUT: &str = "The mail outbox (issue 12).";

#[derive(Args, Debug)]
struct SendTestArgs {
    /// The address to send the test mail to.
    #[arg(long, value_name = "ADDR")]
    to: String,
}

#[derive(Args, Debug)]
struct QueueArgs {
    /// Also list the last 50 sent mails.
    #[arg(long)]
    all: bool,
}

pub fn send_test() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            SendTestArgs::augment_args(clap::Command::new("send-test").about(
                "Queue a test mail to --to and send it now through [mail]; prints the server's \
                 answer, or why it was not sent (exit 1).",
            ))
        },
        run: |ctx, m| {
            Box::pin(async move {
                let to = SendTestArgs::from_arg_matches(m)?.to;
                run_send_test(ctx, &to).await
            })
        },
    }
}

pub fn queue() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            QueueArgs::augment_args(clap::Command::new("queue").about(
                "List queued and failed mails, one a line: id, state, created, next attempt, \
                 attempts, recipients, subject.",
            ))
        },
        run: |ctx, m| {
            Box::pin(async move {
                let all = QueueArgs::from_arg_matches(m)?.all;
                run_queue(ctx, all).await
            })
        },
    }
}

async fn run_send_test(ctx: &CliContext, to: &str) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let id = crate::mail::queue_test(&db, to, &Actor::cli(), ctx.now)
        .await
        .map_err(crate::domain::cli_error)?;
    let report = crate::mail::send_due(&db, &ctx.settings.mail, Some(id), ctx.now).await;
    let row = {
        let mut conn = db.pool().acquire().await?;
        repo::find(&mut conn, id).await?
    };
    db.close().await;
    let report = report?;
    if row.state == "sent" {
        println!("テストメール No.{id} を {to} へ送信しました。");
        return Ok(ExitCode::SUCCESS);
    }
    match report.not_ready {
        Some(why) => eprintln!("テストメール No.{id} は送信待ちのままです: {why}"),
        None => eprintln!(
            "テストメール No.{id} を送信できませんでした（{}）: {}",
            if row.state == "failed" {
                "送信失敗"
            } else {
                "後で再送します"
            },
            row.last_error.unwrap_or_default()
        ),
    }
    Ok(ExitCode::FAILURE)
}

async fn run_queue(ctx: &CliContext, all: bool) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let mut conn = db.pool().acquire().await?;
    let mut rows = repo::list(&mut conn, Which::Queue, 1000).await?;
    rows.extend(repo::list(&mut conn, Which::Failed, 1000).await?);
    if all {
        rows.extend(repo::list(&mut conn, Which::Sent, 50).await?);
    }
    drop(conn);
    db.close().await;
    if rows.is_empty() {
        println!("送信待ち・送信失敗のメールはありません。");
    }
    for r in rows {
        let next = if r.state == "queued" {
            r.next_attempt_at.jst()
        } else {
            "-".into()
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            r.state,
            r.created_at.jst(),
            next,
            r.attempts,
            r.recipients.lines().collect::<Vec<_>>().join(","),
            r.subject
        );
    }
    Ok(ExitCode::SUCCESS)
}
