//! `rainbownet calendar check|month`.

use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use crate::domain::{CliCommand, CliContext};

const GROUP: &str = "calendar";
const ABOUT: &str = "The business calendar (R15.1).";

#[derive(Args, Debug)]
struct CheckArgs {
    at: String,
}

#[derive(Args, Debug)]
struct MonthArgs {
    month: String,
}

enum CalendarCommand {
    Check { at: String },
    Month { month: String },
}

pub fn check() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            CheckArgs::augment_args(clap::Command::new("check").about(
                "Prints `open` or `closed <reason>` for an instant, e.g. 2026-05-06T10:00+09:00.",
            ))
        },
        run: |ctx, m| {
            Box::pin(async move {
                let at = CheckArgs::from_arg_matches(m)?.at;
                run(ctx, CalendarCommand::Check { at }).await
            })
        },
    }
}

pub fn month() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            MonthArgs::augment_args(
                clap::Command::new("month")
                    .about("Prints a month (YYYY-MM) with closed days marked."),
            )
        },
        run: |ctx, m| {
            Box::pin(async move {
                let month = MonthArgs::from_arg_matches(m)?.month;
                run(ctx, CalendarCommand::Month { month }).await
            })
        },
    }
}

async fn run(ctx: &CliContext, cmd: CalendarCommand) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let mut conn = db.pool().acquire().await?;
    let cal = crate::calendar::load(&mut conn, &ctx.settings.calendar).await?;
    drop(conn);
    db.close().await;
    calendar_command(&cal, cmd)
}

fn calendar_command(
    cal: &crate::calendar::BusinessCalendar,
    cmd: CalendarCommand,
) -> anyhow::Result<ExitCode> {
    use crate::calendar::{Openness, weekday_ja};
    use std::fmt::Write as _;
    let mut out = String::new();
    match cmd {
        CalendarCommand::Check { at } => {
            let t = parse_instant(&at).ok_or_else(|| {
                anyhow::anyhow!(
                    "日時は 2026-05-06T10:00+09:00 の形（時差つき）で指定してください: {at}"
                )
            })?;
            match cal.is_open(t) {
                Openness::Open => out.push_str("open\n"),
                Openness::Closed(r) => {
                    let _ = writeln!(out, "closed {}", r.label());
                }
            }
        }
        CalendarCommand::Month { month } => {
            let (y, m) = crate::calendar::parse_month_text(&month)
                .ok_or_else(|| anyhow::anyhow!("月は YYYY-MM の形で指定してください: {month}"))?;
            let h = cal.hours();
            let _ = writeln!(
                out,
                "{y}年{m}月  営業時間 {}–{}（* は休業日）",
                h.opens.strftime("%-H:%M"),
                h.closes.strftime("%-H:%M")
            );
            for (d, status) in cal.month(y, m) {
                let w = weekday_ja(d.weekday());
                let _ = match status {
                    Ok(()) => writeln!(out, "  {d} ({w})  営業"),
                    Err(r) => writeln!(out, "* {d} ({w})  休業 {}", r.label()),
                };
            }
        }
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    Ok(ExitCode::SUCCESS)
}

/// An RFC 3339 instant; seconds may be left out (`2026-05-06T10:00+09:00`).
fn parse_instant(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    s.parse::<jiff::Timestamp>().ok().or_else(|| {
        let t = s.find('T')?;
        let rest = &s[t + 1..];
        let cut = rest.find(['+', '-', 'Z'])?;
        let with_secs = format!("{}T{}:00{}", &s[..t], &rest[..cut], &rest[cut..]);
        with_secs.parse().ok()
    })
}
