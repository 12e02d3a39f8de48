//! The registration value of a domain: everything a domain contributes to the shared machinery, in
//! one place. `startup::domains()` is the only list of domains; navigation, jobs, the dashboard,
//! settings sections, the demo network, the CLI and the route × role test are built by iterating
//! it. Adding a domain is a folder, one line in that list and its migrations (ARCHITECTURE.md has
//! the checklist).

use std::any::TypeId;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use jiff::SignedDuration;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Role;
use crate::config::Settings;
use crate::db::{Db, Timestamp};
use crate::state::{
    AppState, BoxFuture, CardSource, Job, JobFn, NavEntry, Registry, Section, StartFn, TaskFn,
};
use crate::web::Routes;

/// What one domain contributes. Build it with the chained methods in the domain's `mod.rs`:
/// `Domain::new("helpdesk").routes(…).nav(…).job(…).card(…).settings::<T>().demo(…)`.
pub struct Domain {
    pub name: &'static str,
    pub routes: Routes,
    pub nav: Vec<NavEntry>,
    pub jobs: Vec<Job>,
    pub cards: Vec<CardSource>,
    pub settings: Option<SettingsSection>,
    pub demo: Option<DemoSeed>,
    /// Demo data that needs the running application's state (see [`DemoNetworkFn`]).
    pub demo_network: Option<(u32, DemoNetworkFn)>,
    pub cli: Vec<CliCommand>,
    /// Middleware of the domain around every route (e.g. the portal's maintenance banner).
    pub layers: Vec<Layer>,
    /// Work done once at each start of the application (see [`StartFn`]).
    pub on_start: Vec<StartFn>,
    /// Long-running tasks spawned by `serve` (see [`TaskFn`]).
    pub tasks: Vec<(&'static str, TaskFn)>,
}

pub type Layer = fn(Router<AppState>, AppState) -> Router<AppState>;

impl Domain {
    pub fn new(name: &'static str) -> Self {
        Domain {
            name,
            routes: Routes::new(),
            nav: Vec::new(),
            jobs: Vec::new(),
            cards: Vec::new(),
            settings: None,
            demo: None,
            demo_network: None,
            cli: Vec::new(),
            layers: Vec::new(),
            on_start: Vec::new(),
            tasks: Vec::new(),
        }
    }

    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// A navigation link to one of this domain's GET routes; `group` "" is the top group.
    pub fn nav(
        mut self,
        group: &'static str,
        order: u32,
        href: &'static str,
        label: &'static str,
    ) -> Self {
        self.nav.push(NavEntry {
            group,
            href,
            label,
            order,
        });
        self
    }

    pub fn job(
        mut self,
        name: &'static str,
        label: &'static str,
        every: SignedDuration,
        run: JobFn,
    ) -> Self {
        self.jobs.push(Job {
            name,
            label,
            every,
            run,
        });
        self
    }

    pub fn cards(mut self, source: CardSource) -> Self {
        self.cards.push(source);
        self
    }

    /// The domain's settings section `[name]`, read into `T` (which should deny unknown fields)
    /// at start-up; handlers read it with `state.section::<T>()`.
    pub fn settings<T>(mut self) -> Self
    where
        T: Serialize + DeserializeOwned + Default + Send + Sync + 'static,
    {
        self.settings = Some(SettingsSection::of::<T>(self.name));
        self
    }

    pub fn demo(mut self, order: u32, run: DemoFn) -> Self {
        self.demo = Some(DemoSeed { order, run });
        self
    }

    /// Demo data seeded through the services that need the application's state (FHIR intake
    /// with its blob store and settings), after every [`Domain::demo`] seed, in `order`.
    pub fn demo_network(mut self, order: u32, run: DemoNetworkFn) -> Self {
        self.demo_network = Some((order, run));
        self
    }

    pub fn cli(mut self, command: CliCommand) -> Self {
        self.cli.push(command);
        self
    }

    pub fn layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    /// Work done once at each start of the application, after the migrations.
    pub fn on_start(mut self, run: StartFn) -> Self {
        self.on_start.push(run);
        self
    }

    /// A long-running task that `serve` spawns when jobs are enabled (see [`TaskFn`]).
    pub fn task(mut self, name: &'static str, run: TaskFn) -> Self {
        self.tasks.push((name, run));
        self
    }
}

/// A settings section: its name in the TOML file and how to read and show it.
pub struct SettingsSection {
    pub name: &'static str,
    parse: fn(Option<&serde_json::Value>) -> anyhow::Result<(TypeId, Section)>,
    /// The defaults, for the example configuration test and `rainbownet config`.
    pub defaults: fn() -> serde_json::Value,
}

impl SettingsSection {
    pub fn of<T>(name: &'static str) -> Self
    where
        T: Serialize + DeserializeOwned + Default + Send + Sync + 'static,
    {
        SettingsSection {
            name,
            parse: |v| {
                let t: T = match v {
                    Some(v) => serde_json::from_value(v.clone())?,
                    None => T::default(),
                };
                Ok((TypeId::of::<T>(), Arc::new(t) as Section))
            },
            defaults: || serde_json::to_value(T::default()).unwrap_or_default(),
        }
    }
}

/// One account the demo network prints at start.
pub struct DemoLogin {
    pub login_id: String,
    pub role: Role,
    pub password: String,
}

/// A domain's demo data. `fresh` is true on an empty database (seed sample data then); the seed
/// runs at every demo start so that it can, e.g., issue fresh one-time passwords.
pub type DemoFn =
    for<'a> fn(&'a Db, Timestamp, bool) -> BoxFuture<'a, anyhow::Result<Vec<DemoLogin>>>;

/// A domain's demo data seeded through the running application (see [`Domain::demo_network`]).
/// It runs at every demo start and seeds only when its own data is absent.
pub type DemoNetworkFn = for<'a> fn(&'a AppState, Timestamp) -> BoxFuture<'a, anyhow::Result<()>>;

