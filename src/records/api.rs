//! The FHIR API's plumbing: `OperationOutcome` responses, the API-key extractor ([`ApiClient`]),
//! and the size-limited body reader.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::Rejection;
use super::repo;
use crate::audit::Actor;
use crate::error::DomainError;
use crate::state::AppState;
use crate::web::ClientAddr;

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// A FHIR JSON response.
pub fn fhir(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    res
}

pub fn outcome_json(code: &str, message: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}]
    })
}

/// The `OperationOutcome` of a refusal: its issues with their FHIRPath, or its one message.
pub fn rejection_outcome(r: &Rejection) -> Value {
    if r.issues.is_empty() {
        return outcome_json(r.code, &r.message);
    }
    json!({"resourceType": "OperationOutcome", "issue": issues_json(&r.issues)})
}

pub fn issues_json(issues: &[super::model::Issue]) -> Vec<Value> {
    issues
        .iter()
        .map(|i| {
            let mut v =
                json!({"severity": i.severity, "code": i.code, "diagnostics": i.diagnostics});
            if !i.expression.is_empty() {
                v["expression"] = json!([i.expression]);
                v["location"] = json!([i.expression]);
            }
            v
        })
        .collect()
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        fhir(status, &rejection_outcome(&self))
    }
}

pub fn internal(e: impl std::fmt::Debug) -> Rejection {
    Rejection::internal(e)
}

impl From<sqlx::Error> for Rejection {
    fn from(e: sqlx::Error) -> Self {
        // Two requests registering the same patient or document at once (PostgreSQL): the
        // loser's transaction is rolled back whole, and a retry finds what the winner stored.
        if crate::db::constraint(&e) == Some(crate::db::Constraint::Unique) {
            tracing::warn!(error = %e, "concurrent duplicate submission");
            return Rejection::new(
                409,
                "conflict",
                "同じ患者または文書が同時に送信されました。何も保存されていません。再送してください。",
            );
        }
        internal(e)
    }
}

/// The one mapping of a records service error to an `OperationOutcome`: the API and the UI call
/// the same service functions, the UI maps their errors to pages (`AppError`), the API to this.
impl From<DomainError> for Rejection {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound => Rejection::new(404, "not-found", e.to_string()),
            DomainError::Forbidden => Rejection::new(403, "forbidden", e.to_string()),
            DomainError::Conflict(m) => Rejection::new(409, "conflict", m),
            DomainError::Invalid { message, .. } => Rejection::new(422, "invalid", message),
            DomainError::Internal(e) => internal(e),
        }
    }
}

/// The facility system behind an API request, authenticated by `Authorization: Bearer <key>`.
#[derive(Clone, Debug)]
pub struct ApiClient {
    pub key_id: i64,
    pub facility_id: i64,
    pub facility_code: String,
    pub client_addr: String,
}

impl ApiClient {
    pub fn actor(&self) -> Actor {
        Actor {
            account_id: None,
            login: format!("apikey:{}:{}", self.key_id, self.facility_code),
            role: "api_key".into(),
            client_addr: self.client_addr.clone(),
        }
    }
}

/// How long an API key found valid is taken as valid without asking the database again.
pub const KEY_TTL: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct KeyOwner {
    key_id: i64,
    facility_id: i64,
    facility_code: String,
}

/// API keys found valid (by their SHA-256) within the last [`KEY_TTL`], so that a stream of
/// requests does not look its key up in the database on every request. Only valid keys are
/// kept (an unknown key is looked up every time). A revocation made by this server empties the
/// cache as soon as it is committed ([`forget_api_keys`]); one made elsewhere (the CLI, another
/// server on the same database) or a facility's withdrawal takes effect within [`KEY_TTL`].
/// The TTL is measured on the monotonic clock (it is no business time).
#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<String, (KeyOwner, Instant)>>);

impl KeyCache {
    fn get(&self, hash: &str) -> Option<KeyOwner> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < KEY_TTL)
            .map(|(owner, _)| owner.clone())
    }

    fn put(&self, hash: String, owner: KeyOwner) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= 1024 {
            map.retain(|_, (_, at)| at.elapsed() < KEY_TTL);
        }
        map.insert(hash, (owner, Instant::now()));
    }
}

