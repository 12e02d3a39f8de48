//! The blob store behind one interface (issue 16 item 1, X.5): attachments in an S3-compatible
//! bucket (a local `moto_server` on loopback) sent and read back by hash, a corrupted object
//! found on read, `blobs migrate --to s3` (verified, idempotent) and reads after the switch,
//! backups that hold an S3 store's blobs and give them back, and a purge that never removes a
//! blob still referenced. On SQLite and, with TEST_DATABASE_URL, PostgreSQL.

use std::collections::BTreeSet;
use std::path::Path;

use rainbownet::audit::Actor;
use rainbownet::backup::{self, Kind};
use rainbownet::blobs::{BlobSettings, BlobStore, StoreKind, hash_of};
use serde_json::Value;

use crate::backup_targets::S3Server;
use crate::helpers::*;
use crate::records::{A, B, Net, consent_for, fixture_json, walk};

const BUCKET: &str = "rainbownet-blobs";
const ACCESS_KEY: &str = "blobs-test-access";
const SECRET_KEY: &str = "blobs-test-secret";

fn s3_blobs(endpoint: &str, grace_minutes: u32) -> BlobSettings {
    let mut s = BlobSettings::default();
    s.store = StoreKind::S3;
    s.s3_endpoint = endpoint.to_string();
    s.s3_bucket = BUCKET.into();
    s.s3_region = "us-east-1".into();
    s.s3_path_style = true;
    s.collect_grace_minutes = grace_minutes;
    s
}

/// moto on loopback, and this process's S3 credentials (tests may not change the environment).
async fn s3() -> Option<S3Server> {
    rainbownet::blobs::use_credentials(ACCESS_KEY, SECRET_KEY);
    S3Server::start(BUCKET).await
}

/// Facilities A and B with API keys and A's consent for both, on an application configured
/// by `configure`.
async fn network_with(configure: impl FnOnce(&mut rainbownet::config::Settings)) -> Net {
    let app = spawn_app_with(configure).await;
    let mut keys = std::collections::HashMap::new();
    for code in [A, B] {
        app.facility(code).await;
        let (_, key) = rainbownet::records::create_api_key(
            app.db(),
            code,
            "電子カルテ連携",
            &Actor::system("test"),
            app.now(),
        )
        .await
        .expect("api key");
        keys.insert(code, key);
    }
    let net = Net { app, keys };
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    net
}

/// The referral fixture with its own Bundle.identifier and, when `pdf` is given, that PDF as its
/// attachment; returns the body and the attachment's bytes.
fn referral(n: u32, pdf: Option<&[u8]>) -> (String, Vec<u8>) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v = fixture_json("referral_57133-1.json");
    v["identifier"]["value"] = Value::String(format!("2310000011^2026^B{n:05}"));
    let data = &mut v["entry"][9]["resource"]["content"][0]["attachment"]["data"];
    if let Some(pdf) = pdf {
        *data = Value::String(b64.encode(pdf));
    }
    let bytes = b64
        .decode(data.as_str().expect("attachment data"))
        .expect("base64");
    (v.to_string(), bytes)
}

/// The bytes of the first attachment of a document read back through the FHIR API.
async fn attachment_via_api(net: &Net, id: i64) -> reqwest::Response {
    net.get(A, &format!("/api/fhir/Bundle/{id}")).await
}

fn attachment_of(bundle: &Value) -> Vec<u8> {
    use base64::Engine;
    let data = bundle["entry"][9]["resource"]["content"][0]["attachment"]["data"]
        .as_str()
        .expect("attachment data in the read Bundle");
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64")
}

/// The hashes of the blobs under a data directory's `blobs` (local layout).
fn local_hashes(blobs: &Path) -> BTreeSet<String> {
    walk(blobs)
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let prefix = p.parent()?.file_name()?.to_str()?.to_string();
            Some(format!("{prefix}{name}"))
        })
        .collect()
}

