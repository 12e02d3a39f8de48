//! The mail outbox (issue 12 item 3, R22.1's alerts; issue 11 item 6's backup mails): mails are
//! queued with the event that causes them and sent by the job `mail.send` to a REAL SMTP server
//! on loopback (`tests/support/smtp_sink.py`, Python's aiosmtpd). Each received message is
//! decoded by Python's own `email` package, an independent MIME decoder, and the tests read
//! that: the Japanese subject, body and display name, the recipients, Message-ID and Date.
//! Without aiosmtpd these tests say so and skip, unless RAINBOWNET_REQUIRE_SMTP is set
//! (scripts/test.sh sets it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::config::{MailSecurity, Settings};
use rainbownet::db::Timestamp;
use rainbownet::mail::{self, Address, Outgoing};
use serde_json::Value;

use crate::helpers::*;

const FROM: &str = "noreply@rainbow.example.jp";
const FROM_NAME: &str = "きよすレインボーネット 運用管理";

/// A running smtp_sink.py; killed on drop.
pub(crate) struct Sink {
    child: Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py")
}

/// Whether aiosmtpd is there; without it a test skips (saying so), unless it is required.
pub(crate) fn smtp_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("RAINBOWNET_REQUIRE_SMTP").is_none(),
            "RAINBOWNET_REQUIRE_SMTP is set but Python's aiosmtpd is missing (pip install aiosmtpd)"
        );
        eprintln!(
            "SKIPPED: the mail tests need a real SMTP server: pip install aiosmtpd \
             (set RAINBOWNET_REQUIRE_SMTP=1 to make its absence a failure)"
        );
    }
    ok
}

impl Sink {
    /// Starts the server (`port` 0: a free one) with extra options (`--mode`, `--auth` …).
    pub(crate) fn start(port: u16, extra: &[&str]) -> Sink {
        let dir = tempfile::tempdir().expect("mail dir");
        // The server's own log (TLS handshakes refused on purpose print tracebacks there).
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("server log");
        let mut child = Command::new("python3")
            .arg(script())
            .args(["--dir", &dir.path().join("mail").display().to_string()])
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start smtp_sink.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read READY");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "smtp_sink.py did not start: {line:?}\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                )
            });
        Sink { child, port, dir }
    }

    /// The messages received so far, in order, as the Python decoder read them.
    pub(crate) fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_str(&std::fs::read_to_string(p).expect("read json")).expect("json")
            })
            .collect()
    }
}

/// A port nothing listens on (bound once and let go).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub(crate) fn mail_settings(s: &mut Settings, port: u16) {
    s.mail.enabled = true;
    s.mail.host = "127.0.0.1".into();
    s.mail.port = port;
    s.mail.security = MailSecurity::None;
    s.mail.from_address = FROM.into();
    s.mail.from_name = FROM_NAME.into();
    s.mail.timeout_seconds = 5;
}

async fn queue(app: &TestApp, to: &[&str], subject: &str, body: &str) -> i64 {
    let mut tx = app.db().begin().await.expect("tx");
    let id = mail::enqueue(
        &mut tx,
        &Outgoing {
            source: "monitor.alert",
            source_ref: Some("alert:1".into()),
            to: to
                .iter()
                .map(|a| Address::parse(a).expect("address"))
                .collect(),
            subject: subject.into(),
            body: body.into(),
        },
        app.now(),
    )
    .await
    .expect("enqueue")
    .expect("queued");
    tx.commit().await.expect("commit");
    id
}

/// Runs the job `mail.send` once through the job runner (as `serve` and `job run` do).
pub(crate) async fn run_job(app: &TestApp) -> String {
    rainbownet::jobs::run(&app.state, mail::JOB, "test-runner")
        .await
        .expect("the job runs")
}

async fn mail_state(app: &TestApp, id: i64) -> (String, i64, Option<Timestamp>) {
    sqlx::query_as("SELECT state, attempts, next_attempt_at FROM mail_outbox WHERE id = $1")
        .bind(id)
        .fetch_one(app.db().pool())
        .await
        .expect("mail row")
}

