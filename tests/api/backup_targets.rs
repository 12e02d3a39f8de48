//! The copy to the second target and retention (R21.1, R20.4, MHLW guideline 6.0): a directory
//! and an S3-compatible bucket (a local `moto_server` on loopback) get byte-identical copies; a
//! failed copy is recorded and audited and spoils nothing; a year of daily runs on the test clock,
//! pruned every day, leaves exactly the expected generations on both targets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rainbownet::backup::model::{Counts, FileEntry, MANIFEST_FORMAT};
use rainbownet::backup::targets::{self, S3Target, Target};
use rainbownet::backup::{BackupId, BackupSettings, Kind, Manifest, SecondTarget, prune};
use rainbownet::db::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::helpers::{TestApp, spawn_app_with};

const ACCESS_KEY: &str = "AKIARAINBOWTEST";
const SECRET_KEY: &str = "s3cr3t-Never-In-Logs-0123456789";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn primary_dir(app: &TestApp) -> PathBuf {
    app.state
        .section::<BackupSettings>()
        .dir_in(&app.state.settings.paths.data_dir)
}

/// An archive and its sidecar manifest written into the primary directory as the engine writes
/// them (the bytes stand in for an encrypted tar.zst), and its `backups` row.
async fn fabricate(
    app: &TestApp,
    kind: Kind,
    chain: Option<&BackupId>,
    parent: Option<&BackupId>,
    size: usize,
) -> Manifest {
    let now = app.now();
    let id = BackupId::new(now.as_jiff(), kind);
    let dir = primary_dir(app);
    std::fs::create_dir_all(&dir).expect("backup dir");
    let mut bytes = Vec::with_capacity(size);
    let mut block = Sha256::digest(id.as_str().as_bytes()).to_vec();
    while bytes.len() < size {
        bytes.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    bytes.truncate(size);
    std::fs::write(dir.join(id.archive_name()), &bytes).expect("archive");
    let started = now.as_jiff().to_string();
    let m = Manifest {
        format: MANIFEST_FORMAT,
        id: id.clone(),
        kind,
        chain: match kind {
            Kind::Monthly => Some(id.clone()),
            Kind::Daily => chain.cloned(),
            Kind::System => None,
        },
        parent: parent.cloned(),
        started_at: started.clone(),
        finished_at: started,
        software_version: "test".into(),
        schema_version: 12,
        backend: "sqlite".into(),
        counts: Counts::default(),
        audit_head_seq: 0,
        audit_head_hash: String::new(),
        audit_anchor: String::new(),
        files: Vec::new(),
        archive: Some(FileEntry {
            path: id.archive_name(),
            size: bytes.len() as u64,
            sha256: sha256(&bytes),
        }),
    };
    std::fs::write(
        dir.join(id.manifest_name()),
        serde_json::to_vec_pretty(&m).expect("json"),
    )
    .expect("manifest");
    sqlx::query(
        "INSERT INTO backups (id, kind, chain_id, parent_id, trigger, state, started_at,
            finished_at, size_bytes, sha256)
         VALUES ($1, $2, $3, $4, 'test', 'ok', $5, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(kind.key())
    .bind(m.chain.as_ref().map(|c| c.as_str().to_string()))
    .bind(parent.map(|p| p.as_str().to_string()))
    .bind(now)
    .bind(bytes.len() as i64)
    .bind(sha256(&bytes))
    .execute(app.db().pool())
    .await
    .expect("backups row");
    m
}

async fn copy_row(app: &TestApp, id: &BackupId) -> (Option<String>, Option<String>) {
    let row = sqlx::query("SELECT copied_at, copy_result FROM backups WHERE id = $1")
        .bind(id.as_str())
        .fetch_one(app.db().pool())
        .await
        .expect("row");
    (
        row.try_get("copied_at").expect("copied_at"),
        row.try_get("copy_result").expect("copy_result"),
    )
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<serde_json::Value> {
    sqlx::query("SELECT details FROM audit_events WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(app.db().pool())
        .await
        .expect("audit rows")
        .iter()
        .map(|r| {
            let text: String = r.try_get("details").expect("details");
            serde_json::from_str(&text).expect("json details")
        })
        .collect()
}

/// The backups (ids with both archive and manifest) in a directory; panics on a stray file.
fn held_in(dir: &Path) -> BTreeSet<BackupId> {
    let mut archives = BTreeSet::new();
    let mut manifests = BTreeSet::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let name = e.expect("entry").file_name().into_string().expect("utf-8");
        if let Some(stem) = name.strip_suffix(".tar.zst.age") {
            archives.insert(BackupId::parse(stem).expect("archive id"));
        } else if let Some(stem) = name.strip_suffix(".json") {
            manifests.insert(BackupId::parse(stem).expect("manifest id"));
        } else {
            panic!("unexpected file {name} in {}", dir.display());
        }
    }
    assert_eq!(
        archives,
        manifests,
        "every archive has its manifest in {}",
        dir.display()
    );
    archives
}

#[tokio::test]
async fn r21_1_a_backup_is_copied_to_a_directory_target_complete_and_byte_identical() {
    let app = spawn_app_with(|s| {
        let nas = s.paths.data_dir.join("nas");
        s.set_section(
            "backup",
            &BackupSettings {
                second_target: SecondTarget {
                    kind: "dir".into(),
                    path: nas.display().to_string(),
                    ..SecondTarget::default()
                },
                ..BackupSettings::default()
            },
        );
    })
    .await;
    let m = fabricate(&app, Kind::Monthly, None, None, 300_000).await;
    targets::copy(&app.state, &m.id).await.expect("copy");

    let nas = app.dir.path().join("nas");
    let primary = primary_dir(&app);
    for name in [m.id.archive_name(), m.id.manifest_name()] {
        let a = std::fs::read(primary.join(&name)).expect("primary");
        let b = std::fs::read(nas.join(&name)).expect("copy");
        assert_eq!(sha256(&a), sha256(&b), "{name} is byte-identical");
    }
    assert_eq!(
        held_in(&nas),
        BTreeSet::from([m.id.clone()]),
        "no temporary file is left"
    );
    let (copied_at, result) = copy_row(&app, &m.id).await;
    assert_eq!(result.as_deref(), Some("ok"));
    assert_eq!(copied_at, Some(app.now().to_db()));
    let events = audit_details(&app, "backup.copied").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["size_bytes"], 300_000);
    assert!(
        events[0]["target"]
            .as_str()
            .expect("target")
            .starts_with("dir:")
    );

    // The target's own listing reads the manifest back.
    let t = Target::Dir(nas.clone());
    let listed = t.manifests().await.expect("manifests");
    assert_eq!(listed, vec![m.clone()]);
}

#[tokio::test]
async fn r21_1_a_failed_copy_is_recorded_and_audited_leaves_the_primary_untouched_and_is_caught_up_later()
 {
    let app = spawn_app_with(|s| {
        // The "directory" is a file: nothing can be written there (root ignores permissions).
        let blocked = s.paths.data_dir.join("not-a-dir");
        std::fs::write(&blocked, b"x").expect("file");
        s.set_section(
            "backup",
            &BackupSettings {
                second_target: SecondTarget {
                    kind: "dir".into(),
                    path: blocked.join("nas").display().to_string(),
                    ..SecondTarget::default()
                },
                ..BackupSettings::default()
            },
        );
    })
    .await;
    let m = fabricate(&app, Kind::Monthly, None, None, 10_000).await;
    let primary = primary_dir(&app);
    let before = std::fs::read(primary.join(m.id.archive_name())).expect("archive");

    let err = targets::copy(&app.state, &m.id)
        .await
        .expect_err("the copy fails");
    assert!(err.to_string().contains(m.id.as_str()), "{err:#}");

    let (copied_at, result) = copy_row(&app, &m.id).await;
    assert_eq!(copied_at, Some(app.now().to_db()));
    assert!(
        result.as_deref().unwrap_or("").starts_with("failed: "),
        "{result:?}"
    );
    assert_eq!(app.audit_count("backup.copy_failed").await, 1);
    assert_eq!(app.audit_count("backup.copied").await, 0);
    let after = std::fs::read(primary.join(m.id.archive_name())).expect("archive kept");
    assert_eq!(
        sha256(&before),
        sha256(&after),
        "the primary is not spoiled"
    );
    assert_eq!(held_in(&primary), BTreeSet::from([m.id.clone()]));
    let state: String = sqlx::query_scalar("SELECT state FROM backups WHERE id = $1")
        .bind(m.id.as_str())
        .fetch_one(app.db().pool())
        .await
        .expect("state");
    assert_eq!(state, "ok", "a failed copy does not fail the backup itself");

    // The share comes back: the next prune run copies what the second target lacks.
    let blocked = app.dir.path().join("not-a-dir");
    std::fs::remove_file(&blocked).expect("unblock");
    app.advance_minutes(60);
    let s = prune::prune(&app.state, app.now()).await.expect("prune");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.copied, vec![m.id.clone()]);
    assert_eq!(
        held_in(&blocked.join("nas")),
        BTreeSet::from([m.id.clone()])
    );
    let (copied_at, result) = copy_row(&app, &m.id).await;
    assert_eq!(result.as_deref(), Some("ok"));
    assert_eq!(copied_at, Some(app.now().to_db()));
    assert_eq!(app.audit_count("backup.copied").await, 1);
    let s = prune::prune(&app.state, app.now()).await.expect("prune");
    assert!(s.copied.is_empty(), "copied once only");

    // A copy whose archive no longer matches its manifest is refused, not stored.
    std::fs::write(primary.join(m.id.archive_name()), b"tampered").expect("write");
    let nas = app.dir.path().join("nas2");
    let t = Target::Dir(nas.clone());
    let err = targets::copy_to(&t, &primary, &m.id)
        .await
        .expect_err("a mismatch is refused");
    assert!(err.to_string().contains("does not match"), "{err:#}");
    assert!(held_in(&nas).is_empty(), "nothing half-copied is left");
}

/// `moto_server` on a free loopback port, killed on drop (also used by `blobs.rs`).
pub(crate) struct S3Server {
    child: Child,
    pub(crate) endpoint: String,
}

impl S3Server {
    /// None (with a message) when the program is missing, unless RAINBOWNET_REQUIRE_S3=1.
    pub(crate) async fn start(bucket: &str) -> Option<S3Server> {
        let required = std::env::var("RAINBOWNET_REQUIRE_S3").is_ok_and(|v| v == "1");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                let msg = format!(
                    "moto_server is not installed ({e}): python3 -m pip install 'moto[server]'"
                );
                assert!(!required, "RAINBOWNET_REQUIRE_S3=1: {msg}");
                // Straight to the process's stderr, past the test harness's capture.
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("SKIPPED (S3 test; RAINBOWNET_REQUIRE_S3=1 makes this fail): {msg}\n")
                        .as_bytes(),
                );
                return None;
            }
        };
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        // A test may start moto before any app (which installs the TLS provider otherwise).
        rainbownet::tls::install_provider();
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(&server.endpoint).send().await.is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let res = http
            .put(format!("{}/{bucket}", server.endpoint))
            .send()
            .await
            .expect("PUT bucket");
        assert!(
            res.status().is_success(),
            "bucket created: {}",
            res.status()
        );
        Some(server)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn s3_settings(endpoint: &str, keep_days: u32) -> SecondTarget {
    SecondTarget {
        kind: "s3".into(),
        endpoint: endpoint.into(),
        bucket: "rainbownet-copy".into(),
        region: "us-east-1".into(),
        prefix: "kiyosu/".into(),
        access_key: ACCESS_KEY.into(),
        secret_key: SECRET_KEY.into(),
        path_style: true,
        keep_days,
        path: String::new(),
    }
}