/// `rainbownet ARGS` on the app's database and data directory, with `[blobs]` pointing at the
/// bucket through `RAINBOWNET__BLOBS__…` and the credentials in AWS_* variables.
fn cli_with_s3(
    app: &TestApp,
    data_dir: &Path,
    endpoint: &str,
    store: &str,
    args: &[&str],
) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .args(args)
        .env("RAINBOWNET__DATABASE__URL", &app.database_url)
        .env("RAINBOWNET__PATHS__DATA_DIR", data_dir)
        .env("RAINBOWNET__LOG__FILTER", "warn")
        .env("RAINBOWNET__BLOBS__STORE", store)
        .env("RAINBOWNET__BLOBS__S3_ENDPOINT", endpoint)
        .env("RAINBOWNET__BLOBS__S3_BUCKET", BUCKET)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("run rainbownet");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn x5_issue16_an_attachment_sent_into_s3_is_read_back_equal_and_nothing_is_kept_locally() {
    let Some(server) = s3().await else { return };
    let settings = s3_blobs(&server.endpoint, 60);
    let net = network_with(|s| s.set_section("blobs", &settings)).await;
    let (body, pdf) = referral(1, None);
    let id = net.accept(A, body).await;
    let hash = hash_of(&pdf);

    // In the bucket under blobs/ab/cdef…, not on the local disk.
    let bucket = BlobStore::build(StoreKind::S3, &settings, net.app.dir.path()).expect("store");
    let listed: Vec<String> = bucket
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert!(listed.contains(&hash), "{listed:?}");
    assert_eq!(bucket.get(&hash).await.expect("get"), pdf);
    assert!(
        local_hashes(&net.app.dir.path().join("blobs")).is_empty(),
        "no local blob"
    );

    // Read back through the API and the UI download: the same bytes.
    let res = attachment_via_api(&net, id).await;
    assert_eq!(res.status(), 200);
    let bundle: Value = res.json().await.expect("json");
    assert_eq!(attachment_of(&bundle), pdf);
    let reader = net
        .person(rainbownet::auth::Role::User, B, "b-reader")
        .await;
    let res = reader
        .get(&format!("/records/documents/{id}/attachments/1"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), pdf);
    // Each successful read is audited (after the blob was read, in its own transaction).
    assert_eq!(net.app.audit_count("records.attachment_read").await, 1);

    // The same attachment again: stored once, the put is a no-op.
    let (body, _) = referral(2, None);
    net.accept(A, body).await;
    assert_eq!(bucket.list().await.expect("list").len(), listed.len());
}

#[tokio::test]
async fn x5_issue16_a_corrupted_object_in_s3_is_detected_on_read_and_by_blobs_verify() {
    let Some(server) = s3().await else { return };
    let settings = s3_blobs(&server.endpoint, 60);
    let net = network_with(|s| s.set_section("blobs", &settings)).await;
    let (body, pdf) = referral(1, None);
    let id = net.accept(A, body).await;
    let hash = hash_of(&pdf);
    assert_eq!(attachment_via_api(&net, id).await.status(), 200);

    // Someone with access to the bucket changes the object behind the application's back.
    let mut tampered = pdf.clone();
    tampered[20] ^= 0x01;
    let place = rainbownet::s3::S3Place {
        endpoint: server.endpoint.parse().expect("url"),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        path_style: true,
        prefix: String::new(),
    };
    rainbownet::s3::S3Client::new(&place, rusty_s3::Credentials::new(ACCESS_KEY, SECRET_KEY))
        .expect("client")
        .put_bytes(&rainbownet::blobs::key_of(&hash), tampered.clone())
        .await
        .expect("PUT");

    let reads_before = net.app.audit_count("records.document_read").await;
    let res = attachment_via_api(&net, id).await;
    assert_eq!(res.status(), 500, "never the changed bytes");
    let reader = net
        .person(rainbownet::auth::Role::User, B, "b-reader")
        .await;
    let res = reader
        .get(&format!("/records/documents/{id}/attachments/1"))
        .await;
    assert_eq!(res.status(), 500);
    assert_ne!(res.bytes().await.expect("bytes").to_vec(), tampered);
    // The blob is read (and verified) before the read is audited: a read that failed left no
    // read event (the audit transaction is short and never waits on the object store).
    assert_eq!(
        net.app.audit_count("records.document_read").await,
        reads_before
    );
    assert_eq!(net.app.audit_count("records.attachment_read").await, 0);

    let (code, out) = cli_with_s3(
        &net.app,
        net.app.dir.path(),
        &server.endpoint,
        "s3",
        &["blobs", "verify"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("不良 {hash}")) && out.contains("不良 1 件"),
        "{out}"
    );
}

