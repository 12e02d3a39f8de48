//! Settings: defaults, then an optional TOML file (`--config FILE`), then `RAINBOWNET__SECTION__KEY`
//! environment variables. Unknown keys are an error (`deny_unknown_fields`), so a typo never falls
//! back silently. Secrets (the database password) are redacted wherever settings are printed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use crate::calendar::CalendarSettings;
pub use crate::mail::{MailSettings, Security as MailSecurity};
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
    pub mail: MailSettings,
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
    /// The largest multipart body read at all (413 page beyond it). Files themselves are
    /// limited to `web::upload::MAX_FILE_BYTES` (10 MB); a body up to this size is read so that a
    /// too-large file is refused on its own form, with the typed text kept.
    pub max_upload_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or CIDR networks).
    /// Empty: the header is ignored and the peer address is the client.
    pub trusted_proxies: Vec<ProxyNet>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            secure_cookies: false,
            max_form_bytes: 64 * 1024,
            max_upload_bytes: 16 * 1024 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerSettings {
    /// Listens on `bind` (from `--bind`). A public URL that only followed the old address (the
    /// default, `http://` + bind) follows the new one, so that letters, feeds and mails name the
    /// address people reach (issue 15, defect 3); a public URL set in the file is kept. An
    /// unspecified host (`0.0.0.0`) or port 0 says nothing about the public address: kept too.
    pub fn rebind(&mut self, bind: String) {
        let followed = self.public_url.trim_end_matches('/') == format!("http://{}", self.bind);
        let concrete = bind
            .parse::<std::net::SocketAddr>()
            .map(|a| !a.ip().is_unspecified() && a.port() != 0)
            .unwrap_or(!bind.ends_with(":0"));
        if followed && concrete {
            self.public_url = format!("http://{bind}");
        }
        self.bind = bind;
    }

    /// Why the public URL looks wrong for where the server listens: a loopback public URL while
    /// listening beyond loopback means every letter and mail would send people to their own PC.
    pub fn public_url_warning(&self) -> Option<String> {
        let authority = self
            .public_url
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        let public_loopback = host.is_empty()
            || host == "localhost"
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let listens_beyond = match self.bind.parse::<std::net::SocketAddr>() {
            Ok(a) => !a.ip().is_loopback(),
            Err(_) => !self.bind.starts_with("localhost"),
        };
        (public_loopback && listens_beyond).then(|| {
            format!(
                "[server] public_url = \"{}\" is a loopback address but the server listens on {}: \
                 letters, the feed and mails would point people to their own computer; set \
                 [server] public_url to the address users open",
                self.public_url, self.bind
            )
        })
    }
}

/// An address or a CIDR network (`192.0.2.10`, `10.0.0.0/8`, `2001:db8::/32`) in
/// `server.trusted_proxies`; written and read as that text, so a typo fails at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4
/// peers) is its IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for ProxyNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("trusted_proxies: {s:?} is neither an address nor a CIDR network");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(ProxyNet { addr, prefix })
    }
}

impl fmt::Display for ProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for ProxyNet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProxyNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
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
                | "mail"
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
    fn trusted_proxies_are_addresses_or_networks() {
        let net: ProxyNet = "10.0.0.0/8".parse().expect("cidr");
        assert!(net.contains("10.20.30.40".parse().expect("ip")));
        assert!(!net.contains("11.0.0.1".parse().expect("ip")));
        let one: ProxyNet = "127.0.0.1".parse().expect("address");
        assert!(one.contains("::ffff:127.0.0.1".parse().expect("mapped")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        let v6: ProxyNet = "2001:db8::/32".parse().expect("v6");
        assert!(v6.contains("2001:db8:ffff::1".parse().expect("ip")));
        assert!(!v6.contains("10.0.0.1".parse().expect("ip")));
        let all: ProxyNet = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/x", ""] {
            assert!(bad.parse::<ProxyNet>().is_err(), "{bad}");
        }
        assert_eq!(net.to_string(), "10.0.0.0/8");
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

    #[test]
    fn issue15_a_new_bind_moves_a_following_public_url_and_keeps_a_configured_one() {
        let mut s = ServerSettings::default();
        s.rebind("192.0.2.5:8443".into());
        assert_eq!(s.public_url, "http://192.0.2.5:8443");
        assert_eq!(s.public_url_warning(), None);

        let mut s = ServerSettings {
            public_url: "https://rainbow.example.jp".into(),
            ..ServerSettings::default()
        };
        s.rebind("192.0.2.5:8443".into());
        assert_eq!(s.public_url, "https://rainbow.example.jp");

        let mut s = ServerSettings::default();
        s.rebind("0.0.0.0:8080".into());
        assert_eq!(
            s.public_url, "http://127.0.0.1:8080",
            "nothing to derive from 0.0.0.0"
        );
        assert!(
            s.public_url_warning()
                .is_some_and(|w| w.contains("public_url"))
        );

        let mut s = ServerSettings::default();
        s.rebind("127.0.0.1:0".into());
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(
            s.public_url_warning(),
            None,
            "loopback on both sides is consistent"
        );
    }
}
