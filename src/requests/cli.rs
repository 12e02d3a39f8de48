//! `rainbownet account issue`: a paper request processed at once, its letter written to a file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use crate::accounts::AccountSettings;
use crate::audit::Actor;
use crate::domain::{CliCommand, CliContext, cli_error};

/// Register a user of a facility from a paper request and write the sealed letter (PDF).
/// Prints the new user ID; the password is only in the letter.
#[derive(Args, Debug)]
struct IssueArgs {
    /// Facility code.
    #[arg(long)]
    facility: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    kana: String,
    #[arg(long, default_value = "その他")]
    job_type: String,
    #[arg(long, default_value = "")]
    contact: String,
    /// The date written on the paper request (YYYY-MM-DD; default today).
    #[arg(long)]
    paper_date: Option<String>,
    /// Where to write the sealed letter.
    #[arg(long, value_name = "FILE.pdf")]
    letter: PathBuf,
}

pub fn issue() -> CliCommand {
    CliCommand {
        group: crate::accounts::CLI_GROUP,
        group_about: crate::accounts::CLI_ABOUT,
        command: || {
            IssueArgs::augment_args(clap::Command::new("issue").about(
                "Register a user of a facility from a paper request and write the sealed letter \
                 (PDF). Prints the new user ID; the password is only in the letter.",
            ))
        },
        run: |ctx, m| Box::pin(run_issue(ctx, m)),
    }
}

/// `account issue`: a paper add request, processed at once, with its letter written to a file.
async fn run_issue(ctx: &CliContext, m: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    use crate::requests::model::{Channel, PersonData, RequestKind, parse_paper_date};
    use crate::requests::service::{self, Handler, Submission};
    let a = IssueArgs::from_arg_matches(m)?;
    let (facility, letter, now) = (a.facility.as_str(), a.letter.as_path(), ctx.now);
    let settings = &ctx.settings;
    let font = crate::requests::letter::font(settings)?;
    // Make sure the letter can be written before any credentials exist.
    std::fs::File::create(letter)
        .map_err(|e| anyhow::anyhow!("封書を書き込めません（{}）: {e}", letter.display()))?;
    let today = now.as_jiff().to_zoned(crate::db::tokyo()).date();
    let paper_date = match a.paper_date.as_deref() {
        Some(d) => parse_paper_date(d, today).map_err(anyhow::Error::msg)?,
        None => today,
    };
    let person = PersonData::parse(&a.name, &a.kana, &a.job_type, &a.contact)
        .map_err(|e| anyhow::anyhow!(e.messages().join(" ")))?;
    let db = ctx.db().await?;
    let mut conn = db.pool().acquire().await?;
    let facility_id = crate::facilities::id_by_code(&mut conn, facility)
        .await?
        .ok_or_else(|| anyhow::anyhow!("施設コード {facility} の施設は登録されていません。"))?;
    drop(conn);
    let actor = Actor::cli();
    let submission = Submission {
        facility_id,
        kind: RequestKind::Add,
        person: Some(person),
        target_account_id: None,
        reason: "コマンドラインから登録".into(),
        channel: Channel::Paper,
        paper_date: Some(paper_date),
    };
    let id = service::submit(&db, &submission, None, &actor, now)
        .await
        .map_err(cli_error)?;
    let handler = Handler {
        account_id: None,
        actor,
    };
    let letters = service::issue(
        &db,
        &[id],
        &handler,
        ctx.section::<AccountSettings>().one_time_password_days,
        now,
    )
    .await
    .map_err(cli_error)?;
    let helpdesk = ctx
        .section::<crate::helpdesk::HelpdeskSettings>()
        .contact_line(&settings.calendar);
    let url = &settings.server.public_url;
    let bytes = crate::requests::letter::render(&font, &letters, url, helpdesk.as_deref());
    std::fs::write(letter, bytes)
        .map_err(|e| anyhow::anyhow!("封書を書き込めません（{}）: {e}", letter.display()))?;
    for l in &letters {
        println!("利用者ID: {}", l.login_id);
    }
    println!(
        "封書: {}（初期パスワードは封書にのみ記載されています）",
        letter.display()
    );
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
