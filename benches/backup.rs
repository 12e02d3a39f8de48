//! Backup benchmark (issue 11, item 8): the backup engine beside restic (the Debian package) and
//! a plain `tar | zstd | age` pipeline, in the same run, on the same data directory.
//!
//! The data set is a data directory of the real application on its embedded SQLite default:
//! 200,000 FHIR JSON documents of 2–4 KB (the fixtures of `tests/fixtures/fhir`, each with its own
//! identifiers, patient, dates, values and text), for 20,000 patients (each registered by a
//! Consent in the patient's first document), and 300 attachments totalling 512 MiB, stored
//! through the intake API itself (`POST /api/fhir` batches: the checks, the rows, the
//! content-addressed blob store and the audit events exactly as the application writes them).
//! Attachments are not trivially compressible, like those a regional network receives: half
//! JPEG-like (markers, tables, then random entropy-coded bytes with 0xFF stuffing), four in ten
//! PDF-like (PDF syntax and a page of report text per image, image streams of random "DCT" bytes;
//! about 97 % of the bytes are random), one in ten CSV laboratory exports (text, compresses
//! several times). Sizes vary from 0.4× to 1.6× the mean. The generated directory is kept under
//! `<target>/bench-data/backup/base` and reused while its parameters (and the number of
//! migrations) are unchanged; generation time is printed.
//!
//! Each run copies the base to a fresh working data directory, starts the application on it
//! (jobs off) and measures, in `BACKUP_BENCH_ROUNDS` rounds (default 3; each row of the report is
//! the median of its rounds, with the range beside it — this shared machine is noisy):
//! 1. the engine: a full (monthly) backup with `backup::run::backup_now` (snapshot, archive
//!    `tar → zstd → age`, read-back check against the manifest, row and audit event), then a full
//!    restore with `backup::restore` into an empty directory;
//! 2. restic: `restic init` of a fresh repository on the same disk (password from
//!    `RESTIC_PASSWORD`, else a fixed one), `restic backup DATA_DIR`, the repository's size, then
//!    `restic restore latest --target DIR`;
//! 3. the reference pipeline with the Debian programs: `tar -c | zstd -3 | age -r` and back
//!    (`age -d | zstd -d | tar -x`), when `age` and `zstd` are installed;
//! 4. once, after the rounds: 1 % new documents (and 1 % of the attachments) through the intake API, a daily
//!    (incremental) backup with the engine against the full, and restic's second backup.
//!
//! Every cache is warm (the working copy was just read), and `sync` runs before each measured
//! step, so that no step pays for the writeback of another. The engine's restore syncs what it
//! wrote before it returns and restic's does not: the time of a `sync` right after restic's
//! restore is printed beside it (the goal is checked against restic's own time).
//!
//! Throughput is always the working data directory's size (apparent bytes of every file in it)
//! divided by the time, so that every row has the same numerator. Sizes are apparent bytes
//! (1 MB = 10^6 bytes). The report marks the issue's goals met or NOT met from the numbers
//! measured in the run: backup ≥ 5× restic's throughput, restore ≥ 1× restic's, output ≤ restic's
//! repository, daily incremental < 10 % of the full backup's time.
//!
//! Run: `cargo bench --bench backup` (release build; needs `restic`, and `age` + `zstd` for the
//! reference row: `apt-get install -y restic age zstd`). Without restic it says so and exits with
//! status 2. Sizes: `BACKUP_BENCH_DOCS` (default 200000), `BACKUP_BENCH_ATTACHMENTS` (300),
//! `BACKUP_BENCH_ATTACH_MB` (total MiB, 512), `BACKUP_BENCH_DIR` (default
//! `$CARGO_TARGET_DIR/bench-data/backup`, else `target/bench-data/backup`). A quick run:
//! `BACKUP_BENCH_DOCS=20000 BACKUP_BENCH_ATTACH_MB=50 BACKUP_BENCH_ROUNDS=1 cargo bench --bench
//! backup`. The working
//! copy and every output are removed at the end; the base stays for the next run (delete the
//! directory to reclaim the space). Not run in CI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rainbownet::audit::Actor;
use rainbownet::clock::{Clock, SystemClock};
use rainbownet::config::{Settings, Synchronous};
use rainbownet::startup::Application;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};

const FACILITY: &str = "2310000011";
/// Bump when the generated data set changes shape, so that a cached base is regenerated.
const DATA_VERSION: u32 = 1;
const DOCS_PER_PATIENT: usize = 10;
/// A batch request is cut at this many bytes (the intake API accepts 20 MB).
const BATCH_BYTES: usize = 8 * 1024 * 1024;
const BATCH_DOCS: usize = 1000;

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

struct Params {
    rounds: usize,
    docs: usize,
    attachments: usize,
    attach_bytes: u64,
    root: PathBuf,
}

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("{name}={v} is not a number");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

