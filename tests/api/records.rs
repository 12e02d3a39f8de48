//! Application data (R21.1, R22.1, X.2, X.3): FHIR intake with API keys, consent-scoped reading
//! through the API and the UI, every read in the audit chain, retention with manual purge.
//! The fixtures under tests/fixtures/fhir/ are JP-CLINS-style Bundles of facility 2310000011.

use rainbownet::accounts::LoginId;
use rainbownet::accounts::service::{self, AccountSpec};
use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

const A: &str = "2310000011";
const B: &str = "2310000022";
const C: &str = "2310000033";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/fhir/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// The consent fixture limited to the listed facilities (empty: every participating facility).
fn consent_for(codes: &[&str]) -> String {
    let mut c = fixture_json("consent_all.json");
    if !codes.is_empty() {
        let actors: Vec<Value> = codes
            .iter()
            .map(|code| json!({"role": {"text": "閲覧施設"}, "reference": {"identifier": {"value": code}}}))
            .collect();
        c["provision"]["actor"] = Value::Array(actors);
    }
    c.to_string()
}

struct Net {
    app: TestApp,
    keys: std::collections::HashMap<&'static str, String>,
}

async fn network() -> Net {
    let app = spawn_app().await;
    let mut keys = std::collections::HashMap::new();
    for code in [A, B, C] {
        app.facility(code).await;
        let (_, key) = rainbownet::records::create_api_key(
            app.db(),
            code,
            "電子カルテ連携",
            &Actor::system("test"),
            app.now(),
        )
        .await
        .unwrap();
        keys.insert(code, key);
    }
    Net { app, keys }
}

