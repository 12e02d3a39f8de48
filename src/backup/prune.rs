//! Retention (R21.1, R20.4): which backups a target may drop, and the daily job that drops them
//! from the primary directory and from the second target, each with its own `keep_days`.
//!
//! Rules ([`plan`], pure):
//! - A backup has expired when it started more than `keep_days` × 24 hours before `now`.
//! - A daily depends on every earlier member of its chain (its monthly and the dailies before
//!   it), so a member is removed only when it has expired AND no member of its chain that has not
//!   expired is newer: a chain goes as a whole when its newest member has expired, and a chain
//!   still within retention is never broken (its monthly stays, however old).
//! - System backups depend on nothing and nothing depends on them: each goes when it expires.
//! - A manifest whose start time cannot be read never expires (prune removes only what it
//!   understands); what is not a manifest is never touched.
//!
//! Each target is read from its own listing of manifests (the directory or bucket, not the
//! database). Before pruning, a run copies to the second target every backup of the primary that
//! it lacks and would still keep (a copy that failed earlier: the target was down), oldest first. Within a run the newest backups go first (archive, then manifest), and the run
//! stops on a target at the first failure, so what is left of a chain is always its older part.
//! Backups removed from the primary are marked `pruned` (with `pruned_at`) on their `backups`
//! row; one `backup.pruned` audit event per run that removed something (or failed) lists the ids
//! of both targets.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;

use anyhow::ensure;
use jiff::SignedDuration;

use super::model::{BackupId, Kind, Manifest};
use super::repo_targets;
use super::settings::BackupSettings;
use super::targets::{self, Target};
use crate::audit::{self, Actor};
use crate::db::Timestamp;
use crate::domain::{CliCommand, CliContext};
use crate::state::AppState;

/// What one run removed, and what went wrong (the run goes on with the other target).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Removed from the primary directory, oldest first.
    pub primary: Vec<BackupId>,
    /// Removed from the second target, oldest first.
    pub second: Vec<BackupId>,
    /// Copied to the second target because it lacked them (an earlier copy failed).
    pub copied: Vec<BackupId>,
    /// The second target, as [`Target::describe`] names it (none configured: `None`).
    pub second_target: Option<String>,
    pub errors: Vec<String>,
}

impl Summary {
    /// One line for the job's history.
    pub fn message(&self) -> String {
        let mut m = format!("主: {} 件削除", self.primary.len());
        if self.second_target.is_some() {
            m.push_str(&format!("、第二の保管先: {} 件削除", self.second.len()));
        }
        if !self.copied.is_empty() {
            m.push_str(&format!("、第二の保管先へ {} 件を複製", self.copied.len()));
        }
        if !self.errors.is_empty() {
            m.push_str(&format!("、失敗: {}", self.errors.join(" / ")));
        }
        m
    }
}

