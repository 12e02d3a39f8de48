//! A prefecture-sized year, simulated (issue 16, X.5): documents, patients and facilities in the
//! proportions of a prefecture's network (full size: 10,000,000 documents of 2–4 KB a year,
//! 1,000,000 patients, 200 facilities) loaded into PostgreSQL, then the real server measured
//! through its HTTP API and pages with a facility's credentials.
//!
//! Steps (each timed; the load average is printed with every measurement):
//! 1. PostgreSQL: a throwaway cluster of its own (`initdb` in a temporary directory, reached by
//!    its Unix socket; run as the `postgres` user when the bench runs as root), or the database
//!    at `PREFECTURE_DATABASE_URL` (it must be empty: the migrations are run on it).
//! 2. The application is built in-process on it (migrations), the 200 facilities are added, an
//!    API key is issued to the sending facilities, and a facility user account is created,
//!    through the product's own service functions (audited as usual).
//! 3. Load: patients, their local IDs (`patient_links`), their consents (each facility caring
//!    for a patient records its own consent, scope `all` or listed facilities that include the
//!    reading facility, so that its reads are allowed) and the documents, by `COPY`. Every
//!    document is a JP-CLINS-like Bundle (patient summary, discharge summary, health-check report
//!    or a collection) made for its patient and sender and checked by the product's own
//!    `records::fhir::parse_bundle`: its row holds exactly what the intake would store
//!    (identifier, type, title, date, the stored JSON and its hash, `expires_at` from
//!    `records::model::expires_at`). The sending times are spread over the past year so that
//!    one day's worth (≈ N/366) has passed its retention. The secondary indexes and the unique
//!    and foreign-key constraints of the loaded tables are dropped before the load and built
//!    again after it (the definitions are read from the catalogue, so they are the migrations'
//!    own), then `VACUUM ANALYZE`.
//!    Not loaded: the audit chain of the loaded rows (their `records.patient_registered` and
//!    intake events); a real year has one event per document and per read in `audit_events`.
//!    Attachments: none (the referral fixture with its PDF is left out), so no blobs.
//! 4. The real server (`rainbownet serve`, the release binary, jobs off) is started as a process
//!    against the database, and measured with one client, one request at a time (latency):
//!    the patient timeline page (UI, logged in as a facility user), the document page (UI),
//!    `GET /api/fhir/Bundle/{id}`, `GET /api/fhir/Bundle?patient=KR…` (API key) and the
//!    patient list page `/records` — p50/p99 over random patients and documents.
//! 5. Intake: single-document `POST /api/fhir/Bundle` from 16 and from 64 clients to one
//!    instance, then to two instances (two server processes on the same database, half the
//!    clients each), then to one again; docs/s and the two-instance ratio (goal ≥ 1.5×). Each
//!    instance is sent 1,000 documents unmeasured first (a new instance's connections are cold). Once
//!    with every process on both cores, once with each instance held to a core of its own
//!    (`taskset`, the model of instances on separate hosts; PostgreSQL and the clients share
//!    both cores either way).
//! 6. Retention: the `records.retention` job (the same function the scheduler and
//!    `rainbownet job run records.retention` call) over the expired day, then the purge of the
//!    listed documents (`records::purge`, as the administrator's confirmation does).
//! 7. The database size, the largest tables and indexes.
//!
//! Run: `cargo bench --bench prefecture` (release build). Defaults (a few minutes on 2 cores):
//! `PREFECTURE_DOCS=200000 PREFECTURE_PATIENTS=20000 PREFECTURE_FACILITIES=200`; the full size is
//! `PREFECTURE_DOCS=10000000 PREFECTURE_PATIENTS=1000000` (about 20 GB of disk; see README
//! "Running a larger network"). Other knobs: `PREFECTURE_READS` (samples per read measurement,
//! default 400), `PREFECTURE_INTAKE_DOCS` (per intake run, default 3000),
//! `PREFECTURE_INTAKE_CLIENTS` (client counts, default `16,64`),
//! `PREFECTURE_POOL` (connections per instance, default 8), `PREFECTURE_FSYNC=off` (throwaway
//! cluster only), `PREFECTURE_KEEP=1` (leave the throwaway cluster running and print its URL,
//! for EXPLAIN ANALYZE by hand).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rainbownet::audit::Actor;
use rainbownet::clock::{Clock, SystemClock};
use rainbownet::config::Settings;
use rainbownet::db::Timestamp;
use rainbownet::records::fhir;
use rainbownet::records::model::expires_at;
use rainbownet::startup::Application;
use serde_json::{Value, json};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor, Row};

// ---- sizes ----

struct Size {
    docs: u64,
    patients: u64,
    facilities: u64,
    reads: usize,
    intake_docs: usize,
    pool: u32,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

impl Size {
    fn from_env() -> Size {
        let docs = env_u64("PREFECTURE_DOCS", 200_000);
        Size {
            docs,
            patients: env_u64("PREFECTURE_PATIENTS", (docs / 10).max(1)),
            facilities: env_u64("PREFECTURE_FACILITIES", 200).clamp(10, 9_999),
            reads: env_u64("PREFECTURE_READS", 400) as usize,
            intake_docs: env_u64("PREFECTURE_INTAKE_DOCS", 3000) as usize,
            pool: env_u64("PREFECTURE_POOL", 8) as u32,
        }
    }
}

// ---- a deterministic random source (SplitMix64) ----

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from (stream, index).
fn unit(stream: u64, i: u64) -> f64 {
    (mix(mix(stream) ^ i) >> 11) as f64 / (1u64 << 53) as f64
}

fn below(stream: u64, i: u64, n: u64) -> u64 {
    ((unit(stream, i) * n as f64) as u64).min(n.saturating_sub(1))
}

// ---- the network's people ----

const FAMILY: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("清須", "キヨス"),
];
const GIVEN: &[(&str, &str, &str)] = &[
    ("太郎", "タロウ", "male"),
    ("花子", "ハナコ", "female"),
    ("一郎", "イチロウ", "male"),
    ("美咲", "ミサキ", "female"),
    ("健", "ケン", "male"),
    ("陽子", "ヨウコ", "female"),
    ("翔太", "ショウタ", "male"),
    ("由美", "ユミ", "female"),
    ("大輔", "ダイスケ", "male"),
    ("恵子", "ケイコ", "female"),
    ("誠", "マコト", "male"),
    ("直美", "ナオミ", "female"),
    ("浩", "ヒロシ", "male"),
    ("明美", "アケミ", "female"),
    ("隆", "タカシ", "male"),
    ("裕子", "ユウコ", "female"),
];
const CONDITIONS: &[&str] = &[
    "2型糖尿病",
    "高血圧症",
    "脂質異常症",
    "慢性腎臓病",
    "心房細動",
    "陳旧性心筋梗塞",
    "慢性心不全",
    "COPD",
    "骨粗鬆症",
    "脳梗塞後遺症",
    "気管支喘息",
    "変形性膝関節症",
];

