//! Firewall access-log review (R22.2: 「ファイア・ウォールのアクセス・ログの定期的チェック」).
//!
//! Rules:
//! - Logs are read from `[firewall] sources` (files, or directories whose regular files are all
//!   read) every 15 minutes by the job `firewall.ingest` (and `rainbownet firewall ingest`):
//!   iptables/nftables `LOG` lines in kernel syslog form (`… kernel: [UFW BLOCK] IN=eth0 …
//!   SRC=203.0.113.5 DST=… PROTO=TCP SPT=… DPT=22`) and generic syslog lines (RFC 3164 or 5424)
//!   with `key=value` fields (`src=`, `dst=`, `dport=`, `proto=`, `action=`), IPv4 and IPv6. The
//!   log prefix decides allow or deny (`deny_prefixes`, then `allow_prefixes`, else
//!   `default_action`); an `action=` field wins. Other log lines are counted and skipped;
//!   unreadable lines are counted (the last one kept with its reason), never fatal.
//! - Rotated files (renamed, copied and truncated, or gzip-compressed) are continued, never read
//!   twice: each content is known by the SHA-256 of its first line, with its device, inode and
//!   the offset read; a file shorter than what was read restarts ([`ingest`]). Offsets and the
//!   traffic they cover are written in one transaction.
//! - Traffic is kept compact: per minute, source, destination, protocol, port and action (for
//!   scan and burst detection; kept `raw_keep_days`, 90), per hour, source, protocol, port and
//!   action (kept `hourly_keep_days`, five years), and every source with when it was first and
//!   last seen. The log lines themselves are not stored.
//! - A review is made for each closed period (weekly by default, Monday 00:00 Japan time; the
//!   job `firewall.review` reads the logs first, then makes what is missing, from the period of
//!   the first record): totals allowed/denied, top denied sources and destination ports, sources
//!   never seen before (internal ones all listed), probable port scans (`scan_ports` distinct
//!   ports from one source within `scan_minutes`) and brute-force bursts (`burst_attempts` to
//!   one of `auth_ports` within `burst_minutes`), each with source, ports, count and first/last
//!   time. Addresses in `internal` are marked 内部. `rainbownet firewall review --period DATE
//!   --regenerate` makes an unsigned review again.
//! - A system administrator signs each review off (who, when, remarks — required when the review
//!   has findings); the signed review is frozen. Making and signing are audited
//!   (`firewall.review_generated|regenerated|signed`); reading logs is not (the files' state and
//!   the job runs record it).
//! - A review not signed `grace_days` after its period closed is overdue: an alert card for the
//!   system administrators (who also see reviews waiting) and for the service operator, who
//!   reads the reviews. Pages: `/admin/firewall` (reviews, sources, files read, unreadable
//!   lines) and `/admin/firewall/reviews/{id}` (printable on A4, with the sign-off form).

pub mod detect;
pub mod ingest;
pub mod model;
pub mod parse;
mod repo;
mod repo_review;
mod routes;
pub mod service;
mod views;

use std::process::ExitCode;

use jiff::SignedDuration;

pub use model::FirewallSettings;

use crate::audit::Actor;
use crate::auth::{Principal, Role};
use crate::db::{Db, Timestamp};
use crate::domain::{CliCommand, CliContext, Domain};
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

/// Who read the reviews: the administrators who sign them and the city, which oversees.
pub const READERS: &[Role] = &[Role::SystemAdmin, Role::ServiceOperator];
/// Who sign reviews off (R22.2: システム管理者).
pub const SIGNERS: &[Role] = &[Role::SystemAdmin];

pub const HOME: &str = "/admin/firewall";

