//! Settings: defaults, then an optional TOML file (`--config FILE`), then `RAINBOWNET__SECTION__KEY`
//! environment variables. Unknown keys are an error (`deny_unknown_fields`), so a typo never falls
//! back silently. Secrets (the database password) are redacted wherever settings are printed.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use crate::auth::{PasswordSettings, SecuritySettings};
pub use crate::db::{DatabaseSettings, Synchronous, redact_url};

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub paths: PathSettings,
    pub security: SecuritySettings,
    pub jobs: JobSettings,
    pub log: LogSettings,
    pub accounts: AccountSettings,
    pub pdf: PdfSettings,
    pub portal: PortalSettings,
    pub records: RecordsSettings,
    pub calendar: CalendarSettings,
    pub helpdesk: HelpdeskSettings,
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

#[derive(Clone, Debug, Serialize, Deserialize)]
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

/// Business hours (R15.1); holidays and the year-end closure are rules, not settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarSettings {
    pub open_weekdays: Vec<String>,
    pub opens_at: String,
    pub closes_at: String,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            open_weekdays: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            opens_at: "09:00".into(),
            closes_at: "18:00".into(),
        }
    }
}

/// Application data intake (`[records]`): limits checked before anything is stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsSettings {
    /// Largest FHIR request body accepted by the API (413 above it).
    pub max_body_bytes: usize,
    /// Most entries in one Bundle (document, collection or batch).
    pub max_entries: usize,
}

impl Default for RecordsSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 20 * 1024 * 1024,
            max_entries: 1000,
        }
    }
}

impl CalendarSettings {
    pub fn weekly_hours(&self) -> anyhow::Result<crate::calendar::WeeklyHours> {
        let mut days = Vec::new();
        for d in &self.open_weekdays {
            days.push(crate::calendar::parse_weekday(d).ok_or_else(|| {
                anyhow::anyhow!("calendar.open_weekdays: 曜日 {d:?} は mon…sun で指定してください")
            })?);
        }
        let time = |key: &str, v: &str| {
            v.parse::<jiff::civil::Time>().map_err(|_| {
                anyhow::anyhow!("calendar.{key}: 時刻 {v:?} は HH:MM で指定してください")
            })
        };
        let opens = time("opens_at", &self.opens_at)?;
        let closes = time("closes_at", &self.closes_at)?;
        if opens >= closes {
            anyhow::bail!("calendar: opens_at は closes_at より前にしてください");
        }
        Ok(crate::calendar::WeeklyHours {
            days,
            opens,
            closes,
        })
    }
}

/// Helpdesk response targets (R15.3), in business hours.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HelpdeskSettings {
    pub first_response_hours: i64,
    pub resolution_hours: i64,
}

impl Default for HelpdeskSettings {
    fn default() -> Self {
        Self {
            first_response_hours: 4,
            resolution_hours: 27,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PdfSettings {
    pub font_path: PathBuf,
}

impl Default for PdfSettings {
    fn default() -> Self {
        Self {
            font_path: PathBuf::from("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
        }
    }
}

/// The portal (R13.4).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalSettings {
    /// 新着 / 更新 badges mark items published or changed within this many days.
    pub new_badge_days: i64,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self { new_badge_days: 7 }
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
