//! The `[mail]` settings section (a core section, assembled in `config`): the SMTP server, the
//! sender, the retry schedule, and the system administrators' addresses.

use std::fmt;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::Address;

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP (a relay on the same host or a trusted segment only).
    None,
    /// Plain connection upgraded with STARTTLS; refused when the server does not offer it.
    Starttls,
    /// Implicit TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl Security {
    pub fn label(self) -> &'static str {
        match self {
            Security::None => "暗号化なし",
            Security::Starttls => "STARTTLS",
            Security::Tls => "TLS（SMTPS）",
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// Off: mails are queued but not sent (the admin page says so).
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// SMTP AUTH user; empty: no authentication.
    pub username: String,
    /// SMTP AUTH password (a secret: masked wherever settings are shown; best set through
    /// `RAINBOWNET__MAIL__PASSWORD`).
    pub password: String,
    /// A PEM file of extra trusted CA certificates (an internal CA); empty: the system's store.
    pub ca_file: String,
    /// The name sent with EHLO; empty: the domain of `from_address`.
    pub helo_name: String,
    pub from_address: String,
    pub from_name: String,
    /// Seconds for the connection and for each SMTP command.
    pub timeout_seconds: u64,
    /// Attempts before a mail is given up (state `failed`).
    pub max_attempts: u32,
    /// Minutes to wait after the 1st, 2nd, … failed attempt; the last one repeats.
    pub backoff_minutes: Vec<u32>,
    /// The system administrators' addresses (backup failures and missed backups).
    pub admin_to: Vec<String>,
    /// Mails sent by one run of the job `mail.send` at most (the rest wait for the next run).
    pub batch: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            enabled: false,
            host: String::new(),
            port: 587,
            security: Security::Starttls,
            username: String::new(),
            password: String::new(),
            ca_file: String::new(),
            helo_name: String::new(),
            from_address: String::new(),
            from_name: "きよすレインボーネット".into(),
            timeout_seconds: 30,
            max_attempts: 8,
            backoff_minutes: vec![1, 5, 15, 60, 240],
            admin_to: Vec::new(),
            batch: 100,
        }
    }
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field("from_address", &self.from_address)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl MailSettings {
    /// Why mails cannot be sent now (Japanese, for the admin page and the job's message), or
    /// `None` when the settings are complete.
    pub fn not_ready(&self) -> Option<String> {
        if !self.enabled {
            return Some(
                "メール送信が無効です（[mail] enabled = false）。メールは送信待ちのまま保存されます。"
                    .into(),
            );
        }
        if self.host.trim().is_empty() {
            return Some("SMTP サーバーが設定されていません（[mail] host）。".into());
        }
        if Address::parse(&self.from_address).is_err() {
            return Some(
                "差出人のメールアドレスが設定されていないか、形式が正しくありません（[mail] from_address）。"
                    .into(),
            );
        }
        if self.username.is_empty() != self.password.is_empty() {
            return Some(
                "SMTP 認証のユーザー名とパスワードは両方を設定してください（[mail] username / password）。"
                    .into(),
            );
        }
        if self.max_attempts == 0 {
            return Some("[mail] max_attempts は 1 以上にしてください。".into());
        }
        None
    }

    /// The wait after the `failed`-th failed attempt (1-based).
    pub fn backoff_after(&self, failed: u32) -> SignedDuration {
        let i = usize::try_from(failed.saturating_sub(1)).unwrap_or(usize::MAX);
        let mins = self
            .backoff_minutes
            .get(i)
            .or(self.backoff_minutes.last())
            .copied()
            .unwrap_or(5);
        SignedDuration::from_mins(i64::from(mins.max(1)))
    }

    /// The administrators' addresses that parse (a bad one is logged, not fatal).
    pub fn admin_addresses(&self) -> Vec<Address> {
        self.admin_to
            .iter()
            .filter_map(|a| match Address::parse(a) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::error!("[mail] admin_to: {e}");
                    None
                }
            })
            .collect()
    }

    /// How long a sender may hold a claimed mail before another may take it over (the sender
    /// died): well beyond one SMTP conversation.
    pub fn claim_lease(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::try_from(self.timeout_seconds.max(1)).unwrap_or(60) * 6 + 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_follows_the_list_and_repeats_its_last_step() {
        let s = MailSettings {
            backoff_minutes: vec![1, 5, 15],
            ..MailSettings::default()
        };
        let mins: Vec<i64> = (1..=5).map(|n| s.backoff_after(n).as_mins()).collect();
        assert_eq!(mins, vec![1, 5, 15, 15, 15]);
        let empty = MailSettings {
            backoff_minutes: vec![],
            ..MailSettings::default()
        };
        assert_eq!(empty.backoff_after(1).as_mins(), 5);
    }

    #[test]
    fn mail_is_ready_only_when_enabled_with_a_server_and_a_sender() {
        let mut s = MailSettings::default();
        assert!(s.not_ready().is_some_and(|m| m.contains("enabled")));
        s.enabled = true;
        assert!(s.not_ready().is_some_and(|m| m.contains("host")));
        s.host = "smtp.example.jp".into();
        assert!(s.not_ready().is_some_and(|m| m.contains("from_address")));
        s.from_address = "noreply@example.jp".into();
        assert_eq!(s.not_ready(), None);
        s.username = "rn".into();
        assert!(s.not_ready().is_some_and(|m| m.contains("password")));
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let s = MailSettings {
            password: "smtp-secret-9".into(),
            ..MailSettings::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("smtp-secret-9"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn security_reads_none_starttls_or_tls() {
        for (text, want) in [
            ("none", Security::None),
            ("starttls", Security::Starttls),
            ("tls", Security::Tls),
        ] {
            let got: Security = serde_json::from_value(serde_json::json!(text)).expect("parses");
            assert_eq!(got, want);
        }
        assert!(serde_json::from_value::<Security>(serde_json::json!("ssl")).is_err());
    }
}
