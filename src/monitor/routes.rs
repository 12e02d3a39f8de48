//! The monitors' pages: the list (`/admin/monitors`) and one monitor with its uptime, chart,
//! results and alerts (`/admin/monitors/{id}`). Reading is for `READERS`; the forms to add and
//! change one are in `routes_form.rs`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::SignedDuration;
use serde::Deserialize;

use super::model::{Kind, Monitor, Outcome, State as MState};
use super::uptime::{self, Counts, Point};
use super::{ADMINS, repo, repo_alerts, repo_uptime};
use crate::db::{Conn, Timestamp};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Caller, Page, render};

pub const HOME: &str = "/admin/monitors";

/// The badge of a monitor's state: (css class, text).
pub fn badge(m: &Monitor) -> (&'static str, &'static str) {
    if m.paused {
        ("badge-idle", "一時停止中")
    } else {
        match m.state() {
            MState::Up => ("badge-ok", "正常"),
            MState::Down => ("badge-alert", "停止"),
            MState::Pending => ("badge-warn", "確認中"),
        }
    }
}

/// `5 分ごと`, `30 秒ごと`.
pub fn interval_text(seconds: i64) -> String {
    if seconds % 60 == 0 {
        format!("{} 分ごと", seconds / 60)
    } else {
        format!("{seconds} 秒ごと")
    }
}

/// Sums (monitor, outcome, n) rows per monitor.
pub fn counts_by_monitor(rows: &[(i64, String, i64)]) -> HashMap<i64, Counts> {
    let mut out: HashMap<i64, Counts> = HashMap::new();
    for (id, outcome, n) in rows {
        out.entry(*id).or_default().add(outcome, *n);
    }
    out
}

pub async fn counts_of(
    conn: &mut Conn,
    id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Counts> {
    let mut c = Counts::default();
    for (outcome, n) in repo_uptime::outcome_counts_of(conn, id, from, to).await? {
        c.add(&outcome, n);
    }
    Ok(c)
}

/// A long span: daily aggregates where the engine rolled them up, raw results after the last
/// one (raw results are kept 90 days, aggregates for years).
pub async fn counts_span(
    conn: &mut Conn,
    id: i64,
    from: Timestamp,
    to: Timestamp,
) -> sqlx::Result<Counts> {
    let days = repo_uptime::day_aggregates(conn, id, from, to).await?;
    let mut c = Counts::default();
    for d in &days {
        c = c.plus(Counts {
            up: d.up,
            down: d.down,
            missed: d.missed,
        });
    }
    let raw_from = days
        .last()
        .map(|d| d.period_start.plus(SignedDuration::from_hours(24)))
        .filter(|t| *t > from)
        .unwrap_or(from);
    Ok(c.plus(counts_of(conn, id, raw_from, to).await?))
}

pub fn points(rows: &[repo_uptime::ResultRow]) -> Vec<Point> {
    rows.iter()
        .filter_map(|r| {
            Some(Point {
                at: r.slot_at,
                outcome: Outcome::parse(&r.outcome)?,
                response_ms: r.response_ms,
            })
        })
        .collect()
}

pub struct Row {
    pub id: i64,
    pub name: String,
    pub kind: &'static str,
    pub target: String,
    pub interval: String,
    pub badge_class: &'static str,
    pub badge: &'static str,
    pub since: String,
    pub last_check: String,
    pub uptime: String,
    pub open_alerts: i64,
    pub next: String,
    pub paused: bool,
    pub down: bool,
}

#[derive(Template)]
#[template(path = "monitor/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub rows: Vec<Row>,
    pub can_edit: bool,
    pub down: i64,
    pub watched: i64,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    let monitors = repo::list(&mut conn).await?;
    let day = counts_by_monitor(
        &repo_uptime::outcome_counts(&mut conn, now.minus(SignedDuration::from_hours(24)), now)
            .await?,
    );
    let last: HashMap<i64, Timestamp> = repo_uptime::last_checks(&mut conn)
        .await?
        .into_iter()
        .collect();
    let open: HashMap<i64, i64> = repo_uptime::open_alerts_by_monitor(&mut conn)
        .await?
        .into_iter()
        .collect();
    let (watched, down) = repo_uptime::watched_and_down(&mut conn).await?;
    let rows = monitors
        .iter()
        .map(|m| {
            let (badge_class, badge) = badge(m);
            let last_check = last.get(&m.id).copied();
            let next = if m.paused {
                "再開されるまで確認しません".to_string()
            } else {
                let base = last_check.unwrap_or(m.state_since);
                let due = base.plus(SignedDuration::from_secs(m.interval_seconds));
                if due <= now {
                    "まもなく確認".to_string()
                } else {
                    format!("次回確認 {}", due.jst())
                }
            };
            Row {
                id: m.id,
                name: m.name.clone(),
                kind: m.kind().label(),
                target: m.target.clone(),
                interval: interval_text(m.interval_seconds),
                badge_class,
                badge,
                since: m.state_since.jst(),
                last_check: last_check.map(|t| t.jst()).unwrap_or_else(|| "—".into()),
                uptime: day.get(&m.id).copied().unwrap_or_default().uptime_text(),
                open_alerts: open.get(&m.id).copied().unwrap_or(0),
                next,
                paused: m.paused,
                down: !m.paused && m.state() == MState::Down,
            }
        })
        .collect();
    render(
        IndexPage {
            page: page.titled("監視一覧"),
            rows,
            can_edit: ADMINS.contains(&p.role),
            down,
            watched,
        },
        StatusCode::OK,
    )
}

pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

pub struct UptimeLine {
    pub label: &'static str,
    pub uptime: String,
    pub coverage: String,
    pub down: i64,
}

pub struct ResultLine {
    pub at: String,
    pub outcome_class: &'static str,
    pub outcome: &'static str,
    pub response: String,
    pub detail: String,
}

pub struct AlertLine {
    pub id: i64,
    pub monitor_id: i64,
    pub monitor: String,
    pub kind: &'static str,
    pub down: bool,
    pub at: String,
    pub detail: String,
    pub state: String,
    pub open: bool,
    pub suppressed: bool,
    pub note: String,
    /// How the on-call list was told.
    pub mail: &'static str,
    /// The incident drafted from it (issue 13): its id and number.
    pub incident: Option<(i64, String)>,
}

pub fn alert_line(a: &repo_alerts::AlertRow) -> AlertLine {
    let kind = super::alerts::AlertKind::parse(&a.kind);
    let suppressed = a.suppressed_by.is_some();
    let state = match (&a.acknowledged_at, &a.acknowledged_by, a.suppressed_by) {
        (Some(at), Some(by), _) => format!(
            "確認済み（{}、{}）",
            a.acknowledged_by_name
                .clone()
                .unwrap_or_else(|| crate::audit::Actor::shown(by)),
            at.jst()
        ),
        (_, _, Some(w)) => format!("保守予定（停止・保守予定 #{w}）の時間中のため通知していません"),
        _ => "未確認".to_string(),
    };
    AlertLine {
        id: a.id,
        monitor_id: a.monitor_id,
        monitor: a.monitor_name.clone(),
        kind: kind.map(|k| k.label()).unwrap_or("—"),
        down: kind == Some(super::alerts::AlertKind::Down),
        at: a.at.jst(),
        detail: a.detail.clone(),
        state,
        open: a.acknowledged_at.is_none() && !suppressed,
        suppressed,
        note: a.ack_note.clone().unwrap_or_default(),
        mail: match (a.mail_id, suppressed) {
            (_, true) => "通知なし（保守予定の時間中）",
            (Some(_), _) => "通知先へメール済み",
            (None, _) => "通知先が未登録のためメールなし",
        },
        incident: a.incident_id.map(|i| {
            (
                i,
                a.incident_number.clone().unwrap_or_else(|| format!("#{i}")),
            )
        }),
    }
}

