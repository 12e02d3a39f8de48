//! Ingest benchmark (issues 6, 9 and 14): JP-CLINS-style document Bundles of 2–4 KB through the
//! full HTTP path of the real application (API key, checks, storage, audit chain), one document
//! per request from 64 and 8 concurrent clients (with latency percentiles) and in batches of 100,
//! beside baselines measured in the same run on the same database: raw inserts of the same JSON
//! through the same driver (sqlx Any), 1,000 per transaction, one row per statement and 100 rows
//! per statement. Also: the HTTP ceiling (`GET /healthz`, no database, the same middleware, 64
//! clients) and single-document intake while 20 clients post wrong passwords to `/login`.
//!
//! The server is a child process (this executable again, `INGEST_SERVE=1`), so that its peak RSS
//! and CPU time are its own; the bench process is the load generator and the baselines. Per-run
//! peaks are reset through `/proc/<pid>/clear_refs`.
//!
//! Run: `cargo bench --bench ingest` (release build; SQLite, `synchronous = FULL` and `NORMAL`).
//! `INGEST_DOCS` (default 10000) documents per run. PostgreSQL: `INGEST_DATABASE_URL=postgres://
//! user@host:port/db` (a role that may create databases: each run gets a database of its own,
//! dropped at the end). `INGEST_LOG` is the server's log filter (default `info`, as in production:
//! one access-log line per request, written to a file). `INGEST_PROFILE=single|batch|healthz`
//! runs only that kind (after printing the server's pid and pausing 3 s, for `perf record -p`);
//! `INGEST_BATCH_CLIENTS` (default 2) is the number of batch clients of that run.

use std::future::Future;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rainbownet::audit::Actor;
use rainbownet::clock::{Clock, SystemClock};
use rainbownet::config::{Settings, Synchronous};
use rainbownet::startup::Application;
use serde_json::{Value, json};
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

const FACILITY: &str = "2310000011";
const CLIENTS: usize = 64;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/fhir/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// Trims a fixture to the clinical core (no telecom, address, profile or coding noise), so that
/// the documents are 2–4 KB, the size the issue asks for.
fn trim(mut d: Value) -> Value {
    if let Some(obj) = d.as_object_mut() {
        obj.remove("meta");
    }
    for e in d["entry"].as_array_mut().into_iter().flatten() {
        let r = &mut e["resource"];
        let composition = r["resourceType"] == "Composition";
        if let Some(obj) = r.as_object_mut() {
            for k in ["telecom", "address", "meta", "extension", "clinicalStatus"] {
                obj.remove(k);
            }
            if composition {
                obj.remove("identifier");
            }
        }
        // `get_mut`, not `r["section"]`: indexing a Value mutably adds a null member, which
        // the structural validation rightly refuses (section is no element of a Patient).
        for s in r
            .get_mut("section")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(obj) = s.as_object_mut() {
                obj.remove("code");
            }
        }
        for k in ["code", "medicationCodeableConcept"] {
            if let Some(obj) = r.get_mut(k).and_then(Value::as_object_mut)
                && obj.contains_key("text")
            {
                obj.remove("coding");
            }
        }
    }
    d
}

/// Document i (JSON text): a patient summary or a collection, each with its own identifier and
/// a little text of its own, so that no two are alike.
fn document(i: usize, summary: &Value, collection: &Value) -> String {
    let even = i.is_multiple_of(2);
    let mut d = if even {
        summary.clone()
    } else {
        collection.clone()
    };
    d["identifier"]["value"] = json!(format!("{FACILITY}^2026^BENCH{i:08}"));
    if even {
        d["entry"][0]["resource"]["section"][0]["text"]["div"] = json!(format!(
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><ul><li>2型糖尿病（第{i}回外来）</li><li>陳旧性心筋梗塞</li></ul></div>"
        ));
    }
    d.to_string()
}

