//! Intake: documents of every kind, bad inputs, retries, batches, API keys, OpenAPI.

use rainbownet::auth::Role;
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn r21_1_jp_clins_documents_of_every_kind_are_accepted_and_read_back() {
    let net = network().await;
    let res = net.send(A, "/api/fhir/Consent", consent_for(&[])).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let mut ids = Vec::new();
    for f in [
        "referral_57133-1.json",
        "discharge_summary_18842-5.json",
        "checkup_report_53576-5.json",
        "patient_summary_60591-5.json",
        "collection_clins.json",
    ] {
        ids.push(net.accept(A, fixture(f)).await);
    }
    assert_eq!(net.app.count("documents").await, 5);
    assert_eq!(
        net.app.count("patients").await,
        1,
        "one network patient for one local ID"
    );
    // The referral comes back as sent, its PDF included once more as base64.
    let res = net.get(B, &format!("/api/fhir/Bundle/{}", ids[0])).await;
    assert_eq!(res.status(), 200);
    let back: Value = res.json().await.unwrap();
    let sent = fixture_json("referral_57133-1.json");
    assert_eq!(back["entry"], sent["entry"]);
    assert_eq!(back["identifier"], sent["identifier"]);
    // The PDF is a blob file named by its hash, stored once.
    let blobs = walk(&net.app.dir.path().join("blobs"));
    assert_eq!(blobs.len(), 2, "the PDF and the consent scan: {blobs:?}");
    // Search by Composition.type and Bundle.timestamp (issue 14: `type` is Bundle.type), by
    // network ID and by local ID.
    let res = net
        .get(
            B,
            "/api/fhir/Bundle?composition.type=http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes|18842-5&timestamp=ge2026-11-01",
        )
        .await;
    let found: Value = res.json().await.unwrap();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["entry"][0]["resource"]["id"], ids[1].to_string());
    let res = net
        .get(A, "/api/fhir/Bundle?patient=000123&timestamp=lt2026-07-01")
        .await;
    let found: Value = res.json().await.unwrap();
    assert_eq!(
        found["total"], 1,
        "only the checkup report is before July: {found}"
    );
}

#[tokio::test]
async fn x2_bad_submissions_get_a_japanese_operation_outcome_and_store_nothing() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let before = net.rows().await;
    let referral = fixture_json("referral_57133-1.json");

    let (s, msg) = outcome(
        net.send(A, "/api/fhir/Bundle", "{\"resourceType\": \"Bundle\", ")
            .await,
    )
    .await;
    assert_eq!(s, 400, "broken JSON");
    assert!(msg.contains("JSON"), "{msg}");

    let (s, msg) = outcome(
        net.send(A, "/api/fhir/Bundle", r#"{"resourceType":"Patient"}"#)
            .await,
    )
    .await;
    assert_eq!(s, 422, "wrong resourceType");
    assert!(msg.contains("Bundle"), "{msg}");

    let mut b = referral.clone();
    b["type"] = json!("transaction");
    let (s, msg) = outcome(net.send(A, "/api/fhir/Bundle", b.to_string()).await).await;
    assert_eq!(s, 422, "wrong Bundle.type");
    assert!(msg.contains("transaction"), "{msg}");

    let mut b = referral.clone();
    b["entry"][0]["resource"]["author"][0]["reference"] =
        json!("urn:uuid:00000000-dead-4000-8000-000000000000");
    let (s, msg) = outcome(net.send(A, "/api/fhir/Bundle", b.to_string()).await).await;
    assert_eq!(s, 422, "reference to nowhere");
    assert!(msg.contains("解決できません"), "{msg}");

    let mut b = referral.clone();
    b["entry"].as_array_mut().unwrap().swap(0, 1);
    let (s, _) = outcome(net.send(A, "/api/fhir/Bundle", b.to_string()).await).await;
    assert_eq!(s, 422, "Composition not first");

    let big = vec![b' '; 50 * 1024 * 1024];
    let (s, msg) = outcome(net.send(A, "/api/fhir/Bundle", big).await).await;
    assert_eq!(s, 413, "50 MB body");
    assert!(msg.contains("大きすぎます"), "{msg}");

    let res = reqwest::Client::new()
        .post(format!("{}/api/fhir/Bundle", net.app.address))
        .bearer_auth("rnk_not-a-key")
        .header("content-type", "application/fhir+json")
        .body(referral.to_string())
        .send()
        .await
        .unwrap();
    let (s, msg) = outcome(res).await;
    assert_eq!(s, 401, "unknown API key");
    assert!(msg.contains("API キー"), "{msg}");

    // Facility B sends facility A's patient (A's local-ID system).
    let (s, msg) = outcome(net.send(B, "/api/fhir/Bundle", referral.to_string()).await).await;
    assert_eq!(s, 403, "another facility's patient");
    assert!(msg.contains("他の施設"), "{msg}");

    // A patient A has not registered, without consent.
    let mut b = referral.clone();
    b["entry"][1]["resource"]["identifier"][0]["value"] = json!("999999");
    let (s, msg) = outcome(net.send(A, "/api/fhir/Bundle", b.to_string()).await).await;
    assert_eq!(s, 422, "unknown patient");
    assert!(msg.contains("登録されていません"), "{msg}");

    let res = reqwest::Client::new()
        .post(format!("{}/api/fhir/Bundle", net.app.address))
        .bearer_auth(&net.keys[A])
        .header("content-type", "text/plain")
        .body(referral.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(outcome(res).await.0, 415);

    assert_eq!(
        net.rows().await,
        before,
        "nothing stored by any bad submission"
    );
    // Attachments are stored before the transaction (issue 16): a submission refused inside it
    // (another facility's patient, an unknown patient) leaves its attachment as an unreferenced
    // blob (nothing in `net.rows()` names it), which the purge sweeps after its grace period.
    // It is not removed at once: the store is content-addressed, and another request (of this
    // or another instance) may have stored the same bytes and be about to reference them.
    // Refusals before the transaction leave none: exactly the consent scan and that attachment.
    let blob_of = |data: &Value| {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 data"))
            .expect("base64");
        rainbownet::blobs::hash_of(&bytes)
    };
    let consent: Value = serde_json::from_str(&consent_for(&[])).unwrap();
    let mut expected = vec![
        blob_of(&consent["sourceAttachment"]["data"]),
        blob_of(&referral["entry"][9]["resource"]["content"][0]["attachment"]["data"]),
    ];
    expected.sort();
    let mut stored: Vec<String> = walk(&net.app.dir.path().join("blobs"))
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let prefix = p.parent().unwrap().file_name().unwrap().to_str().unwrap();
            format!("{prefix}{name}")
        })
        .collect();
    stored.sort();
    assert_eq!(
        stored, expected,
        "the consent scan and the referral's attachment"
    );
}

