//! Dashboard cards: open alerts (for those who may open the alerts page) and monitors down now
//! (for those who may open the list); each links only to a page the role may open.

use super::repo_alerts;
use super::repo_uptime;
use super::routes::HOME;
use super::routes_alerts::ALERTS;
use crate::auth::Principal;
use crate::db::Timestamp;
use crate::state::{AppState, Card};

pub async fn cards(state: &AppState, p: &Principal, _now: Timestamp) -> anyhow::Result<Vec<Card>> {
    let alerts = state.may_open(p.role, ALERTS);
    let list = state.may_open(p.role, HOME);
    if !alerts && !list {
        return Ok(Vec::new());
    }
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Vec::new();
    if alerts {
        let open = repo_alerts::count_open(&mut conn).await?;
        out.push(Card {
            title: "監視のアラート".into(),
            value: if open == 0 {
                "なし".into()
            } else {
                format!("未確認 {open} 件")
            },
            note: if open == 0 {
                "未確認のアラートはありません".into()
            } else {
                "停止・復旧の通知を確認して対応を記録してください".into()
            },
            tone: if open == 0 { "ok" } else { "alert" },
            href: ALERTS.into(),
        });
    }
    if list {
        let (watched, down) = repo_uptime::watched_and_down(&mut conn).await?;
        if watched > 0 {
            out.push(Card {
                title: "監視".into(),
                value: if down == 0 {
                    "停止なし".into()
                } else {
                    format!("{down} 件が停止")
                },
                note: format!("監視中 {watched} 件"),
                tone: if down == 0 { "ok" } else { "alert" },
                href: HOME.into(),
            });
        }
    }
    Ok(out)
}
