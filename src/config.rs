//! Settings: defaults, then an optional TOML file (`--config FILE`), then `RAINBOWNET__SECTION__KEY`
//! environment variables. Unknown keys are an error (`deny_unknown_fields`), so a typo never falls
//! back silently. Secrets (the database password) are redacted wherever settings are printed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use crate::calendar::CalendarSettings;
pub use crate::pdf::PdfSettings;

/// The core sections are fields; each domain's section (`[helpdesk]`, `[portal]` …) is kept as
/// read in `sections` and parsed into the domain's own type when the domains are assembled
/// (`domain::assemble`), which also refuses a section that no domain owns.
pub use crate::auth::{PasswordSettings, SecuritySettings};
pub use crate::db::{DatabaseSettings, Synchronous, redact_url};

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub paths: PathSettings,
    pub security: SecuritySettings,
    pub jobs: JobSettings,
    pub log: LogSettings,
    pub pdf: PdfSettings,
    pub calendar: CalendarSettings,
    pub metrics: MetricsSettings,
    #[serde(flatten)]
    pub sections: BTreeMap<String, serde_json::Value>,
}

/// `GET /metrics` (Prometheus text): system administrators may read it in the browser; a scraper
/// sends `Authorization: Bearer <token>` when a token is set here.
#[derive(Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    pub bearer_token: String,
}

impl fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.bearer_token.is_empty() {
            ""
        } else {
            "***"
        };
        f.debug_struct("MetricsSettings")
            .field("bearer_token", &shown)
            .finish()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    pub secure_cookies: bool,
    pub max_form_bytes: usize,
    pub max_upload_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            secure_cookies: false,
            max_form_bytes: 64 * 1024,
            max_upload_bytes: 5 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathSettings {
    pub data_dir: PathBuf,
}

impl Default for PathSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobSettings {
    pub enabled: bool,
    pub tick_seconds: u64,
    pub lease_seconds: i64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            tick_seconds: 30,
            lease_seconds: 600,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if given), then `RAINBOWNET__…` variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!("設定ファイルが見つかりません: {}", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment.merge(Env::prefixed("RAINBOWNET__").split("__"));
        figment
            .extract()
            .map_err(|e| anyhow::anyhow!("設定の誤り (configuration error): {e}"))
    }

    /// Whether `name` is one of the core sections above (not a domain's).
    pub fn is_core_section(&self, name: &str) -> bool {
        matches!(
            name,
            "server"
                | "database"
                | "paths"
                | "security"
                | "jobs"
                | "log"
                | "pdf"
                | "calendar"
                | "metrics"
        )
    }

    /// Sets a domain's section (tests and tools; the file and environment do this on load).
    pub fn set_section<T: Serialize>(&mut self, name: &str, value: &T) {
        if let Ok(v) = serde_json::to_value(value) {
            self.sections.insert(name.to_string(), v);
        }
    }

    /// The database URL in effect: the configured one, or SQLite under the data directory.
    pub fn database_url(&self) -> String {
        self.database.url_in(&self.paths.data_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_documents_every_key_and_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rainbownet.example.toml");
        let loaded = Settings::load(Some(&path)).expect("example config loads");
        assert_eq!(loaded.security.lockout_threshold, 5);
        // Every default key appears in the example: serialise the defaults and look each one up.
        let text = std::fs::read_to_string(&path).expect("example readable");
        let defaults = toml_keys(
            &serde_json::to_value(Settings::default()).expect("json"),
            "",
        );
        for key in defaults {
            let leaf = key.rsplit('.').next().unwrap_or(&key);
            assert!(
                text.contains(&format!("{leaf} =")),
                "example config lacks {key}"
            );
        }
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let dir = tempfile_dir();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[server]\nbindd = \"x\"\n").expect("write");
        let err = Settings::load(Some(&path)).expect_err("unknown key must fail");
        assert!(err.to_string().contains("bindd"), "{err}");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rn-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    fn toml_keys(v: &serde_json::Value, prefix: &str) -> Vec<String> {
        match v {
            serde_json::Value::Object(map) => map
                .iter()
                .flat_map(|(k, v)| {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    toml_keys(v, &p)
                })
                .collect(),
            _ => vec![prefix.to_string()],
        }
    }
}