/// The network: facilities (index 0 is the reading hospital), each patient's facilities.
struct Network {
    codes: Vec<String>,
    /// Cumulative weights of the facilities (larger hospitals care for more patients).
    cumulative: Vec<f64>,
    patients: u64,
}

impl Network {
    fn new(size: &Size) -> Network {
        let codes = (0..size.facilities)
            .map(|i| format!("23{:08}", 10_000_011 + i * 7))
            .collect();
        let mut cumulative = Vec::new();
        let mut sum = 0.0;
        for i in 0..size.facilities {
            sum += 1.0 / ((i + 1) as f64).powf(0.7);
            cumulative.push(sum);
        }
        for c in &mut cumulative {
            *c /= sum;
        }
        Network {
            codes,
            cumulative,
            patients: size.patients,
        }
    }

    fn pick_facility(&self, u: f64) -> usize {
        self.cumulative
            .partition_point(|c| *c < u)
            .min(self.cumulative.len() - 1)
    }

    /// The facilities caring for patient `p`: the first is the one that registered them; a
    /// second (40 %) and a third (15 %) facility also send documents.
    fn facilities_of(&self, p: u64) -> Vec<usize> {
        let mut out = vec![self.pick_facility(unit(1, p))];
        let extra = match unit(2, p) {
            u if u < 0.15 => 2,
            u if u < 0.40 => 1,
            _ => 0,
        };
        for k in 0..extra {
            let f = self.pick_facility(unit(3 + k, p));
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    /// Scope `all` (85 %) or the facilities listed (the patient's own and the reading hospital).
    fn listed_scope(&self, p: u64) -> bool {
        unit(6, p) >= 0.85
    }

    /// The patient a document belongs to: some patients have many documents, most a few.
    fn patient_of_doc(&self, k: u64) -> u64 {
        ((unit(7, k).powf(1.5) * self.patients as f64) as u64).min(self.patients - 1)
    }

    fn network_id(p: u64) -> String {
        format!("KR{:010}", (p * 7919 + 12_345) % 10_000_000_000)
    }

    fn local_id(p: u64) -> String {
        format!("L{p:09}")
    }

    /// The JP Core Patient resource of patient `p` as facility `code` knows them.
    fn patient_resource(p: u64, code: &str) -> Value {
        let (family, fkana) = FAMILY[below(10, p, FAMILY.len() as u64) as usize];
        let (given, gkana, gender) = GIVEN[below(11, p, GIVEN.len() as u64) as usize];
        let birth = 1930 + below(12, p, 90);
        let ext = |code: &str| json!([{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": code}]);
        json!({
            "resourceType": "Patient",
            "identifier": [{"system": format!("{}{code}", fhir::LOCAL_ID_SYSTEM_PREFIX), "value": Self::local_id(p)}],
            "name": [
                {"extension": ext("IDE"), "use": "official", "text": format!("{family} {given}"), "family": family, "given": [given]},
                {"extension": ext("SYL"), "use": "official", "text": format!("{fkana} {gkana}"), "family": fkana, "given": [gkana]}
            ],
            "gender": gender,
            "birthDate": format!("{birth}-{:02}-{:02}", 1 + below(13, p, 12), 1 + below(14, p, 28)),
        })
    }
}

// ---- the documents ----

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/fhir/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// Trims a fixture to the clinical core (as `benches/ingest.rs` does), so that the documents
/// are 2–4 KB.
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
        // the intake's structural validation refuses on any resource but a Composition.
        let sections = r.get_mut("section").and_then(Value::as_array_mut);
        for s in sections.into_iter().flatten() {
            if let Some(obj) = s.as_object_mut() {
                obj.remove("code");
            }
        }
    }
    d
}

struct Templates(Vec<Value>);

impl Templates {
    fn load() -> Templates {
        Templates(
            [
                "patient_summary_60591-5.json",
                "discharge_summary_18842-5.json",
                "checkup_report_53576-5.json",
                "collection_clins.json",
            ]
            .iter()
            .map(|n| trim(fixture(n)))
            .collect(),
        )
    }

    /// Document `k` of patient `p` from facility `code`, sent at `sent` (its clinical date
    /// 0–3 days earlier), as the intake parses and stores it.
    fn document(
        &self,
        k: u64,
        tag: &str,
        p: u64,
        code: &str,
        sent: Timestamp,
    ) -> fhir::ParsedDocument {
        let mut d = self.0[below(20, k, self.0.len() as u64) as usize].clone();
        let zoned = sent.as_jiff().to_zoned(rainbownet::db::tokyo());
        let clinical = zoned
            .checked_sub(jiff::Span::new().days(below(21, k, 4) as i64))
            .unwrap_or(zoned.clone());
        let when = clinical.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        d["identifier"] = json!({"system": "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier",
            "value": format!("{code}^{}^{tag}{k:010}", zoned.year())});
        d["timestamp"] = json!(when);
        let patient = Network::patient_resource(p, code);
        let c1 = CONDITIONS[below(22, k, CONDITIONS.len() as u64) as usize];
        let c2 = CONDITIONS[below(23, k, CONDITIONS.len() as u64) as usize];
        for e in d["entry"].as_array_mut().into_iter().flatten() {
            let r = &mut e["resource"];
            match r["resourceType"].as_str() {
                Some("Patient") => {
                    let id = r.get("id").cloned();
                    *r = patient.clone();
                    if let Some(id) = id {
                        r["id"] = id;
                    }
                }
                Some("Composition") => {
                    r["date"] = json!(when);
                    if let Some(s) = r["section"].get_mut(0) {
                        s["text"]["div"] = json!(format!(
                            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><ul><li>{c1}</li><li>{c2}</li><li>受診 {}</li></ul></div>",
                            clinical.strftime("%Y年%m月%d日")
                        ));
                    }
                }
                Some("Condition") => {
                    r["code"] = json!({"text": c1});
                }
                _ => {}
            }
        }
        fhir::parse_bundle(d, code, 1000).expect("a generated document the intake accepts")
    }
}

// ---- COPY text format ----

fn field(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

fn row(out: &mut Vec<u8>, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        if *f == "\\N" {
            out.extend_from_slice(b"\\N");
        } else {
            field(out, f);
        }
    }
    out.push(b'\n');
}

// ---- PostgreSQL ----

struct Pg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    keep: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn pg_bin() -> PathBuf {
    if let Ok(b) = std::env::var("PREFECTURE_PG_BIN") {
        return b.into();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("PostgreSQL server binaries (initdb): install postgresql or set PREFECTURE_PG_BIN")
}

impl Pg {
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn start(fsync: bool) -> Pg {
        let dir = tempfile::Builder::new()
            .prefix("prefecture-pg")
            .tempdir()
            .expect("temp dir");
        let pg = Pg {
            dir,
            bin: pg_bin(),
            keep: std::env::var("PREFECTURE_KEEP").is_ok_and(|v| v == "1"),
        };
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres"])
                .arg(pg.dir.path())
                .status()
                .expect("chown");
            assert!(ok.success(), "chown postgres on the cluster directory");
        }
        let data = pg.dir.path().join("data");
        let ok = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("initdb");
        assert!(ok.success(), "initdb");
        // The settings README "Running a larger network" recommends, scaled to this machine.
        let options = format!(
            "-c listen_addresses='' -k {} -p 5432 -c max_connections=100 -c shared_buffers=1GB \
             -c effective_cache_size=4GB -c work_mem=16MB -c maintenance_work_mem=512MB \
             -c max_wal_size=8GB -c checkpoint_timeout=30min -c random_page_cost=1.1 \
             -c fsync={} -c synchronous_commit={}",
            pg.dir.path().display(),
            if fsync { "on" } else { "off" },
            if fsync { "on" } else { "off" },
        );
        let ok = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(pg.dir.path().join("log"))
            .args(["-w", "-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl start");
        assert!(
            ok.success(),
            "pg_ctl start (see the log in the cluster directory)"
        );
        pg
    }

    /// The postmaster's pid (first line of `postmaster.pid`).
    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("data").join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost/postgres?host={}&port=5432",
            self.dir.path().display()
        )
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if self.keep {
            println!("cluster kept running: {}", self.url());
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            let _ = dir.keep();
            return;
        }
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }
}

// ---- measurement helpers ----

/// User + system CPU seconds of process `pid` (clock ticks of 1/100 s), and its parent's pid.
/// CPU seconds of a process, its parent's pid, and the CPU seconds of its children that have
/// ended (and were waited for).
fn proc_cpu(pid: u32) -> Option<(f64, u32, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // state is field 3 of stat: ppid 4, utime 14, stime 15, cutime 16, cstime 17.
    Some((
        (n(11) + n(12)) as f64 / 100.0,
        n(1) as u32,
        (n(13) + n(14)) as f64 / 100.0,
    ))
}

/// CPU seconds of `root` and its children (a PostgreSQL postmaster and its backends), those
/// that have ended included: a backend of a stopped instance leaves the live tree but its time
/// stays in the postmaster's children's total (without it a run after an instance stopped
/// showed a negative PostgreSQL share).
fn tree_cpu(root: u32) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (cpu, ppid, ended) = proc_cpu(pid)?;
            if pid == root {
                Some(cpu + ended)
            } else {
                (ppid == root).then_some(cpu)
            }
        })
        .sum()
}

