//! Monitors as the rest of the domain sees them: what is checked, how often, and the state.
//! The slot arithmetic of a monitor's cadence is in `cadence.rs` (re-exported here).

use std::fmt;

use crate::db::Timestamp;

pub use super::cadence::{Cadence, Plan};

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
    /// Where the cadence starts: the creation, or the last resumption (NULL: `created_at`).
    pub slots_from: Option<Timestamp>,
    /// When the next check is due (set when added or resumed; moved on by the engine).
    pub due_at: Option<Timestamp>,
    /// The start of the last slot recorded (checked or missed).
    pub last_slot_at: Option<Timestamp>,
}

impl Monitor {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Ping)
    }

    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Pending)
    }

    /// The start of the monitor's cadence (see [`Cadence`]).
    pub fn cadence(&self) -> Cadence {
        Cadence::new(
            self.slots_from.unwrap_or(self.created_at),
            self.interval_seconds,
            self.id,
        )
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

impl NewMonitor {
    /// A monitor of `kind` with `[monitor]`'s defaults (interval by kind, timeout, retries) and
    /// no conditions beyond the kind's own.
    pub fn with_defaults(
        name: Name,
        kind: Kind,
        target: Target,
        s: &super::settings::MonitorSettings,
    ) -> NewMonitor {
        NewMonitor {
            name,
            kind,
            target,
            interval_seconds: match kind {
                Kind::Ping => s.ping_interval_seconds,
                Kind::Http => s.http_interval_seconds,
            },
            timeout_ms: s.timeout_ms,
            retries: s.retries,
            expect_status: None,
            keyword: None,
            json_pointer: None,
            json_value: None,
            max_response_ms: None,
            cert_min_days: None,
            asset_ref: None,
        }
    }

    /// The rules between the fields (`service::add` refuses a monitor that breaks one).
    pub fn check(&self) -> Result<(), &'static str> {
        if !(10..=86_400).contains(&self.interval_seconds) {
            return Err("間隔は 10 秒から 1 日までで指定してください。");
        }
        if self.timeout_ms < 100
            || self.timeout_ms > 120_000
            || self.timeout_ms >= self.interval_seconds * 1000 / 4
        {
            return Err(
                "タイムアウトは 0.1 秒から 120 秒、かつ間隔の 4 分の 1 未満で指定してください。",
            );
        }
        if !(1..=100).contains(&self.retries) {
            return Err("「停止」とするまでの失敗回数は 1 から 100 で指定してください。");
        }
        if self
            .expect_status
            .is_some_and(|s| !(100..=599).contains(&s))
        {
            return Err("期待するステータスは 100 から 599 で指定してください。");
        }
        if self
            .json_pointer
            .as_deref()
            .is_some_and(|p| !p.is_empty() && !p.starts_with('/'))
        {
            return Err(
                "JSON の位置は RFC 6901 の形（/status など、/ で始まる）で指定してください。",
            );
        }
        if self.max_response_ms.is_some_and(|v| v < 1) || self.cert_min_days.is_some_and(|v| v < 0)
        {
            return Err("応答時間の上限と証明書の残り日数は正の数で指定してください。");
        }
        if self.cert_min_days.is_some() && !self.target.as_str().starts_with("https:") {
            return Err("証明書の残り日数は https:// の監視にだけ指定できます。");
        }
        Ok(())
    }
}

/// A check's timeout as people type it: `500ms`, `5s`, `30s`; returns milliseconds.
pub fn parse_timeout(s: &str) -> Result<i64, &'static str> {
    const MSG: &str =
        "タイムアウトは 500ms、5s、30s のように入力してください（0.1 秒から 120 秒）。";
    let t = s.trim();
    let ms = if let Some(n) = t.strip_suffix("ms") {
        n.trim().parse::<i64>().map_err(|_| MSG)?
    } else if let Some(n) = t.strip_suffix('s') {
        n.trim()
            .parse::<i64>()
            .map_err(|_| MSG)?
            .checked_mul(1000)
            .ok_or(MSG)?
    } else {
        return Err(MSG);
    };
    if (100..=120_000).contains(&ms) {
        Ok(ms)
    } else {
        Err(MSG)
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

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// No change of state.
    None,
    /// Pending → up: the first good check; no alert.
    FirstUp,
    /// `retries` failures in a row: down (an alert).
    Down,
    /// The first good check after down: up (an alert).
    Recovered,
}

/// The state machine of one check: `(state, failures in a row)` after a check that was good
/// (`ok`) or not, and the change it makes.
pub fn transition(
    state: State,
    failures_in_row: i64,
    retries: i64,
    ok: bool,
) -> (State, i64, Change) {
    if ok {
        return match state {
            State::Down => (State::Up, 0, Change::Recovered),
            State::Pending => (State::Up, 0, Change::FirstUp),
            State::Up => (State::Up, 0, Change::None),
        };
    }
    let failures = failures_in_row.saturating_add(1);
    if state != State::Down && failures >= retries.max(1) {
        (State::Down, failures, Change::Down)
    } else {
        (state, failures, Change::None)
    }
}

/// A duration as people type it: `30s`, `5m`, `15m`, `1h`, or plain seconds; 10 s to 1 day.
pub fn parse_interval(s: &str) -> Result<i64, &'static str> {
    const MSG: &str = "間隔は 30s、5m、15m、1h のように入力してください（10 秒から 1 日まで）。";
    let t = s.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let n: i64 = num.parse().map_err(|_| MSG)?;
    let secs = match unit.trim() {
        "s" | "sec" | "秒" => n,
        "m" | "min" | "分" => n.checked_mul(60).ok_or(MSG)?,
        "h" | "時間" => n.checked_mul(3600).ok_or(MSG)?,
        _ => return Err(MSG),
    };
    if (10..=86_400).contains(&secs) {
        Ok(secs)
    } else {
        Err(MSG)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_1_retries_failures_in_a_row_turn_a_monitor_down_and_one_success_up() {
        assert_eq!(
            transition(State::Pending, 0, 2, true),
            (State::Up, 0, Change::FirstUp)
        );
        assert_eq!(
            transition(State::Up, 0, 2, false),
            (State::Up, 1, Change::None)
        );
        assert_eq!(
            transition(State::Up, 1, 2, false),
            (State::Down, 2, Change::Down)
        );
        assert_eq!(
            transition(State::Down, 2, 2, false),
            (State::Down, 3, Change::None)
        );
        assert_eq!(
            transition(State::Down, 3, 2, true),
            (State::Up, 0, Change::Recovered)
        );
        assert_eq!(
            transition(State::Pending, 0, 1, false),
            (State::Down, 1, Change::Down)
        );
    }

    #[test]
    fn r22_1_intervals_read_as_people_type_them() {
        assert_eq!(parse_interval("5m"), Ok(300));
        assert_eq!(parse_interval("15m"), Ok(900));
        assert_eq!(parse_interval("30s"), Ok(30));
        assert_eq!(parse_interval("1h"), Ok(3600));
        assert_eq!(parse_interval("600"), Ok(600));
        assert!(parse_interval("5").is_err());
        assert!(parse_interval("2d").is_err());
        assert!(parse_interval("m").is_err());
    }

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
