//! The demo network's application data (X.4, issue 15 item 9): each demo hospital's electronic
//! chart system gets an API key and sends, through the same handlers as `POST /api/fhir/Consent`
//! and `POST /api/fhir/Bundle`, its patients' consent and several JP-CLINS-style documents
//! (referral, discharge summary, patient summary, health check-up), so that they are validated,
//! stored, searchable and readable by the demo clinic as a real facility's would be.
//!
//! The demo runs with `[records] patient_mismatch = "review"` (unless its settings say otherwise),
//! and the demo clinic sends one more referral whose patient's ふりがな was mistyped: the intake
//! holds it, so that the clinic manager's `/records/review` has a document to decide.
//!
//! The Bundles are the test fixtures (tests/fixtures/fhir), given the sending facility's code,
//! a demo patient and a document number of their own.

use axum::extract::{Path, State};
use serde_json::Value;

use super::api::{ApiClient, FhirBody};
use super::intake_api::{post_bundle, post_consent};
use super::model::Rejection;
use super::model::{PatientMismatch, RecordsSettings};
use super::read_api::get_bundle;
use crate::audit::Actor;
use crate::config::Settings;
use crate::db::Timestamp;
use crate::state::AppState;
use crate::web::RouteName;

const FIXTURE_FACILITY: &str = "2310000011";
const CONSENT: &str = include_str!("../../tests/fixtures/fhir/consent_all.json");
const REFERRAL: &str = include_str!("../../tests/fixtures/fhir/referral_57133-1.json");
const DISCHARGE: &str = include_str!("../../tests/fixtures/fhir/discharge_summary_18842-5.json");
const SUMMARY: &str = include_str!("../../tests/fixtures/fhir/patient_summary_60591-5.json");
const CHECKUP: &str = include_str!("../../tests/fixtures/fhir/checkup_report_53576-5.json");

struct DemoPatient {
    local_id: &'static str,
    name: (&'static str, &'static str),
    kana: (&'static str, &'static str),
    gender: &'static str,
    birth: &'static str,
}

/// (sending facility, patient, the documents sent for that patient)
const SENT: &[(&str, DemoPatient, &[&str])] = &[
    (
        "2310000001",
        DemoPatient {
            local_id: "100231",
            name: ("清須", "花子"),
            kana: ("キヨス", "ハナコ"),
            gender: "female",
            birth: "1948-03-12",
        },
        &[REFERRAL, DISCHARGE],
    ),
    (
        "2310000001",
        DemoPatient {
            local_id: "100587",
            name: ("西枇杷島", "太郎"),
            kana: ("ニシビワジマ", "タロウ"),
            gender: "male",
            birth: "1952-11-03",
        },
        &[SUMMARY, REFERRAL],
    ),
    (
        "2310000002",
        DemoPatient {
            local_id: "5521",
            name: ("土器野", "正"),
            kana: ("ドキノ", "タダシ"),
            gender: "male",
            birth: "1960-01-18",
        },
        &[REFERRAL],
    ),
    (
        "2310000003",
        DemoPatient {
            local_id: "A-0042",
            name: ("新川", "ゆき"),
            kana: ("シンカワ", "ユキ"),
            gender: "female",
            birth: "1939-06-25",
        },
        &[CHECKUP],
    ),
];

/// The demo holds a mismatched document for review unless `[records] patient_mismatch` is set.
pub fn demo_review(settings: &mut Settings) -> anyhow::Result<()> {
    let section = settings.sections.get("records").cloned();
    if section
        .as_ref()
        .is_some_and(|v| v.get("patient_mismatch").is_some())
    {
        return Ok(());
    }
    let mut records: RecordsSettings = match section {
        Some(v) => serde_json::from_value(v)?,
        None => RecordsSettings::default(),
    };
    records.patient_mismatch = PatientMismatch::Review;
    settings.set_section("records", &records);
    Ok(())
}

/// The demo clinic's patient as its chart system sent them once with a mistyped ふりがな.
const MISTYPED: DemoPatient = DemoPatient {
    local_id: "5521",
    name: ("土器野", "正"),
    kana: ("ドキノ", "タダス"),
    gender: "male",
    birth: "1960-01-18",
};

