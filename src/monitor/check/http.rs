//! HTTP(S) checks: the status (the expected one, or any 2xx/3xx), a keyword in the body, a JSON
//! value at an RFC 6901 pointer, the response time, and for HTTPS the days left on the
//! server's certificate. Redirects are followed only within the same host, at most
//! [`MAX_REDIRECTS`] times (a redirect elsewhere is answered as it is, not followed).

use std::time::{Duration, Instant};

use super::Probe;
use super::cert;
use crate::db::Timestamp;
use crate::monitor::model::Monitor;
use crate::monitor::settings::MonitorSettings;

pub const MAX_REDIRECTS: usize = 5;
/// The most of a body that is read for a keyword or a JSON value.
const MAX_BODY: usize = 1 << 20;

pub(super) fn client(settings: &MonitorSettings) -> Result<reqwest::Client, String> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same_host = attempt
            .previous()
            .first()
            .is_some_and(|first| first.host_str() == attempt.url().host_str());
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if same_host {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let mut builder = reqwest::Client::builder()
        .redirect(policy)
        .tls_info(true)
        .no_proxy()
        .user_agent(concat!("rainbownet-monitor/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(30));
    let ca = settings.ca_file.trim();
    if !ca.is_empty() {
        let pem = std::fs::read(ca).map_err(|e| format!("{ca} を読めません: {e}"))?;
        for c in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("{ca} の証明書を読めません: {e}"))?
        {
            builder = builder.add_root_certificate(c);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

pub(super) async fn check(
    client: &reqwest::Client,
    m: &Monitor,
    timeout: Duration,
    now: Timestamp,
) -> Probe {
    let started = Instant::now();
    let res = match client.get(&m.target).timeout(timeout).send().await {
        Ok(r) => r,
        Err(e) => return Probe::down(describe(&e, timeout)),
    };
    let status = res.status().as_u16();
    let cert_days_left = res
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .and_then(cert::not_after)
        .map(|t| cert::days_left(t, now));
    let mut p = Probe {
        up: false,
        response_ms: None,
        status_code: Some(i64::from(status)),
        cert_days_left,
        detail: String::new(),
        note: None,
    };
    let body = if m.keyword.is_some() || m.json_pointer.is_some() {
        match read_body(res, timeout.saturating_sub(started.elapsed())).await {
            Ok(b) => Some(b),
            Err(e) => {
                p.detail = e;
                return p;
            }
        }
    } else {
        None
    };
    let elapsed = started.elapsed().as_millis() as i64;
    p.response_ms = Some(elapsed);
    p.detail = verdict(m, status, body.as_deref(), elapsed, cert_days_left).unwrap_or_default();
    p.up = p.detail.is_empty();
    p
}

/// Why the response fails the monitor's expectations (None: it passes).
fn verdict(
    m: &Monitor,
    status: u16,
    body: Option<&[u8]>,
    elapsed_ms: i64,
    cert_days_left: Option<i64>,
) -> Option<String> {
    match m.expect_status {
        Some(want) if i64::from(status) != want => {
            return Some(format!("ステータス {status}（期待値 {want}）"));
        }
        None if !(200..400).contains(&status) => {
            return Some(format!("ステータス {status}"));
        }
        _ => {}
    }
    let text = body.map(String::from_utf8_lossy);
    if let Some(k) = m.keyword.as_deref().filter(|k| !k.is_empty())
        && !text.as_deref().is_some_and(|t| t.contains(k))
    {
        return Some(format!("応答に「{k}」が含まれていません"));
    }
    if let Some(ptr) = m.json_pointer.as_deref().filter(|p| !p.is_empty()) {
        let want = m.json_value.as_deref().unwrap_or("");
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(text.as_deref().unwrap_or(""))
        else {
            return Some("応答が JSON ではありません".into());
        };
        match doc.pointer(ptr) {
            None => return Some(format!("JSON に {ptr} がありません")),
            Some(v) if !json_matches(v, want) => {
                return Some(format!("JSON の {ptr} が {v}（期待値 {want}）"));
            }
            Some(_) => {}
        }
    }
    if let Some(max) = m.max_response_ms
        && elapsed_ms > max
    {
        return Some(format!("応答に {elapsed_ms} ミリ秒（上限 {max} ミリ秒）"));
    }
    if let Some(min) = m.cert_min_days {
        match cert_days_left {
            Some(d) if d < min => {
                return Some(format!("証明書の有効期限まで残り {d} 日（下限 {min} 日）"));
            }
            None if m.target.starts_with("https:") => {
                return Some("証明書の有効期限を読めません".into());
            }
            _ => {}
        }
    }
    None
}

/// A JSON value against the expected text: a string equals it, anything else equals it read as
/// JSON (`true`, `42`, `null`).
fn json_matches(v: &serde_json::Value, want: &str) -> bool {
    match v {
        serde_json::Value::String(s) => s == want,
        other => serde_json::from_str::<serde_json::Value>(want).is_ok_and(|w| &w == other),
    }
}

async fn read_body(mut res: reqwest::Response, left: Duration) -> Result<Vec<u8>, String> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| format!("応答の受信に失敗しました（{e}）"))?
        {
            let room = MAX_BODY - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_BODY {
                break;
            }
        }
        Ok(body)
    };
    tokio::time::timeout(left, read)
        .await
        .unwrap_or_else(|_| Err("応答の受信が時間内に終わりません".into()))
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    use std::error::Error;
    if e.is_timeout() {
        return format!("{} ミリ秒以内に応答がありません", timeout.as_millis());
    }
    if e.is_redirect() {
        return format!("転送が {MAX_REDIRECTS} 回を超えました");
    }
    let mut cause = String::new();
    let mut src = e.source();
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    let text = if cause.is_empty() {
        e.to_string()
    } else {
        cause
    };
    if e.is_connect() {
        if text.contains("certificate") || text.contains("Certificate") {
            format!("TLS 証明書を検証できません（{text}）")
        } else {
            format!("接続できません（{text}）")
        }
    } else {
        format!("要求が失敗しました（{text}）")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_1_json_values_compare_as_text_for_strings_and_as_json_otherwise() {
        assert!(json_matches(&serde_json::json!("ok"), "ok"));
        assert!(json_matches(&serde_json::json!(true), "true"));
        assert!(json_matches(&serde_json::json!(42), "42"));
        assert!(!json_matches(&serde_json::json!(42), "43"));
        assert!(!json_matches(&serde_json::json!("42"), "\"42\""));
    }
}