impl Net {
    async fn send(
        &self,
        facility: &str,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.app.address))
            .bearer_auth(&self.keys[facility])
            .header("content-type", "application/fhir+json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, facility: &str, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}{path}", self.app.address))
            .bearer_auth(&self.keys[facility])
            .send()
            .await
            .unwrap()
    }

    /// Sends a document and returns its id.
    async fn accept(&self, facility: &str, body: String) -> i64 {
        let res = self.send(facility, "/api/fhir/Bundle", body).await;
        let status = res.status();
        let loc = location(&res);
        assert_eq!(status, 201, "{}", res.text().await.unwrap());
        loc.rsplit('/').next().unwrap().parse().unwrap()
    }

    async fn rows(&self) -> [i64; 5] {
        let app = &self.app;
        [
            app.count("documents").await,
            app.count("patients").await,
            app.count("patient_links").await,
            app.count("consents").await,
            app.count("document_attachments").await,
        ]
    }

    /// A logged-in person of a facility (facility roles need no TOTP).
    async fn person(&self, role: Role, facility: &str, login: &str) -> TestClient {
        let spec = AccountSpec {
            login_id: Some(LoginId::parse(login).unwrap()),
            display_name: "試験 利用者",
            role,
            facility_code: Some(facility),
        };
        let c =
            service::create_account(self.app.db(), &spec, &Actor::system("test"), self.app.now())
                .await
                .unwrap();
        let client = self.app.client();
        assert_eq!(
            client
                .login(&c.login_id, &c.one_time_password)
                .await
                .status(),
            303
        );
        let pw = "Kiyosu2026rainbow";
        let res = client
            .post_form(
                "/account/password",
                &[
                    ("current_password", &c.one_time_password),
                    ("new_password", pw),
                    ("confirm_password", pw),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        client
    }
}

async fn outcome(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/fhir+json"), "{ct}");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    (
        status,
        v["issue"][0]["diagnostics"].as_str().unwrap().to_string(),
    )
}

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
    // Search by type and date, by network ID and by local ID.
    let res = net
        .get(
            B,
            "/api/fhir/Bundle?type=http://loinc.org|18842-5&date=ge2026-11-01",
        )
        .await;
    let found: Value = res.json().await.unwrap();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["entry"][0]["resource"]["id"], ids[1].to_string());
    let res = net
        .get(A, "/api/fhir/Bundle?patient=000123&date=lt2026-07-01")
        .await;
    let found: Value = res.json().await.unwrap();
    assert_eq!(
        found["total"], 1,
        "only the checkup report is before July: {found}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
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
    assert_eq!(
        walk(&net.app.dir.path().join("blobs")).len(),
        1,
        "only the consent scan"
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
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": fixture_json("referral_57133-1.json"), "request": {"method": "POST", "url": "Bundle"}},
        {"resource": broken, "request": {"method": "POST", "url": "Bundle"}},
        {"resource": fixture_json("collection_clins.json"), "request": {"method": "POST", "url": "Bundle"}},
        {"resource": fixture_json("referral_57133-1.json"), "request": {"method": "POST", "url": "Bundle"}}
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
    assert_eq!(net.app.count("documents").await, 2);
    assert_eq!(net.app.audit_count("records.batch_received").await, 1);
}

#[tokio::test]
async fn x3_a_facility_outside_the_consent_scope_gets_403_for_the_same_document() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[B]))
            .await
            .status(),
        201
    );
    let id = net.accept(A, fixture("referral_57133-1.json")).await;
    let path = format!("/api/fhir/Bundle/{id}");
    assert_eq!(net.get(A, &path).await.status(), 200, "the sender");
    assert_eq!(net.get(B, &path).await.status(), 200, "a facility in scope");
    let (s, msg) = outcome(net.get(C, &path).await).await;
    assert_eq!(s, 403, "a facility outside the scope");
    assert!(msg.contains("同意"), "{msg}");
    let found: Value = net
        .get(C, "/api/fhir/Bundle?patient=000123")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 0, "search leaves out what C may not read");

    // The same in the UI.
    let b_user = net.person(Role::User, B, "b-user").await;
    let c_user = net.person(Role::User, C, "c-user").await;
    let page = format!("/records/documents/{id}");
    let res = b_user.get(&page).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    for text in [
        "診療情報提供書",
        "紹介目的",
        "精査と加療をお願いいたします",
        "清須 花子",
        "キヨス ハナコ",
        "心電図.pdf",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    assert_eq!(c_user.get(&page).await.status(), 403);
    let res = b_user
        .get(&format!("/records/documents/{id}/attachments/1"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-1.4"));
    assert_eq!(
        c_user
            .get(&format!("/records/documents/{id}/attachments/1"))
            .await
            .status(),
        403
    );

    // Withdrawal: only the sender still reads.
    let mut w = fixture_json("consent_all.json");
    w["status"] = json!("inactive");
    assert_eq!(
        net.send(A, "/api/fhir/Consent", w.to_string())
            .await
            .status(),
        200
    );
    assert_eq!(net.get(B, &path).await.status(), 403);
    assert_eq!(net.get(A, &path).await.status(), 200);
    assert_eq!(b_user.get(&page).await.status(), 403);
    assert!(net.app.audit_count("records.read_denied").await >= 4);
}

#[tokio::test]
async fn x2_every_read_is_in_the_audit_chain_and_the_facility_manager_sees_it() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let id = net.accept(A, fixture("referral_57133-1.json")).await;
    let b_user = net.person(Role::User, B, "b-reader").await;
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{id}")).await.status(),
        200
    );
    assert_eq!(
        b_user
            .get(&format!("/records/documents/{id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        b_user
            .get(&format!("/records/documents/{id}/attachments/1"))
            .await
            .status(),
        200
    );
    let patients = b_user.get("/records").await.text().await.unwrap();
    assert!(patients.contains("清須 花子"));
    let patient_id: i64 =
        sqlx::query_scalar::<_, i64>("SELECT patient_id FROM documents WHERE id = $1")
            .bind(id)
            .fetch_one(net.app.db().pool())
            .await
            .unwrap();
    assert_eq!(
        b_user
            .get(&format!("/records/patients/{patient_id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        net.app.audit_count("records.document_read").await,
        2,
        "API and UI"
    );
    assert_eq!(net.app.audit_count("records.attachment_read").await, 1);
    assert_eq!(net.app.audit_count("records.timeline_read").await, 1);
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'records.document_read' ORDER BY id",
    )
    .fetch_all(net.app.db().pool())
    .await
    .unwrap();
    assert!(
        details[0].contains("\"channel\":\"api\"") && details[1].contains("\"channel\":\"ui\""),
        "{details:?}"
    );
    let out = net.app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A's facility manager sees who read A's patient.
    let manager = net.person(Role::FacilityManager, A, "a-manager").await;
    let log = manager
        .get("/records/access-log")
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("b-reader"), "the UI reader");
    assert!(log.contains("apikey:"), "the API reader");
    assert!(log.contains("添付ファイルの取得"));
    // C's manager has no patients of A in their log.
    let other = net.person(Role::FacilityManager, C, "c-manager").await;
    assert!(
        !other
            .get("/records/access-log")
            .await
            .text()
            .await
            .unwrap()
            .contains("b-reader")
    );
}

#[tokio::test]
async fn r22_1_expired_documents_are_listed_daily_and_purged_only_by_an_administrator() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let old = net.accept(A, fixture("referral_57133-1.json")).await;
    net.app.advance_minutes(200 * 24 * 60);
    let recent = net.accept(A, fixture("patient_summary_60591-5.json")).await;
    net.app.advance_minutes(170 * 24 * 60);
    // The daily job lists the expired document and deletes nothing.
    let msg = rainbownet::records::review_expired(&net.app.state, net.app.now())
        .await
        .unwrap();
    assert!(msg.contains("1 件"), "{msg}");
    assert_eq!(net.app.count("documents").await, 2);
    let admin = net.app.login_as(Role::SystemAdmin).await;
    let page = admin
        .client
        .get("/admin/records/retention")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("<td>{old}</td>")) && !page.contains(&format!("<td>{recent}</td>"))
    );
    let res = admin
        .client
        .post_form("/admin/records/purge", &[("ids", &old.to_string())])
        .await;
    assert_eq!(res.status(), 422, "not confirmed");
    assert_eq!(net.app.count("documents").await, 2);
    // The recent one is not expired: it survives even if named.
    let ids = format!("{old},{recent}");
    let res = admin
        .client
        .post_form("/admin/records/purge", &[("ids", &ids), ("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(net.app.count("documents").await, 1);
    assert_eq!(net.app.count("document_tombstones").await, 1);
    let (hash, by): (String, String) = sqlx::query_as(
        "SELECT content_hash, purged_by FROM document_tombstones WHERE document_id = $1",
    )
    .bind(old)
    .fetch_one(net.app.db().pool())
    .await
    .unwrap();
    assert_eq!(hash.len(), 64);
    assert!(by.starts_with("t-systemadmin"), "{by}");
    assert_eq!(
        walk(&net.app.dir.path().join("blobs")).len(),
        1,
        "the PDF is gone, the consent scan stays"
    );
    assert_eq!(net.app.audit_count("records.purged").await, 1);
    assert_eq!(
        net.get(A, &format!("/api/fhir/Bundle/{old}"))
            .await
            .status(),
        404
    );
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

#[tokio::test]
async fn x3_a_facility_manager_registers_a_patient_with_consent_and_records_withdrawal() {
    let net = network().await;
    let m = net.person(Role::FacilityManager, A, "a-admin").await;
    let res = m.post_form("/records/patients", &[("local_id", "")]).await;
    assert_eq!(res.status(), 422);
    let res = m
        .post_form(
            "/records/patients",
            &[
                ("local_id", "000123"),
                ("name", "清須 花子"),
                ("kana", "キヨス ハナコ"),
                ("birth_date", "1948-03-12"),
                ("gender", "female"),
                ("signed_on", "2026-04-01"),
                ("scope", "listed"),
                ("facilities", B),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let patient = location(&res);
    // The facility system can now send without a Consent of its own.
    let id = net.accept(A, fixture("referral_57133-1.json")).await;
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{id}")).await.status(),
        200
    );
    assert_eq!(
        net.get(C, &format!("/api/fhir/Bundle/{id}")).await.status(),
        403
    );
    let res = m
        .post_form(&format!("{patient}/consent/withdraw"), &[])
        .await;
    assert_eq!(res.status(), 400, "not confirmed");
    let res = m
        .post_form(
            &format!("{patient}/consent/withdraw"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{id}")).await.status(),
        403
    );
    let (s, _) = outcome(
        net.send(
            A,
            "/api/fhir/Bundle",
            fixture("discharge_summary_18842-5.json"),
        )
        .await,
    )
    .await;
    assert_eq!(s, 422, "no new documents after withdrawal");
}
