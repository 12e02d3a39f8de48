//! The reviews: made for each closed period (the job `firewall.review`), signed off by a system
//! administrator. Each change is one transaction with its audit event.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::detect::{Finding, detect_bursts, detect_scans};
use super::model::FirewallSettings;
use super::repo::{self, NewReview, ReviewRow};
use crate::audit::{self, Actor};
use crate::db::{Conn, Db, Timestamp};
use crate::error::DomainError;

/// Catch-up limit per run (a server that was off for months makes its reviews over a few runs).
const MAX_PER_RUN: usize = 60;

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct TopSource {
    pub src: String,
    pub internal: bool,
    pub hits: i64,
    pub ports: i64,
    pub new: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct TopPort {
    pub proto: String,
    pub port: i64,
    pub hits: i64,
    pub sources: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct NewSource {
    pub src: String,
    pub first_seen_at: String,
    pub hits: i64,
}

/// A review as it is stored (JSON) and frozen at sign-off.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct ReviewContent {
    pub period: String,
    pub allowed: i64,
    pub denied: i64,
    pub sources: i64,
    pub top_sources: Vec<TopSource>,
    pub top_ports: Vec<TopPort>,
    /// Sources never seen before this period: how many, the internal ones all, the external ones
    /// the busiest `top`.
    pub new_count: i64,
    pub new_internal: Vec<NewSource>,
    pub new_external: Vec<NewSource>,
    /// Nothing was recorded before this period (every source is new).
    pub first_period: bool,
    pub scans: Vec<Finding>,
    pub bursts: Vec<Finding>,
    /// The thresholds used, in words.
    pub thresholds: String,
    /// The files read, and the unreadable lines counted so far, when the review was made.
    pub files: i64,
    pub unreadable_lines: i64,
}

impl ReviewContent {
    /// Findings a reviewer must answer in the remarks.
    pub fn findings(&self) -> i64 {
        (self.scans.len() + self.bursts.len() + self.new_internal.len()) as i64
    }
}

/// Builds the review of `[start, end)` from the stored traffic.
pub async fn build(
    conn: &mut Conn,
    s: &FirewallSettings,
    start: Timestamp,
    end: Timestamp,
) -> anyhow::Result<ReviewContent> {
    let top = i64::from(s.top.max(1));
    let (allowed, denied, sources) = repo::totals(conn, start, end).await?;
    let new = repo::new_sources(conn, start, end).await?;
    let is_new = |src: &str| new.iter().any(|(n, _, _)| n == src);
    let top_sources = repo::top_denied_sources(conn, start, end, top)
        .await?
        .into_iter()
        .map(|(src, hits, ports)| TopSource {
            internal: s.is_internal(&src),
            new: is_new(&src),
            src,
            hits,
            ports,
        })
        .collect();
    let top_ports = repo::top_denied_ports(conn, start, end, top)
        .await?
        .into_iter()
        .map(|(proto, port, hits, sources)| TopPort {
            proto,
            port,
            hits,
            sources,
        })
        .collect();
    let new_source = |(src, first, hits): &(String, Timestamp, i64)| NewSource {
        src: src.clone(),
        first_seen_at: first.to_db(),
        hits: *hits,
    };
    let new_internal = new
        .iter()
        .filter(|n| s.is_internal(&n.0))
        .map(new_source)
        .collect();
    let new_external = new
        .iter()
        .filter(|n| !s.is_internal(&n.0))
        .take(top as usize)
        .map(new_source)
        .collect();
    let first_period = !repo::any_traffic_before(conn, start).await?;
    let mut rows = Vec::new();
    let mut wanted = repo::scan_candidates(conn, start, end, i64::from(s.scan_ports)).await?;
    wanted.extend(
        repo::burst_candidates(conn, start, end, i64::from(s.burst_attempts), &s.auth_ports)
            .await?,
    );
    wanted.sort();
    wanted.dedup();
    for src in &wanted {
        rows.extend(repo::minutes_of(conn, src, start, end).await?);
    }
    let internal = |src: &str| s.is_internal(src);
    let scans = detect_scans(&rows, s.scan_ports, s.scan_minutes, internal);
    let bursts = detect_bursts(
        &rows,
        s.burst_attempts,
        s.burst_minutes,
        &s.auth_ports,
        internal,
    );
    let files = repo::recent_files(conn, 10_000).await?;
    Ok(ReviewContent {
        period: format!(
            "{} 〜 {}",
            start.jst(),
            end.minus(jiff::SignedDuration::from_secs(1)).jst()
        ),
        allowed,
        denied,
        sources,
        top_sources,
        top_ports,
        new_count: new.len() as i64,
        new_internal,
        new_external,
        first_period,
        scans,
        bursts,
        thresholds: format!(
            "ポートスキャン: 同じ送信元から {} 分以内に {} 以上の宛先ポート。総当たり: 同じ送信元から認証ポート（{}）の一つへ {} 分以内に {} 回以上。",
            s.scan_minutes,
            s.scan_ports,
            s.auth_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            s.burst_minutes,
            s.burst_attempts
        ),
        files: files.len() as i64,
        unreadable_lines: files.iter().map(|f| f.errors).sum(),
    })
}

/// Makes (or, with `replace`, makes again while unsigned) the review of the period that starts
/// at `start`. Returns its id. A signed review is never changed.
pub async fn generate(
    db: &Db,
    s: &FirewallSettings,
    start: Timestamp,
    replace: bool,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let (start, end) = s.period.containing(start);
    if end > now {
        return Err(DomainError::Conflict(
            "この期間はまだ終わっていないため、レビューを作成できません。".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let existing = repo::review_for(&mut tx, start).await?;
    if let Some(r) = &existing
        && (!replace || r.signed_at.is_some())
    {
        tx.rollback().await?;
        return match r.signed_at {
            Some(_) if replace => Err(DomainError::Conflict(
                "確認済みのレビューは変更できません。".into(),
            )),
            _ => Ok(r.id),
        };
    }
    let content = build(&mut tx, s, start, end).await?;
    let text = serde_json::to_string(&content).map_err(anyhow::Error::from)?;
    let new = NewReview {
        start,
        end,
        allowed: content.allowed,
        denied: content.denied,
        findings: content.findings(),
        content: &text,
    };
    let (id, action) = match existing {
        Some(r) => {
            repo::replace_review(&mut tx, r.id, &new, now).await?;
            (r.id, "firewall.review_regenerated")
        }
        None => (
            repo::insert_review(&mut tx, &new, now).await?,
            "firewall.review_generated",
        ),
    };
    audit::record(
        &mut tx,
        now,
        actor,
        action,
        &format!("firewall_review:{id}"),
        json!({
            "period_start": start, "period_end": end, "allowed": content.allowed,
            "denied": content.denied, "scans": content.scans.len(),
            "bursts": content.bursts.len(), "new_sources": content.new_count,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Makes the review of every closed period that has none, from the period of the first thing
/// recorded (at most `MAX_PER_RUN` a run). Returns the ids made.
pub async fn generate_due(
    db: &Db,
    s: &FirewallSettings,
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<i64>, DomainError> {
    let mut conn = db.pool().acquire().await?;
    let Some(first) = repo::earliest(&mut conn).await? else {
        return Ok(Vec::new());
    };
    let mut made = Vec::new();
    let (mut start, mut end) = s.period.containing(first);
    while end <= now && made.len() < MAX_PER_RUN {
        if repo::review_for(&mut conn, start).await?.is_none() {
            made.push(generate(db, s, start, false, actor, now).await?);
        }
        (start, end) = s.period.next(start);
    }
    Ok(made)
}

/// The content of a stored review.
pub fn content(r: &ReviewRow) -> ReviewContent {
    serde_json::from_str(&r.content).unwrap_or_default()
}

/// Signs a review off (who, when, remarks): once; remarks are required when the review has
/// findings (probable scans or bursts, new internal sources).
pub async fn sign(
    db: &Db,
    id: i64,
    account_id: i64,
    name: &str,
    remarks: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let remarks = remarks.trim();
    if remarks.chars().count() > 4000 {
        return Err(DomainError::invalid(
            "remarks",
            "備考は 4000 字以内で入力してください。",
        ));
    }
    let mut tx = db.begin().await?;
    let review = repo::find_review(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if review.signed_at.is_some() {
        return Err(DomainError::Conflict(
            "このレビューは既に確認済みです。".into(),
        ));
    }
    if review.findings > 0 && remarks.is_empty() {
        return Err(DomainError::invalid(
            "remarks",
            "所見があるため、確認の結果（対応や判断）を備考に記入してください。",
        ));
    }
    if !repo::sign_review(&mut tx, id, account_id, name, remarks, now).await? {
        return Err(DomainError::Conflict(
            "このレビューは既に確認済みです。".into(),
        ));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "firewall.review_signed",
        &format!("firewall_review:{id}"),
        json!({
            "period_start": review.period_start, "period_end": review.period_end,
            "findings": review.findings, "remarks": remarks,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Unsigned reviews (all, overdue) at `now`.
pub async fn open_and_overdue(
    conn: &mut Conn,
    s: &FirewallSettings,
    now: Timestamp,
) -> sqlx::Result<(i64, i64)> {
    repo::unsigned_counts(conn, now.minus(s.grace())).await
}
