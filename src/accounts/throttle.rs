//! Throttled credential attempts and aggregated log-in failures (ASVS 2.2.1; X.1, X.2). The
//! counters per address and for the server are `auth::throttle`'s (in the database on
//! PostgreSQL, shared by every instance; in memory on SQLite); this is the
//! domain's side: the admission the handlers call, the 429 answer, the failure windows kept in
//! the database and the report job.
//!
//! Rules:
//! - The log-in, second-factor (TOTP or recovery code) and password-change handlers call
//!   [`admit`] before anything is checked. A refusal is answered on the same form with 429, a
//!   `Retry-After` header and a Japanese message ([`message`], [`too_many`]); it costs no password
//!   hash and writes nothing to the database.
//! - A failed log-in is NOT one audit event each. It is counted in its address's window row
//!   (`login_failure_windows`: failures by reason; `login_failure_ids`: the log-in IDs tried) in
//!   the transaction that records the attempt in `login_attempts` (which the per-account lockout
//!   counts, as before), so the count is exactly as durable as the attempt. The window's first
//!   failure is also recorded at once as `auth.login_failed` (reason, account), so that a single
//!   mistyped password reads as before. Once the window has closed, the
//!   `login_failures.report` job writes ONE `auth.login_failures` event per address and window
//!   (failures by reason, the 10 most tried log-in IDs cut to 32 characters and how many IDs
//!   there were, the attempts the throttle refused) and marks the row reported in the same
//!   transaction. A window with one failure and no refusal needs no summary. An address thus
//!   costs the audit chain at most two rows per window, however hard it tries.
//! - Nothing is lost silently: a window row is committed with its attempts and stays unreported
//!   until a report covers it, so a crash, a stopped scheduler or a restart only delay the
//!   summary. The count of refused attempts is the throttle's: on PostgreSQL it is in the
//!   shared counters, so whichever instance runs the report reports every instance's refusals.
//!   On SQLite it is kept in memory (by design a refusal writes nothing there): it reaches the
//!   summary from the process that refused them, through its own scheduler (`serve` runs it).
//!   After a crash, or when a window is reported by another process (`rainbownet job run`),
//!   that number is missing from the summary (then written as a summary of its own, without
//!   `failures`), and the 429s remain in the access log and in
//!   `rainbownet_auth_throttled_total`. Refusals of an address without failed log-ins (second
//!   factor, password change) also get a summary without `failures`.
//! - Second-factor and password-change failures come from a session that knows the password:
//!   they stay one event each (`auth.mfa_failed`, `auth.password_change_failed`), bounded by the
//!   per-account lockout, which also ends that session.

use std::collections::HashMap;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::repo_throttle::{self as repo, Reason};
use crate::audit::{self, Actor};
use crate::auth::ThrottleSettings;
use crate::auth::throttle::{Limit, Permit, Refused};
use crate::db::{Timestamp, Tx};
use crate::state::AppState;

/// The report job's name.
pub const JOB: &str = "login_failures.report";

/// What is attempted (a label for the metrics and the log).
#[derive(Clone, Copy, Debug)]
pub enum Attempt {
    Login,
    SecondFactor,
    PasswordChange,
}

impl Attempt {
    fn label(self) -> &'static str {
        match self {
            Attempt::Login => "login",
            Attempt::SecondFactor => "second_factor",
            Attempt::PasswordChange => "password_change",
        }
    }
}

/// Admits an attempt from `addr` now, or refuses it (counted in the metrics; the first refusal
/// of an address in a window is logged).
pub async fn admit(state: &AppState, addr: &str, what: Attempt) -> Result<Permit, Refused> {
    state
        .throttle
        .admit(addr, state.now())
        .await
        .inspect_err(|r| {
            state
                .metrics
                .auth_throttled
                .with_label_values(&[what.label(), r.limit.label()])
                .inc();
            if r.first {
                tracing::warn!(
                    client = %r.key,
                    kind = what.label(),
                    limit = r.limit.label(),
                    retry_after = r.retry_after_seconds,
                    "credential attempts throttled"
                );
            }
        })
}

/// The message on the form of a refused attempt.
pub fn message(r: &Refused) -> String {
    let minutes = r.retry_after_minutes();
    match r.limit {
        Limit::Address => format!(
            "短時間に続けて失敗したため、この接続元からの受付を一時的に止めています。{minutes}分ほど待ってから、もう一度お試しください。"
        ),
        Limit::Global => format!(
            "現在、ログインの試行が集中しているため、受付を一時的に制限しています。{minutes}分ほど待ってから、もう一度お試しください。"
        ),
    }
}

