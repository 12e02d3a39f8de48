//! Monitors as the rest of the domain sees them: what is checked, how often, and the state.

use std::fmt;

use crate::db::Timestamp;

/// What a monitor checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ICMP echo (a TCP connect check when the process may not open ICMP sockets).
    Ping,
    /// An HTTP(S) application check.
    Http,
}

impl Kind {
    pub fn key(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::Http => "http",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "ping" => Some(Kind::Ping),
            "http" => Some(Kind::Http),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Ping => "死活監視（ping）",
            Kind::Http => "アプリケーション監視（HTTP）",
        }
    }
}

/// A monitor's state; "paused" is the separate `paused` flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not yet checked, or failing but not yet `retries` times in a row.
    Pending,
    Up,
    Down,
}

impl State {
    pub fn key(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Up => "up",
            State::Down => "down",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        match s {
            "pending" => Some(State::Pending),
            "up" => Some(State::Up),
            "down" => Some(State::Down),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Pending => "確認中",
            State::Up => "正常",
            State::Down => "停止",
        }
    }
}

/// What became of one slot of a monitor's cadence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Up,
    Down,
    /// The slot passed without a check (the process was stopped, or overloaded).
    Missed,
}

impl Outcome {
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Down => "down",
            Outcome::Missed => "missed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "up" => Some(Outcome::Up),
            "down" => Some(Outcome::Down),
            "missed" => Some(Outcome::Missed),
            _ => None,
        }
    }
}

/// A monitor's name: 1–100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let t = s.trim();
        if t.is_empty() {
            return Err("監視の名前を入力してください。");
        }
        if t.chars().count() > 100 || t.chars().any(char::is_control) {
            return Err("監視の名前は改行を含まない 100 文字以内で入力してください。");
        }
        Ok(Name(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a monitor checks, parsed: a host name or address for ping, an http(s) URL for HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    pub fn parse(kind: Kind, s: &str) -> Result<Self, &'static str> {
        let t = s.trim();
        match kind {
            Kind::Ping => {
                let ok = !t.is_empty()
                    && t.len() <= 253
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
                if ok {
                    Ok(Target(t.to_string()))
                } else {
                    Err("監視先はホスト名か IP アドレスで入力してください（例: 192.0.2.10）。")
                }
            }
            Kind::Http => match url::Url::parse(t) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    Ok(Target(u.to_string()))
                }
                _ => Err("監視先は http:// か https:// で始まる URL で入力してください。"),
            },
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A monitor as stored (`monitors`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Monitor {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub interval_seconds: i64,
    pub timeout_ms: i64,
    pub retries: i64,
    pub expect_status: Option<i64>,
    pub keyword: Option<String>,
    pub json_pointer: Option<String>,
    pub json_value: Option<String>,
    pub max_response_ms: Option<i64>,
    pub cert_min_days: Option<i64>,
    pub asset_ref: Option<String>,
    #[sqlx(try_from = "crate::db::Flag")]
    pub paused: bool,
    pub state: String,
    pub state_since: Timestamp,
    pub failures_in_row: i64,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Monitor {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Ping)
    }

    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Pending)
    }

    /// "paused", or the state's key: what `monitor list` prints.
    pub fn status_key(&self) -> &'static str {
        if self.paused {
            "paused"
        } else {
            self.state().key()
        }
    }
}

/// A new monitor, checked (see `service::add`).
#[derive(Clone, Debug)]
pub struct NewMonitor {
    pub name: Name,
    pub kind: Kind,
    pub target: Target,
    pub interval_seconds: i64,
    pub timeout_ms: i64,
    pub retries: i64,
    pub expect_status: Option<i64>,
    pub keyword: Option<String>,
    pub json_pointer: Option<String>,
    pub json_value: Option<String>,
    pub max_response_ms: Option<i64>,
    pub cert_min_days: Option<i64>,
    pub asset_ref: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_1_targets_are_hosts_for_ping_and_http_urls_for_http() {
        assert!(Target::parse(Kind::Ping, "127.0.0.1").is_ok());
        assert!(Target::parse(Kind::Ping, "gw.kiyosu.local").is_ok());
        assert!(Target::parse(Kind::Ping, "a b").is_err());
        assert!(Target::parse(Kind::Http, "http://127.0.0.1:8080/health").is_ok());
        assert!(Target::parse(Kind::Http, "ftp://x").is_err());
        assert!(Target::parse(Kind::Http, "127.0.0.1").is_err());
        assert!(Name::parse(" ").is_err());
        assert!(Name::parse("a\nb").is_err());
    }
}
