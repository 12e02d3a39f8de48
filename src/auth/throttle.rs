//! Throttling of credential attempts (ASVS 2.2.1): per client address and for the whole server,
//! on top of the per-account lockout (`accounts`). Covers log-in, the second factor (TOTP and
//! recovery codes) and the current password of a password change. Settings: `[security.throttle]`.
//!
//! Rules:
//! - Time is cut into fixed windows of `window_seconds`, aligned to the Unix epoch (a window is
//!   the same for every address, in memory and in the `login_failure_windows` rows that
//!   `accounts` keeps), so that `Retry-After` is simply the rest of the window.
//! - [`Throttle::admit`] runs BEFORE any password hash or code check. An admitted attempt counts
//!   as a failure of its address and of the server at once (so that concurrent attempts cannot
//!   all slip through before the first failure is known); [`Permit::succeeded`] takes it back.
//!   A refused attempt costs no hash and no database write: the hash slots stay free for real
//!   users and a flood cannot take the database's writer lock either.
//! - An address with `per_address_max` failures in the window is refused until the window ends.
//! - When the server has seen `global_max` failures in the window, only addresses without a
//!   failure in it are admitted: a person who types the password right still gets in during a
//!   distributed flood, while every address that has already failed waits for the next window.
//!   A flood from N fresh addresses thus gets at most `global_max + N` checks per window.
//! - An IPv6 address counts with its `/ipv6_prefix` network (one customer line usually holds a
//!   whole /64); an IPv4-mapped IPv6 address counts as the IPv4 address.
//! - At most `max_tracked_addresses` addresses are tracked per window (memory stays bounded);
//!   beyond that, an address not yet tracked is treated as one that has already failed (it is
//!   admitted only while the global count is below `global_max`).
//! - A limit of 0 turns that limit off.
//!
//! Where the counters live ([`Throttle::for_db`]):
//! - On PostgreSQL, where several instances may serve one network behind a load balancer
//!   (issue 16), in the database (`throttle_counts`, SQL in `repo_throttle.rs`): every instance
//!   counts the same attempts, so the limits hold for the network, not per process. An attempt
//!   is counted and decided by ONE upsert on its address's row (row lock: two instances cannot
//!   both admit the last attempt), plus one read and one increment of the server's row
//!   (`client_key` ''), each an autocommit statement of its own. A refused attempt still costs no
//!   hash; it costs that one small statement (which also counts it for the report). There is no
//!   `max_tracked_addresses` bound there (a row per address and window, deleted when the report
//!   job takes the closed windows). Should the database not answer, the attempt is decided by
//!   the process's memory counters instead (the log-in would fail anyway).
//! - On SQLite (one process by design), in the memory of the process, as below.
//!
//! Refused attempts are counted with the failures (per address and window) and taken by the
//! `accounts` report job for its summary ([`Throttle::take_closed_refusals`]).
//!
//! Files: this one counts and decides ([`Throttle`], [`Permit`]); `throttle_settings.rs` holds
//! the settings, the windows, the address keys and the refusal (re-exported here);
//! `throttle_report.rs` hands the refusals of closed windows to the report job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::repo_throttle as repo;
pub use super::throttle_settings::{Limit, Refused, ThrottleSettings, Window};
use crate::db::{Backend, Db, Timestamp};

/// An admitted attempt. Dropped as it is, it stays counted as a failure; call
/// [`Permit::succeeded`] when the credential was right.
#[must_use = "call succeeded() when the credential was right"]
pub struct Permit {
    throttle: Arc<Throttle>,
    key: Option<String>,
    window: i64,
    /// Counted in the database (else in memory).
    shared: bool,
}

impl Permit {
    /// The credential was right: the attempt is no failure after all.
    pub async fn succeeded(self) {
        if self.shared {
            if let Some(db) = &self.throttle.shared {
                let start = self.throttle.settings.window_of_index(self.window).start;
                let done = match db.pool().acquire().await {
                    Ok(mut conn) => repo::succeeded(&mut conn, start, self.key.as_deref()).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    tracing::warn!(error = %e, "a successful attempt could not be taken back from the shared throttle");
                }
            }
            return;
        }
        let mut c = self.throttle.lock();
        if c.window != self.window {
            return;
        }
        c.global = c.global.saturating_sub(1);
        if let Some(e) = self.key.as_ref().and_then(|k| c.addresses.get_mut(k)) {
            e.failures = e.failures.saturating_sub(1);
        }
    }
}

#[derive(Default)]
struct Entry {
    failures: u32,
    refused: u64,
}

