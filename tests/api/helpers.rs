//! The test harness: `spawn_app()` starts the real application on 127.0.0.1:0 with a fresh
//! database — a temporary SQLite file, or a fresh PostgreSQL database when TEST_DATABASE_URL is a
//! `postgres://` URL — and a test clock that tests move forward.

use std::sync::Arc;

use rainbownet::accounts::LoginId;
use rainbownet::accounts::service::{self, AccountSpec};
use rainbownet::audit::Actor;
use rainbownet::auth::{Role, totp};
use rainbownet::clock::{Clock, TestClock};
use rainbownet::config::Settings;
use rainbownet::db::{Db, Timestamp};
use rainbownet::startup::Application;
use rainbownet::state::AppState;
use reqwest::cookie::CookieStore;
use sqlx::Row;

pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub clock: TestClock,
    pub database_url: String,
    pub dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_of(configure, rainbownet::startup::domains()).await
}

/// The application of exactly these domains (the product's list plus a throwaway one, say).
pub async fn spawn_app_of(
    configure: impl FnOnce(&mut Settings),
    domains: Vec<rainbownet::domain::Domain>,
) -> TestApp {
    rainbownet::tls::install_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.paths.data_dir = dir.path().to_path_buf();
    settings.jobs.enabled = false;
    settings.log.filter = "warn".into();
    settings.database.url = match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => fresh_postgres_database(&admin).await,
        _ => format!("sqlite://{}/rainbownet.db?mode=rwc", dir.path().display()),
    };
    configure(&mut settings);
    let database_url = settings.database_url();
    let clock = TestClock::at_system_time();
    let db = Db::connect(&settings.database, &settings.paths.data_dir)
        .await
        .expect("database");
    db.migrate().await.expect("migrations");
    let app = Application::build_with_domains(settings, Arc::new(clock.clone()), db, domains)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        state,
        clock,
        database_url,
        dir,
    }
}

pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("rn_test_{}", rand_suffix());
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    drop_leftovers_once(&mut conn).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Drops, once per test run, the databases that earlier runs left behind: a test database is
/// not dropped when its test ends (its pool may still be open), and on a developer's server they
/// add up (2,866 databases, 30 GB, filled a disk). Only those of test processes that are gone:
/// the name carries the process id, so another run going on beside this one keeps its own.
async fn drop_leftovers_once(conn: &mut sqlx::AnyConnection) {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'rn_test_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.trim_start_matches("rn_test_").split('_').next();
        let gone = pid.and_then(|p| p.parse::<u32>().ok()).is_some_and(|p| {
            p != std::process::id() && !std::path::Path::new(&format!("/proc/{p}")).exists()
        });
        if gone {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestApp {
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn advance_minutes(&self, m: i64) {
        self.clock.advance(jiff::SignedDuration::from_mins(m));
    }

    /// A browser-like client with its own cookies and no automatic redirects.
    pub fn client(&self) -> TestClient {
        self.client_with(reqwest::Client::builder())
    }

    /// A client that says it is this browser (`User-Agent`).
    pub fn client_with_agent(&self, user_agent: &str) -> TestClient {
        self.client_with(reqwest::Client::builder().user_agent(user_agent.to_string()))
    }

    fn client_with(&self, builder: reqwest::ClientBuilder) -> TestClient {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = builder
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestClient {
            http,
            jar,
            base: self.address.clone(),
            csrf_seen: Default::default(),
        }
    }

    /// A client whose requests say `X-Forwarded-For: addr`: its address when the app trusts
    /// 127.0.0.1 as a proxy (`server.trusted_proxies`), ignored otherwise.
    pub fn client_from(&self, addr: &str) -> TestClient {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", addr.parse().expect("header value"));
        self.client_with(reqwest::Client::builder().default_headers(headers))
    }

    /// Ensures the test facility exists and returns its code.
    pub async fn facility(&self, code: &str) -> String {
        let exists = sqlx::query("SELECT id FROM facilities WHERE code = $1")
            .bind(code)
            .fetch_optional(self.db().pool())
            .await
            .expect("query")
            .is_some();
        if !exists {
            let f = rainbownet::facilities::NewFacility::minimal(
                rainbownet::facilities::FacilityCode::parse(code).expect("code"),
                &format!("テスト施設{code}"),
                rainbownet::facilities::FacilityKind::Clinic,
            );
            rainbownet::facilities::add(self.db(), &f, &Actor::system("test"), self.now())
                .await
                .expect("facility");
        }
        code.to_string()
    }

    /// Creates an account as the CLI does; returns (login_id, one-time password).
    pub async fn create_account(&self, role: Role, login_id: &str) -> (String, String) {
        let facility = if role.needs_facility() {
            Some(self.facility("9900000001").await)
        } else {
            None
        };
        let name = format!("試験 {}", role.label());
        let spec = AccountSpec::new(
            Some(LoginId::parse(login_id).expect("login id")),
            &name,
            role,
            facility.as_deref(),
        );
        let c = service::create_account(self.db(), &spec, &Actor::system("test"), self.now())
            .await
            .expect("create account");
        (c.login_id, c.one_time_password)
    }

    /// A fully logged-in person of `role` (password changed, TOTP enrolled for staff).
    pub async fn login_as(&self, role: Role) -> TestUser {
        let login_id = format!("t-{}-{}", role.key().replace('_', ""), next_id());
        let (login_id, otp) = self.create_account(role, &login_id).await;
        let client = self.client();
        let res = client.login(&login_id, &otp).await;
        assert_eq!(res.status(), 303, "log-in with the one-time password");
        let password = "Kiyosu2026rainbow".to_string();
        let res = client
            .post_form(
                "/account/password",
                &[
                    ("current_password", &otp),
                    ("new_password", &password),
                    ("confirm_password", &password),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "password change");
        let mut totp_secret = None;
        if role.is_staff() && self.state.settings.security.require_totp {
            let page = client
                .get("/account/totp/enroll")
                .await
                .text()
                .await
                .expect("body");
            let secret = attr(&page, "data-secret").expect("secret on the enrolment page");
            let code = totp::code_at(&secret, self.now()).expect("code");
            let res = client
                .post_form("/account/totp/enroll", &[("code", &code)])
                .await;
            assert_eq!(res.status(), 200, "enrolment shows the recovery codes");
            totp_secret = Some(secret);
        }
        let res = client.get("/").await;
        assert_eq!(res.status(), 200, "dashboard reachable for {role:?}");
        TestUser {
            client,
            login_id,
            password,
            totp_secret,
        }
    }

    /// The id of the account with this log-in ID.
    pub async fn account_id(&self, login_id: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM accounts WHERE login_id = $1")
            .bind(login_id)
            .fetch_one(self.db().pool())
            .await
            .expect("account exists")
    }

    pub async fn audit_count(&self, action: &str) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action = $1")
            .bind(action)
            .fetch_one(self.db().pool())
            .await
            .expect("count")
            .try_get("n")
            .expect("n")
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(self.db().pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
    }

    /// Runs the real binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
            .args(args)
            .env("RAINBOWNET__DATABASE__URL", &self.database_url)
            .env("RAINBOWNET__PATHS__DATA_DIR", self.dir.path())
            .env("RAINBOWNET__LOG__FILTER", "warn")
            .output()
            .expect("run rainbownet")
    }
}

fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The value of the first `name="…"` attribute in a page.
pub fn attr(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

pub struct TestUser {
    pub client: TestClient,
    pub login_id: String,
    pub password: String,
    pub totp_secret: Option<String>,
}

pub struct TestClient {
    pub http: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub base: String,
    /// The last form token read from a page, with the cookies it is bound to
    /// (`rn_session`, `rn_csrf`): it stays good while they do not change.
    pub csrf_seen: Arc<std::sync::Mutex<Option<(CsrfCookies, String)>>>,
}

type CsrfCookies = (Option<String>, Option<String>);

/// The value of the first hidden `csrf_token` field of a page.
pub fn form_token(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string()).filter(|t| !t.is_empty())
}

impl TestClient {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).expect("base url");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .map(str::trim)
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    fn csrf_cookies(&self) -> CsrfCookies {
        (self.cookie("rn_session"), self.cookie("rn_csrf"))
    }

    /// The form token of this client, read from a page as a browser would (the log-in page
    /// without a session, else the password page or where it redirects to); read again only
    /// when the cookies it is bound to have changed.
    pub async fn csrf(&self) -> String {
        let now = self.csrf_cookies();
        if let Some((seen, token)) = self.csrf_seen.lock().expect("lock").clone()
            && seen == now
        {
            return token;
        }
        let mut path = if now.0.is_some() {
            "/account/password".to_string()
        } else {
            "/login".to_string()
        };
        for _ in 0..4 {
            let res = self.get(&path).await;
            if res.status().is_redirection() {
                path = location(&res);
                continue;
            }
            let page = res.text().await.expect("body");
            let token = form_token(&page).expect("a form token on the page");
            *self.csrf_seen.lock().expect("lock") = Some((self.csrf_cookies(), token.clone()));
            return token;
        }
        panic!("no page with a form token for this client");
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.http
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }

    pub async fn login(&self, login_id: &str, password: &str) -> reqwest::Response {
        self.post_form("/login", &[("login_id", login_id), ("password", password)])
            .await
    }
}

/// The text of the page at `path` as `client` sees it (whatever the status: check it with
/// `client.get` where it matters).
pub async fn page_text(client: &TestClient, path: &str) -> String {
    client.get(path).await.text().await.expect("page text")
}

/// Stores an account's language (`ja` or `en`) directly, as the account page would, also for
/// roles that may not choose it (the page must then ignore it).
pub async fn set_language(app: &TestApp, login_id: &str, lang: &str) {
    let done = sqlx::query("UPDATE accounts SET language = $1 WHERE login_id = $2")
        .bind(lang)
        .bind(login_id)
        .execute(app.db().pool())
        .await
        .expect("set language");
    // A test of a stored language must not pass because nothing was stored.
    assert_eq!(done.rows_affected(), 1, "no account {login_id}");
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Another instance of the application on the same database and data directory (keys, blob
/// store) as a [`TestApp`]: the real binary (`rainbownet serve`) in a process of its own, as a
/// second machine behind a load balancer would run it, with `config` (TOML) as its
/// configuration file. Killed on drop.
pub struct Instance {
    pub address: String,
    child: std::process::Child,
}

impl TestApp {
    /// Starts an [`Instance`] on this app's database (`config` is written to a file of its own
    /// in the data directory and passed with `--config`; `env`: more variables, such as S3
    /// credentials).
    pub fn spawn_instance(&self, config: &str, env: &[(&str, &str)]) -> Instance {
        use std::io::BufRead;
        let file = self.dir.path().join(format!("instance-{}.toml", next_id()));
        std::fs::write(&file, config).expect("instance configuration");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rainbownet"))
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(&file)
            .env("RAINBOWNET__DATABASE__URL", &self.database_url)
            .env("RAINBOWNET__PATHS__DATA_DIR", self.dir.path())
            .env("RAINBOWNET__LOG__FILTER", "error")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start rainbownet serve");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("the first line of serve");
        let address = line
            .trim()
            .strip_prefix("rainbownet: ")
            .unwrap_or_else(|| panic!("serve said {line:?}"))
            .trim_end_matches('/')
            .to_string();
        // Keep reading what it prints, so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        Instance { address, child }
    }

    /// A browser-like client of `instance` (see [`TestApp::client_from`] for `forwarded_for`).
    pub fn client_of(&self, instance: &Instance, forwarded_for: Option<&str>) -> TestClient {
        let mut builder = reqwest::Client::builder();
        if let Some(addr) = forwarded_for {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("x-forwarded-for", addr.parse().expect("header value"));
            builder = builder.default_headers(headers);
        }
        let mut c = self.client_with(builder);
        c.base = instance.address.clone();
        c
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestClient {
    /// The same browser (cookies, form token, headers) talking to another instance: what a load
    /// balancer does between two requests.
    pub fn at(&self, base: &str) -> TestClient {
        TestClient {
            http: self.http.clone(),
            jar: self.jar.clone(),
            base: base.trim_end_matches('/').to_string(),
            csrf_seen: self.csrf_seen.clone(),
        }
    }
}
