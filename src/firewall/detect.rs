//! Scan and burst detection over the per-minute traffic (R22.2): sliding windows per source
//! ([`detect_scans`]) or per source and authentication port ([`detect_bursts`]) give the
//! [`Finding`]s of a review. Pure, tested here.

use std::collections::{BTreeSet, HashMap};

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::db::Timestamp;

/// One row of the per-minute table, as the detection reads it.
#[derive(Clone, Debug)]
pub struct MinuteRow {
    pub minute: Timestamp,
    pub src: String,
    pub dst: String,
    pub proto: String,
    pub dst_port: i64,
    pub action: String,
    pub hits: i64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
}

/// A probable port scan or brute-force burst, as the review shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    pub src: String,
    pub internal: bool,
    /// Distinct destination ports (sorted).
    pub ports: Vec<i64>,
    /// Destination hosts (sorted, at most 5) and how many there were.
    pub targets: Vec<String>,
    pub target_count: usize,
    pub hits: i64,
    pub denied: i64,
    pub allowed: i64,
    pub first_at: String,
    pub last_at: String,
}

impl Finding {
    /// `22`, `21–25, 80 …（全 870 ポート）`.
    pub fn ports_text(&self) -> String {
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for &p in &self.ports {
            match runs.last_mut() {
                Some((_, hi)) if *hi + 1 == p => *hi = p,
                _ => runs.push((p, p)),
            }
        }
        let shown: Vec<String> = runs
            .iter()
            .take(8)
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect();
        let more = if runs.len() > 8 { " …" } else { "" };
        if self.ports.len() > 1 {
            format!("{}{more}（{} ポート）", shown.join(", "), self.ports.len())
        } else {
            shown.join(", ")
        }
    }
}

/// What a sliding window counts.
trait Tally {
    fn add(&mut self, r: &MinuteRow);
    fn remove(&mut self, r: &MinuteRow);
    fn reached(&self) -> bool;
}

/// Distinct destination ports (port 0, "none", is not a port).
struct DistinctPorts {
    ports: HashMap<i64, usize>,
    min: usize,
}

impl Tally for DistinctPorts {
    fn add(&mut self, r: &MinuteRow) {
        if r.dst_port > 0 {
            *self.ports.entry(r.dst_port).or_default() += 1;
        }
    }
    fn remove(&mut self, r: &MinuteRow) {
        if let Some(n) = self.ports.get_mut(&r.dst_port) {
            *n -= 1;
            if *n == 0 {
                self.ports.remove(&r.dst_port);
            }
        }
    }
    fn reached(&self) -> bool {
        self.ports.len() >= self.min
    }
}

struct Hits {
    sum: i64,
    min: i64,
}

impl Tally for Hits {
    fn add(&mut self, r: &MinuteRow) {
        self.sum += r.hits;
    }
    fn remove(&mut self, r: &MinuteRow) {
        self.sum -= r.hits;
    }
    fn reached(&self) -> bool {
        self.sum >= self.min
    }
}

/// The episodes of one group of rows (sorted by minute) in which some window of `window` reached
/// the threshold: every row inside such a window is marked, and marked rows less than a window
/// apart form one episode.
fn episodes<'a>(
    rows: &[&'a MinuteRow],
    window: SignedDuration,
    tally: &mut dyn Tally,
) -> Vec<Vec<&'a MinuteRow>> {
    let mut marked = vec![false; rows.len()];
    let mut left = 0;
    let mut marked_to = 0; // rows before this index are already marked where they should be
    for right in 0..rows.len() {
        tally.add(rows[right]);
        while rows[right].minute.since(rows[left].minute) >= window {
            tally.remove(rows[left]);
            left += 1;
        }
        if tally.reached() {
            for m in marked.iter_mut().take(right + 1).skip(left.max(marked_to)) {
                *m = true;
            }
            marked_to = right + 1;
        }
    }
    let mut out: Vec<Vec<&MinuteRow>> = Vec::new();
    let mut last: Option<Timestamp> = None;
    for (r, m) in rows.iter().zip(marked) {
        if !m {
            continue;
        }
        match (out.last_mut(), last) {
            (Some(ep), Some(t)) if r.minute.since(t) < window => ep.push(r),
            _ => out.push(vec![r]),
        }
        last = Some(r.minute);
    }
    out
}

fn finding(ep: &[&MinuteRow], internal: bool) -> Finding {
    let ports: BTreeSet<i64> = ep.iter().map(|r| r.dst_port).filter(|p| *p > 0).collect();
    let targets: BTreeSet<&str> = ep.iter().map(|r| r.dst.as_str()).collect();
    let hits = |a: &str| {
        ep.iter()
            .filter(|r| r.action == a)
            .map(|r| r.hits)
            .sum::<i64>()
    };
    Finding {
        src: ep.first().map(|r| r.src.clone()).unwrap_or_default(),
        internal,
        ports: ports.into_iter().collect(),
        target_count: targets.len(),
        targets: targets.into_iter().take(5).map(String::from).collect(),
        hits: ep.iter().map(|r| r.hits).sum(),
        denied: hits("deny"),
        allowed: hits("allow"),
        first_at: ep
            .iter()
            .map(|r| r.first_at)
            .min()
            .map(|t| t.to_db())
            .unwrap_or_default(),
        last_at: ep
            .iter()
            .map(|r| r.last_at)
            .max()
            .map(|t| t.to_db())
            .unwrap_or_default(),
    }
}