/// The attempts of a mail: (ok, detail), in order.
async fn attempts(app: &TestApp, id: i64) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT ok, detail FROM mail_attempts WHERE mail_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(app.db().pool())
        .await
        .expect("attempts")
}

fn lf(s: &Value) -> String {
    s.as_str().unwrap_or_default().replace("\r\n", "\n")
}

#[tokio::test]
async fn r22_1_a_japanese_mail_reaches_a_real_smtp_server_with_subject_body_sender_and_recipients_decoded()
 {
    if !smtp_available() {
        return;
    }
    let sink = Sink::start(0, &[]);
    let app = spawn_app_with(|s| mail_settings(s, sink.port)).await;
    let subject = "【警報】監視対象「地域連携サーバー」が停止しています（No.12）";
    let body =
        "監視対象：地域連携サーバー\n状態：停止（3 回連続で応答なし）\n\n確認をお願いします。\n";
    let id = queue(
        &app,
        &["oncall1@example.jp", "oncall2@example.jp"],
        subject,
        body,
    )
    .await;
    assert_eq!(mail_state(&app, id).await.0, "queued");

    let msg = run_job(&app).await;
    assert!(msg.contains("送信 1 件"), "{msg}");
    let got = sink.messages();
    assert_eq!(got.len(), 1, "exactly one message: {got:?}");
    let m = &got[0];
    assert_eq!(m["subject"], subject, "decoded subject");
    assert_eq!(lf(&m["body"]), body, "decoded body");
    assert_eq!(m["from_name"], FROM_NAME, "the Japanese display name");
    assert_eq!(m["from_address"], FROM);
    assert_eq!(m["mail_from"], FROM, "envelope sender");
    assert_eq!(
        m["to"],
        serde_json::json!(["oncall1@example.jp", "oncall2@example.jp"])
    );
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["oncall1@example.jp", "oncall2@example.jp"])
    );
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["charset"], "utf-8");
    // MIME-encoded for any relay: the message on the wire is plain ASCII, the subject an
    // RFC 2047 encoded word.
    assert_eq!(m["all_ascii"], true, "{m}");
    let raw_subject = m["raw_subject"].as_str().expect("raw subject");
    assert!(
        raw_subject.to_ascii_lowercase().contains("=?utf-8?"),
        "{raw_subject}"
    );
    let mid = m["message_id"].as_str().expect("Message-ID");
    assert!(
        mid.starts_with(&format!("<rainbownet.{id}.")) && mid.ends_with("@rainbow.example.jp>"),
        "{mid}"
    );
    assert!(m["date"].as_str().is_some_and(|d| !d.is_empty()), "Date");
    assert_eq!(m["auto_submitted"], "auto-generated");

    let (state, n, _) = mail_state(&app, id).await;
    assert_eq!((state.as_str(), n), ("sent", 1));
    let tries = attempts(&app, id).await;
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].0, 1, "a successful attempt");
    assert!(
        tries[0].1.starts_with("250"),
        "the server's answer: {}",
        tries[0].1
    );
    assert_eq!(app.audit_count("mail.sent").await, 1);
    // A second run sends nothing again.
    run_job(&app).await;
    assert_eq!(sink.messages().len(), 1, "never sent twice");
}

