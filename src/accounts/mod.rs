//! Accounts and log-in (X.1): the log-in, second-factor, password-change and TOTP-enrolment
//! pages, log-out, and the administrators' account list with unlock.
//!
//! Rules:
//! - The log-in page never tells whether an ID exists: unknown ID, wrong password, locked and
//!   disabled accounts all get the same message, and an unknown ID costs the same argon2 time.
//!   Only the right password of a disabled account is answered 403 "利用停止中" (issue 15).
//! - Administrators act on one account from `/admin/accounts/{id}` (`account_admin`, through
//!   `admin`): disable/enable, role, TOTP and password reset, ending sessions — with a reason.
//! - `lockout_threshold` failures (password or second factor) within `lockout_window_minutes`
//!   lock the account for `lockout_minutes` (`auth.account_locked`); an administrator may unlock
//!   it (`auth.account_unlocked`, web or `rainbownet account unlock`).
//! - An account created with a one-time password must change it before anything else; the new
//!   password follows `[security.password]`. One-time passwords expire unused after 30 days.
//! - Staff roles enrol TOTP before reaching anything else (unless `require_totp` is off, as in
//!   `demo`, which then shows a banner on every page). Ten recovery codes are shown once; a
//!   person may issue new ones (`/account/recovery-codes`, after a current TOTP code), and the
//!   dashboard asks for it when none are left or older ones were invalidated.
//! - A new password is refused when it is on the list of common and breached passwords or the
//!   estimator finds it guessable with the log-in ID and name (`auth::strength`).
//! - TOTP secrets are stored sealed with the `totp` key outside the database, recovery codes as
//!   salted argon2id hashes; `second_factor` brings older ones to this at each start and
//!   re-seals at `rainbownet keys rotate totp`.
//! - Changing the password ends the account's other sessions and gives this one a new token. A
//!   wrong current password counts toward the lockout like a failed log-in
//!   (`auth.password_change_failed`); the failure that locks the account also ends the session,
//!   with a message that says so.
//! - A log-in always opens a session with a new token and ends the one the browser had; beyond
//!   `max_sessions_per_account` live sessions it ends the account's session that started first.
//!   Everyone sees their live sessions (device, address, start, last activity) on
//!   `/account/sessions` and may end any other one, or all others; a session id of another
//!   account is answered 404 and the attempt is audited (`service_sessions`).
//! - Log-in, second-factor and password-change attempts are throttled per client address and for
//!   the server before any check (429 with `Retry-After`); failed log-ins are aggregated to at
//!   most two audit events per address and window (`throttle.rs`).
//! - Staff roles choose the language of their pages (日本語 / English, `language`; X.4); the
//!   choice is kept on the account and audited.
//! - Log-in, failure, lockout, unlock, log-out, password change, enrolment, session rotation and
//!   ending: all audited.

pub mod admin;
mod cli;
mod demo;
mod inventory;
mod language;
mod lifecycle;
mod lockout;
pub mod model;
mod recovery;
mod repo;
mod repo_admin;
mod repo_list;
mod repo_throttle;
mod review;
mod routes;
mod routes_list;
mod routes_sessions;
pub mod second_factor;
pub mod service;
pub mod service_sessions;
mod throttle;
mod views;

pub use cli::{ABOUT as CLI_ABOUT, GROUP as CLI_GROUP};
pub use model::{AccountSettings, LoginId, Reason};

use jiff::SignedDuration;

use crate::auth::{Principal, Role};
use crate::db::{Conn, Timestamp};
use crate::domain::Domain;
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

/// Who may choose English pages (X.4): every role but the facilities' own.
const STAFF: &[Role] = &[
    Role::ServiceOperator,
    Role::Committee,
    Role::OpsManager,
    Role::SystemAdmin,
    Role::SystemOperator,
    Role::KeyManager,
];

/// Who manages accounts (list, unlock).
pub const MANAGERS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];

