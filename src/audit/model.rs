//! Audit events, the chain and its seal, anchors. Pure: no SQL, no files here.
//!
//! A row's `hash` is its seal: HMAC-SHA256 under the `audit` key named by `key_id` over every
//! other field (rows written before sealing began have no `key_id` and a plain SHA-256). Each row
//! holds the hash of the row before it (`prev_hash`), so a seal covers the whole chain behind it.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::db::{Key, KeySet, Timestamp};

type HmacSha256 = Hmac<Sha256>;

fn hmac_hex(key: &Key, message: &str) -> String {
    hex::encode(mac_of(key, message).finalize().into_bytes())
}

fn mac_of(key: &Key, message: &str) -> HmacSha256 {
    let mut m =
        <HmacSha256 as Mac>::new_from_slice(key.bytes()).expect("HMAC takes a key of any length");
    m.update(message.as_bytes());
    m
}

/// Whether `mac_hex` is the HMAC of `message` under `key` (compared in constant time).
pub(super) fn mac_matches(key: &Key, message: &str, mac_hex: &str) -> bool {
    match hex::decode(mac_hex) {
        Ok(mac) => mac_of(key, message).verify_slice(&mac).is_ok(),
        Err(_) => false,
    }
}

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

    /// How a recorded login reads on a page: the scheduler, a job or the demo seed
    /// (`system:demo`) as 「システム（自動処理）」, never as the internal code; a person's login
    /// as it is.
    pub fn shown(login: &str) -> String {
        if login.starts_with("system:") {
            "システム（自動処理）".to_string()
        } else {
            login.to_string()
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
    /// The id of the `audit` key that sealed the row; `None` for a row written before sealing
    /// began (its `hash` is a plain SHA-256).
    pub key_id: Option<String>,
    /// The chain the row belongs to (`audit_head.id`; 1 for every row before migration 0039).
    pub chain: i64,
    /// Its place in that chain, from 1; `None` for a row written before migration 0039, whose
    /// place is its id (see [`AuditRow::place`]).
    pub seq: Option<i64>,
}

impl AuditRow {
    /// The row's place in its chain.
    pub fn place(&self) -> i64 {
        self.seq.unwrap_or(self.id)
    }

    /// The plain SHA-256 over every field but `hash` and `key_id`, in a fixed order, as a JSON
    /// array: the `hash` of rows written before sealing began. Anyone can compute it, so it proves
    /// nothing against someone who can write the database; [`AuditRow::compute_seal`] does.
    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }

    /// The seal: HMAC-SHA256 under `key` over the same fields plus the key's id.
    pub fn compute_seal(&self, key: &Key) -> String {
        hmac_hex(key, &self.sealed_text(key.id()))
    }

    pub(super) fn sealed_text(&self, key_id: &str) -> String {
        format!("rainbownet.audit.seal.v1\n{}\n{key_id}", self.canonical())
    }

    fn canonical(&self) -> String {
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
        canonical.to_string()
    }
}

/// The heads of the chains (`audit_head`): chain 1's last place and hash, and how many rows at
/// its start were written before sealing began (fixed when the seal was introduced); and the
/// other chains that hold rows (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub last_hash: String,
    pub unsealed: i64,
    /// Chains 2 … with at least one row, in chain order.
    pub chains: Vec<ChainHead>,
}

impl Head {
    /// Every chain's (chain, last place, hash), chain 1 first, empty chains but 1 left out.
    pub fn marks(&self) -> Vec<ChainHead> {
        let first = ChainHead {
            chain: 1,
            seq: self.seq,
            hash: self.last_hash.clone(),
        };
        std::iter::once(first)
            .chain(self.chains.iter().cloned())
            .collect()
    }

    /// Rows in every chain together, as the heads record them.
    pub fn rows(&self) -> i64 {
        self.seq + self.chains.iter().map(|c| c.seq).sum::<i64>()
    }
}

