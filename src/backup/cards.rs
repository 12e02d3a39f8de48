//! Dashboard cards for those who run backups: the newest backup (failed, not verified, not
//! copied = alert/warn) and the restore drill (failed, overdue, or impossible without the key).

use super::settings::BackupSettings;
use super::{repo, repo_history};
use crate::auth::Principal;
use crate::db::Timestamp;
use crate::state::{AppState, Card};

const HREF: &str = "/admin/backup";

pub async fn cards(state: &AppState, p: &Principal, now: Timestamp) -> anyhow::Result<Vec<Card>> {
    if !state.may_open(p.role, HREF) || !super::ADMINS.contains(&p.role) {
        return Ok(Vec::new());
    }
    let settings = state.section::<BackupSettings>();
    let mut conn = state.db.pool().acquire().await?;
    let latest = repo::latest_data_backup(&mut conn).await?;
    let drill = repo_history::recent_drills(&mut conn, 1).await?;
    drop(conn);
    let backup = match latest {
        _ if settings.recipients.is_empty() => Card {
            title: "バックアップ".into(),
            value: "未設定".into(),
            note: "暗号化の宛先（公開鍵）が設定されていないため実行できません".into(),
            tone: "alert",
            href: HREF.into(),
        },
        None => Card {
            title: "バックアップ".into(),
            value: "未実施".into(),
            note: "まだ一度も取得していません".into(),
            tone: "warn",
            href: HREF.into(),
        },
        Some(b) => {
            let (value, tone) = match (b.state.as_str(), b.verify_result.as_deref()) {
                ("failed", _) => ("失敗".to_string(), "alert"),
                ("running", _) => ("実行中".to_string(), "idle"),
                (_, Some(r)) if !r.starts_with("ok") => ("検査で異常".to_string(), "alert"),
                (_, Some(_))
                    if b.copy_result
                        .as_deref()
                        .is_some_and(|r| !r.starts_with("ok")) =>
                {
                    ("二次保存に失敗".to_string(), "alert")
                }
                (_, Some(_)) => ("検証済み".to_string(), "ok"),
                _ => ("未検査".to_string(), "warn"),
            };
            Card {
                title: "バックアップ".into(),
                value,
                note: format!("最新 {}（{}）", b.started_at.jst(), b.id),
                tone,
                href: HREF.into(),
            }
        }
    };
    let every = jiff::SignedDuration::from_hours(24 * i64::from(settings.drill_every_days.max(1)));
    let drill = match drill.first() {
        _ if settings.identity_file.trim().is_empty() => Card {
            title: "復元訓練".into(),
            value: "実施できません".into(),
            note: "[backup] identity_file（検査用の鍵）が未設定です".into(),
            tone: "warn",
            href: HREF.into(),
        },
        None => Card {
            title: "復元訓練".into(),
            value: "未実施".into(),
            note: format!("{} 日ごとに自動で実施します", settings.drill_every_days),
            tone: "warn",
            href: HREF.into(),
        },
        Some(d) => {
            // One day of slack: the job runs daily and drills once the interval has passed.
            let overdue = now.since(d.started_at) > every + jiff::SignedDuration::from_hours(24);
            let (value, tone) = match (d.result.as_str(), overdue) {
                ("ok", false) => ("成功", "ok"),
                ("ok", true) => ("期限切れ", "warn"),
                _ => ("失敗", "alert"),
            };
            Card {
                title: "復元訓練".into(),
                value: value.into(),
                note: format!("前回 {}", d.started_at.jst()),
                tone,
                href: HREF.into(),
            }
        }
    };
    Ok(vec![backup, drill])
}