impl Params {
    fn from_env() -> Params {
        let root = std::env::var_os("BACKUP_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
                    .join("bench-data")
                    .join("backup")
            });
        Params {
            rounds: env_num("BACKUP_BENCH_ROUNDS", 3).max(1) as usize,
            docs: env_num("BACKUP_BENCH_DOCS", 200_000) as usize,
            attachments: env_num("BACKUP_BENCH_ATTACHMENTS", 300) as usize,
            attach_bytes: env_num("BACKUP_BENCH_ATTACH_MB", 512) * 1024 * 1024,
            root,
        }
    }

    fn patients(&self) -> usize {
        self.docs.div_ceil(DOCS_PER_PATIENT).max(1)
    }

    /// What the cached base was generated from: a different line means generate again.
    fn marker(&self) -> String {
        let migrations =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
                .map(|d| d.count())
                .unwrap_or(0);
        format!(
            "v{DATA_VERSION} docs={} attachments={} attach_bytes={} migrations={migrations}",
            self.docs, self.attachments, self.attach_bytes
        )
    }

    /// Size of attachment k of n (0.4×–1.6× the mean, scaled so that the sum is the total).
    fn attachment_sizes(&self, seed: u64, n: usize, total: u64) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(seed);
        let raw: Vec<f64> = (0..n).map(|_| rng.gen_range(0.4..1.6)).collect();
        let sum: f64 = raw.iter().sum();
        raw.iter()
            .map(|r| ((r / sum) * total as f64) as usize)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/fhir/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// Trims a fixture to the clinical core (as the ingest benchmark does, and the discharge
