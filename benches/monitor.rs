//! Monitoring scale benchmark (issue 12, item 7): 10,000 monitors against this machine only —
//! 8,000 pings to distinct addresses in 127.0.0.0/8 and 2,000 HTTP checks of a local HTTP server
//! (a Python `ThreadingHTTPServer` child process, so that its work is not counted as ours) — run
//! by the real scheduler task (`monitor.scheduler`) on SQLite, at compressed intervals: one
//! benchmark minute stands for the policy's 5 minutes (ping every 60 s instead of 300 s, HTTP
//! every 180 s instead of 900 s: five times the real load). Then `fping` pings the same 8,000
//! addresses as many rounds, in the same run.
//!
//! Reported: CPU time of the process (`/proc/self/stat`), peak RSS (`VmHWM`), schedule drift
//! (when a check started against when it was due; p50 / p99), slots checked / missed; and the
//! projection to the real cadence: the idle cost (measured first, with no check due) plus the
//! checks' cost divided by five.
//!
//! Run: `apt-get install -y fping`, then `cargo bench --bench monitor` (release build; needs
//! CAP_NET_RAW for ICMP — as root it has it — or falls back to TCP connects). `MONITOR_MINUTES`
//! (default 5) sets the length, `MONITOR_PINGS` / `MONITOR_HTTP` the counts.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rainbownet::clock::{Clock, SystemClock};
use rainbownet::config::Settings;
use rainbownet::db::Timestamp;
use rainbownet::monitor::model::{Cadence, Kind, Name, NewMonitor, Target};
use rainbownet::monitor::{MonitorSettings, repo, scheduler};
use rainbownet::startup::Application;
use sqlx::Row;