// ---------------------------------------------------------------------------------------------
// Process figures from /proc.

/// Peak RSS (VmHWM) of a process in kB.
fn peak_rss_kb(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Starts a new peak (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
fn reset_peak(pid: &str) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// User + system CPU time of a process, in seconds (clock ticks of 1/100 s).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the state field.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The server: a child process running the application.

/// What the child prints once it is ready.
#[derive(serde::Serialize, serde::Deserialize)]
struct Ready {
    port: u16,
    key: String,
    login_id: String,
}

/// Child mode: the application on `INGEST_SERVE_URL` (data in `INGEST_SERVE_DIR`) with the
/// sending facility, its API key and a user account in place; prints [`Ready`] and serves until
/// its standard input closes.
async fn serve() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let dir = PathBuf::from(var("INGEST_SERVE_DIR"));
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.paths.data_dir = dir.clone();
    settings.jobs.enabled = false;
    settings.log.filter = std::env::var("INGEST_LOG").unwrap_or_else(|_| "info".into());
    settings.database.url = var("INGEST_SERVE_URL");
    settings.database.synchronous = if var("INGEST_SERVE_SYNC") == "normal" {
        Synchronous::Normal
    } else {
        Synchronous::Full
    };
    // The log-in throttle off: every attempt of the flood below costs a full argon2
    // verification, the worst case (a flood from many addresses, each below its limit).
    settings.security.throttle.per_address_max = 0;
    settings.security.throttle.global_max = 0;
    // As `rainbownet serve` does (cli::init_tracing), into a file of the run.
    let log = std::fs::File::create(dir.join("server.log")).expect("log file");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&settings.log.filter))
        .with_writer(Mutex::new(std::io::BufWriter::new(log)))
        .with_ansi(false)
        .try_init();
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .expect("app");
    let port = app.port();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    let now = SystemClock.now();
    let bench = Actor::system("bench");
    let facility = rainbownet::facilities::NewFacility::minimal(
        rainbownet::facilities::FacilityCode::parse(FACILITY).expect("code"),
        "きよす内科クリニック",
        rainbownet::facilities::FacilityKind::Clinic,
    );
    rainbownet::facilities::add(&state.db, &facility, &bench, now)
        .await
        .expect("facility");
    let (_, key) = rainbownet::records::create_api_key(&state.db, FACILITY, "bench", &bench, now)
        .await
        .expect("key");
    let spec = rainbownet::accounts::service::AccountSpec::new(
        None,
        "総当たり 対象",
        rainbownet::auth::Role::User,
        Some(FACILITY),
    );
    let victim = rainbownet::accounts::service::create_account(&state.db, &spec, &bench, now)
        .await
        .expect("account");
    let ready = Ready {
        port,
        key,
        login_id: victim.login_id,
    };
    let mut out = std::io::stdout();
    writeln!(out, "{}", serde_json::to_string(&ready).expect("ready")).expect("stdout");
    out.flush().expect("stdout");
    // Serve until the bench closes our standard input (or ends).
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await;
    std::process::exit(0);
}

/// A running server child.
struct Server {
    child: std::process::Child,
    pid: String,
    base: String,
    key: String,
    login_id: String,
    db_url: String,
}

