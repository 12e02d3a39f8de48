//! The chain check: walks the rows in id order (place, link, seal), then checks the head and the
//! anchors. Pure, like `model`: the rows come from `repo`, the anchors from `anchor`.

use std::collections::BTreeMap;

use super::model::{Anchor, AuditRow, BreakKind, Broken, GENESIS, Head, mac_matches};
use crate::db::KeySet;

/// Walks rows in id order, checking each row's place, link and seal. Keeps state so rows can be
/// streamed; [`ChainCheck::finish`] then checks the head and the anchors.
pub struct ChainCheck<'k> {
    keys: &'k KeySet,
    head: Head,
    expected_id: i64,
    prev_hash: String,
    pub rows: i64,
    pub unsealed: i64,
    sealed_seen: bool,
    /// The hashes of the rows that the head and the anchors name, filled in while walking.
    wanted: BTreeMap<i64, Option<String>>,
}

impl<'k> ChainCheck<'k> {
    /// A check against `keys` of the chain whose head (read BEFORE walking) is `head`, and
    /// against `anchors` (whose rows it remembers while walking).
    pub fn new(keys: &'k KeySet, head: Head, anchors: &[Anchor]) -> Self {
        let mut wanted = BTreeMap::new();
        for seq in anchors.iter().map(|a| a.seq).chain([head.seq]) {
            if seq > 0 {
                wanted.insert(seq, None);
            }
        }
        Self {
            keys,
            head,
            expected_id: 1,
            prev_hash: GENESIS.to_string(),
            rows: 0,
            unsealed: 0,
            sealed_seen: false,
            wanted,
        }
    }

    pub fn push(&mut self, row: &AuditRow) -> Result<(), Broken> {
        let broken = |reason: &str| Broken::new(row.id, BreakKind::Chain, reason);
        if row.id != self.expected_id {
            return Err(Broken::new(
                self.expected_id,
                BreakKind::Chain,
                format!(
                    "row {} is missing (next row found is {})",
                    self.expected_id, row.id
                ),
            ));
        }
        if row.prev_hash != self.prev_hash {
            return Err(broken(
                "prev_hash does not match the hash of the row before it",
            ));
        }
        match &row.key_id {
            None if self.sealed_seen => {
                return Err(broken(
                    "the row is not sealed but rows before it are: it was written outside the \
                     application, or seals were stripped",
                ));
            }
            None if row.id > self.head.seq => {
                return Err(broken(
                    "the row lies beyond the head and is not sealed: it was appended outside the \
                     application",
                ));
            }
            None => {
                if row.compute_hash() != row.hash {
                    return Err(broken(
                        "content does not match its hash (the row was altered)",
                    ));
                }
                self.unsealed += 1;
            }
            Some(key_id) => {
                // `find` reads the key file again for a key rotated in by another process.
                let Some(key) = self.keys.find(key_id) else {
                    return Err(Broken::new(
                        row.id,
                        BreakKind::KeyMissing,
                        format!(
                            "the row is sealed with audit key {key_id}, which {} does not hold: \
                             the key file is missing, replaced or not this installation's, so \
                             the chain cannot be verified",
                            self.keys.source
                        ),
                    ));
                };
                if !mac_matches(&key, &row.sealed_text(key_id), &row.hash) {
                    return Err(broken(
                        "content does not match its seal (HMAC): the row was altered, or written \
                         or re-hashed without the audit key",
                    ));
                }
                self.sealed_seen = true;
            }
        }
        if let Some(slot) = self.wanted.get_mut(&row.id) {
            *slot = Some(row.hash.clone());
        }
        self.prev_hash = row.hash.clone();
        self.expected_id += 1;
        self.rows += 1;
        Ok(())
    }

    fn hash_at(&self, seq: i64) -> Option<&str> {
        if seq == 0 {
            return Some(GENESIS);
        }
        self.wanted.get(&seq).and_then(|h| h.as_deref())
    }

    /// The head must point at a row of the chain (rows after it may only be sealed rows that
    /// were appended while walking), and every anchor must agree with the chain.
    pub fn finish(&self, anchors: &[Anchor]) -> Result<(), Broken> {
        let head = &self.head;
        if self.rows < head.seq {
            return Err(Broken::new(
                self.rows + 1,
                BreakKind::Chain,
                format!(
                    "the chain ends at row {} but the head records row {}: rows were cut off",
                    self.rows, head.seq
                ),
            ));
        }
        if self.hash_at(head.seq) != Some(head.last_hash.as_str()) {
            return Err(Broken::new(
                head.seq,
                BreakKind::Chain,
                "the head's hash does not match this row",
            ));
        }
        if head.unsealed != self.unsealed {
            return Err(Broken::new(
                head.unsealed.min(self.unsealed) + 1,
                BreakKind::Chain,
                format!(
                    "the head records {} rows written before sealing began, the chain has {}",
                    head.unsealed, self.unsealed
                ),
            ));
        }
        for a in anchors {
            a.check_seal(self.keys)?;
            if a.seq > self.rows {
                return Err(Broken::new(
                    self.rows + 1,
                    BreakKind::Anchor,
                    format!(
                        "the anchor at {} ({}) records row {}, but the chain ends at row {}: \
                         rows were removed from the end",
                        a.origin,
                        a.at.jst(),
                        a.seq,
                        self.rows
                    ),
                ));
            }
            if self.hash_at(a.seq) != Some(a.hash.as_str()) {
                return Err(Broken::new(
                    a.seq,
                    BreakKind::Anchor,
                    format!(
                        "row {} differs from the anchor at {} ({}): the chain was rewritten up to \
                         this row",
                        a.seq,
                        a.origin,
                        a.at.jst()
                    ),
                ));
            }
            if a.unsealed != self.unsealed {
                return Err(Broken::new(
                    a.unsealed.min(self.unsealed) + 1,
                    BreakKind::Anchor,
                    format!(
                        "the anchor at {} ({}) records {} rows written before sealing began, the \
                         chain has {}: seals were stripped or rows inserted",
                        a.origin,
                        a.at.jst(),
                        a.unsealed,
                        self.unsealed
                    ),
                ));
            }
        }
        Ok(())
    }
}
