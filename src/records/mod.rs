//! Application data (利用者の複製診療情報): the copies of clinical information that facilities
//! send into the network so that other facilities caring for the same patient can read them
//! (R21.1, R22.1, X.2, X.3).
//!
//! Rules:
//! - A network patient (地域連携ID, `KR…`) is linked to each facility's local patient ID. A patient
//!   is registered on the first send that carries their written consent (FHIR Consent), through
//!   `POST /api/fhir/Consent`, or in the UI by a facility manager. Another facility in the
//!   scope of a consent in force links its own local ID ([`link`]: `POST /api/fhir/Patient/$link`
//!   or the patient page) and then sends by it.
//! - Consent authority ([`consent`]): a consent shares the documents of one facility, and is
//!   owned by the facility that recorded it or, for a signed paper form entered with its scan,
//!   by the network's staff (system administrators and operators). The consent in force for a
//!   facility's documents is the latest recorded for them, unless withdrawn; its scope is every
//!   participating facility or listed ones. Only the owner widens, narrows or withdraws it;
//!   another facility's attempt is refused with 403 and audited (`records.consent_refused`),
//!   and changes nothing. A second facility records its own consent for its own documents;
//!   until then only it reads them. The effective scope and the consent history (who, facility
//!   and user, when, which form and scan, what changed) are on the patient page and in
//!   `GET /api/fhir/Consent`.
//! - Only facilities in the scope of the consent in force for a document's sender may read the
//!   document; the sending facility always can. Anything else is answered like a patient or
//!   document that does not exist (404, UI and API: no hint that it exists), and the refusal is
//!   audited (`access.denied`, through `web::ObjectGuard`; see [`objects`]), also in the owning
//!   facility's access log.
//! - Attachments are served only with an allow-listed content type, else as
//!   `application/octet-stream`, always as a download ([`objects::download`]) named after
//!   their title with the extension of the served type (`紹介状.pdf`; RFC 6266 `filename*`, with
//!   an ASCII `document-{id}-{n}.{ext}` fallback).
//! - Intake (facility systems, `Authorization: Bearer <API key>`; keys are issued, listed and
//!   revoked by system administrators or `rainbownet apikey create`, stored as SHA-256):
//!   FHIR R4 JSON document/collection Bundles, batches, Consents. Everything is checked first
//!   (JSON, resourceType, Bundle.type, references inside the Bundle, the sender's own patient ID,
//!   consent, size); errors are `OperationOutcome`s in Japanese, with the FHIRPath of each fault,
//!   and nothing is stored. FHIR conformance ([`fhir_validate`] with [`fhir_table`] and
//!   [`fhir_datatypes`], [`fhir_refs`], [`fhir_json`]):
//!   only `application/fhir+json` / `application/json`; no key repeated in a JSON object; every
//!   resource (entries, contained, nested Bundles, batch entries, Consents) matches the R4
//!   definitions — known resource type, no unknown element, cardinalities, required elements,
//!   datatypes (partial dates valid), REQUIRED value sets — from a table generated from the
//!   official definitions (`fhir_r4.json`, `scripts/gen_fhir_r4_table.py`); structural faults
//!   are 400. The Composition's references resolve inside its own Bundle (R4 §3.3.1; a nested
//!   document Bundle inside itself), `#id` names a contained resource, other references may
//!   point outside; faults are 422. `POST /api/fhir/Bundle/$validate` makes the same checks and
//!   stores and audits nothing. An accepted
//!   document is committed before the 201; a retry with the same Bundle.identifier is answered
//!   with the original (200). Attachments go to the content-addressed blob store ([`crate::blobs`]).
//! - Right patient ([`patient_match`]): a document (single, batch, or a Consent) sent under a
//!   local ID that is already linked is filed under that network patient only when the
//!   Bundle's Patient agrees with the registration — name and kana after normalising width,
//!   spaces and hiragana/katakana; birth date and sex exactly; kana only when both have one.
//!   A difference is refused (422 `business-rule`, naming the fields, not the registered
//!   values; nothing stored; audited `records.patient_mismatch`), so two people sent under one
//!   local ID are never merged. With `[records] patient_mismatch = "review"` a document is
//!   instead stored and held ([`review`]): nobody reads it (UI or API, any facility) until a
//!   facility manager of the sending facility accepts it (filed under the patient) or rejects
//!   it (never filed) on `/records/review`, with a confirmation and a reason, audited in the
//!   same transaction. The document page shows the patient as sent beside the registered one.
//! - Every read (UI and API) writes an audit event in the same transaction: who, facility,
//!   patient, document, channel. Facility managers see the reads of their facility's patients.
//! - Search (`GET /api/fhir/Bundle`, [`search`] reads the request, [`search_values`] each value,
//!   `repo::search_*` runs it; [`search_keys`] reads what a stored Bundle is found by) is
//!   FHIR R4 search: commas OR, repetition AND, token systems honoured, date prefixes and partial
//!   dates (Japan time without a zone), `identifier`, `type` (Bundle.type), `timestamp`,
//!   `composition` and the chains `composition.type` / `composition.subject(.identifier)`,
//!   `_id`, `_lastUpdated`, and `patient` (network ID or a facility's local-ID system). Results
//!   and `total` hold only what the caller may read; keyset pages with `next`/`previous` links;
//!   unknown parameters are 400 (ignored with `Prefer: handling=lenient`); only the documents of
//!   the returned page are read and audited. The values not in `documents` are written with each
//!   new document into `document_search` / `document_tokens` (migration 0026; its SQL views
//!   fill earlier documents and must agree with `search_keys::keys`, which a test checks).
//! - `GET /api/fhir/metadata` is the CapabilityStatement ([`capability`]; public); every error
//!   under `/api/fhir` is an OperationOutcome (`web::fhir` turns the router's own 404/405 and
//!   extractor errors into one).
//! - Retention: a document expires one year after the day it was sent. The daily
//!   `records.retention` job lists expired documents and deletes nothing; a system administrator
//!   reviews the list and purges (tombstone kept, audited, unreferenced blobs removed).

