//! Demo monitors for `rainbownet demo`: a ping of 127.0.0.1 and the application's own
//! `/healthz`, with a day of results including one short outage and its acknowledged alert, and
//! a paused monitor, so that the pages are not empty.

use jiff::SignedDuration;

use super::alerts::{self, AlertKind};
use super::model::{Kind, Name, NewMonitor, Target};
use super::{repo, repo_uptime, service};
use crate::audit::Actor;
use crate::db::{Db, Timestamp};
use crate::domain::DemoLogin;

fn monitor(
    name: &str,
    kind: Kind,
    target: &str,
    interval_seconds: i64,
) -> anyhow::Result<NewMonitor> {
    Ok(NewMonitor {
        name: Name::parse(name).map_err(anyhow::Error::msg)?,
        kind,
        target: Target::parse(kind, target).map_err(anyhow::Error::msg)?,
        interval_seconds,
        timeout_ms: 10_000,
        retries: 2,
        expect_status: None,
        keyword: (kind == Kind::Http).then(|| "ok".to_string()),
        json_pointer: None,
        json_value: None,
        max_response_ms: (kind == Kind::Http).then_some(3_000),
        cert_min_days: None,
        asset_ref: None,
    })
}

/// The slots of the last day, oldest first: (slot index from now, slot time).
fn slots(now: Timestamp, interval: i64) -> Vec<(i64, Timestamp)> {
    let last = now.unix_seconds() / interval * interval;
    (1..=(86_400 / interval))
        .rev()
        .filter_map(|k| Some((k, Timestamp::from_millis((last - k * interval) * 1000)?)))
        .collect()
}

pub async fn seed(db: &Db, now: Timestamp, fresh: bool) -> anyhow::Result<Vec<DemoLogin>> {
    if !fresh {
        return Ok(Vec::new());
    }
    let actor = Actor::system("demo");
    let start = now.minus(SignedDuration::from_hours(25));
    let ping = service::add(
        db,
        &monitor("ゲートウェイ（ping）", Kind::Ping, "127.0.0.1", 300)?,
        &actor,
        start,
    )
    .await?;
    let app = service::add(
        db,
        &monitor(
            "運用管理システム（応答確認）",
            Kind::Http,
            "http://127.0.0.1:8080/healthz",
            900,
        )?,
        &actor,
        start,
    )
    .await?;
    let old = service::add(
        db,
        &monitor(
            "旧ファイルサーバー（撤去予定）",
            Kind::Ping,
            "127.0.0.2",
            300,
        )?,
        &actor,
        start,
    )
    .await?;
    service::pause(db, old, &actor, start.plus(SignedDuration::from_mins(10))).await?;

    let mut tx = db.begin().await?;
    for (k, at) in slots(now, 300) {
        let ms = 1 + ((k * 2_654_435_761) >> 9) % 3;
        let checked = at.plus(SignedDuration::from_millis(300 + (k * 37) % 900));
        repo_uptime::insert_result(&mut tx, ping, at, Some(checked), "up", Some(ms), None).await?;
    }
    repo_uptime::set_state(&mut tx, ping, "up", start).await?;
    // The application: two failed checks about six hours ago (an outage of about 30 minutes).
    let mut down_at = None;
    let mut up_at = None;
    for (k, at) in slots(now, 900) {
        let checked = at.plus(SignedDuration::from_millis(500 + (k * 53) % 1500));
        if k == 25 || k == 24 {
            repo_uptime::insert_result(
                &mut tx,
                app,
                at,
                Some(checked),
                "down",
                None,
                Some("接続できませんでした（connection refused）"),
            )
            .await?;
            if k == 24 {
                down_at = Some(checked);
            }
        } else {
            let ms = 38 + ((k * 2_654_435_761) >> 11) % 17;
            repo_uptime::insert_result(&mut tx, app, at, Some(checked), "up", Some(ms), None)
                .await?;
            if k == 23 {
                up_at = Some(checked);
            }
        }
    }
    let m = repo::find(&mut tx, app)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo monitor"))?;
    let down_at = down_at.unwrap_or(now);
    let up_at = up_at.unwrap_or(now);
    let down_alert = alerts::raise(
        &mut tx,
        &m,
        AlertKind::Down,
        "2 回続けて接続できませんでした（connection refused）",
        down_at,
    )
    .await?;
    tx.commit().await?;
    // In time order: the acknowledgement, then the recovery and its acknowledgement.
    alerts::acknowledge(
        db,
        down_alert,
        "アプリケーションの再起動で復旧。原因はログの容量不足（整理済み）。",
        &actor,
        down_at.plus(SignedDuration::from_mins(12)),
    )
    .await?;
    let mut tx = db.begin().await?;
    let up_alert = alerts::raise(
        &mut tx,
        &m,
        AlertKind::Up,
        "応答が戻りました（42 ms）",
        up_at,
    )
    .await?;
    repo_uptime::set_state(&mut tx, app, "up", up_at).await?;
    tx.commit().await?;
    alerts::acknowledge(
        db,
        up_alert,
        "復旧を確認しました。",
        &actor,
        up_at.plus(SignedDuration::from_mins(5)),
    )
    .await?;
    // Added after the alerts, so that the demo queues no mail to this address.
    alerts::add_oncall(db, "システム管理当番", "oncall@example.jp", &actor, start).await?;
    Ok(Vec::new())
}
