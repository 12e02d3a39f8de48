//! X.1 in a real browser: Debian's Chromium driven through chromedriver. A staff member logs in
//! with a one-time password, is made to change it, enrols TOTP and reaches the dashboard; a
//! facility user does the same without TOTP.
//!
//! Without /usr/bin/chromedriver the test is skipped with a message, unless
//! RAINBOWNET_REQUIRE_BROWSER=1 (set by scripts/test.sh and CI), where that is a failure.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use rainbownet::auth::{Role, totp};

use crate::helpers::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver runs in its own process group; ending the group also ends the Chromium it
        // started, which would otherwise outlive a failed test.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !present {
        if std::env::var("RAINBOWNET_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("RAINBOWNET_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed");
        }
        eprintln!(
            "SKIPPED browser test: install chromium and chromium-driver (scripts/test.sh does)"
        );
    }
    present
}

pub(crate) async fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        port,
        _profile: tempfile::tempdir().unwrap(),
    };
    for _ in 0..100 {
        if reqwest::get(format!("http://127.0.0.1:{port}/status"))
            .await
            .is_ok()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

pub(crate) async fn browser(driver: &Driver) -> Client {
    let profile = driver._profile.path().display().to_string();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", format!("--user-data-dir={profile}"), "--lang=ja",
                     "--window-size=1280,900"]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("browser session")
}

pub(crate) async fn fill(b: &Client, css: &str, text: &str) {
    let el = b
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} on the page"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// Clicks and waits until the browser has loaded the next page (the old page's root element
/// has gone stale), so that URL and content are read from the new page.
pub(crate) async fn click_and_wait(b: &Client, css: &str) {
    let old_root = b.find(Locator::Css("html")).await.unwrap();
    b.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} on the page"))
        .click()
        .await
        .unwrap();
    for _ in 0..200 {
        if old_root.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new page after clicking {css}");
}

pub(crate) async fn submit(b: &Client) {
    click_and_wait(b, "main button[type=submit]").await;
}

pub(crate) async fn path(b: &Client) -> String {
    let url = b.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Logs `user` in through the log-in form, and its TOTP step when the account has one (a minute
/// later: the enrolment used this time step's code, and a code is accepted once).
pub(crate) async fn log_in(b: &Client, app: &TestApp, user: &TestUser) {
    b.goto(&format!("{}/login", app.address)).await.unwrap();
    fill(b, "#login_id", &user.login_id).await;
    fill(b, "#password", &user.password).await;
    submit(b).await;
    if let Some(secret) = &user.totp_secret {
        app.advance_minutes(1);
        fill(b, "#code", &totp::code_at(secret, app.now()).unwrap()).await;
        submit(b).await;
    }
}

/// The script of how far the page scrolls sideways at the window's width (0 or less: it fits).
pub(crate) const SIDEWAYS: &str = "document.documentElement.scrollWidth - window.innerWidth";

/// How far the page scrolls sideways ([`SIDEWAYS`]).
pub(crate) async fn sideways(b: &Client) -> i64 {
    b.execute(&format!("return {SIDEWAYS};"), vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap()
}

pub(crate) async fn screenshot(b: &Client, name: &str) {
    if let Ok(png) = b.screenshot().await {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

#[tokio::test]
async fn x1_in_a_real_browser_staff_change_the_password_enrol_totp_and_reach_the_dashboard() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    let (admin_id, admin_otp) = app.create_account(Role::SystemAdmin, "browser-admin").await;
    let (user_id, user_otp) = app.create_account(Role::User, "browser-user").await;
    let driver = start_driver().await;
    let b = browser(&driver).await;

    b.goto(&format!("{}/", app.address)).await.unwrap();
    assert_eq!(path(&b).await, "/login");
    screenshot(&b, "01-login").await;
    fill(&b, "#login_id", &admin_id).await;
    fill(&b, "#password", "Wrong2026pass").await;
    submit(&b).await;
    assert!(
        b.source()
            .await
            .unwrap()
            .contains("ログインIDまたはパスワードが正しくありません")
    );
    fill(&b, "#password", &admin_otp).await;
    submit(&b).await;

    assert_eq!(path(&b).await, "/account/password");
    assert!(b.source().await.unwrap().contains("初回ログインのため"));
    fill(&b, "#current_password", &admin_otp).await;
    fill(&b, "#new_password", "short1").await;
    fill(&b, "#confirm_password", "short1").await;
    submit(&b).await;
    let err = b
        .find(Locator::Css("#new-error"))
        .await
        .expect("the error sits next to the field");
    assert!(err.text().await.unwrap().contains("8文字以上"));
    fill(&b, "#current_password", &admin_otp).await;
    fill(&b, "#new_password", "Browser2026admin").await;
    fill(&b, "#confirm_password", "Browser2026admin").await;
    submit(&b).await;

    assert_eq!(path(&b).await, "/account/totp/enroll");
    screenshot(&b, "02-totp-enroll").await;
    let secret = b
        .find(Locator::Css("#totp-secret"))
        .await
        .unwrap()
        .attr("data-secret")
        .await
        .unwrap()
        .unwrap();
    let code = totp::code_at(&secret, app.now()).unwrap();
    fill(&b, "#code", &code).await;
    submit(&b).await;
    let codes = b
        .find_all(Locator::Css("#recovery-codes code"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    screenshot(&b, "03-recovery-codes").await;
    click_and_wait(&b, "#continue").await;

    assert_eq!(path(&b).await, "/");
    let h1 = b
        .find(Locator::Css("main h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(h1, "ダッシュボード");
    assert!(
        b.source().await.unwrap().contains("監査ログ"),
        "the administrator's menu"
    );
    screenshot(&b, "04-dashboard-admin").await;

    click_and_wait(&b, ".who form[action=\"/logout\"] button[type=submit]").await;
    assert_eq!(path(&b).await, "/login?logged_out=1");

    // A facility user: no TOTP, straight to the dashboard after the password change.
    fill(&b, "#login_id", &user_id).await;
    fill(&b, "#password", &user_otp).await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/account/password");
    fill(&b, "#current_password", &user_otp).await;
    fill(&b, "#new_password", "Browser2026user").await;
    fill(&b, "#confirm_password", "Browser2026user").await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/");
    let body = b.source().await.unwrap();
    assert!(body.contains("パスワードを変更しました"), "flash message");
    assert!(
        !body.contains("href=\"/audit\""),
        "no audit menu for a user"
    );
    screenshot(&b, "05-dashboard-user").await;
    b.close().await.unwrap();
}
