//! `rainbownet audit verify [--anchor FILE]`: checks the chain, its seals and the anchors kept
//! outside the database; exits 1 and names the first broken row, the anchor the database
//! contradicts, or the key file that lacks the sealing key. A clean check appends an anchor.
//! `rainbownet audit anchor [--out FILE]`: the same check, then prints (or appends to FILE) the
//! anchor of the head, to keep off the server.
//! `rainbownet audit rotate-key`: a new audit key first in `keys/audit.key` (the old ones stay:
//! rows and anchors sealed with them still verify; nothing is re-sealed), audited.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use crate::audit::{self, Actor, Anchored, BreakKind};
use crate::domain::{CliCommand, CliContext};

const GROUP: &str = "audit";
const ABOUT: &str = "The audit log.";

#[derive(Args, Debug)]
struct VerifyArgs {
    /// Also check against this file of anchors (exported with `audit anchor`, a copy of the
    /// anchor log, or a backup manifest's anchor line).
    #[arg(long, value_name = "FILE")]
    anchor: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct AnchorArgs {
    /// Append the anchor line to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn verify() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            VerifyArgs::augment_args(clap::Command::new("verify").about(
                "Check the whole chain, its seals and the anchors outside the database; exits 1 \
                 and names the first broken row or the contradicted anchor.",
            ))
        },
        run: |ctx, m| Box::pin(run_verify(ctx, m)),
    }
}

pub fn anchor() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            AnchorArgs::augment_args(clap::Command::new("anchor").about(
                "Check the chain, then print the sealed anchor of its head (or append it to \
                 --out FILE) to keep outside the server.",
            ))
        },
        run: |ctx, m| Box::pin(run_anchor(ctx, m)),
    }
}

pub fn rotate_key() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            clap::Command::new("rotate-key").about(
                "Put a new audit key first in data_dir/keys/audit.key; older keys stay so that \
                 what they sealed still verifies.",
            )
        },
        run: |ctx, _| Box::pin(run_rotate_key(ctx)),
    }
}

async fn run_rotate_key(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let data_dir = &ctx.settings.paths.data_dir;
    let key = crate::db::keys::rotate(data_dir, "audit")?;
    let db = ctx.db().await?;
    let keys = db.keys().audit();
    anyhow::ensure!(
        keys.current().id() == key.id(),
        "the new key is not the current one after rotation"
    );
    let kept: Vec<&str> = keys.all()[1..].iter().map(|k| k.id()).collect();
    let mut tx = db.begin().await?;
    audit::record(
        &mut tx,
        ctx.now,
        &Actor::cli(),
        "keys.rotated",
        "keys:audit",
        serde_json::json!({"purpose": "audit", "key": key.id(), "kept": kept}),
    )
    .await?;
    tx.commit().await?;
    db.close().await;
    println!("監査ログの封印の鍵を更新しました。新しい鍵: {}", key.id());
    println!(
        "古い鍵は {} の2行目以降に残しています。古い鍵で封印した行とアンカーの検査に必要なため、削除しないでください。\
         稼働中のサーバーは再起動すると新しい鍵で封印します。",
        crate::db::keys::key_file(data_dir, "audit").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Checks and prints the outcome (on stderr when stdout carries the anchor line); `Ok(None)` when
/// the chain is broken (already reported).
async fn check(
    ctx: &CliContext,
    extra: Option<&PathBuf>,
    to_stderr: bool,
) -> anyhow::Result<Option<Anchored>> {
    let say = |line: String| {
        if to_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let extra = match extra {
        Some(path) => {
            let anchors = audit::anchor::read(path)?;
            if anchors.is_empty() {
                anyhow::bail!("{} にアンカーがありません。", path.display());
            }
            anchors
        }
        None => Vec::new(),
    };
    let db = ctx.db().await?;
    let result = audit::verify_and_anchor(&db, &ctx.settings.paths.data_dir, &extra, ctx.now).await;
    db.close().await;
    let done = result?;
    let r = &done.report;
    match &r.broken {
        None => {
            say(format!(
                "OK: 監査ログ {} 行のハッシュチェーンと封印（HMAC）は正常です（封印導入前の行 {} 行、アンカー {} 件と一致）。",
                r.rows, r.unsealed, r.anchors
            ));
            if let Some(a) = &done.anchor {
                say(format!(
                    "アンカー: {} 行目 {} を {} に記録しました。",
                    a.seq,
                    a.hash,
                    done.file.display()
                ));
            }
            Ok(Some(done))
        }
        Some(b) => {
            let what = match b.kind {
                BreakKind::Chain => format!("監査ログ {} 行目で改ざんを検出しました", b.id),
                BreakKind::Anchor => {
                    "監査ログがデータベース外のアンカーと矛盾しています（切り詰め・書き換え）"
                        .to_string()
                }
                BreakKind::KeyMissing => {
                    "監査ログの鍵ファイルが無いか別のものに替わっているため、検証できません"
                        .to_string()
                }
            };
            say(format!("NG: {what}（row {}: {}）。", b.id, b.reason));
            Ok(None)
        }
    }
}

async fn run_verify(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = VerifyArgs::from_arg_matches(m)?;
    Ok(match check(ctx, args.anchor.as_ref(), false).await? {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::from(1),
    })
}

async fn run_anchor(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let args = AnchorArgs::from_arg_matches(m)?;
    let Some(done) = check(ctx, None, true).await? else {
        return Ok(ExitCode::from(1));
    };
    let a = done
        .anchor
        .ok_or_else(|| anyhow::anyhow!("no anchor was made"))?;
    match &args.out {
        Some(path) => {
            audit::anchor::append(path, &a)?;
            println!("アンカーを {} に書き出しました。", path.display());
        }
        None => println!("{}", a.line()),
    }
    Ok(ExitCode::SUCCESS)
}