mod access_log;
mod admin;
mod api;
pub mod attachments;
mod background;
mod capability;
mod cli;
pub mod consent;
mod consent_api;
mod consent_paper;
mod consent_ui;
mod demo;
pub mod fhir;
mod fhir_batch;
mod fhir_datatypes;
mod fhir_json;
mod fhir_refs;
mod fhir_table;
pub mod fhir_validate;
mod intake;
mod intake_api;
mod intake_patients;
mod link;
pub mod model;
pub mod objects;
pub mod packed;
pub mod patient_match;
mod read_api;
mod rejection;
mod repo;
mod review;
mod review_ui;
mod search;
mod search_keys;
mod search_values;
mod service;
mod ui;
mod views;

pub use admin::review_expired;
pub use demo::demo_review;
pub use model::RecordsSettings;
pub use repo::{PatientHit, find_visible_patients};
/// The search values the intake stores beside each document (`document_search`,
/// `document_tokens`); public for loaders that bypass the intake (the prefecture benchmark).
pub use search::{SearchKeys, keys as search_keys};
pub use service::{create_api_key, purge};

use crate::auth::Role;
use crate::domain::Domain;
use crate::web::{Access, Routes};

/// People of facilities, who read their patients' documents.
pub const READERS: &[Role] = &[Role::User, Role::FacilityManager];
const MANAGERS: &[Role] = &[Role::FacilityManager];
const ADMINS: &[Role] = &[Role::SystemAdmin];
/// Staff who enter signed paper consent forms.
const CONSENT_STAFF: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];

pub fn domain() -> Domain {
    Domain::new("records")
        .routes(routes())
        .nav("", 40, "/records", "診療情報")
        .nav("利用者", 160, "/records/access-log", "診療情報アクセスログ")
        .nav("利用者", 165, "/records/review", "患者照合の確認")
        .nav("診療情報の管理", 410, "/admin/api-keys", "API キー")
        .nav(
            "診療情報の管理",
            420,
            "/admin/records/retention",
            "保存期間",
        )
        .nav(
            "診療情報の管理",
            430,
            "/admin/records/consents",
            "紙の同意書",
        )
        .settings::<RecordsSettings>()
        .cards(|s, p, now| Box::pin(review_ui::cards(s, p, now)))
        .demo_network(10, |s, now| Box::pin(demo::seed(s, now)))
        .job(
            "records.retention",
            "保存期間を過ぎた診療情報の一覧（削除は手動）",
            jiff::SignedDuration::from_hours(24),
            |s, now| Box::pin(review_expired(s, now)),
        )
        .cli(cli::create_key())
}

