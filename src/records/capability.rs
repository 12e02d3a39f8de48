//! `GET /api/fhir/metadata`: the CapabilityStatement (FHIR R4, `kind` instance) of the network's
//! FHIR API — what is really supported: Bundle create / read / search-type (every search
//! parameter of [`super::search::PARAMS`] with its type and documentation) and `$validate`,
//! Consent create / search-type, Patient `$link`, the batch `POST /api/fhir`, JSON only, facility
//! API keys as bearer tokens. Public, as FHIR servers usually serve it: it names no patient or
//! facility, and a client reads it before it has a key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::api::fhir;
use super::search::PARAMS;
use crate::state::AppState;

fn search_params(params: &[(&str, &str, &str)]) -> Vec<Value> {
    params
        .iter()
        .map(|(name, kind, doc)| json!({"name": name, "type": kind, "documentation": doc}))
        .collect()
}

/// The statement for the API served at `public_url`.
pub fn statement(public_url: &str, date: &str) -> Value {
    let base = format!("{}/api/fhir", public_url.trim_end_matches('/'));
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "きよすレインボーネット",
        "kind": "instance",
        "software": {"name": "rainbownet", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {
            "description": "きよすレインボーネット 診療情報 FHIR API（施設システム向け）",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "施設システムが診療情報（JP-CLINS の document / collection Bundle）と同意書を送信し、同意の範囲で読む API です。エラーはすべて OperationOutcome で返します。",
            "security": {
                "cors": false,
                "service": [{"text": "API key"}],
                "description": "Authorization: Bearer <施設の API キー>。キーはシステム管理者が発行します（rainbownet apikey create）。metadata のみ認証不要です。",
            },
            "resource": [
                {
                    "type": "Bundle",
                    "documentation": "document / collection Bundle: create (POST /Bundle), read, search-type. 検索は同意の範囲で読める文書だけを対象にし、total も同じ範囲で数えます。返した文書だけを閲覧として監査記録に残します。",
                    "interaction": [
                        {"code": "create", "documentation": "201 で受け付けます。同じ Bundle.identifier の再送には元の文書を 200 で返します。文書の Patient の氏名・フリガナ・生年月日・性別が患者ID の登録患者と異なれば 422 business-rule（何も保存しません）。[records] patient_mismatch = \"review\" の運用では保存して 202 と warning の OperationOutcome を返し、送信施設の施設管理者が確認するまで誰も読めません。"},
                        {"code": "read"},
                        {"code": "search-type", "documentation": "カンマは OR、同じパラメータの繰り返しは AND。未対応のパラメータ・修飾子は 400（Prefer: handling=lenient のときは無視し、self リンクから外して OperationOutcome の entry で知らせます）。_count（既定 50、上限 100、0 は total のみ）、_sort（timestamp / _lastUpdated / _id、- で降順、既定 -timestamp）、_total（none / estimate / accurate）、_summary=count。ページは link の next / previous / first で辿ります。"},
                    ],
                    "versioning": "no-version",
                    "readHistory": false,
                    "updateCreate": false,
                    "conditionalCreate": false,
                    "searchParam": search_params(PARAMS),
                    "operation": [{
                        "name": "validate",
                        "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
                        "documentation": "POST /Bundle/$validate: 保存せずに検査し、OperationOutcome を返します。",
                    }],
                },
                {
                    "type": "Consent",
                    "documentation": "施設の同意書（自施設の文書を共有する範囲）。",
                    "interaction": [{"code": "create"}, {"code": "search-type"}],
                    "searchParam": search_params(&[
                        ("patient", "token", "The network patient (urn:rainbownet:network-patient-id|KR…) or the caller's own local ID; required."),
                        ("status", "token", "active: only the consents in force."),
                    ]),
                },
                {
                    "type": "Patient",
                    "documentation": "地域連携ID（urn:rainbownet:network-patient-id）への自施設の患者IDの紐付け。",
                    "operation": [{
                        "name": "link",
                        "definition": format!("{base}/OperationDefinition/Patient-link"),
                        "documentation": "POST /Patient/$link: 同意の範囲にある患者に自施設の患者IDを紐付けます（新規 201、既存 200）。Patient に氏名・フリガナ・生年月日・性別があれば登録患者と照合し、異なれば 422 business-rule で何も紐付けません。",
                    }],
                },
            ],
            "interaction": [{
                "code": "batch",
                "documentation": "POST /api/fhir: document / collection Bundle をまとめて送信します（entry ごとに 201 / 202（確認待ち）/ 200 / 4xx の結果を返します）。",
            }],
        }],
    })
}

pub async fn metadata(State(state): State<AppState>) -> Response {
    let date = state
        .now()
        .as_jiff()
        .to_zoned(crate::db::tokyo())
        .strftime("%Y-%m-%d")
        .to_string();
    fhir(
        StatusCode::OK,
        &statement(&state.settings.server.public_url, &date),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_lists_every_bundle_search_parameter_with_its_type() {
        let s = statement("https://net.example/", "2026-11-25");
        assert_eq!(s["fhirVersion"], "4.0.1");
        assert_eq!(s["kind"], "instance");
        let bundle = &s["rest"][0]["resource"][0];
        assert_eq!(bundle["type"], "Bundle");
        let params = bundle["searchParam"].as_array().expect("params");
        assert_eq!(params.len(), PARAMS.len());
        for p in params {
            assert!(
                ["token", "date", "reference"].contains(&p["type"].as_str().unwrap_or("")),
                "{p}"
            );
        }
        assert_eq!(s["implementation"]["url"], "https://net.example/api/fhir");
    }
}
