//! Every error under `/api/fhir` is a FHIR `OperationOutcome` (`application/fhir+json`) with the
//! right status: an unknown path (404), a wrong method (405, with its `Allow`), a missing key
//! (401, with `WWW-Authenticate: Bearer`), a refusal (403), an extractor's plain-text 400/415, a
//! panic (500). Handlers that already answer with an OperationOutcome are left as they are. A
//! request that accepts no JSON (`Accept`, or `_format` other than JSON) gets 406. Other paths
//! (pages, other APIs) are untouched. The middleware sits outside the panic catcher, so it sees
//! every response of the FHIR API.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::error::ErrorPage;

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

fn is_fhir(path: &str) -> bool {
    path == "/api/fhir" || path.starts_with("/api/fhir/")
}

fn json_media(m: &str) -> bool {
    let m = m
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        m.as_str(),
        "" | "*/*"
            | "application/*"
            | "application/fhir+json"
            | "application/json"
            | "application/json+fhir"
            | "json"
    )
}

/// Whether the request accepts a JSON answer (`Accept` and the `_format` parameter).
fn accepts_json(req: &Request) -> bool {
    let accept_ok = req
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::to_string)
        .collect::<Vec<_>>();
    let accept_ok = accept_ok.is_empty() || accept_ok.iter().any(|m| json_media(m));
    let format_ok = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "_format")
        .all(|(_, v)| json_media(&v));
    accept_ok && format_ok
}

fn outcome(
    status: StatusCode,
    method: &str,
    path: &str,
    allow: Option<&str>,
) -> (&'static str, String) {
    match status.as_u16() {
        400 => ("invalid", "リクエストを読み取れませんでした。送信内容と URL の書式を確かめてください。".into()),
        401 => ("login", "API キーが無効です。Authorization: Bearer に施設の API キーを指定してください。".into()),
        403 => ("forbidden", "この操作は許可されていません。".into()),
        404 => ("not-found", format!("{path} はありません。対応する操作は GET /api/fhir/metadata（CapabilityStatement）を参照してください。")),
        405 => ("not-supported", format!("{method} {path} には対応していません（使える方法: {}）。", allow.unwrap_or("-"))),
        406 => ("not-supported", "JSON（application/fhir+json）でのみ応答します。Accept または _format を確かめてください。".into()),
        409 => ("conflict", "他の処理と競合しました。もう一度送信してください。".into()),
        413 => ("too-costly", "送信内容が大きすぎます。".into()),
        415 => ("not-supported", "Content-Type は application/fhir+json を指定してください。".into()),
        422 => ("processing", "送信内容を処理できませんでした。".into()),
        429 => ("throttled", "要求が多すぎます。時間をおいて再送してください。".into()),
        s if s >= 500 => ("exception", "サーバー内部でエラーが発生しました。時間をおいて再送してください。".into()),
        _ => ("invalid", "リクエストを処理できませんでした。".into()),
    }
}

fn body(code: &str, message: &str) -> Body {
    Body::from(
        json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": if code == "exception" { "fatal" } else { "error" },
                       "code": code, "diagnostics": message}]
        })
        .to_string(),
    )
}

pub async fn operation_outcomes(req: Request, next: Next) -> Response {
    if !is_fhir(req.uri().path()) {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    if !accepts_json(&req) {
        let (code, msg) = outcome(StatusCode::NOT_ACCEPTABLE, &method, &path, None);
        let mut res = Response::new(body(code, &msg));
        *res.status_mut() = StatusCode::NOT_ACCEPTABLE;
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        return res;
    }
    let mut res = next.run(req).await;
    let status = res.status();
    if status == StatusCode::UNAUTHORIZED && !res.headers().contains_key(WWW_AUTHENTICATE) {
        res.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    let fhir_already = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/fhir+json"));
    if !(status.is_client_error() || status.is_server_error()) || fhir_already {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    let allow = parts
        .headers
        .get(axum::http::header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (code, msg) = outcome(status, &method, &path, allow.as_deref());
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    parts.headers.remove(CONTENT_LENGTH);
    // Else the outermost layer would render it as the HTML error page after all.
    parts.extensions.remove::<ErrorPage>();
    Response::from_parts(parts, body(code, &msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fhir_api_is_covered() {
        assert!(is_fhir("/api/fhir"));
        assert!(is_fhir("/api/fhir/Nope"));
        assert!(!is_fhir("/api/fhirx"));
        assert!(!is_fhir("/records"));
    }

    #[test]
    fn json_media_ranges_are_accepted_and_xml_is_not() {
        assert!(json_media("application/fhir+json; fhirVersion=4.0"));
        assert!(json_media("*/*;q=0.1"));
        assert!(!json_media("application/fhir+xml"));
        assert!(!json_media("text/html"));
    }
}
