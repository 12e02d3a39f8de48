//! Application data (R21.1, R22.1, X.2, X.3): FHIR intake with API keys, consent-scoped reading
//! through the API and the UI, every read in the audit chain, retention with manual purge.
//! The fixtures under tests/fixtures/fhir/ are JP-CLINS-style Bundles of facility 2310000011.

use rainbownet::accounts::LoginId;
use rainbownet::accounts::service::{self, AccountSpec};
use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

mod consent;
mod consent_form;
mod intake;
mod link;
mod patient_match;
mod reading;
mod registration_order;
mod search;
mod stored_form;
mod validate;

pub const A: &str = "2310000011";
pub const B: &str = "2310000022";
pub const C: &str = "2310000033";

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/fhir/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// The consent fixture limited to the listed facilities (empty: every participating facility).
pub fn consent_for(codes: &[&str]) -> String {
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

pub struct Net {
    pub app: TestApp,
    pub keys: std::collections::HashMap<&'static str, String>,
}

pub async fn network() -> Net {
    network_with(|_| {}).await
}

/// [`network`] with settings of its own (`[records] patient_mismatch = "review"`, say).
pub async fn network_with(configure: impl FnOnce(&mut rainbownet::config::Settings)) -> Net {
    let app = spawn_app_with(configure).await;
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
    pub async fn send(
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

    pub async fn get(&self, facility: &str, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}{path}", self.app.address))
            .bearer_auth(&self.keys[facility])
            .send()
            .await
            .unwrap()
    }

    /// Sends a document and returns its id.
    pub async fn accept(&self, facility: &str, body: String) -> i64 {
        let res = self.send(facility, "/api/fhir/Bundle", body).await;
        let status = res.status();
        let loc = location(&res);
        assert_eq!(status, 201, "{}", res.text().await.unwrap());
        loc.rsplit('/').next().unwrap().parse().unwrap()
    }

    pub async fn rows(&self) -> [i64; 5] {
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
    pub async fn person(&self, role: Role, facility: &str, login: &str) -> TestClient {
        let spec = AccountSpec::new(
            Some(LoginId::parse(login).unwrap()),
            "試験 利用者",
            role,
            Some(facility),
        );
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

pub async fn outcome(res: reqwest::Response) -> (u16, String) {
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

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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