#[tokio::test]
async fn r21_1_a_retried_submission_returns_the_original_and_is_not_stored_twice() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let body = fixture("discharge_summary_18842-5.json");
    let id = net.accept(A, body.clone()).await;
    let res = net.send(A, "/api/fhir/Bundle", body.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(location(&res), format!("/api/fhir/Bundle/{id}"));
    assert_eq!(net.app.count("documents").await, 1);
    // Same identifier, different content: refused, not overwritten.
    let mut changed = fixture_json("discharge_summary_18842-5.json");
    changed["entry"][0]["resource"]["title"] = json!("退院時サマリー（改）");
    let (s, msg) = outcome(net.send(A, "/api/fhir/Bundle", changed.to_string()).await).await;
    assert_eq!(s, 409);
    assert!(msg.contains("identifier"), "{msg}");
    assert_eq!(net.app.count("documents").await, 1);
}

#[tokio::test]
async fn r21_1_a_document_with_its_consent_registers_the_patient_on_first_send() {
    let net = network().await;
    let mut b = fixture_json("patient_summary_60591-5.json");
    let mut consent = fixture_json("consent_all.json");
    consent.as_object_mut().unwrap().remove("contained");
    consent["patient"] = json!({"reference": "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"});
    b["entry"].as_array_mut().unwrap().push(
        json!({"fullUrl": "urn:uuid:6e0c3c1a-0000-4000-8000-00000000c0a1", "resource": consent}),
    );
    net.accept(A, b.to_string()).await;
    assert_eq!(net.app.count("patients").await, 1);
    assert_eq!(net.app.count("consents").await, 1);
    assert_eq!(net.app.audit_count("records.patient_registered").await, 1);
}

