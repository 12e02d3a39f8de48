//! Observability (issue 9, X.5): request ids in headers, error pages and log lines; liveness and
//! readiness; Prometheus metrics for administrators and scrapers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rainbownet::auth::Role;

use crate::helpers::*;

fn request_id(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .expect("every response has a request id")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn x5_every_response_has_a_request_id_and_error_pages_show_it() {
    let app = spawn_app().await;
    let c = app.client();
    let a = request_id(&c.get("/login").await);
    let b = request_id(&c.get("/login").await);
    assert_ne!(a, b);
    let res = c.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    let id = request_id(&res);
    let page = res.text().await.unwrap();
    assert!(page.contains("問い合わせ番号"), "{page}");
    assert!(
        page.contains(&format!("<code id=\"request-id\">{id}</code>")),
        "{page}"
    );
    // A proxy's own id is kept when it is plain, replaced when it is not.
    let res = c
        .http
        .get(c.url("/healthz"))
        .header("x-request-id", "lb-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(&res), "lb-0123456789");
    let res = c
        .http
        .get(c.url("/healthz"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(request_id(&res), "<script>");
}

#[tokio::test]
async fn x5_the_log_line_of_a_request_carries_the_id_its_error_page_shows() {
    let app = spawn_app().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rainbownet"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("RAINBOWNET__DATABASE__URL", &app.database_url)
        .env("RAINBOWNET__PATHS__DATA_DIR", app.dir.path())
        .env("RAINBOWNET__JOBS__ENABLED", "false")
        .env("RAINBOWNET__LOG__FILTER", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("rainbownet: ")
        .expect("serve prints its address")
        .trim_end_matches('/')
        .to_string();
    let res = reqwest::get(format!("{base}/no/such/page")).await.unwrap();
    let id = request_id(&res);
    assert!(res.text().await.unwrap().contains(&id));
    // Stop the server, then read what it logged.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&id)).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/no/such/page") && l.contains("404")),
        "no log line with request id {id}:\n{log}"
    );
}

#[tokio::test]
async fn x5_liveness_and_readiness_answer_without_a_session() {
    let app = spawn_app().await;
    let c = app.client();
    let res = c.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let res = c.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["status"], "ready");
    // A migration this build knows but the database has not applied: not ready.
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(app.db().pool())
    .await
    .unwrap();
    let res = c.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["status"], "migrations_pending");
    assert_eq!(v["pending"], 1);
}

#[tokio::test]
async fn x5_metrics_are_prometheus_text_for_administrators_and_a_scraper_s_token() {
    let app = spawn_app_with(|s| s.metrics.bearer_token = "scrape-secret-0123".into()).await;
    let admin = app.login_as(Role::SystemAdmin).await;
    admin.client.get("/portal").await;
    rainbownet::jobs::run(&app.state, "audit.verify", "test")
        .await
        .unwrap();
    let res = admin.client.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    let families = parse_prometheus(&text);
    for name in [
        "rainbownet_http_requests_total",
        "rainbownet_http_request_duration_seconds",
        "rainbownet_job_runs_total",
        "rainbownet_db_pool_connections",
    ] {
        assert!(
            families.iter().any(|(n, _)| n == name),
            "{name} missing:\n{text}"
        );
    }
    assert!(text.contains(
        "rainbownet_http_requests_total{method=\"GET\",route=\"/portal\",status=\"200\"}"
    ));
    assert!(text.contains("rainbownet_job_runs_total{job=\"audit.verify\",status=\"ok\"} 1"));
    parse_with_the_python_client(&text);
    // Scrapers: the right token, a wrong one, none; other roles are refused.
    let c = app.client();
    let with = |t: &str| {
        c.http
            .get(c.url("/metrics"))
            .header("authorization", format!("Bearer {t}"))
            .send()
    };
    assert_eq!(with("scrape-secret-0123").await.unwrap().status(), 200);
    assert_eq!(with("wrong").await.unwrap().status(), 401);
    assert_eq!(c.get("/metrics").await.status(), 303);
    let user = app.login_as(Role::User).await;
    assert_eq!(user.client.get("/metrics").await.status(), 403);
}

#[tokio::test]
async fn x5_without_a_configured_token_no_scraper_gets_in() {
    let app = spawn_app().await;
    let c = app.client();
    let res = c
        .http
        .get(c.url("/metrics"))
        .header("authorization", "Bearer ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// A strict reader of the Prometheus text format 0.0.4: every line is a comment (`# HELP`,
/// `# TYPE` with a known type) or a sample `name{labels} value` whose name belongs to the last
/// TYPE'd family; returns (family, type). Panics on anything else.
fn parse_prometheus(text: &str) -> Vec<(String, String)> {
    let mut families: Vec<(String, String)> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            families.push((name.to_string(), kind.to_string()));
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("sample value");
        assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
        let name = series.split('{').next().unwrap();
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
        }
        let (family, kind) = families.last().expect("sample before TYPE");
        let ok = name == family
            || (kind == "histogram"
                && [
                    format!("{family}_bucket"),
                    format!("{family}_sum"),
                    format!("{family}_count"),
                ]
                .contains(&name.to_string()));
        assert!(ok, "sample {name} outside its family {family}");
    }
    families
}

/// The same text through the Prometheus project's Python client parser (PyPI
/// `prometheus-client`, installed by scripts/test.sh; required when
/// RAINBOWNET_REQUIRE_PROMETHEUS_PARSER is set).
fn parse_with_the_python_client(text: &str) {
    let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families\n\
                  fams = list(text_string_to_metric_families(sys.stdin.read()))\n\
                  print(len(fams), sum(len(f.samples) for f in fams))";
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        assert!(
            std::env::var("RAINBOWNET_REQUIRE_PROMETHEUS_PARSER").is_err(),
            "python3 missing"
        );
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named")
        && std::env::var("RAINBOWNET_REQUIRE_PROMETHEUS_PARSER").is_err()
    {
        eprintln!("prometheus_client not installed: only the built-in reader checked the text");
        return;
    }
    assert!(
        out.status.success(),
        "the Prometheus parser refused the text: {stderr}"
    );
    let counts = String::from_utf8_lossy(&out.stdout);
    let families: usize = counts.split_whitespace().next().unwrap().parse().unwrap();
    assert!(families >= 4, "{counts}");
}