fn routes() -> Routes {
    Routes::new()
        .get(crate::auth::LOGIN_PATH, Access::Public, routes::login_form)
        .post(crate::auth::LOGIN_PATH, Access::Public, routes::login)
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
        .get("/account/recovery-codes", Access::AnyRole, recovery::form)
        .post(
            "/account/recovery-codes",
            Access::AnyRole,
            recovery::regenerate,
        )
        .get("/account/sessions", Access::AnyRole, routes_sessions::index)
        .post("/account/language", Access::Roles(STAFF), language::update)
        .post(
            "/account/sessions/end-others",
            Access::AnyRole,
            routes_sessions::end_others,
        )
        .post(
            "/account/sessions/{id}/end",
            Access::AnyRole,
            routes_sessions::end,
        )
        .get(
            "/admin/accounts",
            Access::Roles(MANAGERS),
            routes_list::admin_list,
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

pub fn domain() -> Domain {
    Domain::new("accounts")
        .routes(routes())
        .nav("利用者", 130, "/admin/accounts", "アカウント管理")
        .nav("利用者", 140, "/admin/inventory", "アカウント棚卸し")
        .settings::<AccountSettings>()
        .job(
            "sessions.expire",
            "期限切れセッションの終了",
            SignedDuration::from_mins(5),
            |s, now| Box::pin(service::expire_sessions(s, now)),
        )
        .job(
            throttle::JOB,
            "ログイン失敗の集計記録",
            SignedDuration::from_mins(5),
            |s, now| Box::pin(throttle::report(s, now)),
        )
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .demo(20, |db, now, _fresh| Box::pin(demo::accounts(db, now)))
        .cli(cli::create())
        .cli(cli::unlock())
        .cli(cli::reset_password())
        .cli(cli::reset_totp())
        .cli(cli::rotate_keys())
        .on_start(|s, now| Box::pin(second_factor::on_start(s, now)))
}

/// Locked accounts (for those who unlock them) and open sessions (for those who read the access
/// log).
async fn cards(state: &AppState, p: &Principal, now: Timestamp) -> anyhow::Result<Vec<Card>> {
    let mut cards = Vec::new();
    let mut conn = state.db.pool().acquire().await?;
    let second = repo::recovery_status(&mut conn, p.account_id).await?;
    if second.needs_new_codes() {
        cards.push(Card {
            title: "リカバリーコード".into(),
            value: "再発行が必要です".into(),
            note: if second.invalidated_at.is_some() {
                "安全性を高めるため、以前のコードは使えなくなりました".into()
            } else {
                "未使用のコードが残っていません".into()
            },
            tone: "warn",
            href: "/account/recovery-codes".into(),
        });
    }
    if state.may_open(p.role, "/admin/accounts") {
        let locked = repo::count_locked(&mut conn, now).await?;
        cards.push(Card {
            title: "ロック中のアカウント".into(),
            value: format!("{locked} 件"),
            note: if locked > 0 {
                "本人確認のうえ解除してください".into()
            } else {
                "ありません".into()
            },
            tone: if locked > 0 { "warn" } else { "ok" },
            href: "/admin/accounts".into(),
        });
    }
    if state.may_open(p.role, "/audit/sessions") {
        let minutes = state.settings.security.session_idle_minutes;
        let idle = SignedDuration::from_mins(minutes);
        let open = crate::auth::repo::count_open(&mut conn, now.minus(idle)).await?;
        cards.push(Card {
            title: "ログイン中のセッション".into(),
            value: format!("{open} 件"),
            note: format!("無操作 {minutes} 分で自動ログアウト"),
            tone: "idle",
            href: "/audit/sessions".into(),
        });
    }
    Ok(cards)
}

/// Accounts locked right now (for dashboards).
pub async fn count_locked(conn: &mut Conn, now: Timestamp) -> sqlx::Result<i64> {
    repo::count_locked(conn, now).await
}

/// Number of accounts (the demo seeds only an empty database).
pub async fn count(conn: &mut Conn) -> sqlx::Result<i64> {
    repo::count(conn).await
}
