//! What every handler and job can reach.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Db, Timestamp};
use crate::web::RouteRule;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    /// Every registered route and who may use it (drives the navigation and the RBAC test).
    pub rules: Arc<Vec<RouteRule>>,
}

impl AppState {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