#[derive(Default)]
pub(super) struct Counts {
    window: i64,
    global: u32,
    addresses: HashMap<String, Entry>,
    /// Refused attempts of windows that have closed, by (key, window start), until the report
    /// job takes them.
    pub(super) closed: HashMap<(String, Timestamp), u64>,
}

/// Windows of refusals kept for the report job at most (older ones are logged and dropped).
const KEEP_CLOSED_WINDOWS: i64 = 12;

/// The counters of one application (kept in its state).
pub struct Throttle {
    pub(super) settings: ThrottleSettings,
    pub(super) counts: Mutex<Counts>,
    /// The database that keeps the counters shared by every instance (see the module rules);
    /// `None`: in memory only.
    pub(super) shared: Option<Db>,
}

impl Throttle {
    /// Counters in the memory of this process.
    pub fn new(settings: ThrottleSettings) -> Arc<Throttle> {
        Arc::new(Throttle {
            settings,
            counts: Mutex::new(Counts {
                window: i64::MIN,
                ..Counts::default()
            }),
            shared: None,
        })
    }

    /// Counters in `db`, shared by every process that uses it.
    pub fn shared(settings: ThrottleSettings, db: Db) -> Arc<Throttle> {
        let mut t = Throttle::new(settings);
        if let Some(t) = Arc::get_mut(&mut t) {
            t.shared = Some(db);
        }
        t
    }

    /// The application's throttle: shared through the database on PostgreSQL (several
    /// instances), in memory on SQLite (one process).
    pub fn for_db(settings: ThrottleSettings, db: &Db) -> Arc<Throttle> {
        match db.backend() {
            Backend::Postgres => Throttle::shared(settings, db.clone()),
            Backend::Sqlite => Throttle::new(settings),
        }
    }