/// Where an intake run's CPU went: the instances, PostgreSQL (when its postmaster is known)
/// and the clients (this process), each in µs per document, and the machine's share used.
struct CpuSplit {
    start: Instant,
    servers: Vec<u32>,
    pg: Option<u32>,
    before: (f64, f64, f64),
}

impl CpuSplit {
    fn read(servers: &[u32], pg: Option<u32>) -> (f64, f64, f64) {
        let app = servers
            .iter()
            .filter_map(|p| proc_cpu(*p))
            .map(|c| c.0)
            .sum();
        (
            app,
            pg.map_or(0.0, tree_cpu),
            proc_cpu(std::process::id()).map_or(0.0, |c| c.0),
        )
    }

    fn start(servers: &[&Server], pg: Option<u32>) -> CpuSplit {
        let servers: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
        let before = Self::read(&servers, pg);
        CpuSplit {
            start: Instant::now(),
            servers,
            pg,
            before,
        }
    }

    fn finish(&self, docs: usize) -> String {
        let wall = self.start.elapsed().as_secs_f64();
        let after = Self::read(&self.servers, self.pg);
        let (app, pg, clients) = (
            after.0 - self.before.0,
            after.1 - self.before.1,
            after.2 - self.before.2,
        );
        let per = |s: f64| s * 1e6 / docs as f64;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let pg_text = if self.pg.is_some() {
            format!("{:.0}", per(pg))
        } else {
            "–".into()
        };
        format!(
            "CPU µs/doc: instances {:.0}, PostgreSQL {pg_text}, clients {:.0}; {:.0} % of the machine",
            per(app),
            per(clients),
            100.0 * (app + pg + clients) / wall / cores
        )
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct Report {
    lines: Vec<String>,
}

impl Report {
    fn step(&mut self, name: &str, d: Duration, extra: &str) {
        let line = format!(
            "{name:<58} {:>9.2} s  {extra}  (load {})",
            d.as_secs_f64(),
            load_average()
        );
        println!("{line}");
        self.lines.push(line);
    }

    fn latency(&mut self, name: &str, mut samples: Vec<Duration>) {
        samples.sort();
        let pct = |q: f64| {
            samples
                .get(((samples.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0
            / samples.len().max(1) as f64;
        let line = format!(
            "{name:<58} p50 {:>7.1} ms  p99 {:>7.1} ms  mean {:>6.1} ms  max {:>7.1} ms  n={}  (load {})",
            pct(0.50),
            pct(0.99),
            mean,
            pct(1.0),
            samples.len(),
            load_average()
        );
        println!("{line}");
        self.lines.push(line);
    }

    fn note(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
}

// ---- the server processes ----

struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Holds every thread of the server (and those it starts later) to the CPUs in `cpus`
    /// ("0", "1", "0,1").
    fn pin(&self, cpus: &str) {
        let ok = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &self.child.id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "taskset -a -p -c {cpus} (util-linux) failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn serve(dir: &Path, name: &str, url: &str, size: &Size) -> Server {
    let port = free_port();
    let config = dir.join(format!("{name}.toml"));
    let toml = format!(
        "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
         [database]\nurl = \"{url}\"\nmax_connections = {}\n\
         [paths]\ndata_dir = \"{}\"\n[jobs]\nenabled = false\n[log]\nfilter = \"warn\"\n",
        size.pool,
        dir.join("data").display()
    );
    std::fs::write(&config, toml).expect("config");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("rainbownet serve");
    // Stopped by Drop on every path, also when it never becomes ready.
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
            && r.status() == 200
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server {name} did not become ready (see {name}.log)");
}

/// A browser-like session: the log-in page's form token, the log-in with the one-time password,
/// the forced password change.
async fn log_in(base: &str, login_id: &str, otp: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let token = |page: &str| {
        let marker = "name=\"csrf_token\" value=\"";
        let start = page.find(marker).expect("form token") + marker.len();
        page[start..].split('"').next().unwrap_or("").to_string()
    };
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("login page");
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("login_id", login_id),
            ("password", otp),
            ("csrf_token", &token(&page)),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303, "log-in with the one-time password");
    let page = client
        .get(format!("{base}/account/password"))
        .send()
        .await
        .expect("password page")
        .text()
        .await
        .expect("password page");
    let password = "Prefecture2026rainbow";
    let res = client
        .post(format!("{base}/account/password"))
        .form(&[
            ("current_password", otp),
            ("new_password", password),
            ("confirm_password", password),
            ("csrf_token", &token(&page)),
        ])
        .send()
        .await
        .expect("password change");
    assert_eq!(res.status(), 303, "password change");
    client
}

async fn timed_get(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    samples: &mut Vec<Duration>,
) -> String {
    let start = Instant::now();
    let mut req = client.get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.expect("GET");
    let status = res.status();
    let body = res.text().await.expect("body");
    samples.push(start.elapsed());
    assert_eq!(
        status,
        200,
        "GET {url}: {}",
        body.chars().take(300).collect::<String>()
    );
    body
}

/// Single-document intake from `clients` clients spread over `bases`; docs/s.
/// Documents sent to an instance, unmeasured, before it is measured.
const WARM_DOCS: usize = 1000;

/// Sends [`WARM_DOCS`] of `docs` to `server` with `clients` clients, unmeasured. A fresh
/// instance's first requests pay for its database connections (a PostgreSQL backend each, its
/// catalogue caches, every statement prepared once per connection): measured cold, a 3,000-document
/// run of a new second instance showed 300–500 µs of PostgreSQL CPU per document against ~75 µs
/// once warm. Instances of a network run for days, so each is measured warm.
async fn warm(
    server: &Server,
    keys: &HashMap<String, String>,
    mut docs: Vec<(String, String)>,
    clients: usize,
) {
    docs.truncate(WARM_DOCS);
    intake(std::slice::from_ref(&server.base), keys, docs, clients).await;
}

async fn intake(
    bases: &[String],
    keys: &HashMap<String, String>,
    docs: Vec<(String, String)>,
    clients: usize,
) -> f64 {
    let http = reqwest::Client::new();
    let n = docs.len();
    let queue = Arc::new(tokio::sync::Mutex::new(docs.into_iter()));
    let keys = Arc::new(keys.clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, queue, keys) = (http.clone(), queue.clone(), keys.clone());
        let url = format!("{}/api/fhir/Bundle", bases[c % bases.len()]);
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((code, body)) = queue.lock().await.next() else {
                    break;
                };
                let res = http
                    .post(&url)
                    .bearer_auth(&keys[&code])
                    .header("content-type", "application/fhir+json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                let status = res.status();
                assert_eq!(status, 201, "{}", res.text().await.unwrap_or_default());
            }
        }));
    }
    for t in tasks {
        t.await.expect("intake client");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

// ---- the load ----

/// The loaded tables, in load order.
const TABLES: &[&str] = &[
    "patients",
    "patient_links",
    "consents",
    "consent_facilities",
    "documents",
    "document_search",
    "document_tokens",
];

/// Drops the secondary indexes and the unique and foreign-key constraints of the loaded
/// tables; returns the statements that build them again.
async fn drop_indexes(conn: &mut PgConnection) -> Vec<String> {
    let list = TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(",");
    let mut rebuild = Vec::new();
    let constraints = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) AS def, c.contype::text AS kind
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
         WHERE t.relname IN ({list}) AND c.contype IN ('u', 'f') ORDER BY c.contype"
    )))
    .fetch_all(&mut *conn)
    .await
    .expect("constraints");
    let indexes = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ({list})
           AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )))
    .fetch_all(&mut *conn)
    .await
    .expect("indexes");
    // Foreign keys first ('f' < 'u': they may lean on a unique constraint), unique ones after.
    let mut drops = Vec::new();
    for c in &constraints {
        let (name, table, def): (String, String, String) =
            (c.get("conname"), c.get("relname"), c.get("def"));
        drops.push(format!("ALTER TABLE {table} DROP CONSTRAINT {name}"));
        rebuild.push(format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"));
    }
    for i in &indexes {
        let (name, def): (String, String) = (i.get("indexname"), i.get("indexdef"));
        drops.push(format!("DROP INDEX {name}"));
        rebuild.insert(0, def);
    }
    for d in drops {
        conn.execute(sqlx::AssertSqlSafe(d)).await.expect("drop");
    }
    // Unique constraints before the foreign keys that may depend on them.
    rebuild.sort_by_key(|s| s.contains("FOREIGN KEY"));
    rebuild
}

