//! Audit events and the hash chain. Pure: no SQL here.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::db::Timestamp;

/// The hash that precedes the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it, and from where.
#[derive(Clone, Debug, Serialize)]
pub struct Actor {
    pub account_id: Option<i64>,
    pub login: String,
    pub role: String,
    pub client_addr: String,
}

impl Actor {
    pub fn of(p: &Principal, client_addr: &str) -> Actor {
        Actor {
            account_id: Some(p.account_id),
            login: p.login_id.clone(),
            role: p.role.key().to_string(),
            client_addr: client_addr.to_string(),
        }
    }

    /// Someone not (yet) logged in, e.g. a failed log-in with the ID that was typed.
    pub fn anonymous(login_tried: &str, client_addr: &str) -> Actor {
        Actor {
            account_id: None,
            login: login_tried.to_string(),
            role: "anonymous".into(),
            client_addr: client_addr.to_string(),
        }
    }

    /// The scheduler or a background job.
    pub fn system(job: &str) -> Actor {
        Actor {
            account_id: None,
            login: format!("system:{job}"),
            role: "system".into(),
            client_addr: "local".into(),
        }
    }

    /// An operator at the server's command line (`rainbownet account create …`).
    pub fn cli() -> Actor {
        let user = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".into());
        Actor {
            account_id: None,
            login: format!("cli:{user}"),
            role: "cli".into(),
            client_addr: "local".into(),
        }
    }
}

/// A stored audit row.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: Timestamp,
    pub actor_account_id: Option<i64>,
    pub actor_login: String,
    pub actor_role: String,
    pub action: String,
    pub target: String,
    pub details: String,
    pub client_addr: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// SHA-256 over every field but `hash`, in a fixed order, as a JSON array.
    pub fn compute_hash(&self) -> String {
        let canonical = serde_json::json!([
            self.id,
            self.at.to_db(),
            self.actor_account_id,
            self.actor_login,
            self.actor_role,
            self.action,
            self.target,
            self.details,
            self.client_addr,
            self.prev_hash,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// Result of walking the chain from the first row.
#[derive(Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows: i64,
    pub broken: Option<Broken>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

/// Walks rows in id order. Keeps state so rows can be streamed.
pub struct ChainCheck {
    expected_id: i64,
    prev_hash: String,
    pub rows: i64,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self {
            expected_id: 1,
            prev_hash: GENESIS.to_string(),
            rows: 0,
        }
    }
}

impl ChainCheck {
    pub fn push(&mut self, row: &AuditRow) -> Result<(), Broken> {
        let broken = |reason: &str| Broken {
            id: row.id,
            reason: reason.to_string(),
        };
        if row.id != self.expected_id {
            return Err(Broken {
                id: self.expected_id,
                reason: format!(
                    "row {} is missing (next row found is {})",
                    self.expected_id, row.id
                ),
            });
        }
        if row.prev_hash != self.prev_hash {
            return Err(broken(
                "prev_hash does not match the hash of the row before it",
            ));
        }
        if row.compute_hash() != row.hash {
            return Err(broken(
                "content does not match its hash (the row was altered)",
            ));
        }
        self.prev_hash = row.hash.clone();
        self.expected_id += 1;
        self.rows += 1;
        Ok(())
    }

    /// The head must point at the last row, or rows were cut off the end.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Broken> {
        if head_seq != self.rows || head_hash != self.prev_hash {
            return Err(Broken {
                id: self.rows + 1,
                reason: format!(
                    "the chain ends at row {} but the head records row {head_seq}",
                    self.rows
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, prev: &str, details: &str) -> AuditRow {
        let mut r = AuditRow {
            id,
            at: "2026-11-25T00:00:00Z".parse().expect("ts"),
            actor_account_id: Some(1),
            actor_login: "admin".into(),
            actor_role: "system_admin".into(),
            action: "test.event".into(),
            target: "x".into(),
            details: details.into(),
            client_addr: "127.0.0.1".into(),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        r
    }

    #[test]
    fn an_intact_chain_verifies() {
        let a = row(1, GENESIS, "{}");
        let b = row(2, &a.hash, "{}");
        let mut c = ChainCheck::default();
        c.push(&a).expect("a");
        c.push(&b).expect("b");
        c.finish(2, &b.hash).expect("head");
    }

    #[test]
    fn an_edited_row_is_named() {
        let a = row(1, GENESIS, "{}");
        let mut b = row(2, &a.hash, "{}");
        b.details = "{\"edited\":true}".into();
        let mut c = ChainCheck::default();
        c.push(&a).expect("a");
        assert_eq!(c.push(&b).expect_err("edited").id, 2);
    }

    #[test]
    fn a_deleted_row_is_named() {
        let a = row(1, GENESIS, "{}");
        let b = row(2, &a.hash, "{}");
        let d = row(3, &b.hash, "{}");
        let mut c = ChainCheck::default();
        c.push(&a).expect("a");
        assert_eq!(c.push(&d).expect_err("gap").id, 2);
    }

    #[test]
    fn a_rehashed_row_breaks_the_link_to_the_next() {
        let a = row(1, GENESIS, "{}");
        let b = row(2, &a.hash, "{}");
        let forged = row(1, GENESIS, "{\"forged\":1}");
        let mut c = ChainCheck::default();
        c.push(&forged)
            .expect("self-consistent forgery passes its own check");
        assert_eq!(c.push(&b).expect_err("link").id, 2);
    }
}
