//! The mail outbox (issue 12): a core facility every domain uses to send mail (monitoring alerts,
//! backup failures, helpdesk replies, request completions, incidents).
//!
//! Rules:
//! - A mail is first a row of `mail_outbox`, written with [`enqueue`] on the caller's
//!   transaction, so that it exists exactly when the event that causes it was committed.
//! - Only the sending job talks to the SMTP server; a mail is never sent inside a request.
//!
//! The core: imports only the core (`db`, `audit`, `clock`, `error`).

mod repo;

use crate::db::{Conn, Timestamp};

/// A mail to queue: plain UTF-8 text, to one or more addresses.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// What caused it (`monitor.alert`, `backup.failed`, …): the admin page groups by it.
    pub source: &'static str,
    /// The id of that thing (an alert id, a backup id), for the admin page and the audit trail.
    pub source_ref: Option<String>,
    pub to: Vec<Address>,
    pub subject: String,
    pub body: String,
}

/// An e-mail address as the outbox accepts it: `local@domain`, no spaces, no line breaks (a
/// header injection would need one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("メールアドレスの形式が正しくありません: {0}")]
pub struct BadAddress(pub String);

impl Address {
    pub fn parse(s: &str) -> Result<Self, BadAddress> {
        let t = s.trim();
        let ok = t.len() <= 254
            && !t
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
            && matches!(t.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
        if ok {
            Ok(Address(t.to_string()))
        } else {
            Err(BadAddress(t.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Queues `mail` on the caller's transaction; it is sent by the job after the commit. Returns the
/// outbox id. A mail without recipients is not queued (`None`).
pub async fn enqueue(
    conn: &mut Conn,
    mail: &Outgoing,
    now: Timestamp,
) -> sqlx::Result<Option<i64>> {
    if mail.to.is_empty() {
        return Ok(None);
    }
    repo::insert(conn, mail, now).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_line_breaks_or_without_a_domain_are_refused() {
        assert!(Address::parse("oncall@example.jp").is_ok());
        for bad in [
            "a@b",
            "no-at.example.jp",
            "x@example.jp\r\nBcc: y@z.jp",
            "a b@example.jp",
            "@example.jp",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }
}