pub struct RangeTab {
    pub key: &'static str,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "monitor/show.html")]
pub struct ShowPage {
    pub page: Page,
    pub id: i64,
    pub name: String,
    pub badge_class: &'static str,
    pub badge: &'static str,
    pub since: String,
    pub paused: bool,
    pub facts: Vec<Fact>,
    pub uptime: Vec<UptimeLine>,
    pub coverage: String,
    pub chart: String,
    pub tabs: Vec<RangeTab>,
    pub range_label: &'static str,
    pub down_periods: Vec<String>,
    pub results: Vec<ResultLine>,
    pub alerts: Vec<AlertLine>,
    pub can_edit: bool,
    /// As on the alerts page: 「障害として登録」 and the link to an alert's incident.
    pub can_draft: bool,
    pub can_see_incident: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    range: String,
}

const RANGES: [(&str, &str, i64); 3] = [
    ("24h", "24 時間", 24),
    ("7d", "7 日", 24 * 7),
    ("30d", "30 日", 24 * 30),
];

fn outcome_text(o: &str) -> (&'static str, &'static str) {
    match Outcome::parse(o) {
        Some(Outcome::Up) => ("badge-ok", "正常"),
        Some(Outcome::Down) => ("badge-alert", "応答なし"),
        Some(Outcome::Missed) => ("badge-idle", "未確認"),
        None => ("badge-idle", "—"),
    }
}

fn facts(m: &Monitor) -> Vec<Fact> {
    let mut f = vec![
        Fact {
            label: "種類",
            value: m.kind().label().into(),
        },
        Fact {
            label: "監視先",
            value: m.target.clone(),
        },
        Fact {
            label: "間隔",
            value: interval_text(m.interval_seconds),
        },
        Fact {
            label: "タイムアウト",
            value: format!("{} 秒", m.timeout_ms as f64 / 1000.0),
        },
        Fact {
            label: "停止と判定するまで",
            value: format!("{} 回続けて失敗したとき", m.retries),
        },
    ];
    if m.kind() == Kind::Http {
        let mut cond = Vec::new();
        cond.push(match m.expect_status {
            Some(s) => format!("ステータス {s}"),
            None => "ステータス 2xx / 3xx".into(),
        });
        if let Some(k) = &m.keyword {
            cond.push(format!("本文に「{k}」を含む"));
        }
        if let (Some(p), Some(v)) = (&m.json_pointer, &m.json_value) {
            cond.push(format!("JSON {p} が「{v}」"));
        }
        if let Some(ms) = m.max_response_ms {
            cond.push(format!("応答 {ms} ms 以内"));
        }
        if let Some(d) = m.cert_min_days {
            cond.push(format!("証明書の残り {d} 日以上"));
        }
        f.push(Fact {
            label: "正常とする条件",
            value: cond.join("、"),
        });
    }
    if let Some(a) = &m.asset_ref {
        f.push(Fact {
            label: "対象の資産",
            value: a.clone(),
        });
    }
    if let Some(n) = &m.note {
        f.push(Fact {
            label: "備考",
            value: n.clone(),
        });
    }
    f.push(Fact {
        label: "登録",
        value: format!("{}（{}）", m.created_at.jst(), m.created_by),
    });
    f
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    let m = repo::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let day = counts_of(
        &mut conn,
        id,
        now.minus(SignedDuration::from_hours(24)),
        now,
    )
    .await?;
    let month = counts_of(
        &mut conn,
        id,
        now.minus(SignedDuration::from_hours(24 * 30)),
        now,
    )
    .await?;
    let year = counts_span(
        &mut conn,
        id,
        now.minus(SignedDuration::from_hours(24 * 365)),
        now,
    )
    .await?;
    // The cadence kept (R22.1): checked slots of those the interval called for, including the
    // slots that passed while nothing was running.
    let (checked, expected) = super::coverage::slot_coverage(
        &mut conn,
        id,
        now.minus(SignedDuration::from_hours(24 * 30)),
        now,
    )
    .await?;
    let coverage = format!("{checked} / {expected} スロット");
    let (range_key, range_label, hours) = RANGES
        .iter()
        .copied()
        .find(|(k, _, _)| *k == q.range)
        .unwrap_or(RANGES[0]);
    let from = now.minus(SignedDuration::from_hours(hours));
    let rows = repo_uptime::results_between(&mut conn, id, from, now).await?;
    let pts = points(&rows);
    let chart = uptime::chart_svg(&pts, from, now, m.interval_seconds);
    let down_periods = uptime::periods(&pts, Outcome::Down, m.interval_seconds)
        .iter()
        .rev()
        .map(uptime::Period::text)
        .collect();
    let results = repo_uptime::recent_results(&mut conn, id, 50)
        .await?
        .iter()
        .map(|r| {
            let (outcome_class, outcome) = outcome_text(&r.outcome);
            ResultLine {
                at: r.checked_at.unwrap_or(r.slot_at).jst_seconds(),
                outcome_class,
                outcome,
                response: r
                    .response_ms
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_else(|| "—".into()),
                detail: r.detail.clone().unwrap_or_default(),
            }
        })
        .collect();
    let alerts = repo_alerts::of_monitor(&mut conn, id, 20)
        .await?
        .iter()
        .map(alert_line)
        .collect();
    let (badge_class, badge) = badge(&m);
    render(
        ShowPage {
            page: page.titled(format!("監視: {}", m.name)),
            id,
            name: m.name.clone(),
            badge_class,
            badge,
            since: m.state_since.jst(),
            paused: m.paused,
            facts: facts(&m),
            coverage,
            uptime: [("24 時間", day), ("30 日", month), ("1 年", year)]
                .into_iter()
                .map(|(label, c)| UptimeLine {
                    label,
                    uptime: c.uptime_text(),
                    coverage: c.coverage_text(),
                    down: c.down,
                })
                .collect(),
            chart,
            tabs: RANGES
                .iter()
                .map(|(key, label, _)| RangeTab {
                    key,
                    label,
                    current: *key == range_key,
                })
                .collect(),
            range_label,
            down_periods,
            results,
            alerts,
            can_edit: ADMINS.contains(&p.role),
            can_draft: ADMINS.contains(&p.role) && state.may_open(p.role, "/incidents/new"),
            can_see_incident: state.may_open(p.role, "/incidents/0"),
        },
        StatusCode::OK,
    )
}