#[tokio::test]
async fn x5_issue16_blobs_migrate_copies_local_blobs_to_s3_verified_idempotent_and_reads_work_after_the_switch()
 {
    let Some(server) = s3().await else { return };
    let net = network_with(|_| {}).await;
    let mut ids = Vec::new();
    let mut pdfs = Vec::new();
    for n in 0..3u8 {
        let mut pdf = b"%PDF-1.4\n% rainbownet migrate test ".to_vec();
        pdf.push(b'0' + n);
        let (body, bytes) = referral(u32::from(n), Some(&pdf));
        ids.push(net.accept(A, body).await);
        pdfs.push(bytes);
    }
    let data_dir = net.app.dir.path().to_path_buf();
    let local = local_hashes(&data_dir.join("blobs"));
    // Three PDFs and the consent's scan, if any: every local blob moves.
    assert!(local.len() >= 3, "{local:?}");

    let (code, out) = cli_with_s3(
        &net.app,
        &data_dir,
        &server.endpoint,
        "local",
        &["blobs", "migrate", "--to", "s3"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("コピー {} 件", local.len())) && out.contains("失敗 0 件"),
        "{out}"
    );
    assert!(
        out.contains("store = \"s3\""),
        "tells what to do next: {out}"
    );

    // Every hash is in the bucket with its content.
    let settings = s3_blobs(&server.endpoint, 60);
    let bucket = BlobStore::build(StoreKind::S3, &settings, &data_dir).expect("store");
    let remote: BTreeSet<String> = bucket
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert_eq!(remote, local);
    for h in &remote {
        bucket.get(h).await.expect("hash checked on read");
    }

    // Again: nothing sent, everything read back and checked.
    let (code, out) = cli_with_s3(
        &net.app,
        &data_dir,
        &server.endpoint,
        "local",
        &["blobs", "migrate", "--to", "s3"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("コピー 0 件") && out.contains(&format!("移行済み {} 件", local.len())),
        "{out}"
    );

    // Switch: an instance with store = "s3" on the same database and data directory, the local
    // blobs gone, reads every attachment from the bucket.
    std::fs::remove_dir_all(data_dir.join("blobs")).expect("remove local blobs");
    let url = net.app.database_url.clone();
    let dir = data_dir.clone();
    let app = spawn_app_with(|s| {
        s.database.url = url;
        s.paths.data_dir = dir;
        s.set_section("blobs", &settings);
    })
    .await;
    let switched = Net {
        app,
        keys: net.keys.clone(),
    };
    for (id, pdf) in ids.iter().zip(&pdfs) {
        let res = attachment_via_api(&switched, *id).await;
        assert_eq!(res.status(), 200);
        let bundle: Value = res.json().await.expect("json");
        assert_eq!(&attachment_of(&bundle), pdf);
    }
    let (code, out) = cli_with_s3(
        &net.app,
        &data_dir,
        &server.endpoint,
        "s3",
        &["blobs", "verify"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("{} 件を確認、不良 0 件", local.len())),
        "{out}"
    );
}

#[tokio::test]
async fn x5_issue16_a_backup_with_blobs_in_s3_holds_them_and_its_restore_gives_them_back() {
    let Some(server) = s3().await else { return };
    let side = tempfile::tempdir().expect("temp dir");
    let backup_settings = crate::backup::keyed_settings(side.path());
    let settings = s3_blobs(&server.endpoint, 60);
    let net = network_with(|s| {
        s.set_section("blobs", &settings);
        s.set_section("backup", &backup_settings);
    })
    .await;
    for n in 0..3u8 {
        let mut pdf = b"%PDF-1.4\n% rainbownet backup test ".to_vec();
        pdf.push(b'0' + n);
        net.accept(A, referral(u32::from(n), Some(&pdf)).0).await;
    }
    let bucket = BlobStore::build(StoreKind::S3, &settings, net.app.dir.path()).expect("store");
    let remote: BTreeSet<String> = bucket
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert!(remote.len() >= 3);
    let report = backup::run::backup_now(
        &net.app.state,
        Kind::Monthly,
        "test",
        &Actor::system("test"),
        net.app.now(),
    )
    .await
    .expect("backup");
    let archived: BTreeSet<String> = report
        .manifest
        .files
        .iter()
        .filter_map(|f| f.path.strip_prefix("blobs/"))
        .map(|p| p.replace('/', ""))
        .collect();
    assert_eq!(
        archived, remote,
        "the monthly holds every blob of the bucket"
    );

    // A daily after one more document carries only the new blob.
    net.app.advance_minutes(24 * 60);
    let (body, pdf) = referral(9, Some(b"%PDF-1.4\n% the daily's one"));
    net.accept(A, body).await;
    let daily = backup::run::backup_now(
        &net.app.state,
        Kind::Daily,
        "test",
        &Actor::system("test"),
        net.app.now(),
    )
    .await
    .expect("daily");
    let new: Vec<&str> = daily
        .manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("blobs/"))
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(new, [rainbownet::blobs::key_of(&hash_of(&pdf))]);

    // The restore writes them to the restored data directory's blobs (local layout), each
    // checked against the manifest; their content is their hash.
    let to = side.path().join("restored");
    backup::restore::restore(
        Path::new(&backup_settings.dir),
        &daily.id,
        Path::new(&backup_settings.identity_file),
        &to,
        None,
    )
    .await
    .expect("restore");
    let restored = BlobStore::local(&to);
    let mut all = remote.clone();
    all.insert(hash_of(&pdf));
    assert_eq!(local_hashes(&to.join("blobs")), all);
    for h in &all {
        restored
            .get(h)
            .await
            .expect("restored blob matches its hash");
    }
}