async fn copy(conn: &mut PgConnection, statement: &str, data: &[u8]) {
    let mut c = conn.copy_in_raw(statement).await.expect("COPY statement");
    c.send(data).await.expect("COPY data");
    c.finish().await.expect("COPY finish");
}

/// One generator chunk: the COPY text of its documents and of their search rows.
struct Chunk {
    documents: Vec<u8>,
    search: Vec<u8>,
    tokens: Vec<u8>,
    /// Smallest, largest and total document size.
    sizes: (usize, usize, u64),
    expired: u64,
}

struct Loaded {
    patient_base: i64,
    doc_base: i64,
    expired_day: u64,
    doc_bytes: (usize, usize, u64),
}

#[allow(clippy::too_many_arguments)]
async fn load(
    conn: &mut PgConnection,
    size: &Size,
    net: &Arc<Network>,
    templates: &Arc<Templates>,
    facility_ids: Vec<i64>,
    now: Timestamp,
    report: &mut Report,
) -> Loaded {
    let base = |table: &str| format!("SELECT COALESCE(MAX(id), 0) AS m FROM {table}");
    let patient_base: i64 = sqlx::query(sqlx::AssertSqlSafe(base("patients")))
        .fetch_one(&mut *conn)
        .await
        .expect("max")
        .get("m");
    let doc_base: i64 = sqlx::query(sqlx::AssertSqlSafe(base("documents")))
        .fetch_one(&mut *conn)
        .await
        .expect("max")
        .get("m");
    let consent_base: i64 = sqlx::query(sqlx::AssertSqlSafe(base("consents")))
        .fetch_one(&mut *conn)
        .await
        .expect("max")
        .get("m");

    let t = Instant::now();
    let rebuild = drop_indexes(conn).await;
    report.step(
        "drop indexes and constraints of the loaded tables",
        t.elapsed(),
        "",
    );

    // Patients, their local IDs and consents, registered 400 days ago.
    let t = Instant::now();
    let registered = now.minus(jiff::SignedDuration::from_hours(24 * 400));
    let reg = registered.to_db();
    let signed_on = registered
        .as_jiff()
        .to_zoned(rainbownet::db::tokyo())
        .date()
        .to_string();
    let (mut patients, mut links, mut consents, mut listed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut consent_id = consent_base;
    for p in 0..size.patients {
        let id = (patient_base + 1 + p as i64).to_string();
        let facilities = net.facilities_of(p);
        let first = &net.codes[facilities[0]];
        let info =
            fhir::patient_info(&Network::patient_resource(p, first), first).expect("patient");
        row(
            &mut patients,
            &[
                &id,
                &Network::network_id(p),
                &info.name,
                &info.kana,
                &info.birth_date,
                &info.gender,
                &reg,
            ],
        );
        let listed_scope = net.listed_scope(p);
        for f in &facilities {
            let fid = facility_ids[*f].to_string();
            row(&mut links, &[&id, &fid, &Network::local_id(p), &reg]);
            consent_id += 1;
            let by = format!("apikey:1:{}", net.codes[*f]);
            row(
                &mut consents,
                &[
                    &consent_id.to_string(),
                    &id,
                    &fid,
                    &signed_on,
                    if listed_scope { "listed" } else { "all" },
                    "\\N",
                    "\\N",
                    &reg,
                    &by,
                    "facility",
                ],
            );
            if listed_scope {
                let mut scope: Vec<usize> = facilities.iter().copied().filter(|g| g != f).collect();
                if !scope.contains(&0) && *f != 0 {
                    scope.push(0);
                }
                for g in scope {
                    row(
                        &mut listed,
                        &[&consent_id.to_string(), &facility_ids[g].to_string()],
                    );
                }
            }
        }
    }
    copy(
        conn,
        "COPY patients (id, network_id, name, kana, birth_date, gender, created_at) FROM STDIN",
        &patients,
    )
    .await;
    copy(
        conn,
        "COPY patient_links (patient_id, facility_id, local_id, created_at) FROM STDIN",
        &links,
    )
    .await;
    copy(
        conn,
        "COPY consents (id, patient_id, facility_id, signed_on, scope, scan_hash, scan_content_type, recorded_at, recorded_by, owner_kind) FROM STDIN",
        &consents,
    )
    .await;
    copy(
        conn,
        "COPY consent_facilities (consent_id, facility_id) FROM STDIN",
        &listed,
    )
    .await;
    report.step(
        &format!(
            "load {} patients, their local IDs and consents (COPY)",
            size.patients
        ),
        t.elapsed(),
        "",
    );

    // Documents: sent over the past year, so that the oldest day's have expired today.
    let today = now.as_jiff().to_zoned(rainbownet::db::tokyo()).date();
    let oldest = today
        .checked_sub(jiff::Span::new().years(1).days(1))
        .expect("date");
    let start: Timestamp = oldest
        .to_zoned(rainbownet::db::tokyo())
        .expect("zoned")
        .timestamp()
        .into();
    let span_ms = now.millis() - start.millis();
    let t = Instant::now();
    let chunk = 2_000u64;
    let chunks = size.docs.div_ceil(chunk);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let mut handles = Vec::new();
    for w in 0..workers {
        let (tx, net, templates, facility_ids) = (
            tx.clone(),
            net.clone(),
            templates.clone(),
            facility_ids.clone(),
        );
        let docs = size.docs;
        handles.push(std::thread::spawn(move || {
            let mut c = w;
            while c < chunks {
                let mut out = Vec::with_capacity(chunk as usize * 3500);
                // What the intake writes beside each document (`records::search_keys`), so
                // that FHIR search finds the loaded documents.
                let (mut search, mut tokens) = (Vec::new(), Vec::new());
                let (mut min, mut max, mut sum, mut expired) = (usize::MAX, 0, 0u64, 0u64);
                for k in c * chunk..((c + 1) * chunk).min(docs) {
                    let p = net.patient_of_doc(k);
                    let facilities = net.facilities_of(p);
                    let f = facilities[below(8, k, facilities.len() as u64) as usize];
                    let code = &net.codes[f];
                    let sent = Timestamp::from_millis(
                        start.millis()
                            + ((k as f64 + unit(9, k)) / docs as f64 * span_ms as f64) as i64,
                    )
                    .expect("time");
                    let d = templates.document(k, "Y", p, code, sent);
                    let expires = expires_at(sent);
                    if expires <= now {
                        expired += 1;
                    }
                    let len = d.content.len();
                    (min, max, sum) = (min.min(len), max.max(len), sum + len as u64);
                    let id = (doc_base + 1 + k as i64).to_string();
                    let keys = rainbownet::records::search_keys(&d.content);
                    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "\\N".into());
                    row(
                        &mut search,
                        &[
                            &id,
                            &opt(&keys.timestamp),
                            &opt(&keys.composition_id),
                            &opt(&keys.composition_url),
                            &opt(&keys.composition_subject),
                        ],
                    );
                    for (param, system, code) in &keys.tokens {
                        row(&mut tokens, &[&id, param, system, code]);
                    }
                    row(
                        &mut out,
                        &[
                            &id,
                            &(patient_base + 1 + p as i64).to_string(),
                            &facility_ids[f].to_string(),
                            d.kind.key(),
                            &d.identifier_system,
                            &d.identifier_value,
                            &d.type_code,
                            &d.type_label,
                            &d.title,
                            &d.doc_date,
                            &d.content_hash,
                            "",
                            &format!("\\x{}", hex::encode(&d.packed)),
                            &len.to_string(),
                            &sent.to_db(),
                            &expires.to_db(),
                        ],
                    );
                }
                let data = Chunk {
                    documents: out,
                    search,
                    tokens,
                    sizes: (min, max, sum),
                    expired,
                };
                if tx.blocking_send(data).is_err() {
                    return;
                }
                c += workers;
            }
        }));
    }
    drop(tx);
    let (mut min, mut max, mut sum, mut expired, mut done) = (usize::MAX, 0, 0u64, 0u64, 0u64);
    let mut shown = Instant::now();
    // One COPY per table and chunk: a connection runs one COPY at a time.
    while let Some(c) = rx.recv().await {
        copy(
            conn,
            "COPY documents (id, patient_id, facility_id, bundle_type, identifier_system, identifier_value,
                type_code, type_label, title, doc_date, content_hash, content, content_zstd, size_bytes, sent_at,
                expires_at)
             FROM STDIN",
            &c.documents,
        )
        .await;
        copy(
            conn,
            "COPY document_search (document_id, bundle_timestamp, composition_id, composition_url,
                composition_subject) FROM STDIN",
            &c.search,
        )
        .await;
        if !c.tokens.is_empty() {
            copy(
                conn,
                "COPY document_tokens (document_id, param, system, code) FROM STDIN",
                &c.tokens,
            )
            .await;
        }
        let (lo, hi, s) = c.sizes;
        (min, max, sum, expired) = (min.min(lo), max.max(hi), sum + s, expired + c.expired);
        done += chunk;
        if shown.elapsed() > Duration::from_secs(30) {
            println!(
                "  … {} of {} documents ({:.0} docs/s)",
                done.min(size.docs),
                size.docs,
                done as f64 / t.elapsed().as_secs_f64()
            );
            shown = Instant::now();
        }
    }
    for h in handles {
        h.join().expect("generator");
    }
    let secs = t.elapsed();
    report.step(
        &format!("generate and load {} documents (COPY)", size.docs),
        secs,
        &format!("{:.0} docs/s", size.docs as f64 / secs.as_secs_f64()),
    );

    let t = Instant::now();
    for s in &rebuild {
        conn.execute(sqlx::AssertSqlSafe(s.clone()))
            .await
            .expect("rebuild");
    }
    report.step(
        &format!("build {} indexes and constraints again", rebuild.len()),
        t.elapsed(),
        "",
    );
    let t = Instant::now();
    for table in TABLES {
        conn.execute(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )))
        .await
        .ok();
        conn.execute(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .await
            .expect("vacuum");
    }
    report.step("VACUUM ANALYZE", t.elapsed(), "");
    Loaded {
        patient_base,
        doc_base,
        expired_day: expired,
        doc_bytes: (min, max, sum / size.docs.max(1)),
    }
}

