//! The chain check: walks the rows in id order, handing each to its chain's check (place, link,
//! seal), then checks every chain against its head and the anchors. Pure, like `model`: the rows
//! come from `repo`, the anchors from `anchor`.
//!
//! Ids increase along every chain (a chain's next writer takes its ids after the one before
//! committed, see the module doc), so the rows of one chain reach its check in place order. A row
//! beyond its chain's head as read before walking was committed while walking: another chain's
//! later row may have been read before it, so only its seal is checked, not its link.

use std::collections::BTreeMap;

use super::model::{Anchor, AuditRow, BreakKind, Broken, ChainHead, GENESIS, Head, mac_matches};
use crate::db::KeySet;

/// Walks rows in id order, checking each row's place, link and seal in its chain. Keeps state so
/// rows can be streamed; [`ChainCheck::finish`] then checks the heads and the anchors.
pub struct ChainCheck<'k> {
    keys: &'k KeySet,
    chains: BTreeMap<i64, OneChain>,
    pub rows: i64,
    pub unsealed: i64,
}

impl<'k> ChainCheck<'k> {
    /// A check against `keys` of the chains whose heads (read BEFORE walking) are `head`, and
    /// against `anchors` (whose rows it remembers while walking).
    pub fn new(keys: &'k KeySet, head: Head, anchors: &[Anchor]) -> Self {
        let mut chains = BTreeMap::new();
        for mark in head.marks() {
            let unsealed = if mark.chain == 1 { head.unsealed } else { 0 };
            chains.insert(mark.chain, OneChain::new(mark, unsealed));
        }
        for a in anchors {
            for mark in a.marks() {
                let c = chains
                    .entry(mark.chain)
                    .or_insert_with(|| OneChain::new(empty(mark.chain), 0));
                if mark.seq > 0 {
                    c.wanted.insert(mark.seq, None);
                }
            }
        }
        Self {
            keys,
            chains,
            rows: 0,
            unsealed: 0,
        }
    }

    pub fn push(&mut self, row: &AuditRow) -> Result<(), Broken> {
        let chain = self
            .chains
            .entry(row.chain)
            .or_insert_with(|| OneChain::new(empty(row.chain), 0));
        chain.push(self.keys, row)?;
        self.rows += 1;
        if row.key_id.is_none() {
            self.unsealed += 1;
        }
        Ok(())
    }

    /// Every head must point at a row of its chain (rows after it may only be sealed rows that
    /// were appended while walking), and every anchor must agree with every chain.
    pub fn finish(&self, anchors: &[Anchor]) -> Result<(), Broken> {
        for a in anchors {
            a.check_seal(self.keys)?;
        }
        for c in self.chains.values() {
            c.finish(anchors)?;
        }
        Ok(())
    }
}

fn empty(chain: i64) -> ChainHead {
    ChainHead {
        chain,
        seq: 0,
        hash: GENESIS.to_string(),
    }
}

/// The check of one chain.
struct OneChain {
    head: ChainHead,
    /// Rows at the start written before sealing began, as the head records them (chain 1 only).
    head_unsealed: i64,
    /// The place the next row within the head must have.
    expected: i64,
    /// The furthest place seen (beyond the head too).
    furthest: i64,
    prev_hash: String,
    unsealed: i64,
    sealed_seen: bool,
    /// The hashes of the rows that the head and the anchors name, filled in while walking.
    wanted: BTreeMap<i64, Option<String>>,
}

impl OneChain {
    fn new(head: ChainHead, head_unsealed: i64) -> Self {
        let mut wanted = BTreeMap::new();
        if head.seq > 0 {
            wanted.insert(head.seq, None);
        }
        Self {
            head,
            head_unsealed,
            expected: 1,
            furthest: 0,
            prev_hash: GENESIS.to_string(),
            unsealed: 0,
            sealed_seen: false,
            wanted,
        }
    }

    /// "row N" for chain 1 (whose first rows' places are their ids), "row N of chain C" else.
    fn name(&self, place: i64) -> String {
        match self.head.chain {
            1 => format!("row {place}"),
            c => format!("row {place} of chain {c}"),
        }
    }