/// The head of one chain: its last place and that row's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub chain: i64,
    pub seq: i64,
    pub hash: String,
}

/// What kind of break verification found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// A row is missing, out of place, or does not match its hash or seal.
    Chain,
    /// A row or an anchor names an audit key that the key file does not hold: nothing can be
    /// verified until the right key file is back.
    KeyMissing,
    /// The database contradicts an anchor kept outside it (rows cut off or rewritten).
    Anchor,
}

/// Result of walking the chain from the first row.
#[derive(Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows: i64,
    /// Rows at the start written before sealing began (plain SHA-256).
    pub unsealed: i64,
    /// The head that was checked (the anchor written after a clean check records it).
    pub head: Head,
    /// How many anchors the chain was checked against.
    pub anchors: usize,
    pub broken: Option<Broken>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The first row that is wrong or missing (0 when only an anchor itself is wrong).
    pub id: i64,
    pub kind: BreakKind,
    pub reason: String,
}

impl Broken {
    pub(super) fn new(id: i64, kind: BreakKind, reason: impl Into<String>) -> Broken {
        Broken {
            id,
            kind,
            reason: reason.into(),
        }
    }
}

/// The chain head written OUTSIDE the database (the anchor file, a backup's manifest, the daily
/// verification event), sealed with the audit key: a later check proves that the chain still
/// holds row `seq` with this `hash` (nothing cut off, nothing rewritten) and that exactly
/// `unsealed` rows predate sealing (no seal stripped). One JSON object per line in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    pub unsealed: i64,
    #[serde(deserialize_with = "timestamp_text")]
    pub at: Timestamp,
    /// The id of the audit key that sealed the anchor.
    pub key: String,
    /// The heads of chains 2 … that held rows (chain 1's is `seq` / `hash`); absent from the
    /// line, and from the sealed text, when only chain 1 did (so such a line reads as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<ChainHead>,
    pub mac: String,
    /// Where it was read from ("FILE line N"), for messages.
    #[serde(skip)]
    pub origin: String,
}

