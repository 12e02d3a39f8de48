//! Builds the application: connects and migrates the database, assembles the domains of
//! [`domains`] (the only list of them), wraps their routes in the shared layers, binds the listener. `run_until_stopped`
//! serves until Ctrl-C or SIGTERM and runs the job scheduler when it is enabled.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::domain::{Domain, assemble};
use crate::error::AppError;
use crate::state::{AppState, Registry};
use crate::web::{self, Routes, csrf, headers, session};

/// Every domain of the product: the ONE list. Navigation, jobs, dashboard cards, settings
/// sections, the demo network, CLI commands and the route × role test are built from it.
pub fn domains() -> Vec<Domain> {
    vec![
        Domain::new("web").routes(web::static_router()),
        crate::health::domain(),
        crate::dashboard::domain(),
        crate::accounts::domain(),
        crate::account_admin::domain(),
        crate::facilities::domain(),
        crate::requests::domain(),
        crate::portal::domain(),
        crate::helpdesk::domain(),
        crate::calendar_admin::domain(),
        crate::blobs::domain(),
        crate::records::domain(),
        crate::audit_ui::domain(),
        crate::mail_admin::domain(),
        crate::jobs::domain(),
        crate::backup::domain(),
        crate::monitor::domain(),
        crate::incidents::domain(),
        crate::firewall::domain(),
        crate::notifications::domain(),
        crate::search::domain(),
    ]
}

/// Every route of the product, with its access rule.
pub fn routes() -> Routes {
    domains()
        .into_iter()
        .fold(Routes::new(), |all, d| all.merge(d.routes))
}

/// The registry of every domain under `settings` (what the CLI's commands get too).
pub fn registry(settings: &Settings) -> anyhow::Result<Registry> {
    Ok(assemble(domains(), settings)?.1)
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let db = Db::connect(&settings.database, &settings.paths.data_dir).await?;
        db.migrate().await?;
        Self::build_with_db(settings, clock, db).await
    }

    pub async fn build_with_db(
        settings: Settings,
        clock: Arc<dyn Clock>,
        db: Db,
    ) -> anyhow::Result<Application> {
        Self::build_with_domains(settings, clock, db, domains()).await
    }

    /// The application of exactly these domains (tests add a throwaway domain this way).
    pub async fn build_with_domains(
        settings: Settings,
        clock: Arc<dyn Clock>,
        db: Db,
        domains: Vec<Domain>,
    ) -> anyhow::Result<Application> {
        crate::tls::install_provider();
        let (router, registry, layers) = assemble(domains, &settings)?;
        let throttle = crate::auth::Throttle::for_db(settings.security.throttle.clone(), &db);
        let state = AppState::new(crate::state::Shared {
            db,
            clock,
            registry: Arc::new(registry),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            throttle,
            settings: Arc::new(settings),
        });
        // Every instance on this database must use the same keys (issue 16).
        crate::db::fingerprints::check_shared_keys(&state.db, state.now()).await?;
        for run in &state.registry.on_start {
            run(&state, state.now()).await?;
        }
        let router = layers
            .into_iter()
            .fold(router.fallback(not_found), |r, layer| {
                layer(r, state.clone())
            })
            .layer(from_fn_with_state(state.clone(), web::observe::measure))
            .layer(from_fn_with_state(state.clone(), web::error_page_context))
            .layer(from_fn_with_state(state.clone(), web::clear_flash))
            // English pages for staff who chose it (X.4): inside the session, which knows.
            .layer(from_fn(crate::i18n::translate))
            .layer(from_fn_with_state(state.clone(), session::load))
            .layer(from_fn_with_state(state.clone(), csrf::protect))
            .layer(from_fn(web::rejections::japanese_errors))
            .layer(from_fn_with_state(state.clone(), web::client_addr))
            .layer(from_fn_with_state(
                state.settings.server.secure_cookies,
                headers::security_headers,
            ))
            .layer(CatchPanicLayer::custom(|_| {
                AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
            }))
            .layer(from_fn(web::fhir::operation_outcomes))
            .layer(
                // One line per request at info (the access log), inside the request's span.
                TraceLayer::new_for_http()
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(from_fn(web::observe::request_id))
            .with_state(state.clone());
        let listener = TcpListener::bind(&state.settings.server.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", state.settings.server.bind))?;
        Ok(Application {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if self.state.settings.jobs.enabled {
            tokio::spawn(crate::jobs::scheduler(self.state.clone()));
            for (name, run) in &self.state.registry.tasks {
                tracing::info!(task = name, "background task started");
                tokio::spawn(run(self.state.clone()));
            }
        }
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        self.state.db.close().await;
        Ok(())
    }
}

async fn not_found() -> Response {
    AppError::NotFound.into_response()
}

/// Ctrl-C or SIGTERM (what systemd and `kill` send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