const COMPRESSION: f64 = 5.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (user + system CPU seconds of this process, of its waited-for children).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // After "pid (comm)": state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let tick = 100.0;
    let get = |i: usize| f.get(i - 3).copied().unwrap_or(0.0) / tick;
    (get(14) + get(15), get(16) + get(17))
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn ping_addr(i: usize) -> String {
    format!("127.{}.{}.{}", 1 + i / 62_500, (i / 250) % 250, 1 + i % 250)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_server(port: u16) -> KillOnDrop {
    let script = format!(
        "import http.server\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       b = b'{{\"status\":\"ok\",\"message\":\"ok\"}}'\n\
         \x20       self.send_response(200); self.send_header('Content-Type', 'application/json')\n\
         \x20       self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)\n\
         \x20   def log_message(self, *a): pass\n\
         http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    );
    KillOnDrop(
        Command::new("python3")
            .args(["-c", &script])
            .spawn()
            .expect("python3"),
    )
}

#[tokio::main]
async fn main() {
    let minutes = env_usize("MONITOR_MINUTES", 5);
    let pings = env_usize("MONITOR_PINGS", 8_000);
    let https = env_usize("MONITOR_HTTP", 2_000);
    let dir = tempfile::tempdir().expect("dir");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let _server = http_server(port);

    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.paths.data_dir = dir.path().to_path_buf();
    settings.jobs.enabled = false;
    settings.log.filter = "error".into();
    settings.database.url = format!("sqlite://{}/rainbownet.db?mode=rwc", dir.path().display());
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .expect("app");
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());

    // The monitors, all anchored a little ahead so that nothing is due while the idle cost is
    // measured.
    let idle_secs = 20;
    let t0 = SystemClock
        .now()
        .plus(jiff::SignedDuration::from_secs(idle_secs + 2));
    let defaults = MonitorSettings::default();
    {
        let mut tx = state.db.begin().await.expect("tx");
        for i in 0..pings + https {
            let (kind, target, interval, timeout) = if i < pings {
                (Kind::Ping, ping_addr(i), 60, 2_000)
            } else {
                (
                    Kind::Http,
                    format!("http://127.0.0.1:{port}/health?m={i}"),
                    180,
                    5_000,
                )
            };
            let mut m = NewMonitor::with_defaults(
                Name::parse(&format!("bench-{i}")).expect("name"),
                kind,
                Target::parse(kind, &target).expect("target"),
                &defaults,
            );
            m.interval_seconds = interval;
            m.timeout_ms = timeout;
            if kind == Kind::Http {
                m.keyword = Some("ok".into());
            }
            repo::insert(&mut tx, &m, "bench", t0)
                .await
                .expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    let icmp = rainbownet::monitor::check::Checker::new(&defaults).icmp_available();
    eprintln!(
        "{} monitors ({pings} ping via {}, {https} HTTP); idle {idle_secs} s, then {minutes} benchmark minutes …",
        pings + https,
        if icmp { "ICMP" } else { "TCP connect" }
    );

    let (cpu_start, _) = cpu_seconds();
    let wall = Instant::now();
    tokio::spawn(scheduler::task(state.clone()));
    tokio::time::sleep(Duration::from_secs(idle_secs as u64)).await;
    let (cpu_idle_end, _) = cpu_seconds();
    let idle_rate = (cpu_idle_end - cpu_start) / wall.elapsed().as_secs_f64();

    let run_from = Instant::now();
    let until = t0.plus(jiff::SignedDuration::from_mins(minutes as i64));
    while SystemClock.now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The checks of the last slots finish.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (cpu_end, _) = cpu_seconds();
    let run_wall = run_from.elapsed().as_secs_f64();
    let rss = peak_rss_mb();
    let run_cpu = cpu_end - cpu_idle_end;

    // Drift: a check's start (checked_at − its response time) against its due time.
    let rows = sqlx::query(
        "SELECT r.monitor_id, r.slot_at, r.checked_at, r.response_ms, r.outcome,
             m.interval_seconds, m.created_at
         FROM monitor_results r JOIN monitors m ON m.id = r.monitor_id
         WHERE r.slot_at < $1",
    )
    .bind(until)
    .fetch_all(state.db.pool())
    .await
    .expect("results");
    let mut drift = Vec::new();
    let (mut up, mut down, mut missed) = (0, 0, 0);
    for r in &rows {
        let outcome: String = r.try_get("outcome").expect("outcome");
        match outcome.as_str() {
            "up" => up += 1,
            "down" => down += 1,
            _ => missed += 1,
        }
        let (Ok(Some(checked)), Ok(Some(ms))) = (
            r.try_get::<Option<Timestamp>, _>("checked_at"),
            r.try_get::<Option<i64>, _>("response_ms"),
        ) else {
            continue;
        };
        let id: i64 = r.try_get("monitor_id").expect("id");
        let slot: Timestamp = r.try_get("slot_at").expect("slot");
        let created: Timestamp = r.try_get("created_at").expect("created");
        let interval: i64 = r.try_get("interval_seconds").expect("interval");
        let c = Cadence::new(created, interval, id);
        let due = c.due(c.index(slot));
        drift.push(checked.millis() - ms - due.millis());
    }
    drift.sort_unstable();
    let expected: i64 = (pings * minutes) as i64 + (https * minutes.div_ceil(3)) as i64;

    // fping over the same addresses, as many rounds as the engine's ping rounds.
    let targets = dir.path().join("targets.txt");
    std::fs::write(
        &targets,
        (0..pings).map(ping_addr).collect::<Vec<_>>().join("\n"),
    )
    .expect("targets");
    let mut fping_cpu = 0.0;
    let mut fping_wall = 0.0;
    let mut fping_rss: f64 = 0.0;
    let mut fping_alive = 0;
    let mut fping_ok = true;
    for _ in 0..minutes {
        let started = Instant::now();
        let out = Command::new("/usr/bin/time")
            .args([
                "-f",
                "TIME %U %S %M",
                "fping",
                "-q",
                "-c",
                "1",
                "-t",
                "2000",
                "-i",
                "1",
            ])
            .arg("-f")
            .arg(&targets)
            .stdout(Stdio::null())
            .output();
        let Ok(out) = out else {
            fping_ok = false;
            break;
        };
        fping_wall += started.elapsed().as_secs_f64();
        let err = String::from_utf8_lossy(&out.stderr);
        fping_alive += err
            .lines()
            .filter(|l| l.contains("xmt/rcv/%loss = 1/1/"))
            .count();
        if let Some(t) = err.lines().find_map(|l| l.strip_prefix("TIME ")) {
            let v: Vec<f64> = t
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() == 3 {
                fping_cpu += v[0] + v[1];
                fping_rss = fping_rss.max(v[2] / 1024.0);
            }
        } else {
            fping_ok = false;
        }
    }

    let rate = run_cpu / run_wall;
    let real = idle_rate + (rate - idle_rate).max(0.0) / COMPRESSION;
    println!();
    println!(
        "monitoring benchmark: {} monitors, {minutes} benchmark minutes (×{COMPRESSION} the real cadence)",
        pings + https
    );
    println!("{:<44} {:>16} {:>16}", "", "engine", "fping");
    println!(
        "{:<44} {:>16} {:>16}",
        "targets",
        format!("{pings} ping + {https} HTTP"),
        format!("{pings} ping")
    );
    println!(
        "{:<44} {:>16.1} {:>16}",
        "wall time measured (s)",
        run_wall,
        if fping_ok {
            format!("{fping_wall:.1}")
        } else {
            "—".into()
        }
    );
    println!(
        "{:<44} {:>16.2} {:>16}",
        "CPU time (s, user+system)",
        run_cpu,
        if fping_ok {
            format!("{fping_cpu:.2}")
        } else {
            "—".into()
        }
    );
    println!(
        "{:<44} {:>15.2}% {:>16}",
        "CPU, compressed cadence (% of one core)",
        rate * 100.0,
        if fping_ok {
            format!("{:.2}%", fping_cpu / (minutes as f64 * 60.0) * 100.0)
        } else {
            "—".into()
        }
    );
    println!(
        "{:<44} {:>15.2}% {:>16}",
        "idle CPU, nothing due (% of one core)",
        idle_rate * 100.0,
        ""
    );
    println!(
        "{:<44} {:>15.2}% {:>16}",
        "projected at the real 5/15-min cadence",
        real * 100.0,
        if fping_ok {
            format!("{:.2}%", fping_cpu / (minutes as f64 * 300.0) * 100.0)
        } else {
            "—".into()
        }
    );
    println!(
        "{:<44} {:>16.1} {:>16}",
        "peak RSS (MB)",
        rss,
        if fping_ok {
            format!("{fping_rss:.1}")
        } else {
            "—".into()
        }
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "schedule drift p50 / p99 (ms)",
        format!("{} / {}", percentile(&drift, 0.5), percentile(&drift, 0.99)),
        ""
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "drift max (ms)",
        drift.last().copied().unwrap_or(0),
        ""
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "slots expected / recorded",
        format!("{expected} / {}", rows.len()),
        ""
    );
    println!(
        "{:<44} {:>16} {:>16}",
        "up / down / missed",
        format!("{up} / {down} / {missed}"),
        if fping_ok {
            format!("{fping_alive} alive")
        } else {
            "not installed".into()
        }
    );
}
