//! Jobs: run once by name, leases keep two runners apart, the scheduler runs what is due.

use rainbownet::auth::Role;
use rainbownet::jobs::{self, RunError};

use crate::helpers::*;

#[tokio::test]
async fn a_job_held_by_another_runner_is_not_run_until_its_lease_lapses() {
    let app = spawn_app().await;
    let until = app.now().plus_minutes(10);
    sqlx::query("INSERT INTO job_leases (name, holder, lease_until) VALUES ('audit.verify', 'other-host:1', $1)")
        .bind(until)
        .execute(app.db().pool())
        .await
        .unwrap();
    let res = jobs::run(&app.state, "audit.verify", "this-host:2").await;
    assert!(matches!(res, Err(RunError::Busy(_))), "{res:?}");
    assert_eq!(app.audit_count("audit.verified").await, 0);
    app.advance_minutes(11);
    jobs::run(&app.state, "audit.verify", "this-host:2")
        .await
        .unwrap();
    assert_eq!(app.audit_count("audit.verified").await, 1);
    let status = jobs::status(&app.state, "audit.verify").await.unwrap();
    assert_eq!(status.last_status.as_deref(), Some("ok"));
    assert!(
        status.holder.is_none(),
        "the lease is released after the run"
    );
}

#[tokio::test]
async fn an_unknown_job_is_an_error() {
    let app = spawn_app().await;
    assert!(matches!(
        jobs::run(&app.state, "no.such.job", "h").await,
        Err(RunError::Unknown(_))
    ));
    let out = app.cli(&["job", "run", "no.such.job"]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn the_session_expiry_job_ends_abandoned_sessions_with_an_event() {
    let app = spawn_app().await;
    let _user = app.login_as(Role::User).await;
    app.advance_minutes(45);
    let msg = jobs::run(&app.state, "sessions.expire", "h").await.unwrap();
    assert!(msg.starts_with("1 件"), "{msg}");
    assert_eq!(app.audit_count("auth.session_expired").await, 1);
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(open, 0);
}

#[tokio::test]
async fn the_scheduler_runs_each_job_once_per_interval() {
    let app = spawn_app().await;
    jobs::run_due(&app.state, "h").await;
    jobs::run_due(&app.state, "h").await;
    assert_eq!(
        app.audit_count("audit.verified").await,
        1,
        "daily job ran once"
    );
    app.advance_minutes(24 * 60);
    jobs::run_due(&app.state, "h").await;
    assert_eq!(app.audit_count("audit.verified").await, 2);
    let runs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM job_runs WHERE name = 'sessions.expire'")
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert_eq!(
        runs, 2,
        "the five-minute job ran at the start and after a day"
    );
}

#[tokio::test]
async fn job_run_from_the_command_line_uses_the_same_database() {
    let app = spawn_app().await;
    let out = app.cli(&["job", "run", "audit.verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("改ざんなし"));
    assert_eq!(app.audit_count("audit.verified").await, 1);
}

#[tokio::test]
async fn x5_a_scheduled_run_is_refused_when_another_instance_ran_the_job_within_its_interval() {
    let app = spawn_app().await;
    jobs::run_if_due(&app.state, "sessions.expire", "instance-a:1")
        .await
        .expect("due: instance A runs it");
    // Instance B's scheduler found the job due before A took the lease and asks for it only
    // now, after A has finished and released it: the lease is free, but the job is no longer
    // due, and the one statement that takes the lease knows it.
    assert!(matches!(
        jobs::run_if_due(&app.state, "sessions.expire", "instance-b:2").await,
        Err(jobs::RunError::Busy(_))
    ));
    let runs = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM job_runs WHERE name = 'sessions.expire'")
            .fetch_one(app.db().pool())
            .await
            .unwrap()
    };
    assert_eq!(runs().await, 1);
    // An operator's `job run` runs it now, due or not.
    jobs::run(&app.state, "sessions.expire", "operator")
        .await
        .expect("run now");
    assert_eq!(runs().await, 2);
    // One interval later the scheduler of either instance runs it again.
    app.advance_minutes(5);
    jobs::run_if_due(&app.state, "sessions.expire", "instance-b:2")
        .await
        .expect("due again");
    assert_eq!(runs().await, 3);
}
