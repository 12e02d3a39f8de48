//! The demo clinic's manager's account requests (issue 15 item 9): one still waiting for an
//! operator, so that the whole path — request, letters, first log-in — can be tried at once,
//! and one that the demo operator processed and whose lost letter was re-issued since. Both
//! go through the services the pages call, so the manager's notifications (処理済, 再発行)
//! are the ones those services send and each matches the state its page shows.

use jiff::SignedDuration;

use super::model::{Channel, PersonData, RequestKind};
use super::service::{self, Handler, Submission};
use crate::accounts::{AccountSettings, Reason};
use crate::audit::Actor;
use crate::db::{Db, Timestamp};
use crate::domain::DemoLogin;

pub async fn seed(db: &Db, now: Timestamp, fresh: bool) -> anyhow::Result<Vec<DemoLogin>> {
    if !fresh {
        return Ok(Vec::new());
    }
    let actor = Actor::system("demo");
    let mut conn = db.pool().acquire().await?;
    let Some(facility_id) = crate::facilities::id_by_code(&mut conn, "2310000002").await? else {
        return Ok(Vec::new());
    };
    drop(conn);
    let hours = |h: i64| now.minus(SignedDuration::from_hours(h));
    let mut ids = Vec::new();
    for (name, kana, job, at) in [
        ("春日 一郎", "かすが いちろう", "医師", hours(72)),
        ("清須 花子", "きよす はなこ", "看護師", now),
    ] {
        let person = PersonData::parse(name, kana, job, "")
            .map_err(|e| anyhow::anyhow!(e.messages().join(" ")))?;
        let s = Submission {
            facility_id,
            kind: RequestKind::Add,
            person: Some(person),
            target_account_id: None,
            reason: "デモ用の申請".into(),
            channel: Channel::Portal,
            paper_date: None,
        };
        let id = service::submit(db, &s, None, &actor, at)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(id);
    }
    // The first request: processed by the demo operator (made by the accounts seed, which runs
    // first), then its letter lost and re-issued. The letters themselves are thrown away.
    let Some(operator) = crate::accounts::service::id_by_login_id(db, "demo-operator")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    else {
        return Ok(Vec::new());
    };
    let h = Handler {
        account_id: Some(operator),
        actor,
    };
    let days = AccountSettings::default().one_time_password_days;
    let letters = service::issue(db, &ids[..1], &h, days, hours(48))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let login_id = &letters[0].login_id;
    let account = crate::accounts::service::id_by_login_id(db, login_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("the demo account {login_id} was not made"))?;
    let reason =
        Reason::parse("本人が封書を紛失したため（デモ）").map_err(|e| anyhow::anyhow!(e))?;
    service::reissue(db, account, &reason, &h, days, hours(3))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Vec::new())
}
