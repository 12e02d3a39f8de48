//! Two add requests from the demo clinic's manager, waiting for an operator, so that the whole
//! path — request, letters, first log-in — can be tried at once.

use crate::audit::Actor;
use crate::db::{Db, Timestamp};
use crate::domain::DemoLogin;

pub async fn seed(db: &Db, now: Timestamp, fresh: bool) -> anyhow::Result<Vec<DemoLogin>> {
    use super::model::{Channel, PersonData, RequestKind};
    use super::service::{Submission, submit};
    if !fresh {
        return Ok(Vec::new());
    }
    let actor = Actor::system("demo");
    let mut conn = db.pool().acquire().await?;
    let Some(facility_id) = crate::facilities::id_by_code(&mut conn, "2310000002").await? else {
        return Ok(Vec::new());
    };
    drop(conn);
    for (name, kana, job) in [
        ("清須 花子", "きよす はなこ", "看護師"),
        ("春日 一郎", "かすが いちろう", "医師"),
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
        submit(db, &s, None, &actor, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(Vec::new())
}
