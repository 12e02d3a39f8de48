//! X.5 / issue 16: several identical instances on one PostgreSQL database. Each test starts TWO
//! real `rainbownet serve` processes (`helpers::TestApp::spawn_instance`) on one fresh database
//! and data directory, and proves that nothing that must be unique per network lives in one
//! process: sessions, form tokens and the TOTP step (log in through one, continue on the other),
//! the credential throttle, intake with its idempotent retries (the same Bundle.identifier sent
//! to both at once), the jobs (each runs once) and the audit chain (`audit verify` passes after
//! both wrote at once).
//!
//! PostgreSQL only: on SQLite (one process by design) the tests say so and return. CI runs the
//! suite a second time on PostgreSQL (scripts/test.sh), where they run.
//!
//! The intake test keeps the attachments in one S3-compatible bucket (a local `moto_server`,
//! as `backup_targets.rs` and `blobs.rs` start it; RAINBOWNET_REQUIRE_S3=1 makes its absence a
//! failure) shared by both instances and the test's own application.

use std::collections::{BTreeMap, HashSet};

use rainbownet::auth::{Role, totp};
use rainbownet::db::Timestamp;
use serde_json::{Value, json};

use rainbownet::audit::Actor;
use rainbownet::blobs::{BlobSettings, BlobStore, StoreKind};

use crate::backup_targets::S3Server;
use crate::helpers::*;
use crate::records::{A, consent_for, fixture, fixture_json};

const BUCKET: &str = "rainbownet-multi";
const ACCESS_KEY: &str = "multi-test-access";
const SECRET_KEY: &str = "multi-test-secret";

fn on_postgres(test: &str) -> bool {
    let pg = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"));
    if !pg {
        eprintln!(
            "{test}: skipped — several instances need PostgreSQL; set TEST_DATABASE_URL=postgres://… (scripts/test.sh does)"
        );
    }
    pg
}

/// The configuration of both instances: behind a proxy on 127.0.0.1 (so that the test can
/// speak for several client addresses), a small throttle limit, jobs as given.
fn instance_config(jobs: bool) -> String {
    format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\n[security.throttle]\nper_address_max = 4\n\n[jobs]\nenabled = {jobs}\ntick_seconds = 1\n"
    )
}

fn system_now() -> Timestamp {
    Timestamp::from(jiff::Timestamp::now())
}