impl Server {
    async fn start(dir: &Path, db_url: &str, sync: &str) -> Server {
        std::fs::create_dir_all(dir).expect("server dir");
        let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
            .env("INGEST_SERVE", "1")
            .env("INGEST_SERVE_DIR", dir)
            .env("INGEST_SERVE_URL", db_url)
            .env("INGEST_SERVE_SYNC", sync)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("server process");
        let stdout = child.stdout.take().expect("child stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .expect("ready line");
            line
        })
        .await
        .expect("ready");
        let ready: Ready = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "server did not start ({e}): {line}; see {}",
                dir.join("server.log").display()
            )
        });
        let server = Server {
            pid: child.id().to_string(),
            child,
            base: format!("http://127.0.0.1:{}", ready.port),
            key: ready.key,
            login_id: ready.login_id,
            db_url: db_url.to_string(),
        };
        let res = reqwest::Client::new()
            .post(format!("{}/api/fhir/Consent", server.base))
            .bearer_auth(&server.key)
            .header("content-type", "application/fhir+json")
            .body(fixture("consent_all.json").to_string())
            .send()
            .await
            .expect("consent");
        assert_eq!(res.status(), 201);
        server
    }

    /// Documents in the server's database (read beside it, through a connection of our own).
    async fn stored(&self) -> usize {
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.db_url)
            .await
            .expect("count connection");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        n as usize
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/// One measured run: a row of the report.
struct Row {
    name: String,
    items: usize,
    secs: f64,
    /// Sorted request latencies (empty for the baselines).
    latencies: Vec<Duration>,
    server_cpu: Option<f64>,
    bench_cpu: f64,
    server_peak_kb: Option<u64>,
    bench_peak_kb: u64,
    load: String,
    /// Whether the rate is compared with the baselines (documents, not /healthz).
    docs: bool,
}

impl Row {
    fn rate(&self) -> f64 {
        self.items as f64 / self.secs
    }

    fn pct(&self, p: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        Some(self.latencies[i - 1].as_secs_f64() * 1000.0)
    }
}

/// Measures `work` (which returns the items done and the request latencies), with the CPU time
/// and peak RSS of this process and of the server, if any.
async fn measure<Fut>(name: &str, server: Option<&Server>, docs: bool, work: Fut) -> Row
where
    Fut: Future<Output = (usize, Vec<Duration>)>,
{
    let me = std::process::id().to_string();
    let load = loadavg();
    reset_peak(&me);
    let server_pid = server.map(|s| s.pid.clone());
    if let Some(pid) = &server_pid {
        reset_peak(pid);
    }
    let cpu_before = (cpu_secs(&me), server_pid.as_deref().map(cpu_secs));
    let start = Instant::now();
    let (items, mut latencies) = work.await;
    let secs = start.elapsed().as_secs_f64();
    latencies.sort();
    let row = Row {
        name: name.to_string(),
        items,
        secs,
        latencies,
        server_cpu: server_pid
            .as_deref()
            .map(cpu_secs)
            .zip(cpu_before.1)
            .map(|(a, b)| a - b),
        bench_cpu: cpu_secs(&me) - cpu_before.0,
        server_peak_kb: server_pid.as_deref().map(peak_rss_kb),
        bench_peak_kb: peak_rss_kb(&me),
        load,
        docs,
    };
    eprintln!(
        "  {name}: {:.0}/s (p99 {:.1} ms, load {})",
        row.rate(),
        row.pct(0.99).unwrap_or(0.0),
        row.load
    );
    row
}

/// `clients` tasks take items from a shared queue and run `request` on each, until the queue is
/// empty; returns the count and every request's latency.
async fn load<T, F, Fut>(clients: usize, items: Vec<T>, request: F) -> (usize, Vec<Duration>)
where
    T: Send + 'static,
    F: Fn(reqwest::Client, T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let n = items.len();
    let queue = Arc::new(Mutex::new(items.into_iter()));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, queue, request) = (client.clone(), queue.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().expect("queue").next();
                let Some(item) = next else { break };
                let t = Instant::now();
                request(client.clone(), item).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    (n, all)
}

async fn single(s: &Server, bodies: Vec<String>, clients: usize) -> (usize, Vec<Duration>) {
    let url = format!("{}/api/fhir/Bundle", s.base);
    let key = s.key.clone();
    load(clients, bodies, move |client, body| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let res = client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/fhir+json")
                .body(body)
                .send()
                .await
                .expect("send");
            let status = res.status();
            assert_eq!(status, 201, "{}", res.text().await.unwrap_or_default());
        }
    })
    .await
}

