//! What every handler and job can reach: the database, the settings, the clock, and the
//! [`Registry`] that `startup` assembles from the list of domains (route rules, navigation, jobs,
//! dashboard cards, each domain's settings section).

mod registry;

pub use registry::{BoxFuture, Card, CardSource, Job, JobFn, NavEntry, Registry};

use std::any::Any;
use std::sync::Arc;

use crate::auth::RouteRule;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Db, Timestamp};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    /// What the domains registered (drives navigation, jobs, the dashboard and the RBAC test).
    pub registry: Arc<Registry>,
    /// Counters and histograms for `GET /metrics`.
    pub metrics: Arc<Metrics>,
}

impl AppState {
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