/// When the backup started: the manifest's `started_at`, else the time in its id.
fn started(m: &Manifest) -> Option<jiff::Timestamp> {
    if let Ok(t) = m.started_at.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let time = m.id.as_str().get(..15)?;
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", time)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The chain a backup belongs to (its monthly); none for a system backup.
fn chain(m: &Manifest) -> Option<&BackupId> {
    match m.kind {
        Kind::System => None,
        Kind::Monthly | Kind::Daily => Some(m.chain.as_ref().unwrap_or(&m.id)),
    }
}

/// The backups to remove from a target holding `manifests`, oldest first (see the module rules).
pub fn plan(manifests: &[Manifest], now: Timestamp, keep_days: u32) -> Vec<BackupId> {
    let keep = SignedDuration::from_hours(24 * i64::from(keep_days));
    let expired = |m: &Manifest| started(m).is_some_and(|t| now.as_jiff().duration_since(t) > keep);
    // The newest member of each chain that has not expired: it needs every earlier member.
    let mut needed_up_to: HashMap<&BackupId, &BackupId> = HashMap::new();
    for m in manifests.iter().filter(|m| !expired(m)) {
        if let Some(c) = chain(m) {
            let newest = needed_up_to.entry(c).or_insert(&m.id);
            if m.id > **newest {
                *newest = &m.id;
            }
        }
    }
    let mut out: Vec<BackupId> = manifests
        .iter()
        .filter(|m| expired(m))
        .filter(|m| match chain(m).and_then(|c| needed_up_to.get(c)) {
            Some(newest_live) => m.id > **newest_live,
            None => true,
        })
        .map(|m| m.id.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The daily job and `rainbownet backup prune`: applies [`plan`] to the primary directory and to
/// the second target, as the system.
pub async fn prune(state: &AppState, now: Timestamp) -> anyhow::Result<Summary> {
    prune_as(state, &Actor::system("backup.prune"), now).await
}

/// [`prune`] on behalf of `actor`.
pub async fn prune_as(state: &AppState, actor: &Actor, now: Timestamp) -> anyhow::Result<Summary> {
    let settings = state.section::<BackupSettings>();
    ensure!(
        settings.keep_days > 0,
        "[backup] keep_days は 1 以上にしてください"
    );
    let primary = Target::Dir(settings.dir_in(&state.settings.paths.data_dir));
    let mut summary = Summary::default();
    let manifests = primary.manifests().await?;
    let second = &settings.second_target;
    let target = match Target::second_of(&settings, &state.settings.paths.data_dir) {
        Ok(t) => t,
        Err(e) => {
            summary.errors.push(format!("{e:#}"));
            None
        }
    };
    if let Some(t) = &target {
        summary.second_target = Some(t.describe());
        if second.keep_days == 0 {
            summary
                .errors
                .push("[backup.second_target] keep_days は 1 以上にしてください".into());
        }
    }
    let target = target.filter(|_| second.keep_days > 0);

    // First the copies the second target lacks (one that failed earlier), oldest first.
    let mut reachable = true;
    if let Some(t) = &target {
        match t.list().await {
            Ok(objects) => {
                let held: HashSet<&str> = objects.iter().map(|o| o.name.as_str()).collect();
                let past: HashSet<BackupId> = plan(&manifests, now, second.keep_days)
                    .into_iter()
                    .collect();
                for m in &manifests {
                    if held.contains(m.id.manifest_name().as_str()) || past.contains(&m.id) {
                        continue;
                    }
                    match targets::copy(state, &m.id).await {
                        Ok(()) => summary.copied.push(m.id.clone()),
                        Err(e) => {
                            summary.errors.push(format!("{e:#}"));
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                reachable = false;
                summary.errors.push(format!("{}: {e:#}", t.describe()));
            }
        }
    }

    let doomed = plan(&manifests, now, settings.keep_days);
    remove(&primary, &doomed, &mut summary.primary, &mut summary.errors).await;

    if let Some(t) = target.as_ref().filter(|_| reachable) {
        match t.manifests().await {
            Ok(ms) => {
                let doomed = plan(&ms, now, second.keep_days);
                remove(t, &doomed, &mut summary.second, &mut summary.errors).await;
            }
            Err(e) => summary.errors.push(format!("{}: {e:#}", t.describe())),
        }
    }
    summary.errors = summary
        .errors
        .iter()
        .map(|e| mask(e, &[&second.access_key, &second.secret_key]))
        .collect();

    if !summary.primary.is_empty() || !summary.second.is_empty() || !summary.errors.is_empty() {
        let mut tx = state.db.begin().await?;
        for id in &summary.primary {
            repo_targets::mark_pruned(&mut tx, id, now).await?;
        }
        audit::record(
            &mut tx,
            now,
            actor,
            "backup.pruned",
            "backup:prune",
            serde_json::json!({
                "primary": summary.primary,
                "keep_days": settings.keep_days,
                "second": summary.second,
                "second_target": summary.second_target,
                "second_keep_days": second.keep_days,
                "errors": summary.errors,
            }),
        )
        .await?;
        tx.commit().await?;
    }
    if !summary.errors.is_empty() {
        tracing::warn!(errors = ?summary.errors, "backup prune: not everything could be removed");
    }
    Ok(summary)
}

/// Removes `ids` from `t`, newest first (archive, then manifest), stopping at the first failure
/// so that what remains of a chain is its older part.
async fn remove(
    t: &Target,
    ids: &[BackupId],
    removed: &mut Vec<BackupId>,
    errors: &mut Vec<String>,
) {
    for id in ids.iter().rev() {
        let done = async {
            t.delete(&id.archive_name()).await?;
            t.delete(&id.manifest_name()).await
        }
        .await;
        match done {
            Ok(()) => removed.push(id.clone()),
            Err(e) => {
                errors.push(format!("{}: {id}: {e:#}", t.describe()));
                break;
            }
        }
    }
    removed.sort();
}

fn mask(message: &str, secrets: &[&String]) -> String {
    let mut out = message.to_string();
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// The job `backup.prune`: fails (so the dashboard shows it) when anything could not be removed.
pub async fn run_job(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let s = prune(state, now).await?;
    ensure!(s.errors.is_empty(), "{}", s.message());
    Ok(s.message())
}

/// `rainbownet backup prune`.
pub fn cli() -> CliCommand {
    CliCommand {
        group: super::CLI_GROUP,
        group_about: super::CLI_ABOUT,
        command: || {
            clap::Command::new("prune").about(
                "Remove the backups past retention from the backup directory and the second \
                 target (a chain goes only as a whole) and print what was removed.",
            )
        },
        run: |ctx, _| Box::pin(run_cli(ctx)),
    }
}

async fn run_cli(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let state = ctx.state(db.clone());
    let result = prune_as(&state, &Actor::cli(), ctx.now).await;
    db.close().await;
    let s = result?;
    let settings = ctx.section::<BackupSettings>();
    let show = |place: &str, keep: u32, ids: &[BackupId]| {
        if ids.is_empty() {
            println!("{place}（保存期間 {keep} 日）: 削除したバックアップはありません。");
        } else {
            println!(
                "{place}（保存期間 {keep} 日）: {} 件を削除しました。",
                ids.len()
            );
            for id in ids {
                println!("  {id}");
            }
        }
    };
    show(
        &format!(
            "主の保管先 {}",
            settings.dir_in(&ctx.settings.paths.data_dir).display()
        ),
        settings.keep_days,
        &s.primary,
    );
    if let Some(t) = &s.second_target {
        show(
            &format!("第二の保管先 {t}"),
            settings.second_target.keep_days,
            &s.second,
        );
    }
    if !s.copied.is_empty() {
        println!(
            "第二の保管先に無かった {} 件を複製しました。",
            s.copied.len()
        );
        for id in &s.copied {
            println!("  {id}");
        }
    }
    for e in &s.errors {
        eprintln!("失敗: {e}");
    }
    Ok(if s.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::model::{Counts, MANIFEST_FORMAT};

    fn at(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    /// A manifest started at `time` (UTC, RFC 3339); `chain` is the monthly's time.
    fn m(time: &str, kind: Kind, chain: Option<&str>) -> Manifest {
        let t: jiff::Timestamp = time.parse().expect("time");
        let id = BackupId::new(t, kind);
        let chain = match kind {
            Kind::Monthly => Some(id.clone()),
            Kind::Daily => chain.map(|c| BackupId::new(c.parse().expect("time"), Kind::Monthly)),
            Kind::System => None,
        };
        Manifest {
            format: MANIFEST_FORMAT,
            id,
            kind,
            chain,
            parent: None,
            started_at: time.into(),
            finished_at: time.into(),
            software_version: "test".into(),
            schema_version: 12,
            backend: "sqlite".into(),
            counts: Counts::default(),
            audit_head_seq: 0,
            audit_head_hash: String::new(),
            audit_anchor: String::new(),
            files: Vec::new(),
            archive: None,
        }
    }

    fn ids(ms: &[&Manifest]) -> Vec<BackupId> {
        let mut v: Vec<BackupId> = ms.iter().map(|m| m.id.clone()).collect();
        v.sort();
        v
    }

    /// January's chain (a monthly on 1 Jan, dailies on 2..=31) and February's monthly.
    fn two_months() -> Vec<Manifest> {
        let jan = "2026-01-01T18:00:00Z";
        let mut v = vec![m(jan, Kind::Monthly, None)];
        for d in 2..=31 {
            v.push(m(
                &format!("2026-01-{d:02}T18:00:00Z"),
                Kind::Daily,
                Some(jan),
            ));
        }
        v.push(m("2026-02-01T18:00:00Z", Kind::Monthly, None));
        v
    }

    #[test]
    fn nothing_goes_while_everything_is_within_retention() {
        assert!(plan(&two_months(), at("2026-02-02T00:00:00Z"), 365).is_empty());
        assert!(plan(&[], at("2026-02-02T00:00:00Z"), 1).is_empty());
    }

    #[test]
    fn a_chain_goes_only_as_a_whole_when_its_newest_member_has_expired() {
        let ms = two_months();
        // 30 days after the last January daily (31 Jan 18:00Z): exactly 30 days is not older
        // than keep_days, so the whole chain stays, the monthly of 1 Jan included.
        assert!(plan(&ms, at("2026-03-02T18:00:00Z"), 30).is_empty());
        // One second later the chain's newest member has expired: all 31 go, February stays.
        let gone = plan(&ms, at("2026-03-02T18:00:01Z"), 30);
        assert_eq!(gone, ids(&ms[..31].iter().collect::<Vec<_>>()));
        assert!(!gone.contains(&ms[31].id));
    }

    #[test]
    fn a_daily_whose_monthly_is_past_retention_keeps_the_monthly_and_every_earlier_daily() {
        let ms = two_months();
        // keep 10 days on 25 Jan: the monthly (1 Jan) and dailies up to 14 Jan have expired,
        // but the dailies from 15 Jan on depend on them.
        assert!(plan(&ms, at("2026-01-25T18:00:00Z"), 10).is_empty());
        // Across the month boundary: on 12 Feb with keep 10, January's newest daily (31 Jan)
        // has expired, so January goes whole; February's monthly (1 Feb) has expired too and,
        // with no newer member of its chain, goes with it.
        let gone = plan(&ms, at("2026-02-12T18:00:01Z"), 10);
        assert_eq!(gone.len(), 32);
        // With a daily of February within retention, February's monthly stays.
        let mut with_feb = ms.clone();
        with_feb.push(m(
            "2026-02-10T18:00:00Z",
            Kind::Daily,
            Some("2026-02-01T18:00:00Z"),
        ));
        let gone = plan(&with_feb, at("2026-02-12T18:00:01Z"), 10);
        assert_eq!(gone, ids(&ms[..31].iter().collect::<Vec<_>>()));
    }

    #[test]
    fn an_expired_daily_stays_while_a_later_daily_of_its_chain_is_within_retention() {
        let mon = "2026-05-01T18:00:00Z";
        let ms = vec![
            m(mon, Kind::Monthly, None),
            m("2026-05-02T18:00:00Z", Kind::Daily, Some(mon)),
            m("2026-05-03T18:00:00Z", Kind::Daily, Some(mon)),
        ];
        // keep 5: on 8 May 18:00:01 the monthly and the first daily have expired, the second
        // daily (3 May) is exactly 5 days old: not expired, so everything stays.
        assert!(plan(&ms, at("2026-05-08T18:00:00Z"), 5).is_empty());
        assert_eq!(plan(&ms, at("2026-05-08T18:00:01Z"), 5).len(), 3);
    }

    #[test]
    fn system_backups_are_independent() {
        let mut ms = two_months();
        ms.push(m("2026-01-15T01:00:00Z", Kind::System, None));
        ms.push(m("2026-01-30T01:00:00Z", Kind::System, None));
        // keep 20 on 10 Feb: January's chain stays (31 Jan is 10 days old), the system backup
        // of 15 Jan goes by itself, the one of 30 Jan stays.
        let gone = plan(&ms, at("2026-02-10T00:00:00Z"), 20);
        assert_eq!(gone, vec![ms[32].id.clone()]);
        // And a system backup never keeps a chain: on 1 Apr with keep 45, January goes whole
        // though a system backup lies inside it; February's monthly (1 Feb) goes too.
        let gone = plan(&ms, at("2026-04-01T00:00:00Z"), 45);
        assert_eq!(gone.len(), 34);
    }

    #[test]
    fn a_manifest_without_a_readable_time_falls_back_to_its_id_and_otherwise_stays() {
        let mut old = m("2020-01-01T00:00:00Z", Kind::System, None);
        old.started_at = "garbage".into();
        assert_eq!(
            plan(std::slice::from_ref(&old), at("2026-01-01T00:00:00Z"), 365),
            vec![old.id.clone()],
            "the id's time counts"
        );
    }

    #[test]
    fn a_daily_without_a_chain_is_its_own_chain() {
        let mut d = m("2026-01-02T18:00:00Z", Kind::Daily, None);
        d.chain = None;
        let gone = plan(std::slice::from_ref(&d), at("2026-03-01T00:00:00Z"), 30);
        assert_eq!(gone, vec![d.id]);
    }
}
