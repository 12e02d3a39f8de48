//! Authentication core (X.1), shared by every domain: roles, password hashing, the server-side
//! session store, one-time credential generation and TOTP; and the facts of access control
//! (X.3): route rules ([`Access`]) and object scopes ([`Scope`], [`Owner`], [`Owned`]). The log-in pages themselves live in the
//! `accounts` domain; the request middleware that loads a session lives in `web`.
//!
//! Rules:
//! - A session is a row in `sessions`; the cookie carries a random token and the row only its
//!   SHA-256, so a leaked database cannot be replayed as cookies.
//! - A session ends on log-out, after `session_idle_minutes` without a request, after
//!   `session_absolute_hours` in any case, or when its account is disabled; start, last activity,
//!   end and reason are kept for the access log.
//! - Credential attempts are throttled per client address and for the whole server
//!   ([`throttle`], `[security.throttle]`) before any hash is computed; the per-account lockout
//!   is the `accounts` domain's.
//! - A token is never chosen by the client: each log-in makes a new one, and a password change
//!   replaces it (`repo::insert_rotated`: the new row continues the same log-in, keeping its start
//!   and second-factor time, so the absolute lifetime is not extended; the old row ends `rotated`).
//! - [`Stage`] orders what a fresh session must do before anything else: verify TOTP (if enrolled),
//!   change a one-time password, enrol TOTP (staff roles, when `require_totp`).

mod access;
pub mod credentials;
pub mod password;
pub mod repo;
mod repo_throttle;
mod role;
mod scope;
mod settings;
pub mod strength;
pub mod throttle;
mod throttle_report;
mod throttle_settings;
pub mod totp;

pub use access::{Access, RouteRule, may_open};
pub use password::Password;
pub use role::{Role, UnknownRole};
pub use scope::{Owned, Owner, Scope};
pub use settings::{PasswordSettings, SecuritySettings};
pub use throttle::{Throttle, ThrottleSettings};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::Timestamp;

/// Where a request without a session is sent. The log-in pages (the `accounts` domain) are
/// registered at this path and at [`Stage::path`]; `web` and `error` only refer to these.
pub const LOGIN_PATH: &str = "/login";
/// The log-in page that says the session has expired.
pub const LOGIN_EXPIRED_PATH: &str = "/login?expired=1";

/// The logged-in person behind a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account_id: i64,
    pub login_id: String,
    pub display_name: String,
    pub role: Role,
    pub facility_id: Option<i64>,
    pub session_id: i64,
    pub session_started: Timestamp,
    pub stage: Stage,
}

/// What a session must still do before it may use the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    VerifyTotp,
    ChangePassword,
    EnrolTotp,
    Complete,
}

impl Stage {
    pub fn of(
        role: Role,
        must_change_password: bool,
        totp_enabled: bool,
        mfa_done: bool,
        require_totp: bool,
    ) -> Stage {
        if totp_enabled && !mfa_done {
            Stage::VerifyTotp
        } else if must_change_password {
            Stage::ChangePassword
        } else if role.is_staff() && require_totp && !totp_enabled {
            Stage::EnrolTotp
        } else {
            Stage::Complete
        }
    }

    /// Where a session in this stage is sent.
    pub fn path(self) -> &'static str {
        match self {
            Stage::VerifyTotp => "/login/totp",
            Stage::ChangePassword => "/account/password",
            Stage::EnrolTotp => "/account/totp/enroll",
            Stage::Complete => "/",
        }
    }
}

/// A fresh random session token (256 bits, URL-safe base64) and the hash that is stored.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_time_password_is_changed_before_totp_enrolment() {
        let s = Stage::of(Role::SystemAdmin, true, false, false, true);
        assert_eq!(s, Stage::ChangePassword);
        let s = Stage::of(Role::SystemAdmin, false, false, false, true);
        assert_eq!(s, Stage::EnrolTotp);
    }

    #[test]
    fn an_enrolled_account_verifies_totp_first() {
        assert_eq!(
            Stage::of(Role::User, true, true, false, true),
            Stage::VerifyTotp
        );
        assert_eq!(
            Stage::of(Role::SystemAdmin, false, true, true, true),
            Stage::Complete
        );
    }

    #[test]
    fn facility_roles_and_demo_mode_skip_enrolment() {
        assert_eq!(
            Stage::of(Role::User, false, false, false, true),
            Stage::Complete
        );
        assert_eq!(
            Stage::of(Role::SystemAdmin, false, false, false, false),
            Stage::Complete
        );
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(ha, token_hash(&a));
        assert_ne!(ha, a);
    }
}