pub struct DemoSeed {
    /// Seeds run in this order (facilities before the accounts that belong to them).
    pub order: u32,
    pub run: DemoFn,
}

/// A CLI subcommand `rainbownet GROUP NAME …`. Several domains may add to one group
/// (`account issue` is the requests domain's; `account create` the accounts domain's).
pub struct CliCommand {
    pub group: &'static str,
    pub group_about: &'static str,
    /// The leaf command (name, about, arguments), e.g. from a clap `Args` derive.
    pub command: fn() -> clap::Command,
    pub run:
        for<'a> fn(&'a CliContext, &'a clap::ArgMatches) -> BoxFuture<'a, anyhow::Result<ExitCode>>,
}

/// What a CLI command gets: the settings, the time, and a way to the database and the state.
pub struct CliContext {
    pub settings: Settings,
    pub now: Timestamp,
    pub registry: Arc<Registry>,
}

impl CliContext {
    /// The database, migrated.
    pub async fn db(&self) -> anyhow::Result<Db> {
        let db = Db::connect(&self.settings.database, &self.settings.paths.data_dir).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// A domain's settings section (see [`AppState::section`]).
    pub fn section<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        self.registry
            .sections
            .get(&TypeId::of::<T>())
            .and_then(|s| Arc::clone(s).downcast::<T>().ok())
            .unwrap_or_else(|| Arc::new(T::default()))
    }

    /// The application state over `db`, with the system clock, as `serve` would have it.
    pub fn state(&self, db: Db) -> AppState {
        AppState::new(crate::state::Shared {
            throttle: crate::auth::Throttle::for_db(self.settings.security.throttle.clone(), &db),
            db,
            settings: Arc::new(self.settings.clone()),
            clock: Arc::new(crate::clock::SystemClock),
            registry: self.registry.clone(),
            metrics: Arc::new(crate::metrics::Metrics::new()),
        })
    }
}

/// Builds the router and the registry from the domains. Fails on a settings section that is
/// malformed or that no domain owns, and on a route, job or section registered twice.
pub fn assemble(
    domains: Vec<Domain>,
    settings: &Settings,
) -> anyhow::Result<(Router<AppState>, Registry, Vec<Layer>)> {
    let mut routes = Routes::new();
    let mut registry = Registry::default();
    let mut layers = Vec::new();
    let mut owned = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for d in domains {
        for r in d.routes.rules() {
            if !seen.insert((r.method, r.path)) {
                anyhow::bail!("route {} {} is registered twice", r.method, r.path);
            }
        }
        routes = routes.merge(d.routes);
        registry.nav.extend(d.nav);
        for job in d.jobs {
            if registry.jobs.iter().any(|j| j.name == job.name) {
                anyhow::bail!("job {} is registered twice", job.name);
            }
            registry.jobs.push(job);
        }
        registry.cards.extend(d.cards);
        registry.on_start.extend(d.on_start);
        registry.tasks.extend(d.tasks);
        if let Some(section) = d.settings {
            if !owned.insert(section.name) || settings.is_core_section(section.name) {
                anyhow::bail!("settings section [{}] is registered twice", section.name);
            }
            let (id, value) =
                (section.parse)(settings.sections.get(section.name)).map_err(|e| {
                    anyhow::anyhow!("設定の誤り (configuration error) [{}]: {e}", section.name)
                })?;
            registry.sections.insert(id, value);
        }
        layers.extend(d.layers);
    }
    if let Some(unknown) = settings
        .sections
        .keys()
        .find(|k| !owned.contains(k.as_str()))
    {
        anyhow::bail!("設定の誤り (configuration error): unknown section [{unknown}]");
    }
    registry.nav.sort_by_key(|n| n.order);
    let (router, rules) = routes.into_parts();
    registry.rules = rules;
    Ok((router, registry, layers))
}

/// A handler error as a line for the terminal: the person's message, or the internal error.
pub fn cli_error(e: impl Into<crate::error::AppError>) -> anyhow::Error {
    use crate::error::AppError;
    match e.into() {
        AppError::Internal(e) => e,
        AppError::BadRequest(m) | AppError::Conflict(m) => anyhow::anyhow!(m),
        AppError::NotFound => anyhow::anyhow!("見つかりません"),
        other => anyhow::anyhow!(other.to_string()),
    }
}
