//! Letters waiting to be downloaded (issue 15, defect 2).
//!
//! Processing requests answers with a redirect to the (now current) list instead of the PDF, so
//! the page the operator sees never shows a processed request as 受付. The PDF is handed over
//! once through a download link: it is held in this process's memory only, for the operator who
//! made it, for [`HOLD_MINUTES`], and forgotten at the first download. Nothing is written to
//! disk or the database, so the rule "the password is in clear only in that PDF, made once"
//! still holds. With several instances behind a balancer the link must reach the same instance
//! (sticky sessions); a link that finds nothing says so and points to re-issuing.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use jiff::SignedDuration;
use rand::RngCore;

use crate::db::Timestamp;

/// How long an undownloaded PDF is kept.
pub const HOLD_MINUTES: i64 = 15;

struct Held {
    owner: i64,
    until: Timestamp,
    name: String,
    bytes: Vec<u8>,
}

static HELD: LazyLock<Mutex<HashMap<String, Held>>> = LazyLock::new(Default::default);

/// Keeps a PDF for `owner` and returns the token of its download link.
pub fn hold(owner: i64, name: String, bytes: Vec<u8>, now: Timestamp) -> String {
    let mut raw = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let until = now.plus(SignedDuration::from_mins(HOLD_MINUTES));
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    held.retain(|_, h| h.until > now);
    held.insert(
        token.clone(),
        Held {
            owner,
            until,
            name,
            bytes,
        },
    );
    token
}

/// Whether a download is still waiting (for the banner on the list).
pub fn waiting(owner: i64, token: &str, now: Timestamp) -> bool {
    let held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    held.get(token)
        .is_some_and(|h| h.owner == owner && h.until > now)
}

/// Takes the PDF (file name, bytes) out: a second download finds nothing.
pub fn take(owner: i64, token: &str, now: Timestamp) -> Option<(String, Vec<u8>)> {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    held.retain(|_, h| h.until > now);
    if held.get(token).is_some_and(|h| h.owner == owner) {
        held.remove(token).map(|h| (h.name, h.bytes))
    } else {
        None
    }
}
