//! `rainbownet account issue`: a paper request processed at once, its letter written to a file.

use super::*;

/// `account issue`: a paper add request, processed at once, with its letter written to a file.
#[allow(clippy::too_many_arguments)]
pub(super) async fn issue_from_paper(
    db: &Db,
    settings: &Settings,
    facility: &str,
    name: &str,
    kana: &str,
    job_type: &str,
    contact: &str,
    paper_date: Option<&str>,
    letter: &std::path::Path,
    now: crate::db::Timestamp,
) -> anyhow::Result<()> {
    use crate::requests::model::{Channel, PersonData, RequestKind, parse_paper_date};
    use crate::requests::service::{self, Handler, Submission};
    let font = crate::requests::letter::font(settings)?;
    // Make sure the letter can be written before any credentials exist.
    std::fs::File::create(letter)
        .map_err(|e| anyhow::anyhow!("封書を書き込めません（{}）: {e}", letter.display()))?;
    let today = now.as_jiff().to_zoned(crate::db::tokyo()).date();
    let paper_date = match paper_date {
        Some(d) => parse_paper_date(d, today).map_err(anyhow::Error::msg)?,
        None => today,
    };
    let person = PersonData::parse(name, kana, job_type, contact)
        .map_err(|e| anyhow::anyhow!(e.messages().join(" ")))?;
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
    let id = service::submit(db, &submission, None, &actor, now)
        .await
        .map_err(user_error)?;
    let handler = Handler {
        account_id: None,
        actor,
    };
    let letters = service::issue(
        db,
        &[id],
        &handler,
        settings.accounts.one_time_password_days,
        now,
    )
    .await
    .map_err(user_error)?;
    let bytes = crate::requests::letter::render(&font, &letters, &settings.server.public_url);
    std::fs::write(letter, bytes)
        .map_err(|e| anyhow::anyhow!("封書を書き込めません（{}）: {e}", letter.display()))?;
    for l in &letters {
        println!("利用者ID: {}", l.login_id);
    }
    println!(
        "封書: {}（初期パスワードは封書にのみ記載されています）",
        letter.display()
    );
    Ok(())
}