/// The request bodies of batches of `size` documents: built before the clock starts, as the
/// single documents are (building 60 MB of text is the load generator's work, not the server's).
fn batches(docs: &[String], size: usize) -> Batches {
    let bodies = docs
        .chunks(size)
        .map(|c| {
            let entries: Vec<String> = c
                .iter()
                .map(|d| {
                    format!(r#"{{"resource":{d},"request":{{"method":"POST","url":"Bundle"}}}}"#)
                })
                .collect();
            format!(
                r#"{{"resourceType":"Bundle","type":"batch","entry":[{}]}}"#,
                entries.join(",")
            )
        })
        .collect();
    Batches {
        docs: docs.len(),
        bodies,
    }
}

struct Batches {
    docs: usize,
    bodies: Vec<String>,
}

async fn batch(s: &Server, batches: Batches, clients: usize) -> (usize, Vec<Duration>) {
    let Batches { docs, bodies } = batches;
    let url = format!("{}/api/fhir", s.base);
    let key = s.key.clone();
    let (_, latencies) = load(clients, bodies, move |client, body| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let res = client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/fhir+json")
                .body(body)
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), 200);
            let v: Value = res.json().await.expect("json");
            let all_created = v["entry"]
                .as_array()
                .is_some_and(|e| e.iter().all(|e| e["response"]["status"] == "201 Created"));
            assert!(all_created, "every entry stored");
        }
    })
    .await;
    (docs, latencies)
}

async fn healthz(s: &Server, n: usize, clients: usize) -> (usize, Vec<Duration>) {
    let url = format!("{}/healthz", s.base);
    load(clients, vec![(); n], move |client, ()| {
        let url = url.clone();
        async move {
            let res = client.get(&url).send().await.expect("send");
            assert_eq!(res.status(), 200);
            let _ = res.bytes().await;
        }
    })
    .await
}

