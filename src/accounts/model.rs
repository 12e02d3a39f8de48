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

/// A short description of the browser and system behind a User-Agent, for the "my sessions"
/// page ("Chrome / Windows"); an unrecognised agent is shown cut to 40 characters.
pub fn device_of(user_agent: &str) -> String {
    let ua = user_agent.trim();
    if ua.is_empty() {
        return "不明な端末".into();
    }
    // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Safari/", "Safari"),
        ("Trident/", "Internet Explorer"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} / {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => {
            let cut: String = ua.chars().take(40).collect();
            if cut.len() < ua.len() {
                format!("{cut}…")
            } else {
                cut
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_shortened_to_browser_and_system() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
        assert_eq!(device_of(chrome), "Chrome / Windows");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51";
        assert_eq!(device_of(edge), "Edge / Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
        assert_eq!(device_of(iphone), "Safari / iPhone");
        assert_eq!(device_of(""), "不明な端末");
        assert_eq!(device_of("test-client/1"), "test-client/1");
        assert_eq!(device_of(&"x".repeat(60)).chars().count(), 41);
    }

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

/// Why an administrator does something destructive to an account (disable, role change, reset,
/// end sessions, re-issue): required, 2–500 characters, kept in the audit event (X.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(s: &str) -> Result<Reason, String> {
        let s = s.trim();
        let n = s.chars().count();
        if n < 2 {
            return Err("理由を入力してください（監査ログに残ります）。".into());
        }
        if n > 500 {
            return Err("理由は500文字以内で入力してください。".into());
        }
        Ok(Reason(s.to_string()))
    }

    /// The reason together with the confirmation check box of the form.
    pub fn confirmed(reason: &str, confirm: &str) -> Result<Reason, String> {
        let reason = Reason::parse(reason)?;
        if confirm != "yes" {
            return Err("確認のチェックを入れてください。".into());
        }
        Ok(reason)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