#[tokio::test]
async fn r22_1_while_the_server_is_down_a_mail_is_retried_with_back_off_then_sent_when_it_is_up() {
    if !smtp_available() {
        return;
    }
    let port = closed_port();
    let app = spawn_app_with(|s| {
        mail_settings(s, port);
        s.mail.backoff_minutes = vec![1, 5];
        s.mail.max_attempts = 5;
    })
    .await;
    let id = queue(&app, &["oncall@example.jp"], "復旧の確認", "本文").await;
    let t0 = app.now();

    let msg = run_job(&app).await;
    assert!(msg.contains("再送待ち 1 件"), "{msg}");
    let (state, n, next) = mail_state(&app, id).await;
    assert_eq!((state.as_str(), n), ("queued", 1));
    assert_eq!(
        next,
        Some(t0.plus_minutes(1)),
        "1 minute after the first failure"
    );
    let tries = attempts(&app, id).await;
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].0, 0, "a failed attempt is recorded");
    assert!(!tries[0].1.is_empty(), "with the error");

    // Not due yet: no attempt.
    run_job(&app).await;
    assert_eq!(attempts(&app, id).await.len(), 1, "waits for its time");

    app.advance_minutes(1);
    run_job(&app).await;
    let (_, n, next) = mail_state(&app, id).await;
    assert_eq!(n, 2);
    assert_eq!(next, Some(t0.plus_minutes(1 + 5)), "then 5 minutes");
    app.advance_minutes(4);
    run_job(&app).await;
    assert_eq!(attempts(&app, id).await.len(), 2, "still waiting");

    // The server comes up on that port.
    let sink = Sink::start(port, &[]);
    app.advance_minutes(1);
    run_job(&app).await;
    let (state, n, _) = mail_state(&app, id).await;
    assert_eq!((state.as_str(), n), ("sent", 3));
    let oks: Vec<i64> = attempts(&app, id).await.iter().map(|a| a.0).collect();
    assert_eq!(oks, vec![0, 0, 1], "every attempt on record");
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.messages()[0]["subject"], "復旧の確認");
}

#[tokio::test]
async fn r22_1_after_max_attempts_a_mail_is_failed_alerted_and_a_system_admin_can_send_it_again() {
    if !smtp_available() {
        return;
    }
    let port = closed_port();
    let app = spawn_app_with(|s| {
        mail_settings(s, port);
        s.mail.backoff_minutes = vec![1];
        s.mail.max_attempts = 2;
    })
    .await;
    let id = queue(&app, &["oncall@example.jp"], "送れないメール", "本文").await;
    run_job(&app).await;
    app.advance_minutes(1);
    let msg = run_job(&app).await;
    assert!(msg.contains("送信失敗 1 件"), "{msg}");
    let (state, n, _) = mail_state(&app, id).await;
    assert_eq!(
        (state.as_str(), n),
        ("failed", 2),
        "gave up after 2 attempts"
    );
    assert_eq!(app.audit_count("mail.failed").await, 1);
    app.advance_minutes(10);
    run_job(&app).await;
    assert_eq!(
        attempts(&app, id).await.len(),
        2,
        "a failed mail is not tried again"
    );

    // The administrators' dashboard says so and links to the page.
    let admin = app.login_as(Role::SystemAdmin).await;
    let dash = admin.client.get("/").await.text().await.expect("body");
    assert!(
        dash.contains("card card-alert\" href=\"/admin/mail\"")
            && dash.contains("メール送信の失敗"),
        "{dash}"
    );
    let city = app.login_as(Role::ServiceOperator).await;
    let dash = city.client.get("/").await.text().await.expect("body");
    assert!(
        !dash.contains("メール送信の失敗"),
        "the card is the administrators'"
    );
    let page = city.client.get("/admin/mail").await;
    assert_eq!(page.status(), 200, "the service operator reads the page");
    let page = page.text().await.expect("body");
    assert!(page.contains("送れないメール") && page.contains("送信失敗"));
    assert!(!page.contains("再送する"), "but has no retry button");
    let page = admin
        .client
        .get("/admin/mail")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("再送する"), "{page}");
    let detail = admin
        .client
        .get(&format!("/admin/mail/{id}"))
        .await
        .text()
        .await
        .expect("body");
    assert!(detail.contains("送信の試み（2 回）"), "{detail}");

    // A system administrator puts it back in the queue; it goes once the server is up.
    let res = admin
        .client
        .post_form(&format!("/admin/mail/{id}/retry"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("mail.retry").await, 1);
    assert_eq!(mail_state(&app, id).await.0, "queued");
    let res = admin
        .client
        .post_form(&format!("/admin/mail/{id}/retry"), &[])
        .await;
    assert_eq!(res.status(), 409, "only a failed mail can be sent again");
    let sink = Sink::start(port, &[]);
    run_job(&app).await;
    assert_eq!(mail_state(&app, id).await.0, "sent");
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(
        attempts(&app, id).await.len(),
        3,
        "the earlier attempts stay"
    );
}

