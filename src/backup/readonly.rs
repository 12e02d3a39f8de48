//! Read-only mode during a monthly backup that stops the service (R21.3).
//!
//! A period is a `backup_readonly` row: it starts when the scheduler starts such a backup inside
//! its published window and ends when the backup finishes (`ended_at`), or at the latest at the
//! window's end (`until_at`) — so the application returns by itself even if the process running
//! the backup died. The row is in the database, so every process of the application sees it;
//! each process reads it at most once a second ([`layer`] keeps the answer that long, and a
//! change made in the process itself is seen at once).
//!
//! While a period is on: pages (GET/HEAD) are served with a banner; log-in, the second factor
//! and log-out still work, so that staff can log in and read the notice; every other write is
//! refused — a form with a calm Japanese 503 page, the FHIR API (`/api/…`) with a 503
//! `OperationOutcome` — both with `Retry-After` (seconds until the window's end).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::repo_schedule as repo;
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp, Tx};
use crate::error::{DomainError, ErrorPage};
use crate::state::AppState;
use crate::web::SiteBanner;

/// Writes that stay allowed: log-in (both steps) and log-out.
const ALLOWED_WRITES: &[&str] = &[crate::auth::LOGIN_PATH, "/login/totp", "/logout"];

/// How long a process trusts what it last read.
const FRESH: Duration = Duration::from_secs(1);

/// Bumped by every change made in this process, so that its own layers re-read at once.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Tells this process's layers that the read-only state changed (after the commit).
pub fn changed() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Starts a read-only period until `until` (the window's end), on the caller's transaction.
pub async fn begin_in(
    tx: &mut Tx,
    schedule_id: i64,
    slot: Timestamp,
    until: Timestamp,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let id = repo::insert_readonly(tx, schedule_id, slot, until, now).await?;
    audit::record(
        tx,
        now,
        actor,
        "backup.readonly_started",
        &format!("backup_readonly:{id}"),
        json!({"schedule": schedule_id, "slot": slot.to_db(), "until": until.to_db()}),
    )
    .await?;
    Ok(id)
}

/// Ends a read-only period (the backup finished); `false` when it had already ended.
pub async fn end_in(
    tx: &mut Tx,
    id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    if !repo::end_readonly(tx, id, now).await? {
        return Ok(false);
    }
    audit::record(
        tx,
        now,
        actor,
        "backup.readonly_ended",
        &format!("backup_readonly:{id}"),
        json!({"ended_at": now.to_db()}),
    )
    .await?;
    Ok(true)
}

/// [`begin_in`] in a transaction of its own.
pub async fn begin(
    db: &Db,
    schedule_id: i64,
    slot: Timestamp,
    until: Timestamp,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = begin_in(&mut tx, schedule_id, slot, until, actor, now).await?;
    tx.commit().await?;
    changed();
    Ok(id)
}

/// [`end_in`] in a transaction of its own.
pub async fn end(db: &Db, id: i64, actor: &Actor, now: Timestamp) -> Result<bool, DomainError> {
    let mut tx = db.begin().await?;
    let ended = end_in(&mut tx, id, actor, now).await?;
    tx.commit().await?;
    changed();
    Ok(ended)
}

/// The end of the read-only period in force at `now`, read from the database.
pub async fn until(db: &Db, now: Timestamp) -> sqlx::Result<Option<Timestamp>> {
    let mut conn = db.pool().acquire().await?;
    let open = repo::open_readonly(&mut conn, now).await?;
    Ok(in_force(
        &open
            .iter()
            .map(|r| (r.started_at, r.until_at))
            .collect::<Vec<_>>(),
        now,
    ))
}

fn in_force(periods: &[(Timestamp, Timestamp)], now: Timestamp) -> Option<Timestamp> {
    periods
        .iter()
        .filter(|(start, until)| *start <= now && now < *until)
        .map(|(_, until)| *until)
        .max()
}

#[derive(Default)]
struct Cache {
    read_at: Option<Instant>,
    generation: u64,
    /// Open periods as last read: (start, until).
    periods: Vec<(Timestamp, Timestamp)>,
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    cache: Arc<Mutex<Cache>>,
}

impl Guard {
    async fn until(&self, now: Timestamp) -> Option<Timestamp> {
        let generation = GENERATION.load(Ordering::SeqCst);
        if let Ok(c) = self.cache.lock()
            && c.generation == generation
            && c.read_at.is_some_and(|at| at.elapsed() < FRESH)
        {
            return in_force(&c.periods, now);
        }
        let periods = match self.read(now).await {
            Ok(p) => p,
            Err(e) => {
                // Writes would fail anyway when the database does not answer.
                tracing::warn!(error = %e, "read-only state could not be read");
                return None;
            }
        };
        let found = in_force(&periods, now);
        if let Ok(mut c) = self.cache.lock() {
            *c = Cache {
                read_at: Some(Instant::now()),
                generation,
                periods,
            };
        }
        found
    }

    async fn read(&self, now: Timestamp) -> sqlx::Result<Vec<(Timestamp, Timestamp)>> {
        let mut conn = self.state.db.pool().acquire().await?;
        let open = repo::open_readonly(&mut conn, now).await?;
        Ok(open.iter().map(|r| (r.started_at, r.until_at)).collect())
    }
}

/// The domain layer (`Domain::layer`): read-only mode around every route.
pub fn layer(router: Router<AppState>, state: AppState) -> Router<AppState> {
    let guard = Guard {
        state,
        cache: Arc::new(Mutex::new(Cache::default())),
    };
    router.layer(from_fn_with_state(guard, guard_requests))
}

/// The banner while read-only.
pub fn banner_text(until: Timestamp) -> String {
    format!(
        "【閲覧のみ】月次バックアップのため、{} まで登録・変更・送信はできません（閲覧はできます）。",
        until.jst()
    )
}

async fn guard_requests(State(g): State<Guard>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/static/") {
        return next.run(req).await;
    }
    let now = g.state.now();
    let Some(until) = g.until(now).await else {
        return next.run(req).await;
    };
    let text = banner_text(until);
    let method = req.method().clone();
    let reads = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let allowed = reads || (method == Method::POST && ALLOWED_WRITES.contains(&path.as_str()));
    if !allowed {
        return refuse(&path, until, now, &text);
    }
    SiteBanner::add(req.extensions_mut(), &text);
    let mut res = next.run(req).await;
    SiteBanner::add(res.extensions_mut(), &text);
    res
}

