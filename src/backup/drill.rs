//! The restore drill (item 6 of issue 11): the newest chain is restored into a temporary place,
//! the restored database is opened, its counts are compared with the manifest's, and its audit
//! chain is checked (hash chain, seals with the live audit keys, and the manifest's sealed anchor).
//! The result is kept in `backup_drills` and on the backup's row, and audited; the dashboard turns
//! a failed or overdue drill into an alert.
//!
//! SQLite: restored into `<tmp>/`; PostgreSQL: into a temporary database on the same server
//! (`rainbownet_drill_<millis>`, dropped afterwards; the configured role needs CREATEDB).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use sqlx::Connection;

use super::model::Manifest;
use super::repo_history::{self, NewDrill};
use super::settings::BackupSettings;
use super::{catalog, restore};
use crate::audit::{self, Actor, Anchor};
use crate::db::{Backend, Timestamp};
use crate::state::AppState;

/// The `backup.drill` job: a drill when the last one is older than `drill_every_days`.
pub async fn job(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let settings = state.section::<BackupSettings>();
    let mut conn = state.db.pool().acquire().await?;
    let last = repo_history::recent_drills(&mut conn, 1).await?;
    drop(conn);
    let every = jiff::SignedDuration::from_hours(24 * i64::from(settings.drill_every_days.max(1)));
    if let Some(d) = last.first()
        && now.since(d.started_at) < every
    {
        return Ok(format!(
            "前回の復元訓練 {} から {} 日経っていないため、実施しません。",
            d.started_at.jst(),
            settings.drill_every_days
        ));
    }
    drill(state, &Actor::system("backup.drill"), now).await
}

/// Restores the newest chain and checks it; records and audits the result either way. The
/// returned error is the drill's failure (already recorded).
pub async fn drill(state: &AppState, actor: &Actor, now: Timestamp) -> anyhow::Result<String> {
    let settings = state.section::<BackupSettings>();
    let identity = settings.identity_file.trim();
    anyhow::ensure!(
        !identity.is_empty(),
        "[backup] identity_file が設定されていないため、復元訓練を実施できません。"
    );
    let dir = settings.dir_in(&state.settings.paths.data_dir);
    let newest = catalog::list(&dir)?
        .into_iter()
        .rfind(|m| m.kind != super::Kind::System)
        .context("復元訓練の対象になるバックアップがありません。")?;
    let started = std::time::Instant::now();
    let result = restore_and_check(state, &dir, Path::new(identity), &newest).await;
    let finished_at = now.plus(jiff::SignedDuration::from_millis(
        started.elapsed().as_millis() as i64,
    ));
    let (ok, detail) = match &result {
        Ok(msg) => (true, msg.clone()),
        Err(e) => (false, format!("{e:#}")),
    };
    let mut tx = state.db.begin().await?;
    repo_history::insert_drill(
        &mut tx,
        &NewDrill {
            backup_id: newest.id.as_str(),
            started_at: now,
            finished_at,
            ok,
            detail: &detail,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        if ok {
            "backup.drilled"
        } else {
            "backup.drill_failed"
        },
        &format!("backup:{}", newest.id),
        json!({"ok": ok, "detail": detail, "seconds": started.elapsed().as_secs_f64()}),
    )
    .await?;
    if !ok {
        super::notify::admins(
            &mut tx,
            state,
            "backup.drill_failed",
            format!("backup:{}", newest.id),
            format!("復元訓練が失敗しました（{}）", newest.id),
            format!(
                "バックアップ {} の復元訓練が失敗しました。\n\n理由: {detail}",
                newest.id
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    match result {
        Ok(msg) => Ok(msg),
        Err(e) => Err(e.context(format!("{} の復元訓練に失敗しました", newest.id))),
    }
}

/// A temporary directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn restore_and_check(
    state: &AppState,
    dir: &Path,
    identity: &Path,
    m: &Manifest,
) -> anyhow::Result<String> {
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "rainbownet-drill-{}-{}",
        m.id,
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&scratch.0);
    match state.db.backend() {
        Backend::Sqlite => {
            let r = restore::restore(dir, &m.id, identity, &scratch.0, None).await?;
            let restore::RestoredDb::Sqlite(file) = r.database else {
                anyhow::bail!("{} に SQLite のデータベースがありません", m.id);
            };
            let url = format!("sqlite://{}?mode=ro", file.display());
            check_database(state, &url, m).await
        }
        Backend::Postgres => {
            let name = format!("rainbownet_drill_{}", std::process::id());
            let live = state.settings.database_url();
            let mut url = url::Url::parse(&live).context("database.url")?;
            url.set_path(&name);
            let mut admin = state.db.pool().acquire().await?;
            repo_history::drop_scratch_database(&mut admin, &name).await?;
            repo_history::create_scratch_database(&mut admin, &name)
                .await
                .context(
                    "復元訓練用の一時データベースを作成できません（CREATEDB 権限が必要です）",
                )?;
            let result = async {
                restore::restore(dir, &m.id, identity, &scratch.0, Some(url.as_str())).await?;
                check_database(state, url.as_str(), m).await
            }
            .await;
            let _ = repo_history::drop_scratch_database(&mut admin, &name).await;
            result
        }
    }
}

/// Opens the restored database (whose counts and audit head `restore` has already compared with
/// the manifest) and walks its audit chain with the live keys against the manifest's anchor.
async fn check_database(state: &AppState, url: &str, m: &Manifest) -> anyhow::Result<String> {
    crate::db::install_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .context("復元したデータベースを開けません")?;
    let counts = &m.counts;
    let anchor = Anchor::parse(&m.audit_anchor, format!("{} のマニフェスト", m.id))
        .map_err(anyhow::Error::msg)?;
    let report = audit::verify_against(&mut conn, state.db.keys().audit(), &[anchor]).await?;
    conn.close().await.ok();
    if let Some(b) = report.broken {
        anyhow::bail!("復元した監査ログが検証できません: {b:?}");
    }
    anyhow::ensure!(
        report.head.seq == m.audit_head_seq,
        "監査ログの末尾がマニフェストと違います（復元 {}、マニフェスト {}）",
        report.head.seq,
        m.audit_head_seq
    );
    Ok(format!(
        "{} を復元し、件数（文書 {}、患者 {}、利用者 {}、監査ログ {} 行）と監査ログ（アンカー一致）を確認しました。",
        m.id, counts.documents, counts.patients, counts.accounts, counts.audit_rows
    ))
}