async fn sizes(conn: &mut PgConnection, report: &mut Report) {
    let total: i64 = sqlx::query("SELECT pg_database_size(current_database()) AS s")
        .fetch_one(&mut *conn)
        .await
        .expect("size")
        .get("s");
    report.note(format!("database size: {:.1} MB", total as f64 / 1e6));
    let rows = sqlx::query(
        "SELECT c.relname, c.relkind::text AS kind, pg_total_relation_size(c.oid) AS total,
                pg_relation_size(c.oid) AS main
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
         ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 16",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("sizes");
    for r in rows {
        let (name, kind, total, main): (String, String, i64, i64) = (
            r.get("relname"),
            r.get("kind"),
            r.get("total"),
            r.get("main"),
        );
        report.note(if kind == "i" {
            format!("  {name:<60} index {:>10.1} MB", total as f64 / 1e6)
        } else {
            format!(
                "  {name:<60} table {:>10.1} MB with TOAST and indexes (heap {:.1} MB)",
                total as f64 / 1e6,
                main as f64 / 1e6
            )
        });
    }
}

#[tokio::main]
async fn main() {
    let size = Size::from_env();
    let mut report = Report { lines: Vec::new() };
    println!(
        "prefecture benchmark — {} documents, {} patients, {} facilities; {} CPUs; load {}",
        size.docs,
        size.patients,
        size.facilities,
        std::thread::available_parallelism().map_or(1, |p| p.get()),
        load_average()
    );
    let work = tempfile::Builder::new()
        .prefix("prefecture")
        .tempdir()
        .expect("temp dir");
    let t = Instant::now();
    let fsync = std::env::var("PREFECTURE_FSYNC").map_or(true, |v| v != "off");
    let (pg, url) = match std::env::var("PREFECTURE_DATABASE_URL") {
        Ok(u) => (None, u),
        Err(_) => {
            let pg = Pg::start(fsync);
            let url = pg.url();
            (Some(pg), url)
        }
    };
    report.step(
        if pg.is_some() {
            "start a throwaway PostgreSQL cluster"
        } else {
            "use PREFECTURE_DATABASE_URL"
        },
        t.elapsed(),
        &format!("fsync {}", if fsync { "on" } else { "off" }),
    );

    // The application in-process: migrations, facilities, keys, the reader's account.
    let t = Instant::now();
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.paths.data_dir = work.path().join("data");
    settings.jobs.enabled = false;
    settings.log.filter = "error".into();
    settings.database.url = url.clone();
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .expect("app");
    let state = app.state().clone();
    let now = SystemClock.now();
    let net = Arc::new(Network::new(&size));
    let system = Actor::system("bench");
    let mut facility_ids = Vec::new();
    for (i, code) in net.codes.iter().enumerate() {
        let (name, kind) = match i {
            0..20 => (
                format!("県立第{}病院", i + 1),
                rainbownet::facilities::FacilityKind::Hospital,
            ),
            20..120 => (
                format!("みどり{}クリニック", i + 1),
                rainbownet::facilities::FacilityKind::Clinic,
            ),
            _ => (
                format!("あおば{}薬局", i + 1),
                rainbownet::facilities::FacilityKind::Pharmacy,
            ),
        };
        let f = rainbownet::facilities::NewFacility::minimal(
            rainbownet::facilities::FacilityCode::parse(code).expect("code"),
            &name,
            kind,
        );
        facility_ids.push(
            rainbownet::facilities::add(&state.db, &f, &system, now)
                .await
                .expect("facility"),
        );
    }
    // The senders of the intake runs: the first 8 facilities (the reader among them).
    let mut keys = HashMap::new();
    for code in net.codes.iter().take(8) {
        let (_, key) = rainbownet::records::create_api_key(&state.db, code, "bench", &system, now)
            .await
            .expect("key");
        keys.insert(code.clone(), key);
    }
    let reader_code = net.codes[0].clone();
    let spec = rainbownet::accounts::service::AccountSpec::new(
        None,
        "県立 読者",
        rainbownet::auth::Role::User,
        Some(&reader_code),
    );
    let account = rainbownet::accounts::service::create_account(&state.db, &spec, &system, now)
        .await
        .expect("account");
    report.step(
        &format!(
            "migrations, {} facilities, API keys, an account",
            size.facilities
        ),
        t.elapsed(),
        "",
    );

    let mut conn = PgConnection::connect(&url).await.expect("connect");
    conn.execute("SET maintenance_work_mem = '512MB'")
        .await
        .expect("set");
    let templates = Arc::new(Templates::load());
    let loaded = load(
        &mut conn,
        &size,
        &net,
        &templates,
        facility_ids,
        now,
        &mut report,
    )
    .await;
    let (min, max, mean) = loaded.doc_bytes;
    report.note(format!(
        "documents: {min}–{max} bytes as stored (mean {mean}); {} expired today (one day's worth; N/366 = {})",
        loaded.expired_day,
        size.docs / 366
    ));
    sizes(&mut conn, &mut report).await;

    // The real server, as a process.
    let t = Instant::now();
    let a = serve(work.path(), "instance-a", &url, &size).await;
    report.step("start rainbownet serve (instance A)", t.elapsed(), "");
    let reader = log_in(&a.base, &account.login_id, &account.one_time_password).await;
    let reader_key = keys[&reader_code].clone();
    let api = reqwest::Client::new();

    // Warm-up (the first requests of a fresh process and cold caches), not counted.
    let mut ignored = Vec::new();
    for i in 0..30u64 {
        let p = loaded.patient_base + 1 + below(30, i, size.patients) as i64;
        timed_get(
            &reader,
            &format!("{}/records/patients/{p}", a.base),
            None,
            &mut ignored,
        )
        .await;
    }

    let reads = size.reads as u64;
    let mut samples = Vec::new();
    for i in 0..reads {
        let p = loaded.patient_base + 1 + below(31, i, size.patients) as i64;
        timed_get(
            &reader,
            &format!("{}/records/patients/{p}", a.base),
            None,
            &mut samples,
        )
        .await;
    }
    report.latency("UI  patient timeline /records/patients/{id}", samples);
    // The patients with the most documents (the first ones: the skew of patient_of_doc).
    let mut samples = Vec::new();
    for i in 0..reads.min(100) {
        let p = loaded.patient_base + 1 + i as i64;
        timed_get(
            &reader,
            &format!("{}/records/patients/{p}", a.base),
            None,
            &mut samples,
        )
        .await;
    }
    report.latency(
        "UI  timeline of the 100 patients with most documents",
        samples,
    );
    let mut samples = Vec::new();
    for i in 0..reads {
        let d = loaded.doc_base + 1 + below(32, i, size.docs) as i64;
        timed_get(
            &reader,
            &format!("{}/records/documents/{d}", a.base),
            None,
            &mut samples,
        )
        .await;
    }
    report.latency("UI  document page /records/documents/{id}", samples);
    let mut samples = Vec::new();
    for i in 0..reads {
        let d = loaded.doc_base + 1 + below(33, i, size.docs) as i64;
        timed_get(
            &api,
            &format!("{}/api/fhir/Bundle/{d}", a.base),
            Some(&reader_key),
            &mut samples,
        )
        .await;
    }
    report.latency("API GET /api/fhir/Bundle/{id}", samples);
    let mut samples = Vec::new();
    let mut found = 0usize;
    for i in 0..reads {
        let p = below(34, i, size.patients);
        let body = timed_get(
            &api,
            &format!(
                "{}/api/fhir/Bundle?patient={}",
                a.base,
                Network::network_id(p)
            ),
            Some(&reader_key),
            &mut samples,
        )
        .await;
        found += serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["total"].as_u64())
            .unwrap_or(0) as usize;
    }
    report.latency("API GET /api/fhir/Bundle?patient=KR… (search)", samples);
    report.note(format!(
        "  (search: {:.1} documents per patient on average)",
        found as f64 / reads as f64
    ));
    let mut samples = Vec::new();
    for _ in 0..reads.min(50) {
        timed_get(&reader, &format!("{}/records", a.base), None, &mut samples).await;
    }
    report.latency(
        "UI  patient list /records (page 1 of 50 by kana, with the count)",
        samples,
    );

    // Intake: one instance, two instances, one again.
    let senders: Vec<usize> = (0..8).collect();
    let intake_docs = |run: u64| -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut k = 0u64;
        let mut p = 0u64;
        while out.len() < size.intake_docs {
            p = (p + 1 + below(40 + run, k, 97)) % size.patients;
            k += 1;
            let facilities = net.facilities_of(p);
            let Some(f) = facilities.iter().find(|f| senders.contains(f)) else {
                continue;
            };
            let code = &net.codes[*f];
            // The Bundle as sent (no attachments, so the stored JSON is the sent JSON).
            out.push((
                code.clone(),
                templates
                    .document(k, &format!("I{run}-"), p, code, now)
                    .content,
            ));
        }
        out
    };
    // Each round: one instance, two instances, one again. First as this machine runs them (both
    // instances, PostgreSQL and the clients on both cores), then with each instance held to a
    // core of its own (`taskset`; PostgreSQL and the clients still on both), the model of
    // instances on hosts of their own, which is what a second instance adds in a real network.
    let client_counts: Vec<usize> = std::env::var("PREFECTURE_INTAKE_CLIENTS")
        .unwrap_or_else(|_| "16,64".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let postmaster = pg.as_ref().and_then(Pg::pid);
    let mut run = 0;
    for pinned in [false, true] {
        let how = if pinned {
            "each instance on one core of its own"
        } else {
            "all processes on both cores"
        };
        for &clients in &client_counts {
            let mut next = || {
                run += 1;
                intake_docs(run)
            };
            a.pin(if pinned { "0" } else { "0,1" });
            warm(&a, &keys, next(), clients).await;
            let t = Instant::now();
            let cpu = CpuSplit::start(&[&a], postmaster);
            let one_before = intake(std::slice::from_ref(&a.base), &keys, next(), clients).await;
            report.step(
                &format!("intake ({how}), one instance, {clients} clients"),
                t.elapsed(),
                &format!("{one_before:.0} docs/s; {}", cpu.finish(size.intake_docs)),
            );
            let b = serve(work.path(), "instance-b", &url, &size).await;
            b.pin(if pinned { "1" } else { "0,1" });
            warm(&b, &keys, next(), clients).await;
            let t = Instant::now();
            let cpu = CpuSplit::start(&[&a, &b], postmaster);
            let two = intake(&[a.base.clone(), b.base.clone()], &keys, next(), clients).await;
            report.step(
                &format!(
                    "intake ({how}), two instances, {} clients each",
                    clients / 2
                ),
                t.elapsed(),
                &format!("{two:.0} docs/s; {}", cpu.finish(size.intake_docs)),
            );
            drop(b);
            let t = Instant::now();
            let cpu = CpuSplit::start(&[&a], postmaster);
            let one_after = intake(std::slice::from_ref(&a.base), &keys, next(), clients).await;
            report.step(
                &format!("intake ({how}), one instance again, {clients} clients"),
                t.elapsed(),
                &format!("{one_after:.0} docs/s; {}", cpu.finish(size.intake_docs)),
            );
            report.note(format!(
                "intake ({how}, {clients} clients, {} docs a run): two instances {two:.0} docs/s = {:.2}× one instance ({:.0} docs/s, mean of before and after); goal ≥ 1.5×",
                size.intake_docs,
                two / ((one_before + one_after) / 2.0),
                (one_before + one_after) / 2.0
            ));
        }
    }
    a.pin("0,1");

    // Retention over the expired day.
    let now = SystemClock.now();
    let t = Instant::now();
    let message = rainbownet::records::review_expired(&state, now)
        .await
        .expect("retention job");
    report.step(
        "records.retention job (lists the expired documents)",
        t.elapsed(),
        &message,
    );
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM documents WHERE expires_at <= $1 ORDER BY id")
            .bind(now.to_db())
            .fetch_all(&mut conn)
            .await
            .expect("expired ids");
    let t = Instant::now();
    let (purged, _) = rainbownet::records::purge(&state, &ids, &system, now)
        .await
        .expect("purge");
    report.step(
        &format!("purge of the expired day ({purged} documents, tombstones kept)"),
        t.elapsed(),
        "",
    );
    sizes(&mut conn, &mut report).await;
    drop(a);
    let _ = std::io::stdout().flush();
    drop(pg);
}
