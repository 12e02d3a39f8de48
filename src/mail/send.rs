//! The sender: turns an outbox row into a MIME message (UTF-8, encoded headers, Message-ID,
//! Date) and hands it to the SMTP server with lettre, over STARTTLS, implicit TLS or plain SMTP
//! as `[mail] security` says (rustls with the ring provider; the system's trust store plus
//! `[mail] ca_file`).

use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncTransport, Tokio1Executor};

use super::repo::MailRow;
use super::settings::{MailSettings, Security};
use crate::db::Timestamp;

/// Why one attempt failed, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    /// The server refused for good (a 5xx answer): no point in trying again.
    pub permanent: bool,
}

/// An SMTP client built from the settings (one per run of the sender).
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
    timeout: Duration,
}

impl Sender {
    /// Fails when the settings cannot make a client (a bad CA file, a bad sender address).
    pub fn new(s: &MailSettings) -> Result<Sender, String> {
        let from_address: lettre::Address = s
            .from_address
            .trim()
            .parse()
            .map_err(|e| format!("[mail] from_address: {e}"))?;
        let domain = from_address.domain().to_string();
        let name = s.from_name.trim();
        let from = Mailbox::new((!name.is_empty()).then(|| name.to_string()), from_address);
        let host = s.host.trim().to_string();
        let tls = match s.security {
            Security::None => Tls::None,
            Security::Starttls => Tls::Required(tls_parameters(&host, &s.ca_file)?),
            Security::Tls => Tls::Wrapper(tls_parameters(&host, &s.ca_file)?),
        };
        let helo = if s.helo_name.trim().is_empty() {
            domain.clone()
        } else {
            s.helo_name.trim().to_string()
        };
        let timeout = Duration::from_secs(s.timeout_seconds.max(1));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(s.port)
            .tls(tls)
            .timeout(Some(timeout))
            .hello_name(ClientId::Domain(helo));
        if !s.username.is_empty() {
            builder = builder.credentials(Credentials::new(s.username.clone(), s.password.clone()));
        }
        Ok(Sender {
            transport: builder.build(),
            from,
            domain,
            timeout,
        })
    }

    /// Sends one mail; returns the server's answer (`250 …`).
    pub async fn send(&self, row: &MailRow, now: Timestamp) -> Result<String, SendError> {
        let message = self.message(row, now).map_err(|message| SendError {
            message,
            permanent: true,
        })?;
        // lettre's timeout is per command; this bounds the whole conversation too.
        let whole = self.timeout * 5;
        match tokio::time::timeout(whole, self.transport.send(message)).await {
            Ok(Ok(response)) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )
            .trim()
            .to_string()),
            Ok(Err(e)) => Err(SendError {
                message: error_text(&e),
                permanent: e.is_permanent(),
            }),
            Err(_) => Err(SendError {
                message: format!("タイムアウト（{} 秒）", whole.as_secs()),
                permanent: false,
            }),
        }
    }

    /// The MIME message of an outbox row: From with the display name, To, Subject (RFC 2047
    /// encoded when not ASCII), Date (the attempt's time), a Message-ID that stays the same
    /// across attempts (a receiver can tell a repeat), plain-text UTF-8 body.
    pub fn message(&self, row: &MailRow, now: Timestamp) -> Result<Message, String> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(row.subject.clone())
            .date(SystemTime::from(now.as_jiff()))
            .message_id(Some(message_id(row, &self.domain)))
            .header(ContentType::TEXT_PLAIN);
        for to in row.recipients.lines().filter(|l| !l.trim().is_empty()) {
            let addr: lettre::Address = to
                .trim()
                .parse()
                .map_err(|e| format!("宛先の形式が正しくありません（{to}）: {e}"))?;
            b = b.to(Mailbox::new(None, addr));
        }
        if let Ok(name) = HeaderName::new_from_ascii("Auto-Submitted".into()) {
            b = b.raw_header(HeaderValue::new(name, "auto-generated".into()));
        }
        b.body(row.body.clone())
            .map_err(|e| format!("メールを組み立てられません: {e}"))
    }
}

/// `<rainbownet.42.1764032523456@example.jp>`: the row and its creation time, so that two
/// databases (a restored copy, a test) do not hand out the same id for different mails.
pub fn message_id(row: &MailRow, domain: &str) -> String {
    format!(
        "<rainbownet.{}.{}@{}>",
        row.id,
        row.created_at.millis(),
        domain
    )
}

fn tls_parameters(host: &str, ca_file: &str) -> Result<TlsParameters, String> {
    let mut b = TlsParameters::builder(host.to_string());
    let ca_file = ca_file.trim();
    if !ca_file.is_empty() {
        let pem = std::fs::read(ca_file)
            .map_err(|e| format!("[mail] ca_file {ca_file} を読めません: {e}"))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("[mail] ca_file {ca_file} は PEM の証明書ではありません: {e}"))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls()
        .map_err(|e| format!("TLS の設定を作れません: {e}"))
}

/// The error with its causes, on one line (no secrets: lettre never prints the credentials).
fn error_text(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text.chars().take(500).collect()
}