/// The object as the bucket serves it, fetched with a presigned GET of our own (not through
/// `Target`).
async fn download(endpoint: &str, key: &str) -> Vec<u8> {
    use rusty_s3::S3Action;
    let bucket = rusty_s3::Bucket::new(
        endpoint.parse().expect("url"),
        rusty_s3::UrlStyle::Path,
        "rainbownet-copy",
        "us-east-1",
    )
    .expect("bucket");
    let creds = rusty_s3::Credentials::new(ACCESS_KEY, SECRET_KEY);
    let url = bucket
        .get_object(Some(&creds), key)
        .sign(Duration::from_secs(60));
    let res = reqwest::get(url).await.expect("GET");
    assert!(res.status().is_success(), "{key}: {}", res.status());
    res.bytes().await.expect("body").to_vec()
}

#[tokio::test]
async fn r21_1_r20_4_backups_are_copied_to_an_s3_bucket_identical_pruned_there_and_a_stopped_server_is_a_recorded_failure()
 {
    let Some(mut server) = S3Server::start("rainbownet-copy").await else {
        return;
    };
    let endpoint = server.endpoint.clone();
    let app = spawn_app_with(|s| {
        s.set_section(
            "backup",
            &BackupSettings {
                second_target: s3_settings(&endpoint, 30),
                ..BackupSettings::default()
            },
        );
    })
    .await;

    // Two backups of one chain, copied.
    let monthly = fabricate(&app, Kind::Monthly, None, None, 200_000).await;
    targets::copy(&app.state, &monthly.id)
        .await
        .expect("copy monthly");
    app.advance_minutes(24 * 60);
    let daily = fabricate(
        &app,
        Kind::Daily,
        Some(&monthly.id),
        Some(&monthly.id),
        50_000,
    )
    .await;
    targets::copy(&app.state, &daily.id)
        .await
        .expect("copy daily");

    let primary = primary_dir(&app);
    for m in [&monthly, &daily] {
        for name in [m.id.archive_name(), m.id.manifest_name()] {
            let local = std::fs::read(primary.join(&name)).expect("primary");
            let remote = download(&endpoint, &format!("kiyosu/{name}")).await;
            assert_eq!(sha256(&local), sha256(&remote), "{name} is byte-identical");
        }
        let (_, result) = copy_row(&app, &m.id).await;
        assert_eq!(result.as_deref(), Some("ok"));
    }
    let target = Target::second(&s3_settings(&endpoint, 30))
        .expect("target")
        .expect("configured");
    assert_eq!(
        target.manifests().await.expect("listing"),
        vec![monthly.clone(), daily.clone()]
    );
    for e in audit_details(&app, "backup.copied").await {
        let text = e.to_string();
        assert!(text.contains("s3:") && !text.contains(SECRET_KEY) && !text.contains(ACCESS_KEY));
    }

    // A large archive goes up in parts (5 MiB each here) and comes back identical.
    let big = primary.join("big.bin");
    let bytes: Vec<u8> = (0..(11u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &bytes).expect("big file");
    let s3 = Target::S3(Box::new(
        S3Target::new(&s3_settings(&endpoint, 30))
            .expect("s3")
            .with_part_size(S3Target::MIN_PART_SIZE),
    ));
    let entry = FileEntry {
        path: "big.bin".into(),
        size: bytes.len() as u64,
        sha256: sha256(&bytes),
    };
    let size = s3
        .put("big.bin", &big, Some(&entry))
        .await
        .expect("multipart");
    assert_eq!(size, bytes.len() as u64);
    assert_eq!(
        sha256(&download(&endpoint, "kiyosu/big.bin").await),
        entry.sha256
    );
    let back = primary.join("big.back");
    s3.get("big.bin", &back).await.expect("get");
    assert_eq!(std::fs::read(&back).expect("read"), bytes);
    s3.delete("big.bin").await.expect("delete");
    std::fs::remove_file(&big).expect("rm");
    std::fs::remove_file(&back).expect("rm");

    // Past the bucket's 30 days (the primary keeps 365): the chain goes from the bucket only.
    app.advance_minutes(31 * 24 * 60);
    let s = prune::prune(&app.state, app.now()).await.expect("prune");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.primary, Vec::<BackupId>::new());
    assert_eq!(s.second, vec![monthly.id.clone(), daily.id.clone()]);
    assert!(target.list().await.expect("listing").is_empty());
    assert_eq!(
        held_in(&primary),
        BTreeSet::from([monthly.id.clone(), daily.id.clone()])
    );

    // The server stops: the next copy fails, is recorded and audited, without the keys.
    server.stop();
    let next = fabricate(&app, Kind::Monthly, None, None, 1_000).await;
    let err = targets::copy(&app.state, &next.id)
        .await
        .expect_err("no server");
    let text = format!("{err:#}");
    assert!(
        !text.contains(SECRET_KEY) && !text.contains(ACCESS_KEY) && !text.contains("X-Amz"),
        "{text}"
    );
    let (_, result) = copy_row(&app, &next.id).await;
    let result = result.expect("copy_result");
    assert!(result.starts_with("failed: "), "{result}");
    assert!(
        !result.contains(SECRET_KEY) && !result.contains("X-Amz-Signature"),
        "{result}"
    );
    let failed = audit_details(&app, "backup.copy_failed").await;
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].to_string().contains(SECRET_KEY));
    assert!(held_in(&primary).contains(&next.id), "the primary keeps it");
    // Prune on the primary goes on while the bucket is unreachable; the failure is reported.
    let s = prune::prune(&app.state, app.now()).await.expect("prune");
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert!(!s.errors[0].contains(SECRET_KEY));
}