pub fn domain() -> Domain {
    Domain::new("firewall")
        .settings::<FirewallSettings>()
        .routes(
            Routes::new()
                .get(HOME, Access::Roles(READERS), routes::index)
                .get(
                    "/admin/firewall/reviews/{id}",
                    Access::Roles(READERS),
                    routes::show,
                )
                .post(
                    "/admin/firewall/reviews/{id}/sign",
                    Access::Roles(SIGNERS),
                    routes::sign,
                ),
        )
        .nav("監視", 730, HOME, "ファイアウォールログ")
        .job(
            "firewall.ingest",
            "ファイアウォールログの取り込み",
            SignedDuration::from_mins(15),
            |s, now| Box::pin(ingest_job(s, now)),
        )
        .job(
            "firewall.review",
            "ファイアウォールログのレビュー作成",
            SignedDuration::from_hours(1),
            |s, now| Box::pin(review_job(s, now)),
        )
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .cli(CliCommand {
            group: "firewall",
            group_about: "Firewall access-log review (R22.2): read the logs, make reviews.",
            command: || {
                clap::Command::new("ingest")
                    .about("Read the configured firewall logs now (rotated files continue).")
            },
            run: |ctx, _| Box::pin(cli_ingest(ctx)),
        })
        .cli(CliCommand {
            group: "firewall",
            group_about: "Firewall access-log review (R22.2): read the logs, make reviews.",
            command: || {
                clap::Command::new("review")
                    .about("Make the reviews of closed periods that have none (after reading the logs).")
                    .arg(
                        clap::Arg::new("period")
                            .long("period")
                            .value_name("YYYY-MM-DD")
                            .help("Only the period containing this day (Japan time)."),
                    )
                    .arg(
                        clap::Arg::new("regenerate")
                            .long("regenerate")
                            .action(clap::ArgAction::SetTrue)
                            .help("Make that period's review again if it is not signed yet."),
                    )
            },
            run: |ctx, m| Box::pin(cli_review(ctx, m)),
        })
        .demo(80, |db, now, fresh| {
            Box::pin(async move {
                if fresh {
                    seed_demo(db, now).await?;
                }
                Ok(Vec::new())
            })
        })
}

/// The job `firewall.ingest`: reads the logs; a source that cannot be read fails the run.
pub async fn ingest_job(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let s = state.section::<FirewallSettings>();
    if s.sources.is_empty() {
        return Ok("[firewall] sources が設定されていません。".into());
    }
    let summary = ingest::ingest(&state.db, &s, now).await?;
    anyhow::ensure!(summary.problems.is_empty(), summary.message());
    Ok(summary.message())
}

/// The job `firewall.review`: reads the logs, then makes the reviews of closed periods.
pub async fn review_job(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let s = state.section::<FirewallSettings>();
    let read = if s.sources.is_empty() {
        String::new()
    } else {
        ingest::ingest(&state.db, &s, now).await?.message()
    };
    let made = service::generate_due(&state.db, &s, &Actor::system("firewall.review"), now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!("{read} レビューを {} 件作成しました。", made.len())
        .trim()
        .to_string())
}

async fn cards(state: &AppState, p: &Principal, now: Timestamp) -> anyhow::Result<Vec<Card>> {
    if !state.may_open(p.role, HOME) {
        return Ok(Vec::new());
    }
    let s = state.section::<FirewallSettings>();
    let mut conn = state.db.pool().acquire().await?;
    let (open, overdue) = service::open_and_overdue(&mut conn, &s, now).await?;
    drop(conn);
    let title = "ファイアウォールログの確認".to_string();
    let href = HOME.to_string();
    let overdue_card = || Card {
        title: title.clone(),
        value: format!("期限超過 {overdue} 件"),
        note: format!(
            "期間の終了後 {} 日を過ぎても確認されていないレビューがあります",
            s.grace_days
        ),
        tone: "alert",
        href: href.clone(),
    };
    if !SIGNERS.contains(&p.role) {
        return Ok(if overdue > 0 {
            vec![overdue_card()]
        } else {
            Vec::new()
        });
    }
    let card = if overdue > 0 {
        overdue_card()
    } else if open > 0 {
        Card {
            title,
            value: format!("確認待ち {open} 件"),
            note: "レビューを確認し、確認の記録をしてください".into(),
            tone: "warn",
            href,
        }
    } else if s.sources.is_empty() {
        Card {
            title,
            value: "未設定".into(),
            note: "[firewall] sources（読み取るログ）が設定されていません".into(),
            tone: "warn",
            href,
        }
    } else {
        Card {
            title,
            value: "確認済み".into(),
            note: "確認待ちのレビューはありません".into(),
            tone: "ok",
            href,
        }
    };
    Ok(vec![card])
}