/// Sends the demo documents once (when no API key exists yet).
pub async fn seed(state: &AppState, now: Timestamp) -> anyhow::Result<()> {
    let mut conn = state.db.pool().acquire().await?;
    if !super::repo::list_api_keys(&mut conn).await?.is_empty() {
        return Ok(());
    }
    let mut clients: Vec<ApiClient> = Vec::new();
    let mut read_back: Vec<String> = Vec::new();
    for (n, (code, patient, documents)) in SENT.iter().enumerate() {
        let client = match clients.iter().find(|c| c.facility_code == *code) {
            Some(c) => c.clone(),
            None => {
                let (key_id, _) = super::service::create_api_key(
                    &state.db,
                    code,
                    "電子カルテ連携（デモ）",
                    &Actor::system("demo"),
                    now,
                )
                .await?;
                let Some((facility_id, _)) = super::repo::facility_by_code(&mut conn, code).await?
                else {
                    anyhow::bail!("demo facility {code} is missing");
                };
                let c = ApiClient {
                    key_id,
                    facility_id,
                    facility_code: code.to_string(),
                    client_addr: "127.0.0.1".into(),
                };
                clients.push(c.clone());
                c
            }
        };
        let consent = as_sent(CONSENT, code, patient, n * 10);
        sent(
            post_consent(
                State(state.clone()),
                client.clone(),
                FhirBody(consent.into()),
            )
            .await,
        )?;
        for (i, doc) in documents.iter().enumerate() {
            let bundle = as_sent(doc, code, patient, n * 10 + i + 1);
            let answer = post_bundle(
                State(state.clone()),
                client.clone(),
                FhirBody(bundle.into()),
            )
            .await;
            let res = sent(answer)?;
            if *code == READ_BY_HOSPITAL {
                read_back.push(location_id(&res)?);
            }
        }
    }
    // The clinic's mistyped referral, held for its manager's review.
    if state.section::<RecordsSettings>().patient_mismatch == PatientMismatch::Review
        && let Some(clinic) = clients.iter().find(|c| c.facility_code == READ_BY_HOSPITAL)
    {
        let bundle = as_sent(REFERRAL, READ_BY_HOSPITAL, &MISTYPED, SENT.len() * 10);
        let res = sent(
            post_bundle(
                State(state.clone()),
                clinic.clone(),
                FhirBody(bundle.into()),
            )
            .await,
        )?;
        anyhow::ensure!(
            res.status() == axum::http::StatusCode::ACCEPTED,
            "the mistyped referral was not held ({})",
            res.status()
        );
    }
    // The hospital reads the clinic's referral: the clinic's access log shows who read it.
    if let Some(hospital) = clients.iter().find(|c| c.facility_code == SENT[0].0) {
        for id in read_back {
            let route = RouteName("/api/fhir/Bundle/{id}".into());
            sent(get_bundle(State(state.clone()), hospital.clone(), route, Path(id)).await)?;
        }
    }
    Ok(())
}

/// The facility whose documents the hospital reads in the demo.
const READ_BY_HOSPITAL: &str = "2310000002";

fn location_id(res: &axum::response::Response) -> anyhow::Result<String> {
    res.headers()
        .get(axum::http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('/').next())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("intake answered without a Location"))
}

fn sent(
    answer: Result<axum::response::Response, Rejection>,
) -> anyhow::Result<axum::response::Response> {
    match answer {
        Ok(res) if res.status().is_success() => Ok(res),
        Ok(res) => anyhow::bail!("intake answered {}", res.status()),
        Err(r) => anyhow::bail!("intake refused ({}): {}", r.status, r.message),
    }
}

/// A fixture as `code` sends it for `p`: the facility's code everywhere, its own document
/// numbers (`code^2026^NN…`), and the patient's identity wherever a Patient stands.
fn as_sent(fixture: &str, code: &str, p: &DemoPatient, number: usize) -> String {
    let text = fixture
        .replace(
            &format!("{FIXTURE_FACILITY}^2026^"),
            &format!("{code}^2026^{number:02}"),
        )
        .replace(FIXTURE_FACILITY, code);
    let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
        return text;
    };
    set_patient(&mut v, p);
    v.to_string()
}

fn set_patient(v: &mut Value, p: &DemoPatient) {
    match v {
        Value::Object(o) => {
            if o.get("resourceType").and_then(Value::as_str) == Some("Patient") {
                if let Some(id) = o.get_mut("identifier").and_then(|i| i.get_mut(0)) {
                    id["value"] = p.local_id.into();
                }
                if let Some(names) = o.get_mut("name").and_then(Value::as_array_mut) {
                    for (i, name) in names.iter_mut().enumerate() {
                        let (family, given) = if i == 0 { p.name } else { p.kana };
                        name["text"] = format!("{family} {given}").into();
                        name["family"] = family.into();
                        name["given"] = serde_json::json!([given]);
                    }
                }
                o.insert("gender".into(), p.gender.into());
                o.insert("birthDate".into(), p.birth.into());
                return;
            }
            o.values_mut().for_each(|x| set_patient(x, p));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| set_patient(x, p)),
        _ => {}
    }
}
