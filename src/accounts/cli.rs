//! `rainbownet account create | unlock | reset-password`, `rainbownet keys rotate totp`.

use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use super::LoginId;
use super::service::{self as accounts, AccountSpec};
use crate::audit::Actor;
use crate::auth::Role;
use crate::domain::{CliCommand, CliContext, cli_error};

pub const GROUP: &str = "account";
pub const ABOUT: &str = "Accounts.";
pub const KEYS_GROUP: &str = "keys";
const KEYS_ABOUT: &str = "Keys kept outside the database (data_dir/keys).";

#[derive(Args, Debug)]
struct CreateArgs {
    #[arg(long)]
    role: String,
    #[arg(long)]
    login_id: String,
    #[arg(long)]
    name: Option<String>,
    /// Facility code (required for facility_manager and user).
    #[arg(long)]
    facility: Option<String>,
}

#[derive(Args, Debug)]
struct RotateArgs {
    /// What the key protects: `totp` (the TOTP secrets of the accounts).
    #[arg(value_parser = ["totp"])]
    purpose: String,
}

#[derive(Args, Debug)]
struct LoginIdArgs {
    #[arg(long)]
    login_id: String,
}

pub fn create() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            CreateArgs::augment_args(
                clap::Command::new("create")
                    .about("Create an account and print its one-time password."),
            )
        },
        run: |ctx, m| Box::pin(run_create(ctx, m)),
    }
}

pub fn unlock() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || LoginIdArgs::augment_args(clap::Command::new("unlock").about("Lift a lock.")),
        run: |ctx, m| Box::pin(run_unlock(ctx, m)),
    }
}

pub fn reset_password() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            LoginIdArgs::augment_args(
                clap::Command::new("reset-password")
                    .about("Issue a new one-time password (prints it once)."),
            )
        },
        run: |ctx, m| Box::pin(run_reset(ctx, m)),
    }
}

pub fn reset_totp() -> CliCommand {
    CliCommand {
        group: GROUP,
        group_about: ABOUT,
        command: || {
            LoginIdArgs::augment_args(clap::Command::new("reset-totp").about(
                "Remove an account's TOTP and recovery codes after identifying the person \
                 (audited; staff enrol again at the next log-in).",
            ))
        },
        run: |ctx, m| Box::pin(run_reset_totp(ctx, m)),
    }
}

async fn run_reset_totp(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = LoginIdArgs::from_arg_matches(m)?;
    let login_id = a.login_id;
    let db = ctx.db().await?;
    let id = accounts::id_by_login_id(&db, &login_id)
        .await
        .map_err(cli_error)?
        .ok_or_else(|| anyhow::anyhow!("ログインID {login_id} は見つかりません"))?;
    let removed = accounts::reset_totp(&db, id, &Actor::cli(), ctx.now)
        .await
        .map_err(cli_error)?;
    db.close().await;
    println!(
        "{}",
        if removed {
            "二要素認証とリカバリーコードを削除しました。次回ログイン時に登録し直します。"
        } else {
            "このアカウントには二要素認証が登録されていません。"
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn rotate_keys() -> CliCommand {
    CliCommand {
        group: KEYS_GROUP,
        group_about: KEYS_ABOUT,
        command: || {
            RotateArgs::augment_args(clap::Command::new("rotate").about(
                "Put a new key first in data_dir/keys/<purpose>.key and re-encrypt everything \
                 the key protects with it.",
            ))
        },
        run: |ctx, m| Box::pin(run_rotate(ctx, m)),
    }
}

async fn run_rotate(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = RotateArgs::from_arg_matches(m)?;
    let data_dir = &ctx.settings.paths.data_dir;
    // The new key goes first in the file (the old ones stay readable), then the database is
    // opened: its key set reads the file as it is now.
    let key = crate::db::keys::rotate(data_dir, &a.purpose)?;
    let db = ctx.db().await?;
    anyhow::ensure!(
        db.keys().totp().current().id() == key.id(),
        "the new key is not the current one after rotation"
    );
    let report = super::second_factor::rotate_totp_key(&db, &Actor::cli(), ctx.now)
        .await
        .map_err(cli_error)?;
    db.close().await;
    let file = crate::db::keys::key_file(data_dir, &a.purpose);
    println!("TOTP の暗号鍵を更新しました。新しい鍵: {}", key.id());
    println!(
        "新しい鍵で暗号化し直した TOTP の秘密: {} 件",
        report.resealed + report.sealed_clear
    );
    if !report.unreadable.is_empty() {
        println!(
            "注意: 次のアカウントの秘密は、鍵ファイルにない鍵で暗号化されているため読み出せませんでした（アカウントID）: {:?}",
            report.unreadable
        );
    }
    println!(
        "古い鍵は {} の2行目以降に残しています。稼働中のサーバーは新しい鍵を読み込んで使えます。\
         サーバーを再起動したあと（起動時に残りを新しい鍵で暗号化し直します）、古い行は削除してかまいません。",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_create(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = CreateArgs::from_arg_matches(m)?;
    let db = ctx.db().await?;
    let role: Role = a.role.parse()?;
    let login_id = LoginId::parse(&a.login_id).map_err(anyhow::Error::msg)?;
    let display = a.name.unwrap_or_else(|| login_id.to_string());
    let mut spec = AccountSpec::new(Some(login_id), &display, role, a.facility.as_deref());
    spec.otp_days = ctx
        .section::<super::AccountSettings>()
        .one_time_password_days;
    let created = accounts::create_account(&db, &spec, &Actor::cli(), ctx.now)
        .await
        .map_err(cli_error)?;
    db.close().await;
    println!("ログインID: {}", created.login_id);
    println!("初期パスワード: {}", created.one_time_password);
    println!(
        "有効期限: {}（初回ログイン時に変更が必要です）",
        created.expires_at.jst()
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_unlock(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = LoginIdArgs::from_arg_matches(m)?;
    let db = ctx.db().await?;
    let done = accounts::unlock_by_login_id(&db, &a.login_id, &Actor::cli(), ctx.now)
        .await
        .map_err(cli_error)?;
    db.close().await;
    println!(
        "{}",
        if done {
            "ロックを解除しました。"
        } else {
            "このアカウントはロックされていません。"
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_reset(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let a = LoginIdArgs::from_arg_matches(m)?;
    let login_id = a.login_id;
    let db = ctx.db().await?;
    let id = accounts::id_by_login_id(&db, &login_id)
        .await
        .map_err(cli_error)?
        .ok_or_else(|| anyhow::anyhow!("ログインID {login_id} は見つかりません"))?;
    let (otp, expires) = accounts::reset_password(&db, id, &Actor::cli(), ctx.now)
        .await
        .map_err(cli_error)?;
    db.close().await;
    println!("新しい初期パスワード: {otp}");
    println!("有効期限: {}", expires.jst());
    Ok(ExitCode::SUCCESS)
}