async fn cli_ingest(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let s = ctx.section::<FirewallSettings>();
    anyhow::ensure!(
        !s.sources.is_empty(),
        "[firewall] sources が設定されていません。"
    );
    let summary = ingest::ingest(&db, &s, ctx.now).await?;
    println!("{}", summary.message());
    Ok(if summary.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn cli_review(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let s = ctx.section::<FirewallSettings>();
    if !s.sources.is_empty() {
        println!("{}", ingest::ingest(&db, &s, ctx.now).await?.message());
    }
    let actor = Actor::system("cli");
    let ids = match m.get_one::<String>("period") {
        Some(day) => {
            let date: jiff::civil::Date = day
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--period は YYYY-MM-DD で指定してください。"))?;
            let at = date
                .to_zoned(crate::db::tokyo())
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .timestamp();
            let id = service::generate(
                &db,
                &s,
                Timestamp::from(at),
                m.get_flag("regenerate"),
                &actor,
                ctx.now,
            )
            .await
            .map_err(crate::domain::cli_error)?;
            vec![id]
        }
        None => service::generate_due(&db, &s, &actor, ctx.now)
            .await
            .map_err(crate::domain::cli_error)?,
    };
    let mut conn = db.pool().acquire().await?;
    for id in &ids {
        if let Some(r) = repo::find_review(&mut conn, *id).await? {
            let c = service::content(&r);
            println!(
                "review {id}\t{}\tallowed {}\tdenied {}\tscans {}\tbursts {}\tnew sources {}\t{}",
                c.period,
                r.allowed,
                r.denied,
                c.scans.len(),
                c.bursts.len(),
                c.new_count,
                if r.signed_at.is_some() {
                    "signed"
                } else {
                    "unsigned"
                }
            );
        }
    }
    if ids.is_empty() {
        println!("作成するレビューはありませんでした。");
    }
    Ok(ExitCode::SUCCESS)
}

/// A small log of last week (normal traffic, a port scan, an SSH brute force, a new internal
/// host) and its review, so that the demo's pages are not empty.
pub async fn seed_demo(db: &Db, now: Timestamp) -> anyhow::Result<()> {
    let s = FirewallSettings::default();
    let (start, _) = s
        .period
        .containing(now.minus(SignedDuration::from_hours(24 * 7)));
    let text = demo_log(start);
    ingest::ingest_text(db, &s, "デモ: kern.log", &text, now).await?;
    service::generate(db, &s, start, false, &Actor::system("demo"), now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Kernel syslog lines (Japan time) starting on the Monday `start`.
pub fn demo_log(start: Timestamp) -> String {
    let tz = crate::db::tokyo();
    let stamp = |t: Timestamp| {
        t.as_jiff()
            .to_zoned(tz.clone())
            .strftime("%b %e %H:%M:%S")
            .to_string()
    };
    let line = |t: Timestamp, prefix: &str, src: &str, dst: &str, port: u16| {
        format!(
            "{} fw01 kernel: [{}.000000] {prefix} IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC={src} DST={dst} LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=51000 DPT={port} WINDOW=64240 RES=0x00 SYN URGP=0\n",
            stamp(t),
            t.unix_seconds() % 1_000_000
        )
    };
    let mut out = String::new();
    for day in 0..7 {
        let d = start.plus(SignedDuration::from_hours(24 * day + 9));
        for i in 0..12 {
            let t = d.plus_minutes(i * 37);
            out.push_str(&line(
                t,
                "[UFW ALLOW]",
                &format!("198.51.100.{}", 10 + i),
                "192.0.2.10",
                443,
            ));
            out.push_str(&line(
                t.plus_minutes(3),
                "[UFW BLOCK]",
                &format!("203.0.113.{}", 100 + (i % 5)),
                "192.0.2.10",
                [23, 445, 3389, 8080][i as usize % 4],
            ));
        }
    }
    let scan = start.plus(SignedDuration::from_hours(24 * 2 + 2));
    for p in 1..=120u16 {
        out.push_str(&line(
            scan.plus(SignedDuration::from_secs(i64::from(p))),
            "[UFW BLOCK]",
            "203.0.113.45",
            "192.0.2.10",
            p,
        ));
    }
    let brute = start.plus(SignedDuration::from_hours(24 * 4 + 15));
    for n in 0..80 {
        out.push_str(&line(
            brute.plus(SignedDuration::from_secs(4 * n)),
            "[UFW BLOCK]",
            "198.51.100.23",
            "192.0.2.10",
            22,
        ));
    }
    out.push_str(&line(
        start.plus(SignedDuration::from_hours(24 * 5 + 11)),
        "[UFW BLOCK]",
        "192.168.10.77",
        "192.0.2.10",
        22,
    ));
    out
}