#[tokio::test]
async fn x5_a_session_made_on_one_instance_works_on_the_other_with_its_form_tokens_and_totp_step() {
    if !on_postgres("x5_a_session_made_on_one_instance_works_on_the_other") {
        return;
    }
    let app = spawn_app().await;
    let (a, b) = (
        app.spawn_instance(&instance_config(false), &[]),
        app.spawn_instance(&instance_config(false), &[]),
    );
    let (login_id, otp) = app.create_account(Role::SystemAdmin, "multi-admin").await;
    let on_a = app.client_of(&a, Some("192.0.2.10"));
    let on_b = on_a.at(&b.address);

    // The pre-session form token (rn_csrf cookie) issued by A is good for a log-in on B.
    on_a.csrf().await;
    let res = on_b.login(&login_id, &otp).await;
    assert_eq!(res.status(), 303, "log-in on B with A's pre-session token");

    // The session made on B: its form token read on A, the password change posted to B.
    on_a.csrf().await;
    let password = "Kiyosu2026rainbow";
    let res = on_b
        .post_form(
            "/account/password",
            &[
                ("current_password", &otp),
                ("new_password", password),
                ("confirm_password", password),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        303,
        "password change on B with A's form token"
    );

    // TOTP enrolment: the page (and its secret, kept in the session) on B, the code posted to A.
    let page = on_b
        .get("/account/totp/enroll")
        .await
        .text()
        .await
        .expect("body");
    let secret = attr(&page, "data-secret").expect("secret on the enrolment page");
    on_b.csrf().await;
    let code = totp::code_at(&secret, system_now()).expect("code");
    let res = on_a
        .post_form("/account/totp/enroll", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 200, "enrolment on A shows the recovery codes");
    assert_eq!(on_b.get("/").await.status(), 200, "the dashboard on B");
    assert_eq!(on_a.get("/").await.status(), 200, "and on A");

    // Two new sessions, one per instance, send the same next TOTP code at once: the step is
    // the account's (in the database), so exactly one is accepted.
    let first = app.client_of(&a, Some("192.0.2.11"));
    let second = app.client_of(&b, Some("192.0.2.12"));
    for c in [&first, &second] {
        assert_eq!(c.login(&login_id, password).await.status(), 303);
        assert_eq!(
            location(&c.get("/").await),
            "/login/totp",
            "second factor first"
        );
    }
    let next = totp::code_at(
        &secret,
        system_now().plus(jiff::SignedDuration::from_secs(30)),
    )
    .expect("code");
    let fields = [("code", next.as_str())];
    let (r1, r2) = tokio::join!(
        first.post_form("/login/totp", &fields),
        second.post_form("/login/totp", &fields),
    );
    let accepted = [r1.status(), r2.status()]
        .iter()
        .filter(|s| s.as_u16() == 303)
        .count();
    assert_eq!(
        accepted,
        1,
        "one code, one use: {} {}",
        r1.status(),
        r2.status()
    );

    // Logged out on A, the session is gone on B too.
    on_a.csrf().await;
    let res = on_b.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    let res = on_a.get("/").await;
    assert!(
        location(&res).starts_with("/login"),
        "the ended session is refused on A"
    );
}

#[tokio::test]
async fn x5_the_credential_throttle_counts_the_attempts_of_both_instances() {
    if !on_postgres("x5_the_credential_throttle_counts_the_attempts_of_both_instances") {
        return;
    }
    let app = spawn_app().await;
    let (a, b) = (
        app.spawn_instance(&instance_config(false), &[]),
        app.spawn_instance(&instance_config(false), &[]),
    );
    let flood = "203.0.113.50";
    let (on_a, on_b) = (
        app.client_of(&a, Some(flood)),
        app.client_of(&b, Some(flood)),
    );
    // per_address_max = 4: two failures on each instance use the address's allowance.
    for (i, c) in [&on_a, &on_b, &on_a, &on_b].into_iter().enumerate() {
        let res = c.login(&format!("nobody-{i}"), "wrong-password-1").await;
        assert_eq!(res.status(), 401, "attempt {i} is checked");
    }
    for c in [&on_a, &on_b] {
        let res = c.login("nobody-9", "wrong-password-1").await;
        assert_eq!(
            res.status(),
            429,
            "the fifth attempt is refused by either instance"
        );
        assert!(res.headers().get("retry-after").is_some());
    }
    // Another address is not affected.
    let (login_id, otp) = app.create_account(Role::User, "multi-user").await;
    let res = app
        .client_of(&b, Some("203.0.113.51"))
        .login(&login_id, &otp)
        .await;
    assert_eq!(res.status(), 303);
}

/// A referral of the fixture patient under a new identifier, with an attachment of its own.
fn referral(ident: &str) -> String {
    use base64::Engine;
    let mut v = fixture_json("referral_57133-1.json");
    v["identifier"]["value"] = json!(ident);
    v["entry"][9]["resource"]["content"][0]["attachment"]["data"] = json!(
        base64::engine::general_purpose::STANDARD.encode(format!("%PDF-1.4 attachment of {ident}"))
    );
    v.to_string()
}

/// A document of the fixture patient under a new identifier.
fn document(ident: &str) -> String {
    let mut b = fixture_json("collection_clins.json");
    b["identifier"]["value"] = json!(ident);
    b.to_string()
}

/// A document of a patient not registered yet, with the consent that registers them.
fn new_patient_document(ident: &str, local_id: &str) -> String {
    let mut b: Value = serde_json::from_str(
        &fixture("patient_summary_60591-5.json").replace("\"000123\"", &format!("\"{local_id}\"")),
    )
    .expect("json");
    b["identifier"]["value"] = json!(ident);
    let mut consent = fixture_json("consent_all.json");
    consent.as_object_mut().expect("object").remove("contained");
    consent["patient"] = json!({"reference": "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"});
    b["entry"].as_array_mut().expect("entries").push(
        json!({"fullUrl": "urn:uuid:6e0c3c1a-0000-4000-8000-00000000c0a1", "resource": consent}),
    );
    b.to_string()
}

async fn post_bundle(url: &str, key: &str, body: String) -> (u16, String) {
    let res = reqwest::Client::new()
        .post(format!("{url}/api/fhir/Bundle"))
        .bearer_auth(key)
        .header("content-type", "application/fhir+json")
        .body(body)
        .send()
        .await
        .expect("POST Bundle");
    let status = res.status().as_u16();
    let loc = location(&res);
    let body = res.text().await.unwrap_or_default();
    (status, if loc.is_empty() { body } else { loc })
}

#[tokio::test]
async fn x5_intake_on_both_instances_at_once_stores_each_document_once_and_a_retry_on_the_other_gets_the_original()
 {
    if !on_postgres("x5_intake_on_both_instances_at_once") {
        return;
    }
    // One bucket for the attachments of every instance.
    let Some(s3) = S3Server::start(BUCKET).await else {
        return;
    };
    rainbownet::blobs::use_credentials(ACCESS_KEY, SECRET_KEY);
    let mut blobs = BlobSettings::default();
    blobs.store = StoreKind::S3;
    blobs.s3_endpoint = s3.endpoint.clone();
    blobs.s3_bucket = BUCKET.into();
    blobs.s3_path_style = true;
    let app = spawn_app_with(|s| s.set_section("blobs", &blobs)).await;
    let app = &app;
    app.facility(A).await;
    let (_, key) = rainbownet::records::create_api_key(
        app.db(),
        A,
        "電子カルテ連携",
        &Actor::system("test"),
        app.now(),
    )
    .await
    .expect("api key");
    let config = format!(
        "{}\n[blobs]\nstore = \"s3\"\ns3_endpoint = \"{}\"\ns3_bucket = \"{BUCKET}\"\ns3_path_style = true\n",
        instance_config(false),
        s3.endpoint
    );
    let credentials = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let (a, b) = (
        app.spawn_instance(&config, &credentials),
        app.spawn_instance(&config, &credentials),
    );
    // The patient's consent (with its scanned form, a blob) through instance A.
    let res = reqwest::Client::new()
        .post(format!("{}/api/fhir/Consent", a.address))
        .bearer_auth(&key)
        .header("content-type", "application/fhir+json")
        .body(consent_for(&[]))
        .send()
        .await
        .expect("POST Consent");
    assert_eq!(res.status(), 201);

    // A stream of distinct documents into both instances at once (group commit on each).
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let url = if worker % 2 == 0 {
            a.address.clone()
        } else {
            b.address.clone()
        };
        let key = key.clone();
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..15 {
                let ident = format!("{A}^2026^MULTI{worker}-{i}");
                statuses.push(post_bundle(&url, &key, referral(&ident)).await.0);
            }
            statuses
        });
    }
    // Meanwhile the same identifier to both instances at once, of a known patient and of a
    // patient that the first of the two registers: one 201, the other 200 with the original.
    let mut races = Vec::new();
    for k in 0..8 {
        let ident = format!("{A}^2026^RACE{k}");
        let body = if k % 2 == 0 {
            document(&ident)
        } else {
            new_patient_document(&ident, &format!("R{k:05}"))
        };
        let (ra, rb) = tokio::join!(
            post_bundle(&a.address, &key, body.clone()),
            post_bundle(&b.address, &key, body),
        );
        races.push((ident, ra, rb));
    }
    let streamed: Vec<u16> = tasks.join_all().await.into_iter().flatten().collect();
    assert!(
        streamed.iter().all(|s| *s == 201),
        "every streamed document is created once: {streamed:?}"
    );
    for (ident, (sa, la), (sb, lb)) in &races {
        let mut statuses = [*sa, *sb];
        statuses.sort();
        assert_eq!(statuses, [200, 201], "{ident}: {la} / {lb}");
        assert_eq!(la, lb, "{ident}: both answers name the same document");
    }
    // And a plain retry on the other instance later still answers with the original.
    let (ident, (_, first), _) = &races[0];
    let (status, again) = post_bundle(&b.address, &key, document(ident)).await;
    assert_eq!((status, &again), (200, first));

    let stored: i64 = app.count("documents").await;
    assert_eq!(stored, 6 * 15 + 8);
    let distinct: HashSet<String> = sqlx::query_scalar("SELECT identifier_value FROM documents")
        .fetch_all(app.db().pool())
        .await
        .expect("identifiers")
        .into_iter()
        .collect();
    assert_eq!(distinct.len() as i64, stored);
    assert_eq!(app.audit_count("records.document_received").await, stored);
    assert_eq!(app.audit_count("records.patient_registered").await, 1 + 4);

    // Every attachment, written by either instance, is in the bucket and nothing on the disk;
    // one stored through A reads back equal through B.
    let bucket = BlobStore::build(StoreKind::S3, &blobs, app.dir.path()).expect("bucket");
    let listed: HashSet<String> = bucket
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    let referenced: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT blob_hash FROM document_attachments")
            .fetch_all(app.db().pool())
            .await
            .expect("attachments");
    assert!(referenced.len() >= 6 * 15, "{}", referenced.len());
    assert!(referenced.iter().all(|h| listed.contains(h)));
    assert!(
        !app.dir.path().join("blobs").exists()
            || std::fs::read_dir(app.dir.path().join("blobs"))
                .expect("blobs dir")
                .next()
                .is_none(),
        "no blob on the local disk"
    );
    let ident = format!("{A}^2026^MULTI0-3");
    let id: i64 = sqlx::query_scalar("SELECT id FROM documents WHERE identifier_value = $1")
        .bind(&ident)
        .fetch_one(app.db().pool())
        .await
        .expect("document");
    let res = reqwest::Client::new()
        .get(format!("{}/api/fhir/Bundle/{id}", b.address))
        .bearer_auth(&key)
        .send()
        .await
        .expect("GET Bundle");
    assert_eq!(res.status(), 200);
    let read: Value = res.json().await.expect("json");
    assert_eq!(
        read["entry"][9]["resource"]["content"][0]["attachment"]["data"],
        serde_json::from_str::<Value>(&referral(&ident)).expect("json")["entry"][9]["resource"]["content"]
            [0]["attachment"]["data"]
    );

    // Both instances appended to the audit chain at once: it verifies.
    drop((a, b));
    let out = app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn x5_jobs_scheduled_on_both_instances_run_once_each_and_the_audit_chain_verifies() {
    if !on_postgres("x5_jobs_scheduled_on_both_instances_run_once_each") {
        return;
    }
    let app = spawn_app().await;
    let jobs: Vec<&str> = app.state.registry.jobs.iter().map(|j| j.name).collect();
    assert!(
        app.state
            .registry
            .jobs
            .iter()
            .all(|j| j.every >= jiff::SignedDuration::from_mins(1)),
        "every job's interval is longer than this test"
    );
    let (a, b) = (
        app.spawn_instance(&instance_config(true), &[]),
        app.spawn_instance(&instance_config(true), &[]),
    );
    // Both schedulers tick every second; meanwhile both instances write audit events.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    let mut n = 0;
    while std::time::Instant::now() < deadline {
        for inst in [&a, &b] {
            n += 1;
            let res = app
                .client_of(
                    inst,
                    Some(&format!(
                        "10.{}.{}.{}",
                        n / 65536 % 256,
                        n / 256 % 256,
                        n % 256
                    )),
                )
                .login(&format!("nobody-{n}"), "wrong-password-1")
                .await;
            // A fast machine may reach the server-wide throttle: a refusal is written too.
            assert!(
                [401, 429].contains(&res.status().as_u16()),
                "{}",
                res.status()
            );
        }
    }
    // Every job has run (or is running) exactly once across both instances.
    let waited = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let runs: BTreeMap<String, (i64, i64)> = loop {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT name, COUNT(*) AS n, COUNT(DISTINCT holder) AS holders
               FROM job_runs GROUP BY name",
        )
        .fetch_all(app.db().pool())
        .await
        .expect("job runs");
        let runs: BTreeMap<String, (i64, i64)> =
            rows.into_iter().map(|(j, n, h)| (j, (n, h))).collect();
        if runs.len() >= jobs.len() || std::time::Instant::now() > waited {
            break runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    for job in &jobs {
        assert_eq!(
            runs.get(*job).map(|r| r.0),
            Some(1),
            "{job} ran once across the two instances: {runs:?}"
        );
    }
    let holders: HashSet<String> = sqlx::query_scalar("SELECT holder FROM job_runs")
        .fetch_all(app.db().pool())
        .await
        .expect("holders")
        .into_iter()
        .collect();
    assert!(!holders.is_empty());
    drop((a, b));
    let out = app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(app.audit_count("auth.login_failed").await >= 2);
}

#[tokio::test]
async fn x5_issue15_a_letter_processed_on_one_instance_downloads_once_from_the_other() {
    if !on_postgres("x5_issue15_a_letter_processed_on_one_instance_downloads_once") {
        return;
    }
    use crate::requests::{download_link, post_issue, received_ids, request_add};
    let app = spawn_app().await;
    let (a, b) = (
        app.spawn_instance(&instance_config(false), &[]),
        app.spawn_instance(&instance_config(false), &[]),
    );
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    request_add(&fm, "清須 花子", "きよす はなこ").await;
    let ids = received_ids(&app).await;
    let via = |base: &str| TestUser {
        client: op.client.at(base),
        login_id: op.login_id.clone(),
        password: op.password.clone(),
        totp_secret: op.totp_secret.clone(),
    };
    let (on_a, on_b) = (via(&a.address), via(&b.address));

    // Processed on A; the balancer sends the list and the download to B.
    let res = post_issue(&on_a, &ids).await;
    assert_eq!(res.status(), 303, "processing on A");
    let list = on_b.client.get(&location(&res)).await.text().await.unwrap();
    let link = download_link(&list);
    let pdf = on_b.client.get(&link).await;
    assert_eq!(pdf.status(), 200, "the letter made on A downloads from B");
    let text = crate::requests::pdf_text(&pdf.bytes().await.unwrap());
    assert_eq!(crate::requests::credentials_in(&text).len(), 1);
    assert_eq!(
        on_a.client.get(&link).await.status(),
        410,
        "once, across instances"
    );
    assert_eq!(app.count("letter_handoffs").await, 0, "nothing left behind");
}
