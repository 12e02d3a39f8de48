//! Channels, categories, statuses and the response clock — pure, tested here.

use jiff::{SignedDuration, Timestamp};

use crate::auth::Role;
use crate::calendar::BusinessCalendar;

/// How an inquiry came in (R15.2).
pub const CHANNELS: &[&str] = &["電話", "メール", "FAX", "Webフォーム", "窓口"];

/// The eight categories of R15.2, exactly as the policy writes them.
pub const CATEGORIES: &[&str] = &[
    "利用開始時",
    "システム仕様",
    "システム概要",
    "システム利用",
    "参加医療施設の案内",
    "ユーザー情報",
    "障害対応・復旧時間",
    "その他",
];

/// How urgent an inquiry is, most urgent first; new inquiries are 通常.
pub const PRIORITIES: &[&str] = &["緊急", "高", "通常", "低"];

/// The response method an answer defaults to: the way the inquiry came in (a portal inquiry,
/// Webフォーム, is answered on the portal).
pub fn default_method(channel: &str) -> &'static str {
    METHODS
        .iter()
        .copied()
        .find(|m| *m == channel)
        .unwrap_or("電話")
}

/// How a response was given.
pub const METHODS: &[&str] = &["電話", "メール", "FAX", "Webフォーム", "窓口", "対応記録"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Received,
    InProgress,
    Waiting,
    Done,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Received,
        Status::InProgress,
        Status::Waiting,
        Status::Done,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Status::Received => "受付",
            Status::InProgress => "対応中",
            Status::Waiting => "回答待ち",
            Status::Done => "完了",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.label() == s)
    }

    /// Whether staff may move an inquiry from `self` to `to` with a response. 受付 is only the
    /// start; a finished inquiry may be reopened (対応中) when the requester comes back.
    pub fn may_become(self, to: Status) -> bool {
        to != Status::Received
    }
}

/// One point where the status changed.
#[derive(Clone, Copy, Debug)]
pub struct Change {
    pub at: Timestamp,
    pub to: Status,
}

/// The clock of one inquiry, in business time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockReading {
    /// Received → first staff response (or → now while there is none).
    pub first_response: SignedDuration,
    pub responded: bool,
    /// Received → 完了 (or → now), without the time spent 回答待ち.
    pub resolution: SignedDuration,
    pub done: bool,
}

/// Reads the response clock: business time only, paused while 回答待ち.
pub fn read_clock(
    cal: &BusinessCalendar,
    received: Timestamp,
    first_response: Option<Timestamp>,
    changes: &[Change],
    now: Timestamp,
) -> ClockReading {
    let first = cal.business_time_between(received, first_response.unwrap_or(now).max(received));
    let mut resolution = SignedDuration::ZERO;
    let mut status = Status::Received;
    let mut since = received;
    let mut done = false;
    for c in changes {
        if status != Status::Waiting && status != Status::Done {
            resolution += cal.business_time_between(since, c.at);
        }
        status = c.to;
        since = c.at.max(since);
    }
    if status != Status::Waiting && status != Status::Done {
        resolution += cal.business_time_between(since, now);
    }
    if status == Status::Done {
        done = true;
    }
    ClockReading {
        first_response: first,
        responded: first_response.is_some(),
        resolution,
        done,
    }
}

/// Median and 90th percentile (nearest rank) of durations.
pub fn percentiles(mut xs: Vec<SignedDuration>) -> Option<(SignedDuration, SignedDuration)> {
    if xs.is_empty() {
        return None;
    }
    xs.sort();
    let rank = |p: f64| {
        let r = (p * xs.len() as f64).ceil() as usize;
        xs[r.clamp(1, xs.len()) - 1]
    };
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2
    };
    Some((median, rank(0.9)))
}

/// Helpdesk response targets (R15.3), in business hours.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HelpdeskSettings {
    pub first_response_hours: i64,
    pub resolution_hours: i64,
    /// The helpdesk's phone number, printed on the sealed letters (issue 15 defect 3); empty
    /// leaves the line out.
    pub phone: String,
}

impl HelpdeskSettings {
    /// "ヘルプデスク: 052-000-0000（受付 平日 09:00〜18:00）" with the hours of `[calendar]`, or
    /// None without a phone number.
    pub fn contact_line(&self, cal: &crate::calendar::CalendarSettings) -> Option<String> {
        let phone = self.phone.trim();
        if phone.is_empty() {
            return None;
        }
        const DAYS: [(&str, &str); 7] = [
            ("mon", "月"),
            ("tue", "火"),
            ("wed", "水"),
            ("thu", "木"),
            ("fri", "金"),
            ("sat", "土"),
            ("sun", "日"),
        ];
        let open: Vec<&str> = DAYS
            .iter()
            .filter(|(k, _)| cal.open_weekdays.iter().any(|d| d.eq_ignore_ascii_case(k)))
            .map(|(_, l)| *l)
            .collect();
        let days = if open == ["月", "火", "水", "木", "金"] {
            "平日".to_string()
        } else {
            open.join("・")
        };
        Some(format!(
            "ヘルプデスク: {phone}（受付 {days} {}〜{}）",
            cal.opens_at, cal.closes_at
        ))
    }
}

impl Default for HelpdeskSettings {
    fn default() -> Self {
        Self {
            first_response_hours: 4,
            resolution_hours: 27,
            phone: String::new(),
        }
    }
}

/// Who handles inquiries.
pub const STAFF: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];

/// The role keys of [`STAFF`] (the accounts an inquiry may be assigned to).
pub fn staff_role_keys() -> Vec<&'static str> {
    STAFF.iter().map(|r| r.key()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    #[test]
    fn r15_3_the_clock_skips_night_weekend_and_waiting_time() {
        let cal = BusinessCalendar::default();
        // Friday 22:00 received; Monday 10:00 answered and put 回答待ち; Tuesday 15:00 the
        // requester replies (対応中); Tuesday 16:30 done.
        let changes = [
            Change {
                at: at("2026-11-30T10:00:00+09:00"),
                to: Status::Waiting,
            },
            Change {
                at: at("2026-12-01T15:00:00+09:00"),
                to: Status::InProgress,
            },
            Change {
                at: at("2026-12-01T16:30:00+09:00"),
                to: Status::Done,
            },
        ];
        let r = read_clock(
            &cal,
            at("2026-11-27T22:00:00+09:00"),
            Some(at("2026-11-30T10:00:00+09:00")),
            &changes,
            at("2026-12-10T12:00:00+09:00"),
        );
        assert_eq!(r.first_response, SignedDuration::from_hours(1));
        assert_eq!(r.resolution, SignedDuration::from_mins(150));
        assert!(r.done && r.responded);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let xs: Vec<_> = (1..=10).map(SignedDuration::from_hours).collect();
        let (m, p90) = percentiles(xs).expect("some");
        assert_eq!(m, SignedDuration::from_mins(330));
        assert_eq!(p90, SignedDuration::from_hours(9));
        assert_eq!(percentiles(Vec::new()), None);
    }

    #[test]
    fn issue15_the_response_method_defaults_to_the_inquiry_channel() {
        assert_eq!(default_method("電話"), "電話");
        assert_eq!(default_method("メール"), "メール");
        assert_eq!(default_method("Webフォーム"), "Webフォーム");
        assert_eq!(default_method("?"), "電話");
    }

    #[test]
    fn every_status_label_parses_back() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.label()), Some(s));
        }
        assert_eq!(CATEGORIES.len(), 8);
    }
}