fn timestamp_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl Anchor {
    /// The anchor of `head` at `at`, sealed with `key`.
    pub fn seal(head: &Head, key: &Key, at: Timestamp) -> Anchor {
        let mut a = Anchor {
            seq: head.seq,
            hash: head.last_hash.clone(),
            unsealed: head.unsealed,
            at,
            key: key.id().to_string(),
            chains: head.chains.clone(),
            mac: String::new(),
            origin: String::new(),
        };
        a.mac = hmac_hex(key, &a.sealed_text());
        a
    }

    fn sealed_text(&self) -> String {
        let fields = serde_json::json!([
            self.seq,
            self.hash,
            self.unsealed,
            self.at.to_db(),
            self.key
        ]);
        if self.chains.is_empty() {
            return format!("rainbownet.audit.anchor.v1\n{fields}");
        }
        let chains = serde_json::to_string(&self.chains).expect("chain heads serialise");
        format!("rainbownet.audit.anchor.v2\n{fields}\n{chains}")
    }

    /// Every chain's head as the anchor records it, chain 1 first (a chain not listed was
    /// empty then).
    pub fn marks(&self) -> Vec<ChainHead> {
        let first = ChainHead {
            chain: 1,
            seq: self.seq,
            hash: self.hash.clone(),
        };
        std::iter::once(first)
            .chain(self.chains.iter().cloned())
            .collect()
    }

    /// The line written to the anchor file (JSON, no line break).
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("an anchor serialises")
    }

    /// Reads one line of an anchor file; `origin` names it in messages.
    pub fn parse(line: &str, origin: String) -> Result<Anchor, String> {
        let mut a: Anchor = serde_json::from_str(line.trim())
            .map_err(|e| format!("{origin} is not an anchor ({e})"))?;
        a.origin = origin;
        Ok(a)
    }

    /// Whether the anchor is sealed with a key of `keys` and unaltered.
    pub fn check_seal(&self, keys: &KeySet) -> Result<(), Broken> {
        let Some(key) = keys.find(&self.key) else {
            return Err(Broken::new(
                0,
                BreakKind::KeyMissing,
                format!(
                    "the anchor at {} is sealed with audit key {}, which {} does not hold: \
                     the key file is missing, replaced or not this installation's",
                    self.origin, self.key, keys.source
                ),
            ));
        };
        if !mac_matches(&key, &self.sealed_text(), &self.mac) {
            return Err(Broken::new(
                0,
                BreakKind::Anchor,
                format!(
                    "the anchor at {} does not match its seal: it was altered, or not written \
                     by this installation",
                    self.origin
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_system_login_is_shown_as_the_system_and_a_person_as_their_login() {
        assert_eq!(Actor::shown("system:demo"), "システム（自動処理）");
        assert_eq!(Actor::shown("system:backup.run"), "システム（自動処理）");
        assert_eq!(Actor::shown("demo-admin"), "demo-admin");
    }

    use super::*;
    use crate::audit::check::ChainCheck;
    use crate::db::KeyRing;

    fn plain(id: i64, prev: &str, details: &str) -> AuditRow {
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
            key_id: None,
            chain: 1,
            seq: None,
        };
        r.hash = r.compute_hash();
        r
    }

    fn sealed(key: &Key, id: i64, prev: &str, details: &str) -> AuditRow {
        let mut r = plain(id, prev, details);
        r.key_id = Some(key.id().to_string());
        r.hash = r.compute_seal(key);
        r
    }

    fn head(r: &AuditRow, unsealed: i64) -> Head {
        Head {
            seq: r.id,
            last_hash: r.hash.clone(),
            unsealed,
            chains: Vec::new(),
        }
    }

    fn walk(keys: &KeySet, rows: &[AuditRow], h: Head, anchors: &[Anchor]) -> Result<(), Broken> {
        let mut c = ChainCheck::new(keys, h, anchors);
        for r in rows {
            c.push(r)?;
        }
        c.finish(anchors)
    }

    #[test]
    fn x2_an_intact_sealed_chain_verifies() {
        let ring = KeyRing::ephemeral();
        let k = ring.audit().current();
        let a = sealed(k, 1, GENESIS, "{}");
        let b = sealed(k, 2, &a.hash, "{}");
        let h = head(&b, 0);
        walk(ring.audit(), &[a, b], h, &[]).expect("intact");
    }

    #[test]
    fn x2_plain_rows_before_the_seal_verify_and_are_counted() {
        let ring = KeyRing::ephemeral();
        let k = ring.audit().current();
        let a = plain(1, GENESIS, "{}");
        let b = sealed(k, 2, &a.hash, "{}");
        let mut c = ChainCheck::new(ring.audit(), head(&b, 1), &[]);
        c.push(&a).expect("a");
        c.push(&b).expect("b");
        c.finish(&[]).expect("head");
        assert_eq!((c.rows, c.unsealed), (2, 1));
    }

    #[test]
    fn x2_an_edited_row_is_named() {
        let ring = KeyRing::ephemeral();
        let k = ring.audit().current();
        let a = sealed(k, 1, GENESIS, "{}");
        let mut b = sealed(k, 2, &a.hash, "{}");
        b.details = "{\"edited\":true}".into();
        let h = head(&b, 0);
        assert_eq!(
            walk(ring.audit(), &[a, b], h, &[]).expect_err("edited").id,
            2
        );
    }

    #[test]
    fn x2_a_deleted_row_is_named() {
        let ring = KeyRing::ephemeral();
        let k = ring.audit().current();
        let a = sealed(k, 1, GENESIS, "{}");
        let b = sealed(k, 2, &a.hash, "{}");
        let d = sealed(k, 3, &b.hash, "{}");
        let h = head(&d, 0);
        assert_eq!(walk(ring.audit(), &[a, d], h, &[]).expect_err("gap").id, 2);
    }

    #[test]
    fn x2_a_row_rehashed_with_plain_sha256_after_sealed_rows_fails() {
        let ring = KeyRing::ephemeral();
        let k = ring.audit().current();
        let a = sealed(k, 1, GENESIS, "{}");
        // The forger recomputes the hash; with or without a key id, the seal does not match.
        let mut forged = plain(2, &a.hash, "{\"forged\":1}");
        let b = head(&forged, 0);
        let err = walk(ring.audit(), &[a.clone(), forged.clone()], b, &[]).expect_err("plain");
        assert_eq!((err.id, err.kind), (2, BreakKind::Chain));
        forged.key_id = Some(k.id().to_string());
        forged.hash = forged.compute_hash();
        let b = head(&forged, 0);
        let err = walk(ring.audit(), &[a, forged], b, &[]).expect_err("sha as seal");
        assert_eq!((err.id, err.kind), (2, BreakKind::Chain));
    }

    #[test]
    fn x2_a_row_sealed_with_a_key_the_ring_lacks_names_the_key_file() {
        let ring = KeyRing::ephemeral();
        let other = Key::generate();
        let a = sealed(&other, 1, GENESIS, "{}");
        let h = head(&a, 0);
        let err = walk(ring.audit(), &[a], h, &[]).expect_err("unknown key");
        assert_eq!(err.kind, BreakKind::KeyMissing);
        assert!(
            err.reason.contains("memory"),
            "names the key source: {}",
            err.reason
        );
    }

    #[test]
    fn x2_an_anchor_detects_a_cut_and_a_rewrite_and_a_forged_anchor() {
        let ring = KeyRing::ephemeral();
        let k = ring.audit().current();
        let at: Timestamp = "2026-11-25T00:00:00Z".parse().expect("ts");
        let a = sealed(k, 1, GENESIS, "{}");
        let b = sealed(k, 2, &a.hash, "{}");
        let mut anchor = Anchor::seal(&head(&b, 0), k, at);
        anchor.origin = "anchor.log line 1".into();
        let line = anchor.line();
        let read = Anchor::parse(&line, anchor.origin.clone()).expect("reads back");
        assert_eq!(read, anchor);
        walk(
            ring.audit(),
            &[a.clone(), b.clone()],
            head(&b, 0),
            std::slice::from_ref(&read),
        )
        .expect("agrees");
        // Cut: the head rewound to row 1.
        let err = walk(
            ring.audit(),
            std::slice::from_ref(&a),
            head(&a, 0),
            std::slice::from_ref(&read),
        )
        .expect_err("cut");
        assert_eq!((err.id, err.kind), (2, BreakKind::Anchor));
        assert!(err.reason.contains("anchor.log line 1"), "{}", err.reason);
        // A forged anchor (shorter chain claimed) does not pass its seal.
        let mut forged = read.clone();
        forged.seq = 1;
        forged.hash = a.hash.clone();
        let err = walk(ring.audit(), &[a, b.clone()], head(&b, 0), &[forged]).expect_err("forged");
        assert_eq!(err.kind, BreakKind::Anchor);
    }

    #[test]
    fn x2_stripping_every_seal_contradicts_the_anchor() {
        let ring = KeyRing::ephemeral();
        let k = ring.audit().current();
        let at: Timestamp = "2026-11-25T00:00:00Z".parse().expect("ts");
        let empty = Head {
            seq: 0,
            last_hash: GENESIS.into(),
            unsealed: 0,
            chains: Vec::new(),
        };
        let anchor = Anchor::seal(&empty, k, at);
        // Every row rewritten as a self-consistent plain row, the head to match.
        let a = plain(1, GENESIS, "{}");
        let b = plain(2, &a.hash, "{}");
        let err = walk(ring.audit(), &[a, b.clone()], head(&b, 2), &[anchor]).expect_err("strip");
        assert_eq!(err.kind, BreakKind::Anchor);
    }
}