/// Seconds until `until`, at least one.
fn retry_after(until: Timestamp, now: Timestamp) -> u64 {
    let ms = u64::try_from(until.since(now).as_millis().max(0)).unwrap_or(0);
    ms.div_ceil(1000).max(1)
}

fn refuse(path: &str, until: Timestamp, now: Timestamp, banner: &str) -> Response {
    let retry = retry_after(until, now);
    let mut res = if path.starts_with("/api/") {
        let body = json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": "error",
                "code": "transient",
                "diagnostics": format!(
                    "月次バックアップのため、{} まで登録・更新を受け付けていません。Retry-After の秒数の後に再送してください（この送信内容は保存されていません）。",
                    until.jst()
                ),
            }]
        });
        let mut res = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json; charset=utf-8"),
        );
        res
    } else {
        let mut res = ErrorPage::response(
            StatusCode::SERVICE_UNAVAILABLE,
            "ただいま閲覧のみ可能です",
            format!(
                "月次バックアップのため、{} まで登録・変更・送信はできません。入力された内容は保存されていません。お手数ですが、終了後にもう一度お試しください。閲覧はこのままご利用いただけます。",
                until.jst()
            ),
        );
        SiteBanner::add(res.extensions_mut(), banner);
        res
    };
    if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn a_period_is_in_force_from_its_start_until_its_end_only() {
        let p = [(t("2026-12-01T18:00:00Z"), t("2026-12-01T19:00:00Z"))];
        assert_eq!(in_force(&p, t("2026-12-01T17:59:59Z")), None);
        assert_eq!(in_force(&p, t("2026-12-01T18:00:00Z")), Some(p[0].1));
        assert_eq!(in_force(&p, t("2026-12-01T18:59:59Z")), Some(p[0].1));
        assert_eq!(in_force(&p, t("2026-12-01T19:00:00Z")), None);
    }

    #[test]
    fn retry_after_counts_whole_seconds_up_and_never_zero() {
        let until = t("2026-12-01T19:00:00Z");
        assert_eq!(retry_after(until, t("2026-12-01T18:00:00Z")), 3600);
        assert_eq!(retry_after(until, t("2026-12-01T18:59:59.500Z")), 1);
        assert_eq!(retry_after(until, until), 1);
    }
}
