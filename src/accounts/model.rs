//! Account values with rules. Pure.

use std::fmt;

use crate::auth::Role;
use crate::db::Timestamp;

/// A log-in ID: 3–32 characters of ASCII letters, digits, `.`, `_` or `-`. Generated IDs for
/// facility users are exactly 10 characters (R12.1); staff IDs may be chosen at creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginId(String);

impl LoginId {
    pub fn parse(s: &str) -> Result<LoginId, String> {
        let s = s.trim();
        if !(3..=32).contains(&s.len()) {
            return Err("ログインIDは3〜32文字の半角英数字で指定してください。".into());
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err("ログインIDに使える文字は半角英数字と . _ - です。".into());
        }
        Ok(LoginId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LoginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the log-in logic needs to know about an account.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub login_id: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub facility_id: Option<i64>,
    pub password_hash: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub must_change_password: bool,
    pub password_expires_at: Option<Timestamp>,
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<Timestamp>,
    pub totp_last_step: Option<i64>,
    pub locked_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
    pub failures_since: Option<Timestamp>,
    pub disabled_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Account {
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// A line of the administrators' account list.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountSummary {
    pub id: i64,
    pub login_id: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub facility_name: Option<String>,
    pub locked_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
    pub disabled_at: Option<Timestamp>,
    #[sqlx(try_from = "crate::db::Flag")]
    pub must_change_password: bool,
    #[sqlx(rename = "totp_enabled_at", try_from = "crate::db::SetAt")]
    pub totp_enabled: bool,
    pub last_login_at: Option<Timestamp>,
}

/// A person's second factor as the dashboard and the recovery-code page show it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RecoveryStatus {
    #[sqlx(rename = "totp_enabled_at", try_from = "crate::db::SetAt")]
    pub totp_enabled: bool,
    /// When codes of an older kind were invalidated, until new ones are issued.
    #[sqlx(rename = "recovery_codes_invalidated_at")]
    pub invalidated_at: Option<Timestamp>,
    /// Recovery codes not used yet.
    pub unused: i64,
}

impl RecoveryStatus {
    /// Whether the person should issue new recovery codes (none left, or old ones invalidated).
    pub fn needs_new_codes(&self) -> bool {
        self.totp_enabled && (self.invalidated_at.is_some() || self.unused == 0)
    }
}

/// The `[accounts]` settings section.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    pub one_time_password_days: i64,
    pub inactive_days: i64,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            one_time_password_days: 30,
            inactive_days: 90,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_ids_are_short_plain_ascii() {
        assert!(LoginId::parse("admin01").is_ok());
        assert!(LoginId::parse(" k7m2x9pqrs ").is_ok());
        assert!(LoginId::parse("ab").is_err());
        assert!(LoginId::parse("山田").is_err());
        assert!(LoginId::parse("a b c").is_err());
        assert!(LoginId::parse(&"x".repeat(33)).is_err());
    }
}