#[tokio::test]
async fn x2_a_batch_reports_each_entry_and_one_failure_does_not_fail_the_others() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let mut broken = fixture_json("checkup_report_53576-5.json");
    broken["entry"][0]["resource"]["subject"]["reference"] = json!("urn:uuid:nobody");
    // A new patient whose consent names a facility that does not exist: registration fails
    // half-way, and must leave nothing behind.
    let mut new_patient = fixture_json("patient_summary_60591-5.json");
    new_patient["identifier"]["value"] = json!("2310000011^2026^NEW0001");
    new_patient["entry"][1]["resource"]["identifier"][0]["value"] = json!("777777");
    let mut consent = fixture_json("consent_all.json");
    consent.as_object_mut().unwrap().remove("contained");
    consent["patient"] = json!({"reference": "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"});
    consent["provision"]["actor"] = json!([{"role": {"text": "閲覧施設"},
        "reference": {"identifier": {"value": "0000000000"}}}]);
    new_patient["entry"].as_array_mut().unwrap().push(
        json!({"fullUrl": "urn:uuid:6e0c3c1a-0000-4000-8000-00000000c0a2", "resource": consent}),
    );
    let before = net.rows().await;
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": fixture_json("referral_57133-1.json"), "request": {"method": "POST", "url": "Bundle"}},
        {"resource": broken, "request": {"method": "POST", "url": "Bundle"}},
        {"resource": fixture_json("collection_clins.json"), "request": {"method": "POST", "url": "Bundle"}},
        {"resource": fixture_json("referral_57133-1.json"), "request": {"method": "POST", "url": "Bundle"}},
        {"resource": new_patient, "request": {"method": "POST", "url": "Bundle"}}
    ]});
    let res = net.send(A, "/api/fhir", batch.to_string()).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "batch-response");
    let statuses: Vec<&str> = v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses[0], "201 Created");
    assert!(statuses[1].starts_with("422"), "{statuses:?}");
    assert!(
        v["entry"][1]["response"]["outcome"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("解決できません")
    );
    assert_eq!(statuses[2], "201 Created");
    assert_eq!(
        statuses[3], "200 OK",
        "the repeated referral is the same document"
    );
    assert_eq!(
        v["entry"][3]["response"]["location"],
        v["entry"][0]["response"]["location"]
    );
    assert!(statuses[4].starts_with("422"), "{statuses:?}");
    assert!(
        v["entry"][4]["response"]["outcome"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("0000000000")
    );
    assert_eq!(net.app.count("documents").await, 2);
    let after = net.rows().await;
    assert_eq!(
        after[1..4],
        before[1..4],
        "no patient, link or consent left behind"
    );
    assert_eq!(
        net.app.audit_count("records.patient_registered").await,
        1,
        "only the consent's"
    );
    assert_eq!(net.app.audit_count("records.batch_received").await, 1);
}

#[tokio::test]
async fn x3_api_keys_are_issued_once_listed_and_revoked_by_administrators() {
    let net = network().await;
    let out = net.app.cli(&["apikey", "create", "--facility", A]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("rnk_"))
        .unwrap()
        .to_string();
    let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_all(net.app.db().pool())
        .await
        .unwrap();
    assert!(!stored.contains(&key), "only the hash is kept");
    let search = |key: String| {
        let url = format!("{}/api/fhir/Bundle", net.app.address);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(search(key.clone()).await, 200);

    let admin = net.app.login_as(Role::SystemAdmin).await;
    let res = admin
        .client
        .post_form(
            "/admin/api-keys",
            &[("facility_code", B), ("label", "検査システム")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let new_key = attr(&res.text().await.unwrap(), "data-api-key").unwrap();
    assert_eq!(search(new_key.clone()).await, 200);
    let list = admin
        .client
        .get("/admin/api-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("検査システム") && !list.contains(&new_key),
        "shown once only"
    );
    let res = admin
        .client
        .post_form("/admin/api-keys", &[("facility_code", "0000000000")])
        .await;
    assert_eq!(res.status(), 422);
    let id: i64 = sqlx::query_scalar("SELECT id FROM api_keys WHERE label = '検査システム'")
        .fetch_one(net.app.db().pool())
        .await
        .unwrap();
    let res = admin
        .client
        .post_form(
            &format!("/admin/api-keys/{id}/revoke"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(search(new_key).await, 401, "a revoked key no longer works");
    assert_eq!(net.app.audit_count("records.api_key_revoked").await, 1);
}

#[tokio::test]
async fn x3_the_openapi_description_names_the_real_endpoints() {
    let net = network().await;
    let v: Value = reqwest::get(format!("{}/api/openapi.json", net.app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = v["paths"].as_object().unwrap();
    let registered: Vec<String> = rainbownet::startup::routes()
        .rules()
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| r.path.to_string())
        .collect();
    for p in &registered {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI description"
        );
    }
    for p in paths.keys() {
        assert!(registered.contains(p), "{p} is described but not served");
    }
}

/// Starts the real binary on the test app's database and data directory; returns it and its URL.
fn serve_binary(app: &TestApp) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("RAINBOWNET__DATABASE__URL", &app.database_url)
        .env("RAINBOWNET__PATHS__DATA_DIR", app.dir.path())
        .env("RAINBOWNET__JOBS__ENABLED", "false")
        .env("RAINBOWNET__LOG__FILTER", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("rainbownet: ")
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

#[tokio::test]
async fn r21_1_no_acknowledged_document_is_lost_when_the_server_is_killed() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let (mut child, url) = serve_binary(&net.app);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let (url, key, acked) = (url.clone(), net.keys[A].clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..10_000 {
                let ident = format!("{A}^2026^KILL{worker}-{i}");
                let mut b = fixture_json("collection_clins.json");
                b["identifier"]["value"] = json!(ident);
                let sent = client
                    .post(format!("{url}/api/fhir/Bundle"))
                    .bearer_auth(&key)
                    .header("content-type", "application/fhir+json")
                    .body(b.to_string())
                    .send()
                    .await;
                match sent {
                    Ok(res) if res.status() == 201 => acked.lock().unwrap().push(ident),
                    Ok(res) => panic!("unexpected {}", res.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    // Kill -9 in the middle of the stream.
    while acked.lock().unwrap().len() < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200);
    // Restarted, the server has every acknowledged document.
    let (mut child, url) = serve_binary(&net.app);
    let stored: Vec<String> = sqlx::query_scalar("SELECT identifier_value FROM documents")
        .fetch_all(net.app.db().pool())
        .await
        .unwrap();
    let missing: Vec<&String> = acked.iter().filter(|i| !stored.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged documents lost",
        missing.len()
    );
    let res = reqwest::Client::new()
        .get(format!("{url}/api/fhir/Bundle?_count=1"))
        .bearer_auth(&net.keys[A])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = net.app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn x5_stored_documents_are_counted_for_the_metrics_and_a_retry_is_not() {
    let net = network().await;
    let res = net.send(A, "/api/fhir/Consent", consent_for(&[])).await;
    assert_eq!(res.status(), 201);
    net.accept(A, fixture("referral_57133-1.json")).await;
    let again = net
        .send(A, "/api/fhir/Bundle", fixture("referral_57133-1.json"))
        .await;
    assert_eq!(again.status(), 200, "a retry answers with the original");
    let text = net.app.state.metrics.render();
    assert!(
        text.contains("rainbownet_intake_documents_total{channel=\"single\"} 1"),
        "{text}"
    );
}

/// Single documents sent at the same time share group commits (one transaction, multi-row
/// inserts, one `audit::record_many` per group); each request still gets its own answer: new
/// documents 201 with their own id, retries 200 with the original, a different document under a
/// taken identifier 409, a patient without consent 422 (the others are stored all the same),
/// one `records.document_received` event per stored document, and the chain verifies.
#[tokio::test]
async fn r21_1_concurrent_single_documents_share_commits_and_each_gets_its_own_answer() {
    let net = std::sync::Arc::new(network().await);
    let res = net.send(A, "/api/fhir/Consent", consent_for(&[])).await;
    assert_eq!(res.status(), 201);
    let doc = |ident: &str, title: &str, local_id: &str| {
        let mut b = fixture_json("collection_clins.json");
        b["identifier"]["value"] = json!(format!("{A}^2026^{ident}"));
        b["entry"][0]["resource"]["identifier"][0]["value"] = json!(local_id);
        b["entry"][3]["resource"]["note"] = json!([{"text": title}]);
        b.to_string()
    };
    // What each request sends, and what it may be answered.
    let mut sends: Vec<(String, &[u16])> = Vec::new();
    for i in 0..30 {
        // GC0 and GC1 have rivals below, which may come first.
        let allowed: &[u16] = match i {
            0 => &[200, 201],
            1 => &[201, 409],
            _ => &[201],
        };
        sends.push((doc(&format!("GC{i}"), "同じ", "000123"), allowed));
    }
    // The same document five times more: one of the six is stored, the rest get the original.
    for _ in 0..5 {
        sends.push((doc("GC0", "同じ", "000123"), &[200, 201]));
    }
    // Another content under GC1: refused (or stored, with GC1 refused, if it came first).
    sends.push((doc("GC1", "別の内容", "000123"), &[201, 409]));
    // A patient with no consent: refused on its own.
    sends.push((doc("GCX", "同じ", "999999"), &[422]));
    let mut tasks = Vec::new();
    for (body, allowed) in sends {
        let net = net.clone();
        tasks.push(tokio::spawn(async move {
            let res = net.send(A, "/api/fhir/Bundle", body).await;
            let status = res.status().as_u16();
            let loc = res
                .headers()
                .get("location")
                .map(|v| v.to_str().expect("location").to_string());
            assert!(allowed.contains(&status), "{status} not in {allowed:?}");
            (status, loc)
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("request"));
    }
    let created: Vec<&String> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .filter_map(|(_, l)| l.as_ref())
        .collect();
    let distinct: std::collections::HashSet<&&String> = created.iter().collect();
    assert_eq!(created.len(), 30, "30 documents stored: {answers:?}");
    assert_eq!(distinct.len(), 30, "each with its own id");
    // The retries point at the one GC0 stored.
    let originals: std::collections::HashSet<&String> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .filter_map(|(_, l)| l.as_ref())
        .collect();
    assert!(originals.len() <= 1, "{originals:?}");
    assert_eq!(answers.iter().filter(|(s, _)| *s == 409).count(), 1);
    assert_eq!(net.app.count("documents").await, 30);
    assert_eq!(net.app.audit_count("records.document_received").await, 30);
    let mut conn = net.app.db().pool().acquire().await.expect("conn");
    let report = rainbownet::audit::verify(&mut conn, net.app.db().keys().audit())
        .await
        .expect("verify");
    assert!(report.broken.is_none(), "{:?}", report.broken);
}

/// Several senders at the same time share group commits (one multi-row insert for all of them):
/// two facilities using the same Bundle.identifier and the same local patient ID are two
/// documents of two patients; each retry is answered with its own sender's original.
#[tokio::test]
async fn r21_1_senders_sharing_a_group_commit_keep_their_own_identifiers_and_patients() {
    let net = std::sync::Arc::new(network().await);
    // B sends the same documents as its own (its code for A's in the patient ID system and the
    // organisations), under the same Bundle.identifier as A.
    let as_sender = |text: String, code: &str| text.replace(A, code);
    for code in [A, B] {
        let consent = as_sender(consent_for(&[]), code);
        let res = net.send(code, "/api/fhir/Consent", consent).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
    let doc = |ident: &str, code: &str| {
        let mut b: Value =
            serde_json::from_str(&as_sender(fixture("collection_clins.json"), code)).unwrap();
        b["identifier"]["value"] = json!(format!("{A}^2026^{ident}"));
        b.to_string()
    };
    let mut tasks = Vec::new();
    for round in 0..2 {
        for i in 0..12 {
            for code in [A, B] {
                let (net, body) = (net.clone(), doc(&format!("MS{i}"), code));
                tasks.push(tokio::spawn(async move {
                    let res = net.send(code, "/api/fhir/Bundle", body).await;
                    let status = res.status().as_u16();
                    assert!([200, 201].contains(&status), "{status} {code} MS{i}");
                    (round, code, i, location(&res))
                }));
            }
        }
    }
    let mut by_sender: std::collections::HashMap<(&str, i32), std::collections::HashSet<String>> =
        std::collections::HashMap::new();
    for t in tasks {
        let (_, code, i, loc) = t.await.expect("request");
        by_sender.entry((code, i)).or_default().insert(loc);
    }
    assert_eq!(by_sender.len(), 24);
    for ((code, i), locs) in &by_sender {
        assert_eq!(
            locs.len(),
            1,
            "{code} MS{i}: a retry answered with another document: {locs:?}"
        );
    }
    let ids: std::collections::HashSet<&String> = by_sender.values().flatten().collect();
    assert_eq!(ids.len(), 24, "each sender's document is its own");
    assert_eq!(net.app.count("documents").await, 24);
    // Each document is filed under its own sender's patient (two patients, one local ID).
    let filed: Vec<(String, String)> = sqlx::query_as(
        "SELECT f.code, l.local_id FROM documents d JOIN facilities f ON f.id = d.facility_id
         JOIN patient_links l ON l.patient_id = d.patient_id AND l.facility_id = d.facility_id",
    )
    .fetch_all(net.app.db().pool())
    .await
    .unwrap();
    assert_eq!(filed.len(), 24, "{filed:?}");
    let patients: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT patient_id) FROM documents")
        .fetch_one(net.app.db().pool())
        .await
        .unwrap();
    assert_eq!(patients, 2);
    assert_eq!(net.app.audit_count("records.document_received").await, 24);
}
