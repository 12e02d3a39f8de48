//! Background jobs: the jobs the domains registered (`Domain::job`) with their intervals, a
//! scheduler loop inside `serve`, and `rainbownet job run NAME` for cron-style operation. A job's logic is an ordinary function of
//! its domain that takes `now`; this module only decides when to call it.
//!
//! Two runners (two `serve` processes, or `serve` and a cron `job run`) never run the same job at
//! once: a runner first takes the job's lease row (`job_leases`), which another runner can take
//! over only after it has lapsed (`lease_seconds`); the runner renews it while the job runs.
//! A scheduler takes the lease only while the job is still due (its last start is `every` ago
//! or more), in the same statement, so that several instances' schedulers on one database run
//! each job once per interval (issue 16); `job run` and the page's button run it now, whenever
//! it last ran. Every run is kept in `job_runs`.

mod cli;
mod repo;
mod routes;
mod runner;

pub use runner::{RunError, holder_id, run, run_due, run_if_due, scheduler, status};

pub use repo::JobStatus;

use crate::auth::Role;
use crate::domain::Domain;
use crate::web::{Access, Routes};

/// The page of jobs and their last runs, with a button to run one now.
pub fn domain() -> Domain {
    const ADMINS: &[Role] = &[Role::SystemAdmin];
    Domain::new("jobs")
        .routes(
            Routes::new()
                .get("/admin/jobs", Access::Roles(ADMINS), routes::index)
                .post(
                    "/admin/jobs/{name}/run",
                    Access::Roles(ADMINS),
                    routes::run_now,
                ),
        )
        .nav("監査", 530, "/admin/jobs", "定期ジョブ")
        .cli(cli::run())
        .cli(cli::list())
}
