//! The parts of the domains that the shared machinery iterates: built once by `startup` from the
//! list of domains and kept in [`super::AppState`].

use std::any::TypeId;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use jiff::SignedDuration;

use super::{AppState, Section};
use crate::auth::{Principal, RouteRule};
use crate::db::Timestamp;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A job's logic: an ordinary function of its domain that takes `now` and returns a message.
pub type JobFn = for<'a> fn(&'a AppState, Timestamp) -> BoxFuture<'a, anyhow::Result<String>>;

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
}
