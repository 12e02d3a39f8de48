//! Uptime arithmetic, pure: counts of slots, the uptime percentage, down periods (runs of
//! failed slots) and the response-time chart as SVG (drawn on the server; no JavaScript).
//!
//! Uptime is up / (up + down) of the checked slots; missed slots are not counted as up or down
//! but shown as the coverage "n / N slots checked".

use std::fmt::Write as _;

use super::model::Outcome;
use crate::db::{Timestamp, tokyo};

/// Slots per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub up: i64,
    pub down: i64,
    pub missed: i64,
}

impl Counts {
    pub fn add(&mut self, outcome: &str, n: i64) {
        match Outcome::parse(outcome) {
            Some(Outcome::Up) => self.up += n,
            Some(Outcome::Down) => self.down += n,
            Some(Outcome::Missed) => self.missed += n,
            None => {}
        }
    }

    pub fn plus(self, o: Counts) -> Counts {
        Counts {
            up: self.up + o.up,
            down: self.down + o.down,
            missed: self.missed + o.missed,
        }
    }

    pub fn checked(&self) -> i64 {
        self.up + self.down
    }

    pub fn slots(&self) -> i64 {
        self.up + self.down + self.missed
    }

    /// Up as a share of the checked slots, in percent; None when nothing was checked.
    pub fn uptime(&self) -> Option<f64> {
        (self.checked() > 0).then(|| self.up as f64 * 100.0 / self.checked() as f64)
    }

    /// `99.65 %`, `100 %`, `—`. Rounded down, so that any failure shows below 100.
    pub fn uptime_text(&self) -> String {
        match self.uptime() {
            None => "—".into(),
            Some(p) if self.down == 0 => format!("{p:.0} %"),
            Some(p) => format!("{:.2} %", (p * 100.0).floor() / 100.0),
        }
    }

    /// `287 / 288 スロット`.
    pub fn coverage_text(&self) -> String {
        format!("{} / {} スロット", self.checked(), self.slots())
    }
}

/// One slot for the arithmetic below.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub at: Timestamp,
    pub outcome: Outcome,
    pub response_ms: Option<i64>,
}

/// A run of slots of one outcome: from the first slot to the next slot of another outcome (or
/// the last slot plus the interval).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
    pub slots: i64,
}

impl Period {
    /// `2026-11-25 10:05 〜 10:20（15 分）`.
    pub fn text(&self) -> String {
        let s = self.start.jst();
        let e = self.end.jst();
        let end = if s[..10] == e[..10] {
            e[11..].to_string()
        } else {
            e
        };
        format!(
            "{s} 〜 {end}（{}）",
            duration_text(self.end.since(self.start))
        )
    }
}

/// `15 分`, `2 時間 5 分`, `1 日 3 時間`.
pub fn duration_text(d: jiff::SignedDuration) -> String {
    let mins = (d.as_secs() + 59) / 60;
    match mins {
        m if m < 60 => format!("{m} 分"),
        m if m < 24 * 60 => {
            if m % 60 == 0 {
                format!("{} 時間", m / 60)
            } else {
                format!("{} 時間 {} 分", m / 60, m % 60)
            }
        }
        m => format!("{} 日 {} 時間", m / (24 * 60), (m % (24 * 60)) / 60),
    }
}

