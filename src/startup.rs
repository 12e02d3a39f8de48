//! Builds the application: connects and migrates the database, merges every domain's routes (the
//! only place that does), wraps them in the shared layers, binds the listener. `run_until_stopped`
//! serves until Ctrl-C or SIGTERM and runs the job scheduler when it is enabled.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{self, Routes, csrf, headers, session};

/// Every route of the product, with its access rule.
pub fn routes() -> Routes {
    Routes::new()
        .merge(web::static_router())
        .merge(crate::dashboard::router())
        .merge(crate::accounts::router())
        .merge(crate::facilities::router())
        .merge(crate::requests::router())
        .merge(crate::audit::router())
        .merge(crate::jobs::router())
        .merge(crate::portal::router())
        .merge(crate::records::router())
        .merge(crate::calendar::router())
        .merge(crate::helpdesk::router())
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
        let (router, rules) = routes().into_parts();
        let state = AppState {
            db,
            settings: Arc::new(settings),
            clock,
            rules: Arc::new(rules),
        };
        let router = router
            .fallback(not_found)
            .layer(from_fn_with_state(state.clone(), crate::portal::banner))
            .layer(from_fn_with_state(state.clone(), web::clear_flash))
            .layer(from_fn_with_state(state.clone(), session::load))
            .layer(from_fn_with_state(state.clone(), csrf::protect))
            .layer(from_fn(web::rejections::japanese_errors))
            .layer(from_fn(web::client_addr))
            .layer(from_fn(headers::security_headers))
            .layer(CatchPanicLayer::custom(|_| {
                AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
            }))
            .layer(TraceLayer::new_for_http())
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