fn routes() -> Routes {
    Routes::new()
        .post("/api/fhir/Bundle", Access::ApiKey, intake_api::post_bundle)
        .post(
            "/api/fhir/Bundle/$validate",
            Access::ApiKey,
            intake_api::validate_bundle,
        )
        .post("/api/fhir", Access::ApiKey, intake_api::post_batch)
        .post(
            "/api/fhir/Consent",
            Access::ApiKey,
            intake_api::post_consent,
        )
        .get("/api/fhir/Consent", Access::ApiKey, consent_api::search)
        .post("/api/fhir/Patient/$link", Access::ApiKey, link::post_link)
        .get(
            "/api/fhir/Bundle/{id}",
            Access::ApiKey,
            read_api::get_bundle,
        )
        .get("/api/fhir/Bundle", Access::ApiKey, read_api::search)
        .get("/api/fhir/metadata", Access::Public, capability::metadata)
        .get("/api/openapi.json", Access::Public, read_api::openapi)
        .get("/records", Access::Roles(READERS), ui::index)
        .get(
            "/records/patients/new",
            Access::Roles(MANAGERS),
            ui::register_form,
        )
        .post("/records/patients", Access::Roles(MANAGERS), ui::register)
        .get(
            "/records/patients/{id}",
            Access::Roles(READERS),
            ui::timeline,
        )
        .get(
            "/records/patients/{id}/consent/scan",
            Access::Roles(READERS),
            ui::consent_scan,
        )
        .post(
            "/records/patients/{id}/consent/withdraw",
            Access::Roles(MANAGERS),
            ui::withdraw,
        )
        .post(
            "/records/patients/{id}/consent",
            Access::Roles(MANAGERS),
            consent_ui::record,
        )
        .get(
            "/records/patients/{id}/consents/{cid}/scan",
            Access::Roles(READERS),
            consent_ui::scan,
        )
        .post(
            "/records/patients/{id}/link",
            Access::Roles(MANAGERS),
            link::link,
        )
        .get(
            "/records/documents/{id}",
            Access::Roles(READERS),
            ui::document,
        )
        .get(
            "/records/documents/{id}/attachments/{n}",
            Access::Roles(READERS),
            ui::attachment,
        )
        .get(
            "/records/access-log",
            Access::Roles(MANAGERS),
            access_log::page,
        )
        .get(
            "/records/access-log/export.csv",
            Access::Roles(MANAGERS),
            access_log::csv,
        )
        .get(
            "/records/access-log/export.xlsx",
            Access::Roles(MANAGERS),
            access_log::xlsx,
        )
        .get("/records/review", Access::Roles(MANAGERS), review_ui::index)
        .get(
            "/records/review/{id}",
            Access::Roles(MANAGERS),
            review_ui::show,
        )
        .post(
            "/records/review/{id}/accept",
            Access::Roles(MANAGERS),
            review_ui::accept,
        )
        .post(
            "/records/review/{id}/reject",
            Access::Roles(MANAGERS),
            review_ui::reject,
        )
        .get("/admin/api-keys", Access::Roles(ADMINS), admin::api_keys)
        .post("/admin/api-keys", Access::Roles(ADMINS), admin::create_key)
        .post(
            "/admin/api-keys/{id}/revoke",
            Access::Roles(ADMINS),
            admin::revoke_key,
        )
        .get(
            "/admin/records/retention",
            Access::Roles(ADMINS),
            admin::retention,
        )
        .post(
            "/admin/records/purge",
            Access::Roles(ADMINS),
            admin::purge_confirmed,
        )
        .get(
            "/admin/records/consents",
            Access::Roles(CONSENT_STAFF),
            consent_paper::paper_form,
        )
        .post(
            "/admin/records/consents",
            Access::Roles(CONSENT_STAFF),
            consent_paper::paper_record,
        )
}
