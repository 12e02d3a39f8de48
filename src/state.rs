//! What every handler and job can reach: the database, the settings, the clock, and the
//! [`Registry`] that `startup` assembles from the list of domains (route rules, navigation, jobs,
//! dashboard cards, each domain's settings section).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jiff::SignedDuration;

use crate::auth::{Principal, RouteRule, Throttle};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Db, Timestamp};
use crate::metrics::Metrics;

/// The state handed to every handler and layer. Axum clones it for each layer of each request,
/// so it is one `Arc` (one counter to touch), not the eight handles inside [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    /// What the domains registered (drives navigation, jobs, the dashboard and the RBAC test).
    pub registry: Arc<Registry>,
    /// Counters and histograms for `GET /metrics`.
    pub metrics: Arc<Metrics>,
    /// Credential-attempt counters per client address and window (`auth::throttle`).
    pub throttle: Arc<Throttle>,
}

impl Shared {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Every registered route and who may use it.
    pub fn rules(&self) -> &[RouteRule] {
        &self.registry.rules
    }

    /// Whether `role` may open the page `href` (a link is offered only when it may).
    pub fn may_open(&self, role: crate::auth::Role, href: &str) -> bool {
        crate::auth::may_open(&self.registry.rules, role, href)
    }

    /// A domain's settings section (`[helpdesk]` …), parsed and checked at start-up. A section
    /// that no domain registered reads as its defaults.
    pub fn section<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        self.registry
            .sections
            .get(&std::any::TypeId::of::<T>())
            .and_then(|s| Arc::clone(s).downcast::<T>().ok())
            .unwrap_or_else(|| Arc::new(T::default()))
    }
}

/// A parsed settings section, as the registry keeps it.
pub type Section = Arc<dyn Any + Send + Sync>;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A job's logic: an ordinary function of its domain that takes `now` and returns a message.
pub type JobFn = for<'a> fn(&'a AppState, Timestamp) -> BoxFuture<'a, anyhow::Result<String>>;

/// Work a domain does once each time the application starts, after the migrations and before
/// the first request (sealing secrets of an older kind, say). An error stops the start.
pub type StartFn = for<'a> fn(&'a AppState, Timestamp) -> BoxFuture<'a, anyhow::Result<()>>;

/// A long-running background task of a domain (the monitoring scheduler, which works on a finer
/// grain than the minute of the job runner): `serve` spawns it once when `jobs.enabled` is on, and
/// it runs until the process stops. Its work must stay a plain function of `now` that tests call.
pub type TaskFn = fn(AppState) -> BoxFuture<'static, ()>;

/// A background job: `jobs` runs it every `every` under a lease.
#[derive(Clone)]
pub struct Job {
    pub name: &'static str,
    pub label: &'static str,
    pub every: SignedDuration,
    pub run: JobFn,
}

/// A dashboard card; `tone` is one of ok / warn / alert / idle. `href` must be a page the role
/// may open (the dashboard drops, and logs, a card that links elsewhere).
#[derive(Clone, Debug)]
pub struct Card {
    pub title: String,
    pub value: String,
    pub note: String,
    pub tone: &'static str,
    pub href: String,
}

/// The cards a domain shows a person now (none when the role has nothing to see there).
pub type CardSource =
    for<'a> fn(&'a AppState, &'a Principal, Timestamp) -> BoxFuture<'a, anyhow::Result<Vec<Card>>>;

/// One navigation link: shown in `group` (empty = the top group), ordered by `order`, and only
/// to roles whose rule for `GET href` allows them.
#[derive(Clone, Copy, Debug)]
pub struct NavEntry {
    pub group: &'static str,
    pub href: &'static str,
    pub label: &'static str,
    pub order: u32,
}

#[derive(Default)]
pub struct Registry {
    pub rules: Vec<RouteRule>,
    /// Sorted by `order`.
    pub nav: Vec<NavEntry>,
    pub jobs: Vec<Job>,
    pub cards: Vec<CardSource>,
    pub sections: HashMap<TypeId, Section>,
    /// Start-up work of the domains, in the order of `startup::domains()`.
    pub on_start: Vec<StartFn>,
    pub tasks: Vec<(&'static str, TaskFn)>,
}