#[tokio::test]
async fn r22_1_two_senders_at_once_send_every_mail_exactly_once() {
    if !smtp_available() {
        return;
    }
    let sink = Sink::start(0, &[]);
    let app = spawn_app_with(|s| mail_settings(s, sink.port)).await;
    let n = 8;
    for i in 0..n {
        queue(
            &app,
            &["oncall@example.jp"],
            &format!("同時送信 {i}"),
            "本文",
        )
        .await;
    }
    let settings = app.state.settings.mail.clone();
    let now = app.now();
    let (a, b) = tokio::join!(
        mail::send_due(app.db(), &settings, None, now),
        mail::send_due(app.db(), &settings, None, now),
    );
    let (a, b) = (a.expect("sender a"), b.expect("sender b"));
    assert_eq!(a.sent + b.sent, n, "{a} / {b}");
    let mut subjects: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    subjects.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("同時送信 {i}")).collect();
    want.sort();
    assert_eq!(subjects, want, "each mail once");
    assert_eq!(app.count("mail_attempts").await, i64::from(n));
}

#[tokio::test]
async fn r22_1_starttls_with_auth_against_a_self_signed_server_and_the_password_from_the_environment()
 {
    if !smtp_available() {
        return;
    }
    let certs = tempfile::tempdir().expect("cert dir");
    let (cert, key) = self_signed(certs.path());
    let sink = Sink::start(
        0,
        &[
            "--mode",
            "starttls",
            "--cert",
            &cert,
            "--key",
            &key,
            "--auth",
            "rn-mailer:smtp-pass-7",
        ],
    );
    // The password comes from the environment, as RAINBOWNET__MAIL__PASSWORD does for `serve`.
    let out = cli_with_mail(
        &spawn_app_with(|_| {}).await,
        sink.port,
        &[
            ("RAINBOWNET__MAIL__SECURITY", "starttls"),
            ("RAINBOWNET__MAIL__HOST", "localhost"),
            ("RAINBOWNET__MAIL__USERNAME", "rn-mailer"),
            ("RAINBOWNET__MAIL__PASSWORD", "smtp-pass-7"),
            ("RAINBOWNET__MAIL__CA_FILE", &cert),
        ],
        &["mail", "send-test", "--to", "admin@example.jp"],
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["tls"], true, "upgraded with STARTTLS");
    assert_eq!(got[0]["authenticated"], true);
    assert_eq!(got[0]["login"], "rn-mailer");
    assert_eq!(got[0]["to"], serde_json::json!(["admin@example.jp"]));
    assert!(
        got[0]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("テストメール")),
        "{}",
        got[0]
    );

    // A wrong password is a permanent refusal: failed at once.
    let app = spawn_app_with(|s| {
        mail_settings(s, sink.port);
        s.mail.host = "localhost".into();
        s.mail.security = MailSecurity::Starttls;
        s.mail.ca_file = cert.clone();
        s.mail.username = "rn-mailer".into();
        s.mail.password = "wrong".into();
    })
    .await;
    let id = queue(&app, &["oncall@example.jp"], "誤ったパスワード", "本文").await;
    run_job(&app).await;
    let (state, n, _) = mail_state(&app, id).await;
    assert_eq!(
        (state.as_str(), n),
        ("failed", 1),
        "{:?}",
        attempts(&app, id).await
    );
    assert_eq!(sink.messages().len(), 1);

    // Without trusting the server's certificate, nothing is sent: the attempt says why.
    let app = spawn_app_with(|s| {
        mail_settings(s, sink.port);
        s.mail.host = "localhost".into();
        s.mail.security = MailSecurity::Starttls;
        s.mail.username = "rn-mailer".into();
        s.mail.password = "smtp-pass-7".into();
    })
    .await;
    let id = queue(&app, &["oncall@example.jp"], "検証されない証明書", "本文").await;
    run_job(&app).await;
    let tries = attempts(&app, id).await;
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].0, 0);
    assert!(
        tries[0].1.to_lowercase().contains("certificate"),
        "{}",
        tries[0].1
    );
    assert_eq!(sink.messages().len(), 1, "nothing more arrived");
}

