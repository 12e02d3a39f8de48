//! Accounts and log-in (X.1): the log-in, second-factor, password-change and TOTP-enrolment
//! pages, log-out, and the administrators' account list with unlock.
//!
//! Rules:
//! - The log-in page never tells whether an ID exists: unknown ID, wrong password, locked and
//!   disabled accounts all get the same message, and an unknown ID costs the same argon2 time.
//! - `lockout_threshold` failures (password or second factor) within `lockout_window_minutes`
//!   lock the account for `lockout_minutes` (`auth.account_locked`); an administrator may unlock
//!   it (`auth.account_unlocked`, web or `rainbownet account unlock`).
//! - An account created with a one-time password must change it before anything else; the new
//!   password follows `[security.password]`. One-time passwords expire unused after 30 days.
//! - Staff roles enrol TOTP before reaching anything else (unless `require_totp` is off, as in
//!   `demo`, which then shows a banner on every page). Ten recovery codes are shown once.
//! - Changing the password ends the account's other sessions.
//! - Log-in, failure, lockout, unlock, log-out, password change, enrolment: all audited.

mod inventory;
mod lifecycle;
pub mod model;
mod repo;
mod routes;
pub mod service;
mod views;

pub use model::LoginId;

use crate::auth::Role;
use crate::db::{Conn, Timestamp};
use crate::web::{Access, Routes};

/// Who manages accounts (list, unlock).
pub const MANAGERS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];

pub fn router() -> Routes {
    Routes::new()
        .get("/login", Access::Public, routes::login_form)
        .post("/login", Access::Public, routes::login)
        .get("/login/totp", Access::Onboarding, routes::totp_form)
        .post("/login/totp", Access::Onboarding, routes::totp_verify)
        .post("/logout", Access::Onboarding, routes::logout)
        .get(
            "/account/password",
            Access::Onboarding,
            routes::password_form,
        )
        .post(
            "/account/password",
            Access::Onboarding,
            routes::change_password,
        )
        .get(
            "/account/totp/enroll",
            Access::Onboarding,
            routes::enroll_form,
        )
        .post("/account/totp/enroll", Access::Onboarding, routes::enroll)
        .get(
            "/admin/accounts",
            Access::Roles(MANAGERS),
            routes::admin_list,
        )
        .post(
            "/admin/accounts/{id}/unlock",
            Access::Roles(MANAGERS),
            routes::unlock,
        )
        .get(
            "/admin/inventory",
            Access::Roles(MANAGERS),
            inventory::index,
        )
        .post(
            "/admin/inventory/review",
            Access::Roles(MANAGERS),
            inventory::review,
        )
}

/// Accounts locked right now (for dashboards).
pub async fn count_locked(conn: &mut Conn, now: Timestamp) -> sqlx::Result<i64> {
    repo::count_locked(conn, now).await
}

/// Number of accounts (the demo seeds only an empty database).
pub async fn count(conn: &mut Conn) -> sqlx::Result<i64> {
    repo::count(conn).await
}
