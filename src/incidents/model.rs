//! Incidents as the domain sees them: the 別紙3 fields, severity and the status flow.

use crate::db::Timestamp;

/// The status flow of R17.1: 調査中 → 原因特定 → 復旧作業中 → 監視中 → 復旧 → 報告済.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Investigating,
    CauseIdentified,
    Recovering,
    Monitoring,
    Recovered,
    Reported,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Investigating,
        Status::CauseIdentified,
        Status::Recovering,
        Status::Monitoring,
        Status::Recovered,
        Status::Reported,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::CauseIdentified => "cause_identified",
            Status::Recovering => "recovering",
            Status::Monitoring => "monitoring",
            Status::Recovered => "recovered",
            Status::Reported => "reported",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.key() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Investigating => "調査中",
            Status::CauseIdentified => "原因特定",
            Status::Recovering => "復旧作業中",
            Status::Monitoring => "監視中",
            Status::Recovered => "復旧",
            Status::Reported => "報告済",
        }
    }

    /// Whether the incident is closed (the final report may be printed).
    pub fn is_closed(self) -> bool {
        self == Status::Reported
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    Major,
    Minor,
    Low,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::Major,
        Severity::Minor,
        Severity::Low,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|x| x.key() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "重大（全面停止）",
            Severity::Major => "高（一部停止）",
            Severity::Minor => "中（機能低下）",
            Severity::Low => "低（影響軽微）",
        }
    }
}

/// Where an incident came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Manual,
    /// A helpdesk inquiry (its id in `source_ref`).
    Inquiry,
    /// A monitoring alert (its id in `source_ref`).
    Alert,
}

impl Source {
    pub fn key(self) -> &'static str {
        match self {
            Source::Manual => "manual",
            Source::Inquiry => "inquiry",
            Source::Alert => "alert",
        }
    }
}

/// An incident as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Incident {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub discovered_at: Timestamp,
    pub discovered_where: String,
    pub occurred_at: Option<Timestamp>,
    pub description: String,
    pub impact: String,
    #[sqlx(try_from = "crate::db::Flag")]
    pub affects_users: bool,
    pub affected_services: String,
    pub recovered_at: Option<Timestamp>,
    pub cause: String,
    pub action_taken: String,
    pub remarks: String,
    pub source: String,
    pub source_ref: Option<i64>,
    pub revision: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub reported_at: Option<Timestamp>,
}

impl Incident {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Investigating)
    }

    pub fn severity(&self) -> Severity {
        Severity::parse(&self.severity).unwrap_or(Severity::Minor)
    }
}

/// A new incident, checked (`service::create`). Text fields are trimmed; `title`,
/// `discovered_where` and `description` are required.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub discovered_at: Timestamp,
    pub discovered_where: String,
    pub occurred_at: Option<Timestamp>,
    pub description: String,
    pub impact: String,
    pub affects_users: bool,
    pub source: Source,
    pub source_ref: Option<i64>,
}

/// The incident number of the `seq`-th incident of `year`: `2026-0001`.
pub fn number(year: i16, seq: i64) -> String {
    format!("{year}-{seq:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r17_1_the_status_flow_runs_in_the_policy_s_order_and_ends_reported() {
        let labels: Vec<_> = Status::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(
            labels,
            [
                "調査中",
                "原因特定",
                "復旧作業中",
                "監視中",
                "復旧",
                "報告済"
            ]
        );
        assert!(Status::Reported.is_closed());
        assert!(!Status::Recovered.is_closed());
        for s in Status::ALL {
            assert_eq!(Status::parse(s.key()), Some(s));
        }
        assert_eq!(number(2026, 7), "2026-0007");
    }
}