/// Forgets every cached API key (after a revocation is committed).
pub fn forget_api_keys(db: &crate::db::Db) {
    db.shared::<KeyCache>()
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

impl FromRequestParts<AppState> for ApiClient {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Rejection> {
        let unauthorized = || {
            Rejection::new(
                401,
                "login",
                "API キーが無効です。Authorization: Bearer に施設の API キーを指定してください。",
            )
        };
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .ok_or_else(unauthorized)?;
        let hash = crate::auth::token_hash(key);
        let cache = state.db.shared::<KeyCache>();
        let owner = match cache.get(&hash) {
            Some(owner) => owner,
            None => {
                let mut conn = state.db.pool().acquire().await?;
                let owner = repo::find_api_key(&mut conn, &hash).await?.ok_or_else(|| {
                    tracing::warn!("unknown or revoked api key");
                    unauthorized()
                })?;
                let owner = KeyOwner {
                    key_id: owner.key_id,
                    facility_id: owner.facility_id,
                    facility_code: owner.facility_code,
                };
                cache.put(hash, owner.clone());
                owner
            }
        };
        let client_addr = parts
            .extensions
            .get::<ClientAddr>()
            .map(|c| c.0.clone())
            .unwrap_or_else(|| "unknown".into());
        Ok(ApiClient {
            key_id: owner.key_id,
            facility_id: owner.facility_id,
            facility_code: owner.facility_code,
            client_addr,
        })
    }
}

/// A FHIR JSON request body, read up to `[records] max_body_bytes` (413 beyond it).
pub struct FhirBody(pub Bytes);

impl FromRequest<AppState> for FhirBody {
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Rejection> {
        let limit = state.section::<super::RecordsSettings>().max_body_bytes;
        let too_large = || {
            Rejection::new(
                413,
                "too-costly",
                format!(
                    "送信内容が大きすぎます（上限 {} MB）。添付ファイルを分けて送信してください。",
                    limit / (1024 * 1024)
                ),
            )
        };
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        if !is_fhir_json(&content_type) {
            return Err(Rejection::new(
                415,
                "not-supported",
                "Content-Type は application/fhir+json（または application/json）を指定してください。",
            ));
        }
        let body: Body = req.into_body();
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| too_large())?;
        Ok(FhirBody(bytes))
    }
}

/// Exactly `application/fhir+json` or `application/json` (lower-cased), parameters such as
/// `; charset=utf-8` allowed; `application/jsonpatch+junk` is not JSON of FHIR.
fn is_fhir_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    matches!(essence, "application/fhir+json" | "application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fhir_json_media_types_are_accepted() {
        for ok in [
            "application/fhir+json",
            "application/json",
            "application/fhir+json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/fhir+json; fhirVersion=4.0",
        ] {
            assert!(is_fhir_json(&ok.to_ascii_lowercase()), "{ok}");
        }
        for bad in [
            "application/jsonpatch+junk",
            "application/json-patch+json",
            "application/fhir+jsonx",
            "text/plain",
            "application/fhir+xml",
            "",
        ] {
            assert!(!is_fhir_json(bad), "{bad}");
        }
    }

    #[test]
    fn a_domain_error_becomes_the_operation_outcome_of_its_kind() {
        let cases = [
            (DomainError::NotFound, 404, "not-found"),
            (DomainError::Forbidden, 403, "forbidden"),
            (DomainError::conflict("すでにあります。"), 409, "conflict"),
            (
                DomainError::invalid("local_id", "入力してください。"),
                422,
                "invalid",
            ),
            (
                DomainError::Internal(anyhow::anyhow!("disk")),
                500,
                "exception",
            ),
        ];
        for (e, status, code) in cases {
            let r = Rejection::from(e);
            assert_eq!((r.status, r.code), (status, code), "{}", r.message);
            assert!(!r.message.contains("disk"), "internal text stays inside");
        }
    }
}