#[tokio::test]
async fn r21_1_backup_prune_on_the_command_line_prints_what_it_removed() {
    let app = spawn_app_with(|_| {}).await;
    // A system backup taken 400 days ago (the CLI runs on the real clock; keep_days 365).
    let old = fabricate(&app, Kind::System, None, None, 100).await;
    let dir = primary_dir(&app);
    let back = app.now().minus(jiff::SignedDuration::from_hours(24 * 400));
    let id = BackupId::new(back.as_jiff(), Kind::System);
    let mut m = old.clone();
    m.id = id.clone();
    m.started_at = back.as_jiff().to_string();
    std::fs::rename(dir.join(old.id.archive_name()), dir.join(id.archive_name())).expect("mv");
    std::fs::remove_file(dir.join(old.id.manifest_name())).expect("rm");
    std::fs::write(
        dir.join(id.manifest_name()),
        serde_json::to_vec(&m).expect("json"),
    )
    .expect("manifest");
    let recent = fabricate(&app, Kind::Monthly, None, None, 100).await;

    let out = app.cli(&["backup", "prune"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 件を削除しました"), "{stdout}");
    assert!(stdout.contains(id.as_str()), "{stdout}");
    assert_eq!(held_in(&dir), BTreeSet::from([recent.id.clone()]));
    let events = audit_details(&app, "backup.pruned").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["primary"], serde_json::json!([id.as_str()]));

    let out = app.cli(&["backup", "prune"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("削除したバックアップはありません"));
    assert_eq!(
        app.audit_count("backup.pruned").await,
        1,
        "a run that removed nothing writes no event"
    );
}

/// Copies a backup to the second target unless the run already did (once the engine calls
/// `targets::copy` itself).
async fn copy_unless_done(app: &TestApp, id: &BackupId) {
    match copy_row(app, id).await {
        (_, None) => targets::copy(&app.state, id).await.expect("copy"),
        (_, Some(result)) => assert_eq!(result, "ok", "{id}"),
    }
}

/// One real backup now (the engine: snapshot, tar | zstd | age, read-back, row and audit event).
async fn take(app: &TestApp, kind: Kind) -> Manifest {
    let r = rainbownet::backup::run::backup_now(
        &app.state,
        kind,
        "test",
        &rainbownet::audit::Actor::system("test"),
        app.now(),
    )
    .await
    .expect("backup");
    assert_eq!(r.manifest.kind, kind, "{:?}", r.note);
    r.manifest
}

/// Moves the test clock to the next 03:00:00.000 Japan time (18:00 UTC).
fn to_next_3am_jst(app: &TestApp) {
    let now = app.now().as_jiff();
    let z = now.to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").expect("tz"));
    let mut next = z
        .date()
        .at(3, 0, 0, 0)
        .to_zoned(z.time_zone().clone())
        .expect("3:00");
    if next.timestamp() <= now {
        next = next.tomorrow().expect("tomorrow");
    }
    app.clock.advance(now.duration_until(next.timestamp()));
}

fn jst_day(t: Timestamp) -> i8 {
    t.as_jiff()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").expect("tz"))
        .day()
}

/// What the test itself knows about a backup it took.
struct Taken {
    id: BackupId,
    at: Timestamp,
    /// The monthly it builds on (itself for a monthly); none for a system backup.
    chain: Option<BackupId>,
}

/// The backups a target keeping `keep_days` holds at `now` by the rule, computed from what the
/// test took (not by `prune::plan`): a chain stays whole while its newest member is at most
/// `keep_days` old, a system backup while it is.
fn expected(taken: &[Taken], now: Timestamp, keep_days: i64) -> BTreeSet<BackupId> {
    let keep = jiff::SignedDuration::from_hours(24 * keep_days);
    let within = |t: Timestamp| now.since(t) <= keep;
    taken
        .iter()
        .filter(|t| match &t.chain {
            None => within(t.at),
            Some(c) => taken
                .iter()
                .filter(|o| o.chain.as_ref() == Some(c))
                .any(|o| within(o.at)),
        })
        .map(|t| t.id.clone())
        .collect()
}

#[tokio::test]
async fn r21_1_r20_4_a_year_of_daily_runs_pruned_daily_leaves_exactly_the_expected_generations_on_both_targets()
 {
    const PRIMARY_KEEP: u32 = 90;
    const SECOND_KEEP: u32 = 180;
    const DAYS: usize = 366;
    // Archives encrypted to a key made here; read back by checksum only (no identity on the
    // server), which keeps 400 runs quick.
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let app = spawn_app_with(|s| {
        let nas = s.paths.data_dir.join("nas");
        s.set_section(
            "backup",
            &BackupSettings {
                recipients: vec![recipient],
                keep_days: PRIMARY_KEEP,
                second_target: SecondTarget {
                    kind: "dir".into(),
                    path: nas.display().to_string(),
                    keep_days: SECOND_KEEP,
                    ..SecondTarget::default()
                },
                ..BackupSettings::default()
            },
        );
    })
    .await;
    let started = Instant::now();
    let primary = primary_dir(&app);
    let nas = app.dir.path().join("nas");

    // From the 1st of a month, every day at 03:00 JST (a monthly on the 1st, else a daily; a
    // system backup at 04:00 on the 15th), for at least 366 days and on to a 20th, so that each
    // target's oldest kept chain straddles its retention limit.
    to_next_3am_jst(&app);
    while jst_day(app.now()) != 1 {
        app.advance_minutes(24 * 60);
    }
    let mut taken: Vec<Taken> = Vec::new();
    let mut chains: Vec<Vec<BackupId>> = Vec::new();
    let mut parent: Option<BackupId> = None;
    let mut day = 0;
    let pg = app.database_url.starts_with("postgres");
    let mut real_runs = 0;
    while day < DAYS || jst_day(app.now()) != 20 {
        if day > 0 {
            to_next_3am_jst(&app);
        }
        day += 1;
        let kind = if jst_day(app.now()) == 1 {
            Kind::Monthly
        } else {
            Kind::Daily
        };
        // On PostgreSQL each real run costs a pg_dump (~150 ms here, 60+ s for the year), so
        // there the engine runs on the 1st, 2nd and 15th of each month and the last days, and
        // the other dailies are written in the engine's format by `fabricate`; on SQLite every
        // day is a real run.
        let real = !pg || matches!(jst_day(app.now()), 1 | 2 | 15) || day + 7 > DAYS;
        let m = if real {
            real_runs += 1;
            take(&app, kind).await
        } else {
            let chain = chains.last().map(|c| c[0].clone());
            fabricate(&app, kind, chain.as_ref(), parent.as_ref(), 64).await
        };
        if kind == Kind::Monthly {
            chains.push(Vec::new());
        } else {
            assert_eq!(
                m.chain.as_ref(),
                chains.last().map(|c| &c[0]),
                "the engine builds on this month's monthly"
            );
            assert_eq!(m.parent, parent, "and on the day before");
        }
        chains.last_mut().expect("a chain").push(m.id.clone());
        parent = Some(m.id.clone());
        copy_unless_done(&app, &m.id).await;
        taken.push(Taken {
            id: m.id.clone(),
            at: app.now(),
            chain: Some(chains.last().expect("chain")[0].clone()),
        });
        if jst_day(app.now()) == 15 {
            app.advance_minutes(60);
            real_runs += 1;
            let s = take(&app, Kind::System).await;
            copy_unless_done(&app, &s.id).await;
            taken.push(Taken {
                id: s.id.clone(),
                at: app.now(),
                chain: None,
            });
        }
        let msg = rainbownet::jobs::run(&app.state, "backup.prune", "test")
            .await
            .expect("the prune job runs");
        assert!(msg.starts_with("主:"), "{msg}");

        // Every day, on both targets: what is left of a chain is its older part.
        for dir in [&primary, &nas] {
            let held = held_in(dir);
            for c in &chains {
                let kept: Vec<bool> = c.iter().map(|id| held.contains(id)).collect();
                assert!(
                    !kept.windows(2).any(|w| !w[0] && w[1]),
                    "day {day}: the chain {} in {} has a gap: {kept:?}",
                    c[0],
                    dir.display()
                );
            }
        }
    }
    let now = app.now();
    let want_primary = expected(&taken, now, i64::from(PRIMARY_KEEP));
    let want_second = expected(&taken, now, i64::from(SECOND_KEEP));
    assert_eq!(held_in(&primary), want_primary, "the primary's generations");
    assert_eq!(
        held_in(&nas),
        want_second,
        "the second target's generations"
    );

    // The scenario is not trivial: both targets dropped something; each keeps a monthly older
    // than its retention because a daily of its chain is still within it; and a system backup
    // newer than that monthly was dropped on its own.
    let all: BTreeSet<BackupId> = taken.iter().map(|t| t.id.clone()).collect();
    assert!(want_primary.len() < want_second.len() && want_second.len() < all.len());
    for (want, keep) in [(&want_primary, PRIMARY_KEEP), (&want_second, SECOND_KEEP)] {
        let limit = jiff::SignedDuration::from_hours(24 * i64::from(keep));
        let old_monthly = taken
            .iter()
            .filter(|t| t.id.kind() == Kind::Monthly && want.contains(&t.id))
            .find(|t| now.since(t.at) > limit)
            .expect("a kept monthly past retention");
        assert!(
            taken.iter().any(|t| t.id.kind() == Kind::System
                && t.at > old_monthly.at
                && !want.contains(&t.id)),
            "a system backup went by itself (keep {keep})"
        );
        assert_eq!(
            want.iter().filter(|i| i.kind() == Kind::Monthly).count(),
            if keep == PRIMARY_KEEP { 4 } else { 7 },
            "keep {keep} from the 20th: the current month's chain and the {} before",
            if keep == PRIMARY_KEEP { 3 } else { 6 }
        );
    }

    // The database agrees: exactly the backups gone from the primary are marked pruned, and
    // the audit events list them (and those gone from the second target).
    let pruned: BTreeSet<BackupId> =
        sqlx::query("SELECT id FROM backups WHERE state = 'pruned' AND pruned_at IS NOT NULL")
            .fetch_all(app.db().pool())
            .await
            .expect("rows")
            .iter()
            .map(|r| BackupId::parse(&r.try_get::<String, _>("id").expect("id")).expect("id"))
            .collect();
    let gone_primary: BTreeSet<BackupId> = all.difference(&want_primary).cloned().collect();
    let gone_second: BTreeSet<BackupId> = all.difference(&want_second).cloned().collect();
    assert_eq!(pruned, gone_primary);
    let (mut audited_primary, mut audited_second) = (BTreeSet::new(), BTreeSet::new());
    for e in audit_details(&app, "backup.pruned").await {
        for (key, set) in [
            ("primary", &mut audited_primary),
            ("second", &mut audited_second),
        ] {
            for id in e[key].as_array().expect("ids") {
                set.insert(BackupId::parse(id.as_str().expect("id")).expect("id"));
            }
        }
    }
    assert_eq!(audited_primary, gone_primary);
    assert_eq!(audited_second, gone_second);
    let copied: BTreeSet<String> =
        sqlx::query("SELECT target FROM audit_events WHERE action = 'backup.copied'")
            .fetch_all(app.db().pool())
            .await
            .expect("rows")
            .iter()
            .map(|r| r.try_get("target").expect("target"))
            .collect();
    let want: BTreeSet<String> = all.iter().map(|id| format!("backup:{id}")).collect();
    assert_eq!(copied, want, "every backup was copied (and audited)");
    eprintln!(
        "year test: {} backups ({real_runs} real runs) over {day} days in {:.1} s",
        taken.len(),
        started.elapsed().as_secs_f64()
    );
}