/// A rendered form, turned into the 429 answer of a refused attempt.
pub fn too_many(mut res: Response, r: &Refused) -> Response {
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(r.retry_after_seconds));
    res
}

/// Counts a failed log-in in its address's window (in the transaction that records the attempt)
/// and records the window's first failure as `auth.login_failed`. `reason`: `unknown_id`,
/// `wrong_password`, `locked` or `disabled`.
pub async fn note_login_failure(
    tx: &mut Tx,
    settings: &ThrottleSettings,
    actor: &Actor,
    target: &str,
    login_id: &str,
    reason: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    let window = settings.window(now);
    let key = settings.key(&actor.client_addr);
    let counted = match reason {
        "unknown_id" => Reason::UnknownId,
        "wrong_password" => Reason::WrongPassword,
        _ => Reason::RefusedAccount,
    };
    let (window_id, failures) =
        repo::count_failure(tx, &key, window.start, window.end, counted, now).await?;
    let login_id: String = login_id.chars().take(64).collect();
    repo::count_login_id(tx, window_id, &login_id).await?;
    if failures == 1 {
        let details = json!({
            "reason": reason,
            "window_start": window.start.to_db(),
            "window_end": window.end.to_db(),
            "later_failures": "auth.login_failures",
        });
        audit::record(tx, now, actor, "auth.login_failed", target, details).await?;
    }
    Ok(())
}

/// The `login_failures.report` job: one `auth.login_failures` event for each address and closed
/// window with more than one failed log-in or with refused attempts (see the module rules).
pub async fn report(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let mut refused = state.throttle.take_closed_refusals(now).await?;
    let (mut windows, mut summaries) = (0, 0);
    loop {
        let mut tx = state.db.begin().await?;
        let batch = repo::closed_unreported(&mut tx, now, 200).await?;
        if batch.is_empty() {
            tx.rollback().await?;
            break;
        }
        for w in &batch {
            let throttled = refused
                .remove(&(w.client_addr.clone(), w.window_start))
                .unwrap_or(0);
            if w.failures > 1 || throttled > 0 {
                let (ids, distinct) = repo::login_ids(&mut tx, w.id, 10).await?;
                let ids: Vec<_> = ids
                    .into_iter()
                    .map(|(id, n)| json!({"login_id": id.chars().take(32).collect::<String>(), "failures": n}))
                    .collect();
                let details = json!({
                    "window_start": w.window_start.to_db(),
                    "window_end": w.window_end.to_db(),
                    "failures": w.failures,
                    "unknown_id": w.unknown_id,
                    "wrong_password": w.wrong_password,
                    "locked_or_disabled": w.refused_account,
                    "first_at": w.first_at.to_db(),
                    "last_at": w.last_at.to_db(),
                    "login_ids": ids,
                    "distinct_login_ids": distinct,
                    "throttled": throttled,
                });
                summary(&mut tx, &w.client_addr, details, now).await?;
                summaries += 1;
            }
            repo::mark_reported(&mut tx, w.id, now).await?;
            windows += 1;
        }
        tx.commit().await?;
    }
    summaries += report_refusals_only(state, refused, now).await?;
    Ok(format!(
        "{windows} 件の集計期間を確認し、{summaries} 件のログイン失敗の集計を記録しました"
    ))
}

/// Refusals of windows without an unreported failure row.
async fn report_refusals_only(
    state: &AppState,
    refused: HashMap<(String, Timestamp), u64>,
    now: Timestamp,
) -> anyhow::Result<usize> {
    if refused.is_empty() {
        return Ok(0);
    }
    let seconds = state.throttle.settings().window_seconds.max(1);
    let mut tx = state.db.begin().await?;
    let n = refused.len();
    for ((key, start), throttled) in refused {
        let end = start.plus(jiff::SignedDuration::from_secs(seconds));
        let details = json!({
            "window_start": start.to_db(),
            "window_end": end.to_db(),
            "throttled": throttled,
        });
        summary(&mut tx, &key, details, now).await?;
    }
    tx.commit().await?;
    Ok(n)
}

async fn summary(
    tx: &mut Tx,
    key: &str,
    details: serde_json::Value,
    now: Timestamp,
) -> sqlx::Result<i64> {
    let actor = Actor {
        client_addr: key.to_string(),
        ..Actor::system(JOB)
    };
    audit::record(
        tx,
        now,
        &actor,
        "auth.login_failures",
        &format!("client:{key}"),
        details,
    )
    .await
}