#[tokio::test]
async fn r22_1_implicit_tls_delivers_to_an_smtps_server() {
    if !smtp_available() {
        return;
    }
    let certs = tempfile::tempdir().expect("cert dir");
    let (cert, key) = self_signed(certs.path());
    let sink = Sink::start(0, &["--mode", "tls", "--cert", &cert, "--key", &key]);
    let app = spawn_app_with(|s| {
        mail_settings(s, sink.port);
        s.mail.host = "localhost".into();
        s.mail.security = MailSecurity::Tls;
        s.mail.ca_file = cert.clone();
    })
    .await;
    let id = queue(
        &app,
        &["oncall@example.jp"],
        "暗号化された送信",
        "本文です。",
    )
    .await;
    run_job(&app).await;
    assert_eq!(mail_state(&app, id).await.0, "sent");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["tls"], true);
    assert_eq!(got[0]["subject"], "暗号化された送信");
}

#[tokio::test]
async fn r22_1_without_mail_settings_mails_stay_queued_and_the_page_says_why() {
    let app = spawn_app_with(|s| s.security.session_idle_minutes = 120).await;
    let id = queue(&app, &["oncall@example.jp"], "設定前のメール", "本文").await;
    let msg = run_job(&app).await;
    assert!(
        msg.contains("送信していません") && msg.contains("enabled"),
        "{msg}"
    );
    let (state, n, _) = mail_state(&app, id).await;
    assert_eq!((state.as_str(), n), ("queued", 0), "kept, not tried");
    assert_eq!(app.count("mail_attempts").await, 0);

    let admin = app.login_as(Role::SystemAdmin).await;
    let page = admin
        .client
        .get("/admin/mail")
        .await
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("メールは送信されていません") && page.contains("[mail] enabled"),
        "{page}"
    );
    assert!(page.contains("設定前のメール"), "the queue is listed");
    assert!(page.contains("href=\"/admin/mail\""), "in the navigation");
    // A queue stuck for more than 30 minutes is a card for the administrators.
    let dash = admin.client.get("/").await.text().await.expect("body");
    assert!(!dash.contains("メールの送信待ち"), "not yet: {dash}");
    app.advance_minutes(31);
    let dash = admin.client.get("/").await.text().await.expect("body");
    assert!(
        dash.contains("メールの送信待ち") && dash.contains("メール送信が設定されていません"),
        "{dash}"
    );

    // A test mail to a bad address is refused with the form again; a good one is queued.
    let res = admin
        .client
        .post_form("/admin/mail/test", &[("to", "not an address")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("メールアドレスの形式が正しくありません")
    );
    let res = admin
        .client
        .post_form("/admin/mail/test", &[("to", "admin@example.jp")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("mail.test_queued").await, 1);
    assert_eq!(app.count("mail_outbox").await, 2);

    // The CLI lists the queue.
    let out = app.cli(&["mail", "queue"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{id}\tqueued\t")) && l.ends_with("設定前のメール")),
        "{text}"
    );
    // A test mail from the CLI while mail is off says why and exits 1.
    let out = app.cli(&["mail", "send-test", "--to", "admin@example.jp"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[mail] enabled"));
}

#[tokio::test]
async fn r21_1_a_failed_backup_queues_a_mail_to_the_administrators_with_its_failure_record() {
    let app = spawn_app_with(|s| {
        s.mail.admin_to = vec!["sysadmin@example.jp".into(), "backup@example.jp".into()];
    })
    .await;
    // No [backup] recipients: the backup fails and is recorded as failed.
    let result = rainbownet::backup::run::backup_now(
        &app.state,
        rainbownet::backup::Kind::Daily,
        "test",
        &Actor::system("test"),
        app.now(),
    )
    .await;
    assert!(result.is_err());
    let failed: String =
        sqlx::query_scalar("SELECT id FROM backups WHERE state = 'failed' ORDER BY started_at")
            .fetch_one(app.db().pool())
            .await
            .expect("a failed backup row");
    let (source_ref, recipients, subject, body): (String, String, String, String) = sqlx::query_as(
        "SELECT source_ref, recipients, subject, body FROM mail_outbox
              WHERE source = 'backup.failed'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("a mail was queued");
    assert_eq!(source_ref, format!("backup:{failed}"));
    assert_eq!(recipients, "sysadmin@example.jp\nbackup@example.jp");
    assert!(subject.contains("バックアップが失敗しました"), "{subject}");
    assert!(body.contains("recipients"), "the reason: {body}");
    assert!(body.contains("/admin/backup"), "{body}");

    // Without admin_to nothing is queued (and nothing breaks).
    let app = spawn_app().await;
    let _ = rainbownet::backup::run::backup_now(
        &app.state,
        rainbownet::backup::Kind::Daily,
        "test",
        &Actor::system("test"),
        app.now(),
    )
    .await;
    assert_eq!(app.audit_count("backup.failed").await, 1);
    assert_eq!(app.count("mail_outbox").await, 0);
}

#[tokio::test]
async fn r21_2_a_missed_scheduled_backup_queues_a_mail_to_the_administrators() {
    let app = spawn_app_with(|s| {
        s.mail.admin_to = vec!["sysadmin@example.jp".into()];
        s.security.session_idle_minutes = 60 * 24;
    })
    .await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let city = app.login_as(Role::ServiceOperator).await;
    let at = app
        .now()
        .plus_minutes(5)
        .as_jiff()
        .to_zoned(rainbownet::db::tokyo())
        .strftime("%H:%M")
        .to_string();
    let res = admin
        .client
        .post_form(
            "/admin/backup/schedules",
            &[("kind", "daily"), ("local_time", &at)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM backup_schedules")
        .fetch_one(app.db().pool())
        .await
        .expect("schedule");
    let res = city
        .client
        .post_form(&format!("/admin/backup/schedules/{id}/approve"), &[])
        .await;
    assert_eq!(res.status(), 303);
    app.advance_minutes(5 + 121);
    rainbownet::jobs::run(&app.state, "backup.scheduled", "test")
        .await
        .expect("job");
    assert_eq!(app.audit_count("backup.missed").await, 1);
    let (source_ref, recipients, subject): (String, String, String) = sqlx::query_as(
        "SELECT source_ref, recipients, subject FROM mail_outbox WHERE source = 'backup.missed'",
    )
    .fetch_one(app.db().pool())
    .await
    .expect("a mail was queued");
    assert_eq!(source_ref, format!("backup_schedule:{id}"));
    assert_eq!(recipients, "sysadmin@example.jp");
    assert!(subject.contains("実施されませんでした"), "{subject}");
}

/// A self-signed certificate for `localhost` made with the openssl CLI: (cert, key) paths.
fn self_signed(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            // An end-entity certificate (by default `req -x509` makes a CA one, which TLS
            // clients rightly refuse for a server).
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
            &key,
            "-out",
            &cert,
        ])
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// The real binary against `app`'s database with `[mail]` pointing at `port` (plain SMTP unless
/// `env` says otherwise).
fn cli_with_mail(
    app: &TestApp,
    port: u16,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rainbownet"));
    cmd.args(args)
        .env("RAINBOWNET__DATABASE__URL", &app.database_url)
        .env("RAINBOWNET__PATHS__DATA_DIR", app.dir.path())
        .env("RAINBOWNET__LOG__FILTER", "warn")
        .env("RAINBOWNET__MAIL__ENABLED", "true")
        .env("RAINBOWNET__MAIL__HOST", "127.0.0.1")
        .env("RAINBOWNET__MAIL__PORT", port.to_string())
        .env("RAINBOWNET__MAIL__SECURITY", "none")
        .env("RAINBOWNET__MAIL__FROM_ADDRESS", FROM)
        .env("RAINBOWNET__MAIL__FROM_NAME", FROM_NAME);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rainbownet")
}
