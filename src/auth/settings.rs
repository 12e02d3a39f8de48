//! `[security]` settings (re-exported by `config`, which reads them with the rest).

use serde::{Deserialize, Serialize};

use super::ThrottleSettings;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    pub require_totp: bool,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// Open sessions one account may have at once; a log-in beyond it ends the account's
    /// session that started first. 0 means no limit.
    pub max_sessions_per_account: i64,
    pub lockout_threshold: i64,
    pub lockout_window_minutes: i64,
    pub lockout_minutes: i64,
    pub totp_issuer: String,
    pub password: PasswordSettings,
    pub throttle: ThrottleSettings,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            require_totp: true,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            max_sessions_per_account: 3,
            lockout_threshold: 5,
            lockout_window_minutes: 15,
            lockout_minutes: 15,
            totp_issuer: "きよすレインボーネット".into(),
            password: PasswordSettings::default(),
            throttle: ThrottleSettings::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    pub min_length: usize,
    pub max_length: usize,
    pub require_letter_and_digit: bool,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            require_letter_and_digit: true,
        }
    }
}