fn by_key<K: Ord>(
    rows: &[MinuteRow],
    key: impl Fn(&MinuteRow) -> Option<K>,
) -> std::collections::BTreeMap<K, Vec<&MinuteRow>> {
    let mut groups: std::collections::BTreeMap<K, Vec<&MinuteRow>> = Default::default();
    for r in rows {
        if let Some(k) = key(r) {
            groups.entry(k).or_default().push(r);
        }
    }
    for g in groups.values_mut() {
        g.sort_by_key(|r| r.minute);
    }
    groups
}

/// Probable port scans: per source, windows of `minutes` with at least `min_ports` distinct
/// destination ports.
pub fn detect_scans(
    rows: &[MinuteRow],
    min_ports: u32,
    minutes: u32,
    is_internal: impl Fn(&str) -> bool,
) -> Vec<Finding> {
    let window = SignedDuration::from_mins(i64::from(minutes.max(1)));
    let mut out = Vec::new();
    for (src, group) in by_key(rows, |r| Some(r.src.clone())) {
        let mut tally = DistinctPorts {
            ports: HashMap::new(),
            min: min_ports.max(1) as usize,
        };
        for ep in episodes(&group, window, &mut tally) {
            out.push(finding(&ep, is_internal(&src)));
        }
    }
    out.sort_by(|a, b| b.ports.len().cmp(&a.ports.len()).then(a.src.cmp(&b.src)));
    out
}

/// Brute-force bursts: per source and authentication port, windows of `minutes` with at least
/// `min_hits` packets.
pub fn detect_bursts(
    rows: &[MinuteRow],
    min_hits: u32,
    minutes: u32,
    auth_ports: &[u16],
    is_internal: impl Fn(&str) -> bool,
) -> Vec<Finding> {
    let window = SignedDuration::from_mins(i64::from(minutes.max(1)));
    let mut out = Vec::new();
    let groups = by_key(rows, |r| {
        auth_ports
            .iter()
            .any(|p| i64::from(*p) == r.dst_port)
            .then(|| (r.src.clone(), r.dst_port))
    });
    for ((src, _), group) in groups {
        let mut tally = Hits {
            sum: 0,
            min: i64::from(min_hits.max(1)),
        };
        for ep in episodes(&group, window, &mut tally) {
            out.push(finding(&ep, is_internal(&src)));
        }
    }
    out.sort_by(|a, b| b.hits.cmp(&a.hits).then(a.src.cmp(&b.src)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn row(min: &str, src: &str, port: i64, hits: i64) -> MinuteRow {
        MinuteRow {
            minute: ts(min),
            src: src.into(),
            dst: "192.0.2.10".into(),
            proto: "TCP".into(),
            dst_port: port,
            action: "deny".into(),
            hits,
            first_at: ts(min),
            last_at: ts(min),
        }
    }

    #[test]
    fn many_ports_within_the_window_are_a_scan_and_spread_out_ones_are_not() {
        let mut rows: Vec<MinuteRow> = (0..30)
            .map(|i| row("2026-11-20T01:00:00Z", "203.0.113.5", 1000 + i, 1))
            .collect();
        // The same number of ports, one every 20 minutes: never 20 in 10 minutes.
        for i in 0..30 {
            let t = ts("2026-11-20T02:00:00Z").plus_minutes(20 * i);
            rows.push(MinuteRow {
                minute: t,
                ..row("2026-11-20T02:00:00Z", "198.51.100.9", 2000 + i, 1)
            });
        }
        let found = detect_scans(&rows, 20, 10, |_| false);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].src, "203.0.113.5");
        assert_eq!(found[0].ports.len(), 30);
        assert_eq!(found[0].ports_text(), "1000–1029（30 ポート）");
    }

    #[test]
    fn repeated_attempts_on_an_auth_port_are_a_burst_with_first_and_last_time() {
        let mut rows = Vec::new();
        for m in 0..5 {
            rows.push(row(
                &ts("2026-11-20T03:00:00Z").plus_minutes(m).to_db(),
                "198.51.100.77",
                22,
                10,
            ));
        }
        rows.push(row("2026-11-20T05:00:00Z", "198.51.100.77", 22, 3));
        rows.push(row("2026-11-20T03:00:00Z", "198.51.100.78", 8080, 500));
        let found = detect_bursts(&rows, 30, 10, &[22], |_| false);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.src.as_str(), f.hits, f.denied),
            ("198.51.100.77", 50, 50)
        );
        assert_eq!(f.ports, vec![22]);
        assert_eq!(f.first_at, "2026-11-20T03:00:00.000Z");
        assert_eq!(f.last_at, "2026-11-20T03:04:00.000Z");
    }
}