    /// Whether the counters are kept in the database.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to the window of `index`: refusals of the closed one are kept for the report.
    pub(super) fn roll(&self, c: &mut Counts, index: i64) {
        if c.window == index {
            return;
        }
        if c.window != i64::MIN {
            let start = self.settings.window_of_index(c.window).start;
            for (key, e) in c.addresses.drain() {
                if e.refused > 0 {
                    *c.closed.entry((key, start)).or_default() += e.refused;
                }
            }
            let oldest = self
                .settings
                .window_of_index(index.saturating_sub(KEEP_CLOSED_WINDOWS))
                .start;
            let mut dropped = 0;
            c.closed.retain(|(_, start), n| {
                let keep = *start >= oldest;
                if !keep {
                    dropped += *n;
                }
                keep
            });
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "refused credential attempts of old windows were never reported (is the login_failures.report job running?)"
                );
            }
        }
        c.addresses.clear();
        c.global = 0;
        c.window = index;
    }

    fn retry_after(&self, index: i64, now: Timestamp) -> u64 {
        u64::try_from(
            self.settings
                .window_of_index(index)
                .end
                .unix_seconds()
                .saturating_sub(now.unix_seconds()),
        )
        .unwrap_or(1)
        .max(1)
    }

    /// Admits or refuses an attempt from `addr` at `now` (see the module rules).
    pub async fn admit(self: &Arc<Self>, addr: &str, now: Timestamp) -> Result<Permit, Refused> {
        let Some(db) = &self.shared else {
            return self.admit_local(addr, now);
        };
        match self.admit_shared(db, addr, now).await {
            Ok(decided) => decided,
            Err(e) => {
                tracing::warn!(error = %e, "the shared throttle does not answer: counting in memory");
                self.admit_local(addr, now)
            }
        }
    }

    /// [`Throttle::admit`] with the counters in the database.
    async fn admit_shared(
        self: &Arc<Self>,
        db: &Db,
        addr: &str,
        now: Timestamp,
    ) -> sqlx::Result<Result<Permit, Refused>> {
        let s = &self.settings;
        let index = s.index(now);
        let start = s.window_of_index(index).start;
        let key = s.key(addr);
        let mut conn = db.pool().acquire().await?;
        let global_full =
            s.global_max > 0 && repo::global(&mut conn, start).await? >= i64::from(s.global_max);
        let (outcome, refused) = repo::attempt(
            &mut conn,
            start,
            &key,
            i64::from(s.per_address_max),
            global_full,
        )
        .await?;
        let limit = match outcome {
            2 => Limit::Address,
            3 => Limit::Global,
            _ => {
                repo::count_global(&mut conn, start).await?;
                return Ok(Ok(Permit {
                    throttle: Arc::clone(self),
                    key: Some(key),
                    window: index,
                    shared: true,
                }));
            }
        };
        Ok(Err(Refused {
            limit,
            key,
            retry_after_seconds: self.retry_after(index, now),
            first: refused == 1,
        }))
    }

    /// [`Throttle::admit`] with the counters in memory.
    fn admit_local(self: &Arc<Self>, addr: &str, now: Timestamp) -> Result<Permit, Refused> {
        let s = &self.settings;
        let index = s.index(now);
        let key = s.key(addr);
        let retry_after_seconds = self.retry_after(index, now);
        let mut c = self.lock();
        self.roll(&mut c, index);
        let global_full = s.global_max > 0 && c.global >= s.global_max;
        let tracked = c.addresses.contains_key(&key) || c.addresses.len() < s.max_tracked_addresses;
        let refuse = |limit, first| Refused {
            limit,
            key: key.clone(),
            retry_after_seconds,
            first,
        };
        if !tracked {
            if global_full {
                return Err(refuse(Limit::Global, false));
            }
            c.global += 1;
            return Ok(Permit {
                throttle: Arc::clone(self),
                key: None,
                window: index,
                shared: false,
            });
        }
        let e = c.addresses.entry(key.clone()).or_default();
        let limit = if s.per_address_max > 0 && e.failures >= s.per_address_max {
            Some(Limit::Address)
        } else if global_full && e.failures > 0 {
            Some(Limit::Global)
        } else {
            None
        };
        if let Some(limit) = limit {
            e.refused += 1;
            return Err(refuse(limit, e.refused == 1));
        }
        e.failures += 1;
        c.global += 1;
        Ok(Permit {
            throttle: Arc::clone(self),
            key: Some(key),
            window: index,
            shared: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000).expect("time")
    }

    fn settings(per_address: u32, global: u32) -> ThrottleSettings {
        ThrottleSettings {
            window_seconds: 60,
            per_address_max: per_address,
            global_max: global,
            ..ThrottleSettings::default()
        }
    }

    /// A database of its own (a temporary SQLite file, which runs the same SQL as PostgreSQL).
    async fn database() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = crate::db::DatabaseSettings {
            url: format!("sqlite://{}/t.db?mode=rwc", dir.path().display()),
            ..Default::default()
        };
        let db = Db::connect(&settings, dir.path()).await.expect("database");
        db.migrate().await.expect("migrations");
        (db, dir)
    }

    /// The same rules with the counters in memory and in the database: `check` gets two
    /// throttles that count together (one in memory: the same one twice; shared: two instances
    /// over one database).
    async fn on_both<F, Fut>(s: ThrottleSettings, check: F)
    where
        F: Fn(Arc<Throttle>, Arc<Throttle>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let t = Throttle::new(s.clone());
        check(t.clone(), t).await;
        let (db, _dir) = database().await;
        let (a, b) = (
            Throttle::shared(s.clone(), db.clone()),
            Throttle::shared(s, db),
        );
        assert!(a.is_shared());
        check(a, b).await;
    }

    #[tokio::test]
    async fn an_address_is_refused_after_its_failures_until_the_window_ends() {
        on_both(settings(3, 0), |t, u| async move {
            let now = at(6_000_010);
            drop(t.admit("10.0.0.1", now).await.expect("admitted"));
            drop(u.admit("10.0.0.1", now).await.expect("admitted"));
            drop(t.admit("10.0.0.1", now).await.expect("admitted"));
            let r = u.admit("10.0.0.1", now).await.err().expect("refused");
            assert_eq!(r.limit, Limit::Address);
            assert_eq!(r.retry_after_seconds, 50);
            assert!(r.first);
            assert!(!t.admit("10.0.0.1", now).await.err().expect("refused").first);
            assert!(u.admit("10.0.0.2", now).await.is_ok(), "another address");
            assert!(
                t.admit("10.0.0.1", at(6_000_060)).await.is_ok(),
                "next window"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_success_takes_its_attempt_back() {
        on_both(settings(2, 0), |t, u| async move {
            let now = at(6_000_000);
            for _ in 0..10 {
                t.admit("10.0.0.1", now)
                    .await
                    .expect("admitted")
                    .succeeded()
                    .await;
            }
            drop(u.admit("10.0.0.1", now).await.expect("admitted"));
            drop(t.admit("10.0.0.1", now).await.expect("admitted"));
            assert!(u.admit("10.0.0.1", now).await.is_err());
        })
        .await;
    }

    #[tokio::test]
    async fn beyond_the_global_limit_only_fresh_addresses_are_admitted() {
        on_both(settings(100, 3), |t, u| async move {
            let now = at(6_000_000);
            drop(t.admit("10.0.0.1", now).await.expect("admitted"));
            drop(u.admit("10.0.0.2", now).await.expect("admitted"));
            drop(t.admit("10.0.0.3", now).await.expect("admitted"));
            let r = u.admit("10.0.0.1", now).await.err().expect("refused");
            assert_eq!(r.limit, Limit::Global);
            let p = u
                .admit("10.0.0.9", now)
                .await
                .expect("a fresh address gets in");
            p.succeeded().await;
            assert!(
                t.admit("10.0.0.9", now).await.is_ok(),
                "and stays fresh after a success"
            );
            assert!(
                u.admit("10.0.0.9", now).await.is_err(),
                "but not after a failure"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn untracked_addresses_count_as_failed_ones() {
        let t = Throttle::new(ThrottleSettings {
            max_tracked_addresses: 1,
            ..settings(100, 2)
        });
        let now = at(6_000_000);
        drop(t.admit("10.0.0.1", now).await.expect("tracked"));
        drop(
            t.admit("10.0.0.2", now)
                .await
                .expect("untracked, below global"),
        );
        assert_eq!(
            t.admit("10.0.0.3", now).await.err().expect("refused").limit,
            Limit::Global
        );
    }

    #[tokio::test]
    async fn ipv6_counts_by_network_and_mapped_ipv4_as_ipv4() {
        let s = ThrottleSettings::default();
        assert_eq!(s.key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(s.key("2001:db8:1:2:bbbb::7"), "2001:db8:1:2::/64");
        assert_eq!(s.key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(s.key("unknown"), "unknown");
        assert_eq!(s.key(" "), "unknown", "never the server's key ''");
        on_both(settings(1, 0), |t, u| async move {
            let now = at(6_000_000);
            drop(t.admit("2001:db8::1", now).await.expect("admitted"));
            assert!(u.admit("2001:db8::2", now).await.is_err(), "same /64");
        })
        .await;
    }

    #[tokio::test]
    async fn refusals_of_closed_windows_are_handed_to_the_report_once() {
        on_both(settings(1, 0), |t, u| async move {
            let now = at(6_000_000);
            drop(t.admit("10.0.0.1", now).await.expect("admitted"));
            for c in [&t, &u, &t, &u] {
                assert!(c.admit("10.0.0.1", now).await.is_err());
            }
            assert!(
                u.take_closed_refusals(now).await.expect("taken").is_empty(),
                "window still open"
            );
            let mut closed = t.take_closed_refusals(at(6_000_061)).await.expect("taken");
            // In memory each process reports its own; shared, one report takes them all.
            if t.is_shared() {
                assert!(
                    u.take_closed_refusals(at(6_000_061))
                        .await
                        .expect("taken")
                        .is_empty()
                );
            } else {
                closed.extend(u.take_closed_refusals(at(6_000_061)).await.expect("taken"));
            }
            assert_eq!(closed.get(&("10.0.0.1".to_string(), now)), Some(&4));
            assert_eq!(closed.len(), 1, "the server's row is no address");
            assert!(
                t.take_closed_refusals(at(6_000_061))
                    .await
                    .expect("taken")
                    .is_empty()
            );
        })
        .await;
    }

    #[tokio::test]
    async fn windows_are_aligned_and_retry_after_is_the_rest_of_the_window() {
        let s = settings(1, 0);
        let w = s.window(at(6_000_059));
        assert_eq!((w.start, w.end), (at(6_000_000), at(6_000_060)));
        on_both(s, |t, u| async move {
            drop(t.admit("10.0.0.1", at(6_000_059)).await.expect("admitted"));
            let r = u
                .admit("10.0.0.1", at(6_000_059))
                .await
                .err()
                .expect("refused");
            assert_eq!((r.retry_after_seconds, r.retry_after_minutes()), (1, 1));
        })
        .await;
    }

    #[tokio::test]
    async fn concurrent_attempts_on_two_instances_never_pass_the_address_limit() {
        let (db, _dir) = database().await;
        let s = settings(5, 0);
        let (a, b) = (
            Throttle::shared(s.clone(), db.clone()),
            Throttle::shared(s, db),
        );
        let now = at(6_000_000);
        let mut tries = tokio::task::JoinSet::new();
        for i in 0..20 {
            let t = if i % 2 == 0 { a.clone() } else { b.clone() };
            tries.spawn(async move { t.admit("10.0.0.1", now).await.is_ok() });
        }
        let admitted = tries.join_all().await.into_iter().filter(|ok| *ok).count();
        assert_eq!(admitted, 5);
    }
}
