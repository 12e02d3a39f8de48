//! `[database]` settings (re-exported by `config`, which reads them with the rest).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    /// SQLite only: how hard a commit waits for the disk (PostgreSQL has its own settings).
    pub synchronous: Synchronous,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 8,
            synchronous: Synchronous::Full,
        }
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("synchronous", &self.synchronous)
            .finish()
    }
}

impl DatabaseSettings {
    /// The database URL in effect: the configured one, or SQLite under the data directory.
    pub fn url_in(&self, data_dir: &Path) -> String {
        if self.url.trim().is_empty() {
            let path = data_dir.join("rainbownet.db");
            format!("sqlite://{}?mode=rwc", path.display())
        } else {
            self.url.trim().to_string()
        }
    }
}

/// SQLite's `PRAGMA synchronous` in WAL mode. `Full` syncs the WAL on every commit, so an
/// acknowledged write survives a power loss; `Normal` syncs only at checkpoints and survives an
/// application crash but may lose the last commits on power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Normal,
}

impl Synchronous {
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "PRAGMA synchronous = FULL",
            Synchronous::Normal => "PRAGMA synchronous = NORMAL",
        }
    }
}

/// Replaces the password of a `scheme://user:password@host/...` URL with `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_database_url_is_redacted() {
        let s = DatabaseSettings {
            url: "postgres://rn:secret@db:5432/rn".into(),
            max_connections: 1,
            synchronous: Synchronous::Full,
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn synchronous_is_full_unless_configured_normal() {
        assert_eq!(DatabaseSettings::default().synchronous, Synchronous::Full);
        let s: DatabaseSettings =
            serde_json::from_str(r#"{"synchronous": "normal"}"#).expect("normal");
        assert_eq!(s.synchronous, Synchronous::Normal);
        assert!(serde_json::from_str::<DatabaseSettings>(r#"{"synchronous": "off"}"#).is_err());
    }
}