/// Runs of `outcome` in `points` (time order).
pub fn periods(points: &[Point], outcome: Outcome, interval_seconds: i64) -> Vec<Period> {
    let step = jiff::SignedDuration::from_secs(interval_seconds.max(1));
    let mut out = Vec::new();
    let mut cur: Option<Period> = None;
    for p in points {
        if p.outcome == outcome {
            match cur.as_mut() {
                Some(c) => {
                    c.end = p.at.plus(step);
                    c.slots += 1;
                }
                None => {
                    cur = Some(Period {
                        start: p.at,
                        end: p.at.plus(step),
                        slots: 1,
                    })
                }
            }
        } else if let Some(mut c) = cur.take() {
            c.end = p.at;
            out.push(c);
        }
    }
    out.extend(cur);
    out
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// The smallest of 1, 2, 5 × 10ⁿ at or above `v` (at least 10).
fn nice_ceiling(v: i64) -> i64 {
    let mut base = 10;
    loop {
        for m in [1, 2, 5] {
            if base * m >= v {
                return base * m;
            }
        }
        base *= 10;
    }
}

/// The response-time chart of `points` over `[from, to)`: the response of good checks as a
/// line, failed slots as red bands (`class="down"`, each with its time as a `<title>`), missed
/// slots as grey bands. A self-contained `<svg>` element, safe to embed (no input text in it).
pub fn chart_svg(
    points: &[Point],
    from: Timestamp,
    to: Timestamp,
    interval_seconds: i64,
) -> String {
    let span = to.since(from).as_secs_f64().max(1.0);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |t: Timestamp| LEFT + (t.since(from).as_secs_f64() / span * pw).clamp(0.0, pw);
    let max = points
        .iter()
        .filter_map(|p| p.response_ms)
        .max()
        .unwrap_or(0);
    let ymax = nice_ceiling(max.max(1));
    let y = |ms: i64| TOP + ph - (ms as f64 / ymax as f64 * ph).min(ph);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="応答時間の推移（赤い帯は応答のなかった時間帯）"><rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#ffffff" stroke="#d9dee5"/>"##
    );
    for (frac, label) in [(0.0, 0), (0.5, ymax / 2), (1.0, ymax)] {
        let yy = TOP + ph - frac * ph;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e4e7eb"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#52606d">{label} ms</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let short = span <= 2.0 * 86_400.0;
    for i in 0..=4 {
        let t = from.plus(jiff::SignedDuration::from_secs_f64(
            span * f64::from(i) / 4.0,
        ));
        let z = t.as_jiff().to_zoned(tokyo());
        let label = if short {
            z.strftime("%H:%M").to_string()
        } else {
            z.strftime("%m/%d").to_string()
        };
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="{anchor}" fill="#52606d">{label}</text>"##,
            x(t),
            H - 8.0
        );
    }
    for (outcome, class, fill, opacity, what) in [
        (Outcome::Missed, "missed", "#9aa5b1", "0.25", "未確認"),
        (Outcome::Down, "down", "#c53030", "0.28", "応答なし"),
    ] {
        for p in periods(points, outcome, interval_seconds) {
            let x0 = x(p.start);
            let w = (x(p.end) - x0).max(2.0);
            let _ = write!(
                s,
                r##"<rect class="{class}" x="{x0:.1}" y="{TOP}" width="{w:.1}" height="{ph}" fill="{fill}" fill-opacity="{opacity}"><title>{what} {}</title></rect>"##,
                p.text()
            );
        }
    }
    // The line: good checks, averaged per pixel column, broken where a slot was not good.
    let mut segments: Vec<Vec<(f64, i64, i64)>> = vec![Vec::new()];
    for p in points {
        match (p.outcome, p.response_ms) {
            (Outcome::Up, Some(ms)) => {
                let px = x(p.at).round();
                let seg = segments.last_mut().expect("one segment at least");
                match seg.last_mut() {
                    Some(last) if last.0 == px => {
                        last.1 += ms;
                        last.2 += 1;
                    }
                    _ => seg.push((px, ms, 1)),
                }
            }
            _ => {
                if segments.last().is_some_and(|v| !v.is_empty()) {
                    segments.push(Vec::new());
                }
            }
        }
    }
    for seg in segments.iter().filter(|v| !v.is_empty()) {
        let pts = seg
            .iter()
            .map(|(px, sum, n)| format!("{px:.0},{:.1}", y(sum / n)))
            .collect::<Vec<_>>()
            .join(" ");
        if seg.len() == 1 {
            let (px, sum, n) = seg[0];
            let _ = write!(
                s,
                r##"<circle cx="{px:.0}" cy="{:.1}" r="1.5" fill="#1f3f6e"/>"##,
                y(sum / n)
            );
        } else {
            let _ = write!(
                s,
                r##"<polyline class="response" points="{pts}" fill="none" stroke="#1f3f6e" stroke-width="1.5"/>"##
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> Timestamp {
        "2026-11-25T00:00:00Z"
            .parse::<Timestamp>()
            .expect("time")
            .plus_minutes(min)
    }

    fn pts(outcomes: &[Outcome]) -> Vec<Point> {
        outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| Point {
                at: t(5 * i as i64),
                outcome: *o,
                response_ms: (*o == Outcome::Up).then_some(20 + i as i64),
            })
            .collect()
    }

    #[test]
    fn r22_1_uptime_counts_checked_slots_and_rounds_down() {
        let mut c = Counts::default();
        c.add("up", 287);
        c.add("down", 1);
        c.add("missed", 2);
        assert_eq!(c.uptime_text(), "99.65 %");
        assert_eq!(c.coverage_text(), "288 / 290 スロット");
        let all = Counts {
            up: 5,
            down: 0,
            missed: 0,
        };
        assert_eq!(all.uptime_text(), "100 %");
        let nearly = Counts {
            up: 99_999,
            down: 1,
            missed: 0,
        };
        assert_eq!(nearly.uptime_text(), "99.99 %", "never 100 with a failure");
        assert_eq!(Counts::default().uptime_text(), "—");
    }

    #[test]
    fn r22_1_a_run_of_failed_slots_is_one_down_period_up_to_the_next_good_slot() {
        use Outcome::*;
        let p = pts(&[Up, Down, Down, Down, Up, Down]);
        let d = periods(&p, Down, 300);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].start, d[0].end, d[0].slots), (t(5), t(20), 3));
        assert_eq!(d[0].text(), "2026-11-25 09:05 〜 09:20（15 分）");
        assert_eq!(
            (d[1].start, d[1].end),
            (t(25), t(30)),
            "open run: one interval"
        );
    }

    #[test]
    fn r22_1_the_chart_marks_each_down_period_and_draws_the_good_checks() {
        use Outcome::*;
        let p = pts(&[Up, Up, Down, Down, Up, Up, Missed, Up]);
        let svg = chart_svg(&p, t(0), t(40), 300);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="down""#).count(), 1);
        assert!(svg.contains("応答なし 2026-11-25 09:10 〜 09:20（10 分）"));
        assert_eq!(svg.matches(r#"class="missed""#).count(), 1);
        assert_eq!(svg.matches("<polyline").count(), 2, "broken at the gap");
        assert_eq!(
            duration_text(jiff::SignedDuration::from_mins(125)),
            "2 時間 5 分"
        );
    }
}