/// summary's narrative sections), so that documents are 2–4 KB.
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
        // `get_mut`, not `r["section"]`: indexing a Value mutably inserts a null.
        if let Some(sections) = r.get_mut("section").and_then(Value::as_array_mut) {
            for s in sections.iter_mut() {
                if let Some(obj) = s.as_object_mut() {
                    obj.remove("code");
                }
            }
            // The discharge summary's narrative-only sections after the first: without them
            // it stays under 4 KB like the others.
            let mut k = 0;
            sections.retain(|s| {
                k += 1;
                k == 1 || s.get("entry").is_some()
            });
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

struct Templates {
    /// collection (used for a patient's first document, which carries the Consent), then the
    /// document Bundles.
    bundles: Vec<Value>,
    consent: Value,
    /// The `urn:uuid:` fullUrls of the fixtures, replaced by fresh ones in every document.
    uuids: Vec<String>,
}

const PATIENT_URL: &str = "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001";
const FAMILY: &[(&str, &str)] = &[
    ("清須", "キヨス"),
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
    ("森", "モリ"),
];
const GIVEN: &[(&str, &str, &str)] = &[
    ("花子", "ハナコ", "female"),
    ("太郎", "タロウ", "male"),
    ("一郎", "イチロウ", "male"),
    ("美咲", "ミサキ", "female"),
    ("健太", "ケンタ", "male"),
    ("陽子", "ヨウコ", "female"),
    ("翔太", "ショウタ", "male"),
    ("由美", "ユミ", "female"),
    ("大輔", "ダイスケ", "male"),
    ("直子", "ナオコ", "female"),
    ("清", "キヨシ", "male"),
];
const FINDINGS: &[&str] = &[
    "2型糖尿病",
    "高血圧症",
    "脂質異常症",
    "陳旧性心筋梗塞",
    "慢性腎臓病（ステージ3a）",
    "心房細動",
    "骨粗鬆症",
    "慢性閉塞性肺疾患",
    "変形性膝関節症",
    "逆流性食道炎",
    "脳梗塞後遺症",
    "認知症（軽度）",
];
const COURSE: &[&str] = &[
    "経過良好。",
    "HbA1c は前回より改善。",
    "血圧は家庭血圧で 130/80 mmHg 前後。",
    "内服の継続を指示。",
    "次回は 3 か月後に採血予定。",
    "食事療法と運動療法を継続。",
    "腎機能の推移に注意。",
    "転倒に注意するよう説明。",
    "紹介先での精査を依頼。",
];

impl Templates {
    fn load() -> Templates {
        let bundles: Vec<Value> = [
            "collection_clins.json",
            "patient_summary_60591-5.json",
            "discharge_summary_18842-5.json",
            "checkup_report_53576-5.json",
        ]
        .iter()
        .map(|n| trim(fixture(n)))
        .collect();
        let mut consent = fixture("consent_all.json");
        if let Some(obj) = consent.as_object_mut() {
            obj.remove("contained");
            obj.remove("sourceAttachment");
        }
        consent["patient"] = json!({"reference": PATIENT_URL});
        let mut uuids = Vec::new();
        for b in &bundles {
            for e in b["entry"].as_array().into_iter().flatten() {
                if let Some(u) = e["fullUrl"].as_str()
                    && u.starts_with("urn:uuid:")
                    && !uuids.iter().any(|x| x == u)
                {
                    uuids.push(u.to_string());
                }
            }
        }
        Templates {
            bundles,
            consent,
            uuids,
        }
    }
}

fn uuid(rng: &mut StdRng) -> String {
    let b: [u8; 16] = rng.r#gen();
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn day(n: usize) -> String {
    let d = jiff::civil::date(2025, 12, 1)
        .checked_add(jiff::Span::new().days(n as i64 % 365))
        .expect("date");
    d.to_string()
}

/// Sets every `valueQuantity.value` to a plausible random value.
fn vary_values(v: &mut Value, rng: &mut StdRng) {
    match v {
        Value::Object(map) => {
            if let Some(q) = map.get_mut("valueQuantity").and_then(Value::as_object_mut)
                && let Some(x) = q.get("value").and_then(Value::as_f64)
            {
                let y = (x * rng.gen_range(0.7..1.3) * 10.0).round() / 10.0;
                q.insert("value".into(), json!(y));
            }
            map.values_mut().for_each(|v| vary_values(v, rng));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| vary_values(v, rng)),
        _ => {}
    }
}

/// The attachment entry (a DocumentReference) of a document that carries one.
struct Attached {
    content_type: &'static str,
    title: String,
    data: String,
}

/// Document `i` (a FHIR document or collection Bundle) of patient `patient`; `consent`: the
/// patient's first document, which registers the patient with their consent.
fn document(
    t: &Templates,
    i: usize,
    total: usize,
    patient: usize,
    consent: bool,
    attached: Option<Attached>,
) -> String {
    let mut rng = StdRng::seed_from_u64(0x00d0_c000_0000 + i as u64);
    // The collection (the smallest) carries the Consent or the attachment, so that every
    // document stays under 4 KB.
    let template = if consent || attached.is_some() {
        0
    } else {
        i % t.bundles.len()
    };
    let mut d = t.bundles[template].clone();
    let date = day(i * 365 / total.max(1) + rng.gen_range(0..7));
    let (family, family_kana) = FAMILY[patient % FAMILY.len()];
    let (given, given_kana, gender) = GIVEN[(patient / FAMILY.len()) % GIVEN.len()];
    d["identifier"]["value"] = json!(format!("{FACILITY}^2026^BB{i:09}"));
    if d.get("timestamp").is_some() {
        d["timestamp"] = json!(format!("{date}T{:02}:{:02}:00+09:00", 8 + i % 10, i % 60));
    }
    for e in d["entry"].as_array_mut().into_iter().flatten() {
        let r = &mut e["resource"];
        match r["resourceType"].as_str() {
            Some("Patient") => {
                r["identifier"][0]["value"] = json!(format!("{:08}", patient + 1));
                r["name"][0]["text"] = json!(format!("{family} {given}"));
                r["name"][0]["family"] = json!(family);
                r["name"][0]["given"] = json!([given]);
                r["name"][1]["text"] = json!(format!("{family_kana} {given_kana}"));
                r["name"][1]["family"] = json!(family_kana);
                r["name"][1]["given"] = json!([given_kana]);
                r["gender"] = json!(gender);
                r["birthDate"] = json!(format!(
                    "{}-{:02}-{:02}",
                    1930 + patient % 80,
                    1 + patient % 12,
                    1 + patient % 28
                ));
            }
            Some("Composition") => {
                r["date"] = json!(format!("{date}T{:02}:00:00+09:00", 9 + i % 8));
                if let Some(s) = r["section"].get_mut(0) {
                    let items: String = (0..rng.gen_range(1..4))
                        .map(|_| format!("<li>{}</li>", FINDINGS[rng.gen_range(0..FINDINGS.len())]))
                        .collect();
                    s["text"]["div"] = json!(format!(
                        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><ul>{items}</ul><p>{}{}</p></div>",
                        COURSE[rng.gen_range(0..COURSE.len())],
                        COURSE[rng.gen_range(0..COURSE.len())]
                    ));
                }
            }
            Some("Observation") => {
                r["effectiveDateTime"] = json!(date);
            }
            _ => {}
        }
    }
    vary_values(&mut d, &mut rng);
    let entries = d["entry"].as_array_mut().expect("entries");
    if consent {
        let mut c = t.consent.clone();
        c["dateTime"] = json!(date);
        entries.push(json!({"fullUrl": uuid(&mut rng), "resource": c}));
    }
    if let Some(a) = attached {
        entries.push(json!({"fullUrl": uuid(&mut rng), "resource": {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {"text": a.title},
            "subject": {"reference": PATIENT_URL},
            "date": format!("{date}T10:00:00+09:00"),
            "content": [{"attachment": {"contentType": a.content_type, "title": a.title,
                                        "data": a.data}}]
        }}));
    }
    let mut s = d.to_string();
    for u in &t.uuids {
        s = s.replace(u.as_str(), &uuid(&mut rng));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------------------------

/// Random bytes with JPEG's byte stuffing (an 0xFF in entropy-coded data is followed by 0x00).
fn entropy(rng: &mut StdRng, out: &mut Vec<u8>, n: usize) {
    let start = out.len();
    out.resize(start + n, 0);
    rng.fill_bytes(&mut out[start..]);
    for k in start..out.len().saturating_sub(1) {
        if out[k] == 0xFF {
            out[k + 1] = 0;
        }
    }
}

fn report_text(rng: &mut StdRng, lines: usize) -> String {
    let mut s = String::new();
    for _ in 0..lines {
        s.push_str(&format!(
            "({} {} HbA1c {:.1} % LDL {} mg/dL eGFR {} BP {}/{} mmHg) Tj T*\n",
            day(rng.gen_range(0..365)),
            ["Referral", "Discharge", "Imaging", "Lab", "Follow-up"][rng.gen_range(0..5)],
            rng.gen_range(5.0..10.0),
            rng.gen_range(60..200),
            rng.gen_range(15..110),
            rng.gen_range(100..180),
            rng.gen_range(55..100),
        ));
    }
    s
}

/// Attachment `k`: (content type, title, bytes) of about `size` bytes.
fn attachment(k: usize, size: usize) -> (&'static str, String, Vec<u8>) {
    let mut rng = StdRng::seed_from_u64(0xa77a_c000_0000 + k as u64);
    let mut out = Vec::with_capacity(size + 64 * 1024);
    match k % 10 {
        0..=4 => {
            // JPEG: SOI, APP0 (JFIF), a quantisation table, SOF0, a Huffman table, SOS, data, EOI.
            out.extend_from_slice(
                b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00",
            );
            out.extend_from_slice(b"\xFF\xDB\x00\x43\x00");
            out.extend((1..=64u8).map(|q| q.saturating_mul(2)));
            out.extend_from_slice(
                b"\xFF\xC0\x00\x11\x08\x0D\xB4\x09\xB0\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01",
            );
            out.extend_from_slice(b"\xFF\xC4\x00\x1F\x00\x00\x01\x05\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B");
            out.extend_from_slice(b"\xFF\xDA\x00\x0C\x03\x01\x00\x02\x11\x03\x11\x00\x3F\x00");
            let rest = size.saturating_sub(out.len() + 2);
            entropy(&mut rng, &mut out, rest);
            out.extend_from_slice(b"\xFF\xD9");
            ("image/jpeg", format!("画像 {k:04}"), out)
        }
        5..=8 => {
            // PDF: per page an image XObject (random "DCT" bytes) and a content stream of text.
            out.extend_from_slice(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n");
            let mut offsets = Vec::new();
            let mut obj = 1;
            while out.len() < size {
                let image = rng.gen_range(120_000..360_000).min(size - out.len() + 1);
                offsets.push(out.len());
                out.extend_from_slice(format!("{obj} 0 obj\n<< /Type /XObject /Subtype /Image /Width 2480 /Height 3508 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length {image} >>\nstream\n").as_bytes());
                entropy(&mut rng, &mut out, image);
                out.extend_from_slice(b"\nendstream\nendobj\n");
                obj += 1;
                let text = format!(
                    "BT /F1 10 Tf 72 760 Td 12 TL\n{}ET\n",
                    report_text(&mut rng, 40)
                );
                offsets.push(out.len());
                out.extend_from_slice(
                    format!(
                        "{obj} 0 obj\n<< /Length {} >>\nstream\n{text}endstream\nendobj\n",
                        text.len()
                    )
                    .as_bytes(),
                );
                obj += 1;
            }
            let xref = out.len();
            out.extend_from_slice(format!("xref\n0 {obj}\n0000000000 65535 f \n").as_bytes());
            for o in offsets {
                out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
            }
            out.extend_from_slice(
                format!("trailer\n<< /Size {obj} >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
            );
            ("application/pdf", format!("診療情報提供書 {k:04}"), out)
        }
        _ => {
            out.extend_from_slice("検査日,患者ID,項目コード,項目名,結果,単位,判定\n".as_bytes());
            let items = [
                ("3D045", "HbA1c", "%"),
                ("3F015", "LDL-C", "mg/dL"),
                ("3C015", "Cre", "mg/dL"),
                ("2A990", "WBC", "10^3/uL"),
                ("3B035", "AST", "U/L"),
                ("3B045", "ALT", "U/L"),
            ];
            while out.len() < size {
                let (code, name, unit) = items[rng.gen_range(0..items.len())];
                out.extend_from_slice(
                    format!(
                        "{},{:08},{code},{name},{:.1},{unit},{}\n",
                        day(rng.gen_range(0..365)),
                        rng.gen_range(1..20_000),
                        rng.gen_range(0.5..200.0),
                        ["", "H", "L"][rng.gen_range(0..3)]
                    )
                    .as_bytes(),
                );
            }
            ("text/csv", format!("検査結果 {k:04}"), out)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------

struct App {
    base: String,
    key: String,
    state: rainbownet::state::AppState,
}

/// The application on `data_dir` (jobs off), serving on a loopback port.
async fn start(data_dir: &Path, synchronous: Synchronous, backup: Option<Value>) -> App {
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.paths.data_dir = data_dir.to_path_buf();
    settings.jobs.enabled = false;
    settings.log.filter = "error".into();
    settings.database.synchronous = synchronous;
    if let Some(b) = backup {
        settings.set_section("backup", &b);
    }
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    App {
        base,
        key: String::new(),
        state,
    }
}

impl App {
    async fn api_key(&mut self) {
        let (_, key) = rainbownet::records::create_api_key(
            &self.state.db,
            FACILITY,
            "bench",
            &Actor::system("bench"),
            SystemClock.now(),
        )
        .await
        .expect("key");
        self.key = key;
    }

    async fn scalar(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.state.db.pool())
            .await
            .expect("count")
    }
}

/// Sends documents `range` (patients registered by the first document of each, attachments on
/// every `every`-th) as batches, two requests in flight; returns the attachment bytes sent.
async fn send_documents(
    app: &App,
    range: std::ops::Range<usize>,
    patients: usize,
    attachments: Vec<(usize, usize)>,
) -> u64 {
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(2);
    let docs = range.len();
    let total = range.end;
    let attached_every = if attachments.is_empty() {
        usize::MAX
    } else {
        (docs / attachments.len()).max(1)
    };
    let producer = tokio::task::spawn_blocking(move || {
        let t = Templates::load();
        let mut sent = 0u64;
        let mut next_attachment = attachments.into_iter();
        let mut body = String::new();
        let mut count = 0;
        let flush = |body: &mut String, count: &mut usize| {
            if *count > 0 {
                body.push_str("]}");
                let b = std::mem::take(body);
                *count = 0;
                tx.blocking_send(b).expect("send batch");
            }
        };
        for (n, i) in range.enumerate() {
            let attached = if n % attached_every == 0 {
                next_attachment.next().map(|(k, size)| {
                    let (content_type, title, bytes) = attachment(k, size);
                    sent += bytes.len() as u64;
                    Attached {
                        content_type,
                        title,
                        data: base64::engine::general_purpose::STANDARD.encode(&bytes),
                    }
                })
            } else {
                None
            };
            let patient = i % patients;
            let doc = document(&t, i, total, patient, i < patients, attached);
            if count > 0 && (count == BATCH_DOCS || body.len() + doc.len() > BATCH_BYTES) {
                flush(&mut body, &mut count);
            }
            if count == 0 {
                body.push_str(r#"{"resourceType":"Bundle","type":"batch","entry":["#);
            } else {
                body.push(',');
            }
            body.push_str(r#"{"request":{"method":"POST","url":"Bundle"},"resource":"#);
            body.push_str(&doc);
            body.push('}');
            count += 1;
        }
        flush(&mut body, &mut count);
        sent
    });
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (rx, url, key) = (
            rx.clone(),
            format!("{}/api/fhir", app.base),
            app.key.clone(),
        );
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let Some(body) = rx.lock().await.recv().await else {
                    break;
                };
                let res = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/fhir+json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(res.status(), 200, "batch accepted");
                let v: Value = res.json().await.expect("json");
                for e in v["entry"].as_array().into_iter().flatten() {
                    assert_eq!(
                        e["response"]["status"], "201 Created",
                        "every document stored: {e}"
                    );
                }
            }
        }));
    }
    for c in clients {
        c.await.expect("client");
    }
    producer.await.expect("producer")
}

/// Generates the base data directory into `dir` (which must not exist).
async fn generate(dir: &Path, p: &Params) {
    std::fs::create_dir_all(dir).expect("base dir");
    let mut app = start(dir, Synchronous::Normal, None).await;
    let facility = rainbownet::facilities::NewFacility::minimal(
        rainbownet::facilities::FacilityCode::parse(FACILITY).expect("code"),
        "きよす内科クリニック",
        rainbownet::facilities::FacilityKind::Clinic,
    );
    rainbownet::facilities::add(
        &app.state.db,
        &facility,
        &Actor::system("bench"),
        SystemClock.now(),
    )
    .await
    .expect("facility");
    app.api_key().await;
    let sizes = p.attachment_sizes(1, p.attachments, p.attach_bytes);
    let attachments: Vec<(usize, usize)> = sizes.into_iter().enumerate().collect();
    send_documents(&app, 0..p.docs, p.patients(), attachments).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM documents").await as usize,
        p.docs
    );
    // Checkpoint and close, so that the base is one database file without a WAL.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(app.state.db.pool())
        .await
        .expect("checkpoint");
    app.state.db.close().await;
}

// ---------------------------------------------------------------------------------------------
// The engine (issue 11's backup::run and backup::restore)
// ---------------------------------------------------------------------------------------------

mod engine {
    use std::path::Path;
    use std::time::Duration;

    use rainbownet::audit::Actor;
    use rainbownet::backup::{BackupId, Kind};
    use rainbownet::state::AppState;

    pub struct Done {
        pub id: String,
        /// The archive's size.
        pub size: u64,
        /// The part of the backup's time spent reading the archive back against its manifest.
        pub read_back: Duration,
    }

    /// A monthly (full) or daily backup now, exactly as `rainbownet backup run` takes it.
    pub async fn backup(state: &AppState, monthly: bool) -> anyhow::Result<Done> {
        let kind = if monthly { Kind::Monthly } else { Kind::Daily };
        let r = rainbownet::backup::run::backup_now(
            state,
            kind,
            "cli",
            &Actor::system("bench"),
            state.now(),
        )
        .await?;
        anyhow::ensure!(
            r.id.kind() == kind,
            "asked for a {} backup, got {} ({})",
            kind.key(),
            r.id,
            r.note.unwrap_or_default()
        );
        Ok(Done {
            id: r.id.to_string(),
            size: r.size_bytes,
            read_back: r.verify_duration,
        })
    }

    /// Restores the chain of `id` from `dir` into the empty directory `to`, as `rainbownet
    /// backup restore ID --to DIR` does.
    pub async fn restore(dir: &Path, id: &str, identity: &Path, to: &Path) -> anyhow::Result<()> {
        let id = BackupId::parse(id).map_err(anyhow::Error::msg)?;
        rainbownet::backup::restore::restore(dir, &id, identity, to, None).await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

/// (files, apparent bytes) under `path`.
fn tree_size(path: &Path) -> (u64, u64) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return (0, 0);
    };
    if meta.is_file() {
        return (1, meta.len());
    }
    if !meta.is_dir() {
        return (0, 0);
    }
    let mut total = (0, 0);
    for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let (f, b) = tree_size(&e.path());
        total.0 += f;
        total.1 += b;
    }
    total
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("version")
        .output()
        .or_else(|_| Command::new(program).arg("--version").output())
        .is_ok()
}

/// Writes every dirty page out before a measured step, so that no step pays for the writeback
/// of the one before it (or of the working copy).
fn settle() {
    let _ = Command::new("sync").status();
}

/// Runs a shell pipeline (bash, pipefail); panics with its stderr when it fails.
fn sh(script: &str, envs: &[(&str, &str)]) -> Duration {
    let start = Instant::now();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail; {script}"))
        .envs(envs.iter().copied())
        .output()
        .expect("bash");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn sh_output(script: &str, envs: &[(&str, &str)]) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .envs(envs.iter().copied())
        .output()
        .expect("bash");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One row of the report.
struct Row {
    name: String,
    /// Every round's time.
    times: Vec<Duration>,
    /// Output size (backups), None for restores.
    size: Option<u64>,
}

impl Row {
    fn new(name: &str, times: &[Duration], size: Option<u64>) -> Row {
        Row {
            name: name.to_string(),
            times: times.to_vec(),
            size,
        }
    }
}

/// The median (the upper one of an even count).
fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t.get(t.len() / 2).copied().unwrap_or_default()
}

/// Documents in the SQLite database of a restored data directory.
async fn restored_documents(dir: &Path) -> anyhow::Result<i64> {
    let url = format!("sqlite://{}?mode=ro", dir.join("rainbownet.db").display());
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(n)
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[tokio::main]
async fn main() {
    let p = Params::from_env();
    if !have("restic") {
        eprintln!(
            "restic is not installed: this benchmark compares the backup engine with restic in the same run (apt-get install -y restic)."
        );
        std::process::exit(2);
    }
    let reference = have("age") && have("zstd");
    let restic_version = sh_output("restic version", &[]);
    let restic_password =
        std::env::var("RESTIC_PASSWORD").unwrap_or_else(|_| "rainbownet-bench".into());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let load_start = load_average();

    // ---- the data set ----
    std::fs::create_dir_all(&p.root).expect("bench dir");
    let base = p.root.join("base");
    let marker_path = p.root.join("base.version");
    let marker = p.marker();
    let cached = std::fs::read_to_string(&marker_path).unwrap_or_default();
    let generation = if base.is_dir() && cached.lines().next() == Some(marker.as_str()) {
        format!(
            "reused the cached data set ({})",
            cached.lines().nth(1).unwrap_or("generation time unknown")
        )
    } else {
        println!("generating the data set ({marker}) in {} …", base.display());
        let _ = std::fs::remove_dir_all(&base);
        let tmp = p.root.join("base.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        let start = Instant::now();
        generate(&tmp, &p).await;
        let took = start.elapsed().as_secs_f64();
        std::fs::rename(&tmp, &base).expect("rename base");
        let line = format!(
            "generated in {took:.0} s on {}",
            jiff::Zoned::now().strftime("%Y-%m-%d")
        );
        std::fs::write(&marker_path, format!("{marker}\n{line}\n")).expect("marker");
        format!("{line} (this run)")
    };

    // ---- a working copy, the application on it ----
    let work = p.root.join("run");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let data = work.join("data");
    let copy_time = sh(&format!("cp -a {} {}", q(&base), q(&data)), &[]);
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let key_file = work.join("age-key.txt");
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(
            &key_file,
            format!(
                "# public key: {recipient}\n{}\n",
                identity.to_string().expose_secret()
            ),
        )
        .expect("key file");
    }
    let engine_dir = work.join("engine");
    let backup_settings = json!({
        "recipients": [recipient],
        "identity_file": key_file.display().to_string(),
        "dir": engine_dir.display().to_string(),
    });
    let mut app = start(&data, Synchronous::Full, Some(backup_settings)).await;
    app.api_key().await;
    let documents = app.scalar("SELECT COUNT(*) FROM documents").await;
    let patients = app.scalar("SELECT COUNT(*) FROM patients").await;
    let (doc_min, doc_max, doc_avg) = (
        app.scalar("SELECT MIN(size_bytes) FROM documents").await,
        app.scalar("SELECT MAX(size_bytes) FROM documents").await,
        app.scalar("SELECT CAST(AVG(size_bytes) AS INTEGER) FROM documents")
            .await,
    );
    let (blob_files, blob_bytes) = tree_size(&data.join("blobs"));
    let (_, db_bytes) = tree_size(&data.join("rainbownet.db"));
    let (data_files, data_bytes) = tree_size(&data);
    let throughput = |d: Duration| mb(data_bytes) / d.as_secs_f64();
    // How compressible the parts are (zstd -3 alone), so that the sizes below can be read.
    let compressed = reference.then(|| {
        let size = |script: String| sh_output(&script, &[]).parse::<u64>().unwrap_or(0);
        (
            size(format!(
                "zstd -3 -q -c {} | wc -c",
                q(&data.join("rainbownet.db"))
            )),
            size(format!(
                "find {} -type f -print0 | xargs -0 cat | zstd -3 -q -c | wc -c",
                q(&data.join("blobs"))
            )),
        )
    });

    // ---- (a, b, c) the engine, restic and the reference pipeline, `rounds` times in turn ----
    let mut notes: Vec<String> = Vec::new();
    let renv = [("RESTIC_PASSWORD", restic_password.as_str())];
    let repo = work.join("restic-repo");
    let cache = work.join("restic-cache");
    let restic = format!("restic -r {} --cache-dir {}", q(&repo), q(&cache));
    let mut engine_backup: Vec<Duration> = Vec::new();
    let mut engine_read_back: Vec<Duration> = Vec::new();
    let mut engine_restore: Vec<Duration> = Vec::new();
    let mut engine_size = 0;
    let mut engine_ok = true;
    let (mut restic_backup, mut restic_restore, mut restic_sync) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut reference_backup, mut reference_restore) = (Vec::new(), Vec::new());
    let (mut repo_bytes, mut reference_size, mut init_time) = (0, 0, Duration::ZERO);
    let mut previous: Option<String> = None;
    for round in 1..=p.rounds {
        // The engine: a monthly, then its restore into an empty directory.
        if engine_ok {
            settle();
            let start = Instant::now();
            match engine::backup(&app.state, true).await {
                Ok(done) => {
                    engine_backup.push(start.elapsed());
                    engine_read_back.push(done.read_back);
                    // The archive and its manifest beside it.
                    let files = [
                        format!("{}.tar.zst.age", done.id),
                        format!("{}.json", done.id),
                    ];
                    engine_size = files.iter().map(|f| tree_size(&engine_dir.join(f)).1).sum();
                    // Only the newest monthly stays (the daily below builds on it).
                    if let Some(old) = previous.replace(done.id.clone()) {
                        let _ = std::fs::remove_file(engine_dir.join(format!("{old}.tar.zst.age")));
                        let _ = std::fs::remove_file(engine_dir.join(format!("{old}.json")));
                    }
                    let to = work.join("restore-engine");
                    settle();
                    let start = Instant::now();
                    match engine::restore(&engine_dir, &done.id, &key_file, &to).await {
                        Ok(()) => {
                            engine_restore.push(start.elapsed());
                            if round == p.rounds {
                                let (_, restored_blobs) = tree_size(&to.join("blobs"));
                                let docs = restored_documents(&to).await;
                                notes.push(format!(
                                    "engine restore check: {} documents (source {documents}), blobs {restored_blobs} of {blob_bytes} bytes",
                                    docs.map_or_else(|e| format!("unreadable ({e:#})"), |n| n.to_string()),
                                ));
                            }
                        }
                        Err(e) => {
                            notes.push(format!("engine restore failed: {e:#}"));
                            engine_ok = false;
                        }
                    }
                    let _ = std::fs::remove_dir_all(&to);
                }
                Err(e) => {
                    notes.push(format!("engine full backup failed: {e:#}"));
                    engine_ok = false;
                }
            }
        }

        // restic: a fresh repository each round, its first backup, then a restore.
        let _ = std::fs::remove_dir_all(&repo);
        let _ = std::fs::remove_dir_all(&cache);
        init_time = sh(&format!("{restic} init -q"), &renv);
        settle();
        restic_backup.push(sh(&format!("{restic} backup -q {}", q(&data)), &renv));
        repo_bytes = tree_size(&repo).1;
        let target = work.join("restore-restic");
        settle();
        restic_restore.push(sh(
            &format!("{restic} restore latest -q --target {}", q(&target)),
            &renv,
        ));
        // The engine's restore syncs every file before it returns; restic's does not.
        restic_sync.push(sh("sync", &[]));
        if round == p.rounds {
            let (files, bytes) = tree_size(&target);
            notes.push(format!(
                "restic restore check: {files} files, {bytes} bytes (the data directory at the start of the run: {data_files} files, {data_bytes} bytes; the backups since wrote their rows and audit events)"
            ));
        }
        let _ = std::fs::remove_dir_all(&target);

        // The reference pipeline with the Debian programs.
        if reference {
            let out = work.join("reference.tar.zst.age");
            settle();
            reference_backup.push(sh(
                &format!(
                    "tar -C {} -cf - . | zstd -3 -q -c | age -r {recipient} -o {}",
                    q(&data),
                    q(&out)
                ),
                &[],
            ));
            reference_size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            let to = work.join("restore-reference");
            std::fs::create_dir_all(&to).expect("reference restore dir");
            settle();
            reference_restore.push(sh(
                &format!(
                    "age -d -i {} {} | zstd -d -q -c | tar -C {} -xf -",
                    q(&key_file),
                    q(&out),
                    q(&to)
                ),
                &[],
            ));
            let _ = std::fs::remove_file(&out);
            let _ = std::fs::remove_dir_all(&to);
        }
    }
    if !reference {
        notes.push("age or zstd not installed: no tar | zstd | age reference row".into());
    }
    let repo_version = sh_output(&format!("{restic} cat config --no-lock"), &renv);
    let repo_version = serde_json::from_str::<Value>(&repo_version)
        .ok()
        .and_then(|v| v["version"].as_i64())
        .map_or_else(|| "?".into(), |v| v.to_string());
    if !engine_read_back.is_empty() {
        notes.push(format!(
            "engine full backup: {:.1} s (median) of it read the archive back against the manifest",
            median(&engine_read_back).as_secs_f64()
        ));
    }
    notes.push(format!(
        "restic does not sync what it restored: a `sync` right after took {:.1} s more (median; the engine's restore syncs every file before it returns)",
        median(&restic_sync).as_secs_f64()
    ));
    let rows = [
        Row::new(
            "engine: full (monthly) backup",
            &engine_backup,
            Some(engine_size),
        ),
        Row::new("engine: full restore", &engine_restore, None),
        Row::new(
            &format!("restic: backup (repository v{repo_version})"),
            &restic_backup,
            Some(repo_bytes),
        ),
        Row::new("restic: restore latest", &restic_restore, None),
        Row::new(
            "tar | zstd -3 | age (Debian programs)",
            &reference_backup,
            Some(reference_size),
        ),
        Row::new("age -d | zstd -d | tar -x", &reference_restore, None),
    ];
    let engine_full = (!engine_backup.is_empty()).then(|| median(&engine_backup));
    let engine_restore = (!engine_restore.is_empty()).then(|| median(&engine_restore));
    let restic_backup = median(&restic_backup);
    let restic_restore = median(&restic_restore);

    // ---- (d) 1 % more documents, then a daily ----
    let added_docs = (p.docs / 100).max(1);
    let added_attachments = p.attachments / 100;
    let sizes = p.attachment_sizes(
        2,
        added_attachments,
        p.attach_bytes * added_attachments as u64 / p.attachments.max(1) as u64,
    );
    let extra: Vec<(usize, usize)> = sizes
        .into_iter()
        .enumerate()
        .map(|(k, s)| (p.attachments + k, s))
        .collect();
    let start = Instant::now();
    let added_bytes = send_documents(&app, p.docs..p.docs + added_docs, p.patients(), extra).await;
    let intake_time = start.elapsed();
    let (_, data_after) = tree_size(&data);
    settle();
    let start = Instant::now();
    let daily = if engine_ok {
        Some(engine::backup(&app.state, false).await)
    } else {
        None
    };
    let engine_daily = match daily {
        Some(Ok(done)) => {
            let took = start.elapsed();
            notes.push(format!(
                "engine daily backup: of its {:.1} s, {:.1} s read the archive back",
                took.as_secs_f64(),
                done.read_back.as_secs_f64()
            ));
            Some((took, done.size))
        }
        Some(Err(e)) => {
            notes.push(format!("engine daily backup failed: {e:#}"));
            None
        }
        None => None,
    };
    let (_, repo_before) = tree_size(&repo);
    settle();
    let restic_second = sh(&format!("{restic} backup -q {}", q(&data)), &renv);
    let (_, repo_after) = tree_size(&repo);
    let load_end = load_average();

    // ---- the report ----
    println!();
    println!(
        "backup benchmark — {}, {cpus} CPUs, load average {load_start} at the start, {load_end} at the end",
        jiff::Zoned::now().strftime("%Y-%m-%d %H:%M %Z")
    );
    println!(
        "data directory: {:.0} MB in {data_files} files — database {:.0} MB ({documents} documents of {doc_min}–{doc_max} bytes, mean {doc_avg}; {patients} patients), {blob_files} blobs {:.0} MB",
        mb(data_bytes),
        mb(db_bytes),
        mb(blob_bytes)
    );
    if let Some((db_z, blobs_z)) = compressed {
        println!(
            "zstd -3 alone: database {:.0} → {:.0} MB ({:.1}×), blobs {:.0} → {:.0} MB ({:.2}×)",
            mb(db_bytes),
            mb(db_z),
            db_bytes as f64 / db_z.max(1) as f64,
            mb(blob_bytes),
            mb(blobs_z),
            blob_bytes as f64 / blobs_z.max(1) as f64
        );
    }
    println!(
        "data set: {generation}; working copy made in {:.1} s",
        copy_time.as_secs_f64()
    );
    println!(
        "{restic_version}; restic init {:.1} s (not counted); engine zstd level 3 (default), read-back check with the identity file",
        init_time.as_secs_f64()
    );
    println!(
        "{} round(s): each row is the median of its rounds (the range beside it); every goal is checked on the medians",
        p.rounds
    );
    println!();
    println!(
        "{:<44} {:>9} {:>13} {:>9} {:>12} {:>9}",
        "step", "time (s)", "range (s)", "MB/s", "output (MB)", "× restic"
    );
    for r in rows.iter().filter(|r| !r.times.is_empty()) {
        let restic_time = if r.size.is_some() {
            restic_backup
        } else {
            restic_restore
        };
        let t = median(&r.times);
        let (lo, hi) = (
            r.times.iter().min().copied().unwrap_or_default(),
            r.times.iter().max().copied().unwrap_or_default(),
        );
        println!(
            "{:<44} {:>9.1} {:>13} {:>9.1} {:>12} {:>9.2}",
            r.name,
            t.as_secs_f64(),
            format!("{:.1}–{:.1}", lo.as_secs_f64(), hi.as_secs_f64()),
            throughput(t),
            r.size
                .map_or_else(|| "—".into(), |s| format!("{:.0}", mb(s))),
            restic_time.as_secs_f64() / t.as_secs_f64()
        );
    }
    println!(
        "(× restic: restic's time / this row's time, against restic's backup for backups and its restore for restores)"
    );
    println!();
    println!(
        "after +1 %: {added_docs} documents and {added_attachments} attachments ({:.1} MB) through the intake API in {:.1} s; data directory now {:.0} MB",
        mb(added_bytes),
        intake_time.as_secs_f64(),
        mb(data_after)
    );
    if let (Some((t, size)), Some(full)) = (engine_daily, engine_full) {
        println!(
            "{:<44} {:>9.1} {:>13} {:>9} {:>12.0} {:>9.1} % of the full (median)",
            "engine: daily (incremental) backup",
            t.as_secs_f64(),
            "",
            "",
            mb(size),
            100.0 * t.as_secs_f64() / full.as_secs_f64()
        );
    }
    println!(
        "{:<44} {:>9.1} {:>13} {:>9} {:>12.0} {:>9.1} % of restic's first (median)",
        "restic: second backup",
        restic_second.as_secs_f64(),
        "",
        "",
        mb(repo_after.saturating_sub(repo_before)),
        100.0 * restic_second.as_secs_f64() / restic_backup.as_secs_f64()
    );
    println!();
    for n in &notes {
        println!("note: {n}");
    }
    println!();
    println!("goals (issue 11):");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    match engine_full {
        Some(t) => {
            let x = restic_backup.as_secs_f64() / t.as_secs_f64();
            println!(
                "  backup ≥ 5× restic's throughput: {:.1} MB/s against {:.1} MB/s = {x:.2}× — {}",
                throughput(t),
                throughput(restic_backup),
                verdict(x >= 5.0)
            );
            match engine_restore {
                Some(r) => {
                    let x = restic_restore.as_secs_f64() / r.as_secs_f64();
                    println!(
                        "  restore ≥ 1× restic's throughput: {:.1} MB/s against {:.1} MB/s = {x:.2}× — {}",
                        throughput(r),
                        throughput(restic_restore),
                        verdict(x >= 1.0)
                    );
                }
                None => println!("  restore ≥ 1× restic's throughput: not measured — NOT met"),
            }
            println!(
                "  output ≤ restic's repository: {:.0} MB against {:.0} MB — {}",
                mb(engine_size),
                mb(repo_bytes),
                verdict(engine_size <= repo_bytes)
            );
            match engine_daily {
                Some((d, _)) => {
                    let share = d.as_secs_f64() / t.as_secs_f64();
                    println!(
                        "  daily after +1 % documents < 10 % of the full's time: {:.1} s against {:.1} s = {:.1} % — {}",
                        d.as_secs_f64(),
                        t.as_secs_f64(),
                        100.0 * share,
                        verdict(share < 0.10)
                    );
                }
                None => println!("  daily < 10 % of the full: not measured — NOT met"),
            }
        }
        None => println!("  the engine did not run: every goal NOT met"),
    }

    app.state.db.close().await;
    let _ = std::fs::remove_dir_all(&work);
}