#[tokio::test]
async fn x5_issue16_a_purge_never_deletes_a_blob_still_referenced_and_keeps_young_s3_blobs() {
    let Some(server) = s3().await else { return };
    // Grace 0: the purge may collect any unreferenced blob at once.
    let settings = s3_blobs(&server.endpoint, 0);
    let net = network_with(|s| s.set_section("blobs", &settings)).await;
    let shared = b"%PDF-1.4\n% shared by an old and a recent document".to_vec();
    let only_old = b"%PDF-1.4\n% only in the old document".to_vec();
    let old_a = net.accept(A, referral(1, Some(&shared)).0).await;
    let old_b = net.accept(A, referral(2, Some(&only_old)).0).await;
    net.app.advance_minutes(200 * 24 * 60);
    let recent = net.accept(A, referral(3, Some(&shared)).0).await;
    net.app.advance_minutes(170 * 24 * 60);

    let bucket = BlobStore::build(StoreKind::S3, &settings, net.app.dir.path()).expect("store");
    let (docs, removed) = rainbownet::records::purge(
        &net.app.state,
        &[old_a, old_b],
        &Actor::system("test"),
        net.app.now(),
    )
    .await
    .expect("purge");
    assert_eq!((docs, removed), (2, 1));
    assert!(
        bucket
            .size(&hash_of(&only_old))
            .await
            .expect("head")
            .is_none(),
        "the unreferenced blob is gone"
    );
    assert_eq!(
        bucket.get(&hash_of(&shared)).await.expect("still there"),
        shared,
        "the blob the recent document refers to stays"
    );
    let res = attachment_via_api(&net, recent).await;
    assert_eq!(res.status(), 200);
    assert_eq!(attachment_of(&res.json().await.expect("json")), shared);

    // With the default grace period a blob written just now is not collectable, referenced or
    // not (an intake on another instance may be about to refer to it).
    let young = BlobStore::build(
        StoreKind::S3,
        &s3_blobs(&server.endpoint, 60),
        Path::new("."),
    )
    .expect("store");
    let orphan = b"an upload whose document never committed".to_vec();
    young.put(&hash_of(&orphan), &orphan).await.expect("put");
    assert!(!young.collectable(&hash_of(&orphan)).await.expect("head"));
    assert!(bucket.collectable(&hash_of(&orphan)).await.expect("head"));
}