    fn push(&mut self, keys: &KeySet, row: &AuditRow) -> Result<(), Broken> {
        let broken = |reason: &str| Broken::new(row.id, BreakKind::Chain, reason);
        let place = row.place();
        let within = place <= self.head.seq;
        if within && place != self.expected {
            // Before migration 0039 a row's place was its id: name the missing id then.
            let id = if row.seq.is_none() {
                self.expected
            } else {
                row.id
            };
            return Err(Broken::new(
                id,
                BreakKind::Chain,
                format!(
                    "{} is missing (next row found is {}, id {})",
                    self.name(self.expected),
                    self.name(place),
                    row.id
                ),
            ));
        }
        if within && row.prev_hash != self.prev_hash {
            return Err(broken(
                "prev_hash does not match the hash of the row before it",
            ));
        }
        match &row.key_id {
            None if self.head.chain != 1 => {
                return Err(broken(
                    "the row is not sealed, in a chain begun after sealing: it was written \
                     outside the application, or its seal was stripped",
                ));
            }
            None if self.sealed_seen => {
                return Err(broken(
                    "the row is not sealed but rows before it are: it was written outside the \
                     application, or seals were stripped",
                ));
            }
            None if !within => {
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
                let Some(key) = keys.find(key_id) else {
                    return Err(Broken::new(
                        row.id,
                        BreakKind::KeyMissing,
                        format!(
                            "the row is sealed with audit key {key_id}, which {} does not hold: \
                             the key file is missing, replaced or not this installation's, so \
                             the chain cannot be verified",
                            keys.source
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
        if let Some(slot) = self.wanted.get_mut(&place) {
            *slot = Some(row.hash.clone());
        }
        if within {
            self.prev_hash = row.hash.clone();
            self.expected += 1;
        }
        self.furthest = self.furthest.max(place);
        Ok(())
    }

    fn hash_at(&self, seq: i64) -> Option<&str> {
        if seq == 0 {
            return Some(GENESIS);
        }
        self.wanted.get(&seq).and_then(|h| h.as_deref())
    }

    fn finish(&self, anchors: &[Anchor]) -> Result<(), Broken> {
        let head = &self.head;
        let reached = self.expected - 1;
        if reached < head.seq {
            return Err(Broken::new(
                reached + 1,
                BreakKind::Chain,
                format!(
                    "the chain ends at {} but the head records {}: rows were cut off",
                    self.name(reached),
                    self.name(head.seq)
                ),
            ));
        }
        if self.hash_at(head.seq) != Some(head.hash.as_str()) {
            return Err(Broken::new(
                head.seq,
                BreakKind::Chain,
                format!("the head's hash does not match {}", self.name(head.seq)),
            ));
        }
        if self.head_unsealed != self.unsealed {
            return Err(Broken::new(
                self.head_unsealed.min(self.unsealed) + 1,
                BreakKind::Chain,
                format!(
                    "the head records {} rows written before sealing began, the chain has {}",
                    self.head_unsealed, self.unsealed
                ),
            ));
        }
        for a in anchors {
            let Some(mark) = a.marks().into_iter().find(|m| m.chain == head.chain) else {
                continue;
            };
            let end = self.furthest.max(reached);
            if mark.seq > end {
                return Err(Broken::new(
                    end + 1,
                    BreakKind::Anchor,
                    format!(
                        "the anchor at {} ({}) records {}, but the chain ends at {}: rows were \
                         removed from the end",
                        a.origin,
                        a.at.jst(),
                        self.name(mark.seq),
                        self.name(end)
                    ),
                ));
            }
            if self.hash_at(mark.seq) != Some(mark.hash.as_str()) {
                return Err(Broken::new(
                    mark.seq,
                    BreakKind::Anchor,
                    format!(
                        "{} differs from the anchor at {} ({}): the chain was rewritten up to \
                         this row",
                        self.name(mark.seq),
                        a.origin,
                        a.at.jst()
                    ),
                ));
            }
            if head.chain == 1 && a.unsealed != self.unsealed {
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