/// The raw baseline: the same JSON texts inserted into a plain table of a fresh database of the
/// same kind (SQLite WAL with `synchronous` as given, or PostgreSQL), through sqlx Any,
/// 1,000 per transaction, `per_statement` rows in each INSERT.
async fn baseline(url: &str, sqlite_sync: &str, bodies: &[String], per_statement: usize) -> usize {
    let pragma = format!("PRAGMA synchronous = {sqlite_sync}");
    let sqlite = url.starts_with("sqlite:");
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            let pragma = pragma.clone();
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute(sqlx::AssertSqlSafe(pragma)).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .expect("baseline db");
    let id = if sqlite {
        "INTEGER PRIMARY KEY"
    } else {
        "BIGSERIAL PRIMARY KEY"
    };
    pool.execute(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE docs (id {id}, identifier TEXT NOT NULL, content TEXT NOT NULL)"
    )))
    .await
    .expect("table");
    for (n, chunk) in bodies.chunks(1000).enumerate() {
        let mut tx = pool.begin().await.expect("begin");
        for (m, rows) in chunk.chunks(per_statement).enumerate() {
            let values: Vec<String> = (0..rows.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "INSERT INTO docs (identifier, content) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, b) in rows.iter().enumerate() {
                q = q.bind(format!("{n}-{m}-{i}")).bind(b.as_str());
            }
            q.execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    pool.close().await;
    bodies.len()
}

/// Databases of the runs: SQLite files under the temporary directory, or databases created on
/// the PostgreSQL server of `INGEST_DATABASE_URL` (and dropped at the end).
struct Databases {
    pg: Option<reqwest::Url>,
    dir: PathBuf,
    created: Vec<String>,
}

impl Databases {
    async fn new_url(&mut self, name: &str) -> String {
        match &self.pg {
            None => format!("sqlite://{}/{name}.db?mode=rwc", self.dir.display()),
            Some(admin) => {
                let db = format!("ingest_{}_{name}", std::process::id());
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(admin.as_str())
                    .await
                    .expect("postgres");
                pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                    .await
                    .expect("create database");
                pool.close().await;
                self.created.push(db.clone());
                let mut url = admin.clone();
                url.set_path(&format!("/{db}"));
                url.to_string()
            }
        }
    }

    async fn drop_all(&self) {
        let Some(admin) = &self.pg else { return };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(admin.as_str())
            .await
            .expect("postgres");
        for db in &self.created {
            let _ = pool
                .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
                .await;
        }
        pool.close().await;
    }
}

/// `clients` clients posting a wrong password to `/login` (with the pre-session cookie and the
/// form token of the log-in page, as a browser would) until `stop`; each answer must be the refusal (401).
fn flood_logins(
    base: &str,
    login_id: &str,
    clients: usize,
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|_| {
            let (base, login_id) = (base.to_string(), login_id.to_string());
            let (stop, attempts) = (stop.clone(), attempts.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("client");
                let res = client
                    .get(format!("{base}/login"))
                    .send()
                    .await
                    .expect("login page");
                let cookie = res
                    .cookies()
                    .find(|c| c.name() == "rn_csrf")
                    .map(|c| c.value().to_string())
                    .expect("csrf cookie");
                // The form token is on the page (bound to the cookie the server signed).
                let page = res.text().await.expect("login page");
                let marker = "name=\"csrf_token\" value=\"";
                let start = page.find(marker).expect("form token") + marker.len();
                let token = page[start..].split('"').next().unwrap_or("").to_string();
                while !stop.load(Ordering::Relaxed) {
                    let res = client
                        .post(format!("{base}/login"))
                        .header("cookie", format!("rn_csrf={cookie}"))
                        .form(&[
                            ("login_id", login_id.as_str()),
                            ("password", "Wrong2026pass"),
                            ("csrf_token", token.as_str()),
                        ])
                        .send()
                        .await
                        .expect("login");
                    assert_eq!(res.status(), 401, "a wrong password is refused");
                    attempts.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

fn mb(kb: u64) -> String {
    format!("{:.0}", kb as f64 / 1024.0)
}

fn report(title: &str, rows: &[Row], base_raw: f64, base_multi: f64) {
    println!();
    println!("{title}");
    println!();
    println!(
        "| path | docs/s | × raw | × multi-row | p50 / p95 / p99 ms | server CPU µs/doc | bench CPU µs/doc | server peak MB | bench peak MB | load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let ratio = |b: f64| {
            if r.docs {
                format!("{:.2}", r.rate() / b)
            } else {
                "–".into()
            }
        };
        let lat = match (r.pct(0.5), r.pct(0.95), r.pct(0.99)) {
            (Some(a), Some(b), Some(c)) => format!("{a:.1} / {b:.1} / {c:.1}"),
            _ => "–".into(),
        };
        let per = |cpu: f64| format!("{:.0}", cpu * 1e6 / r.items as f64);
        println!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.rate(),
            ratio(base_raw),
            ratio(base_multi),
            lat,
            r.server_cpu.map_or("–".into(), per),
            per(r.bench_cpu),
            r.server_peak_kb.map_or("–".into(), mb),
            mb(r.bench_peak_kb),
            r.load
        );
    }
}

#[tokio::main]
async fn main() {
    if std::env::var_os("INGEST_SERVE").is_some() {
        serve().await;
        return;
    }
    sqlx::any::install_default_drivers();
    rainbownet::tls::install_provider();
    let n: usize = std::env::var("INGEST_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let pg = std::env::var("INGEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|u| reqwest::Url::parse(&u).expect("INGEST_DATABASE_URL"));
    let summary = trim(fixture("patient_summary_60591-5.json"));
    let collection = trim(fixture("collection_clins.json"));
    // Run k gets documents k·n … (k+1)·n − 1, so that no two runs send the same identifier.
    let docs = |k: usize| -> Vec<String> {
        (k * n..(k + 1) * n)
            .map(|i| document(i, &summary, &collection))
            .collect()
    };
    let bodies = docs(0);
    let avg = bodies.iter().map(String::len).sum::<usize>() / bodies.len().max(1);
    let (min, max) = (
        bodies.iter().map(String::len).min().unwrap_or(0),
        bodies.iter().map(String::len).max().unwrap_or(0),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut dbs = Databases {
        pg: pg.clone(),
        dir: dir.path().to_path_buf(),
        created: Vec::new(),
    };
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    eprintln!("ingest benchmark on {backend}, {n} documents per run");
    let mut rows = Vec::new();
    let mut k = 0;
    let mut next_docs = || {
        k += 1;
        docs(k)
    };

    // Baselines first (and again at the end: the machine is shared, the best of each counts).
    let url = dbs.new_url("raw1").await;
    rows.push(
        measure(
            "baseline: raw INSERT, 1 row per statement, 1,000 per transaction",
            None,
            true,
            async { (baseline(&url, "FULL", &bodies, 1).await, Vec::new()) },
        )
        .await,
    );
    let url = dbs.new_url("multi1").await;
    rows.push(
        measure(
            "baseline: raw INSERT, 100 rows per statement, 1,000 per transaction",
            None,
            true,
            async { (baseline(&url, "FULL", &bodies, 100).await, Vec::new()) },
        )
        .await,
    );

    let full = Server::start(&dir.path().join("full"), &dbs.new_url("full").await, "full").await;
    let sync = if pg.is_some() { "" } else { "FULL, " };
    if let Ok(what) = std::env::var("INGEST_PROFILE") {
        // For a profiler attached to the server: its pid, a pause, then one kind of run only.
        eprintln!("server pid {}", full.pid);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let d = next_docs();
        let row = match what.as_str() {
            "batch" => {
                let clients = std::env::var("INGEST_BATCH_CLIENTS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(2);
                let b = batches(&d, 100);
                measure("batch", Some(&full), true, batch(&full, b, clients)).await
            }
            "healthz" => measure("healthz", Some(&full), false, healthz(&full, n, CLIENTS)).await,
            _ => measure("single", Some(&full), true, single(&full, d, CLIENTS)).await,
        };
        report("profile run", &[row], f64::NAN, f64::NAN);
        full.stop();
        dbs.drop_all().await;
        return;
    }
    rows.push(
        measure(
            &format!("ceiling: GET /healthz (no database), {CLIENTS} clients"),
            Some(&full),
            false,
            healthz(&full, 4 * n, CLIENTS),
        )
        .await,
    );
    let full_docs = next_docs();
    rows.push(
        measure(
            &format!("{sync}POST /api/fhir/Bundle, 1 doc/request, {CLIENTS} clients"),
            Some(&full),
            true,
            single(&full, full_docs, CLIENTS),
        )
        .await,
    );
    let full_docs = next_docs();
    rows.push(
        measure(
            &format!("{sync}POST /api/fhir/Bundle, 1 doc/request, 8 clients"),
            Some(&full),
            true,
            single(&full, full_docs, 8),
        )
        .await,
    );
    let full_docs = next_docs();
    rows.push(
        measure(
            &format!("{sync}POST /api/fhir batch, 100 docs/request, 2 clients"),
            Some(&full),
            true,
            batch(&full, batches(&full_docs, 100), 2),
        )
        .await,
    );
    let mut expected_full = 3 * n;

    if pg.is_none() {
        let normal = Server::start(
            &dir.path().join("normal"),
            &dbs.new_url("normal").await,
            "normal",
        )
        .await;
        let d = next_docs();
        rows.push(
            measure(
                &format!("NORMAL, POST /api/fhir/Bundle, 1 doc/request, {CLIENTS} clients"),
                Some(&normal),
                true,
                single(&normal, d, CLIENTS),
            )
            .await,
        );
        let d = next_docs();
        rows.push(
            measure(
                "NORMAL, POST /api/fhir batch, 100 docs/request, 2 clients",
                Some(&normal),
                true,
                batch(&normal, batches(&d, 100), 2),
            )
            .await,
        );
        assert_eq!(
            normal.stored().await,
            2 * n,
            "every acknowledged document is stored"
        );
        normal.stop();
    }

    // Intake (one document per request) alone, under a log-in flood, alone again.
    let d = next_docs();
    let alone_before = measure(
        &format!("{sync}1 doc/request, {CLIENTS} clients, alone (before the flood)"),
        Some(&full),
        true,
        single(&full, d, CLIENTS),
    )
    .await;
    let (stop, attempts) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let flood = flood_logins(
        &full.base,
        &full.login_id,
        20,
        stop.clone(),
        attempts.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flood_start = (Instant::now(), attempts.load(Ordering::Relaxed));
    let d = next_docs();
    let flooded = measure(
        &format!("{sync}1 doc/request, {CLIENTS} clients, while 20 clients post wrong passwords"),
        Some(&full),
        true,
        single(&full, d, CLIENTS),
    )
    .await;
    let login_rate = (attempts.load(Ordering::Relaxed) - flood_start.1) as f64
        / flood_start.0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in flood {
        t.await.expect("flood client");
    }
    let d = next_docs();
    let alone_after = measure(
        &format!("{sync}1 doc/request, {CLIENTS} clients, alone (after the flood)"),
        Some(&full),
        true,
        single(&full, d, CLIENTS),
    )
    .await;
    expected_full += 3 * n;
    let flood_ratio = flooded.rate() / ((alone_before.rate() + alone_after.rate()) / 2.0);
    rows.extend([alone_before, flooded, alone_after]);
    assert_eq!(
        full.stored().await,
        expected_full,
        "every acknowledged document is stored"
    );
    full.stop();

    let url = dbs.new_url("raw2").await;
    rows.push(
        measure(
            "baseline again (after the HTTP runs): 1 row per statement",
            None,
            true,
            async { (baseline(&url, "FULL", &bodies, 1).await, Vec::new()) },
        )
        .await,
    );
    let url = dbs.new_url("multi2").await;
    rows.push(
        measure(
            "baseline again (after the HTTP runs): 100 rows per statement",
            None,
            true,
            async { (baseline(&url, "FULL", &bodies, 100).await, Vec::new()) },
        )
        .await,
    );
    dbs.drop_all().await;

    let best = |pat: &str| {
        rows.iter()
            .filter(|r| r.name.starts_with("baseline") && r.name.contains(pat))
            .map(Row::rate)
            .fold(0.0, f64::max)
    };
    let (base_raw, base_multi) = (best("1 row per"), best("100 rows per"));
    let title = format!(
        "ingest benchmark — {backend}{}, {n} documents per run, {min}–{max} bytes (mean {avg}), {} CPUs, server log filter {}; × against the faster of the two runs of each baseline",
        if pg.is_some() { "" } else { " WAL" },
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1),
        std::env::var("INGEST_LOG").unwrap_or_else(|_| "info".into()),
    );
    report(&title, &rows, base_raw, base_multi);
    println!();
    println!(
        "log-in flood: {login_rate:.0} wrong-password log-ins/s refused; intake under it at {flood_ratio:.2}× its rate alone"
    );
    let single64 = &rows[3];
    let batch100 = &rows[5];
    println!(
        "goals: single ≥ 4,000 docs/s with p99 < 50 ms at {CLIENTS} clients: {:.0} docs/s, p99 {:.1} ms; batch ≥ {} × raw: {:.2}×",
        single64.rate(),
        single64.pct(0.99).unwrap_or(0.0),
        if pg.is_some() { "0.5" } else { "0.9" },
        batch100.rate() / base_raw
    );
}
