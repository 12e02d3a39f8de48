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

/// 原因区分.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CauseCategory {
    Hardware,
    Software,
    Network,
    External,
    Human,
    Unknown,
}

impl CauseCategory {
    pub const ALL: [CauseCategory; 6] = [
        CauseCategory::Hardware,
        CauseCategory::Software,
        CauseCategory::Network,
        CauseCategory::External,
        CauseCategory::Human,
        CauseCategory::Unknown,
    ];

    pub fn key(self) -> &'static str {
        match self {
            CauseCategory::Hardware => "hardware",
            CauseCategory::Software => "software",
            CauseCategory::Network => "network",
            CauseCategory::External => "external",
            CauseCategory::Human => "human",
            CauseCategory::Unknown => "unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CauseCategory::Hardware => "ハードウェア",
            CauseCategory::Software => "ソフトウェア",
            CauseCategory::Network => "ネットワーク",
            CauseCategory::External => "外部サービス",
            CauseCategory::Human => "人為的",
            CauseCategory::Unknown => "不明",
        }
    }

    pub fn parse(s: &str) -> Option<CauseCategory> {
        CauseCategory::ALL.into_iter().find(|c| c.key() == s)
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
    /// 原因区分 ([`CauseCategory`] key), counted by the statistics.
    pub cause_category: String,
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

    pub fn cause_category(&self) -> CauseCategory {
        CauseCategory::parse(&self.cause_category).unwrap_or(CauseCategory::Unknown)
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
    /// 原因区分 as far as known when it is recorded (usually 不明).
    pub cause_category: CauseCategory,
    pub source: Source,
    pub source_ref: Option<i64>,
}

/// The incident number of the `seq`-th incident of `year`: `2026-0001`.
pub fn number(year: i16, seq: i64) -> String {
    format!("{year}-{seq:04}")
}

/// The `[incidents]` settings: who the 障害報告書 is addressed to and who signs it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsSettings {
    /// The addressee of the report, as printed (別紙3: 清須市サービス運用者御中).
    pub report_to: String,
    /// The contractor that runs the system and signs the report (the system administrator's
    /// organisation).
    pub contractor: String,
}

impl Default for IncidentsSettings {
    fn default() -> Self {
        Self {
            report_to: "清須市 サービス運用者 御中".into(),
            contractor: "中部テレコミュニケーション株式会社".into(),
        }
    }
}

/// What a status change is: a step forward (possibly skipping steps) or one step back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    Forward,
    /// One step back (a recurrence while 監視中, a cause that proved wrong): needs a reason.
    Back,
}

/// Whether `from` may become `to` (R17.1, article 17): forward to any later status, except that
/// 報告済 follows 復旧 only; back one step only, with a reason; never out of 報告済 (its report has
/// gone to the service operator: errors are corrections).
pub fn check_move(from: Status, to: Status) -> Result<Move, &'static str> {
    let idx = |s: Status| Status::ALL.iter().position(|x| *x == s).unwrap_or(0);
    if from == to {
        return Err("現在と同じ状態です。");
    }
    if from == Status::Reported {
        return Err("報告済の障害の状態は変えられません。誤りは訂正として記録してください。");
    }
    if to == Status::Reported && from != Status::Recovered {
        return Err("報告済にできるのは「復旧」の後です。");
    }
    if idx(to) > idx(from) {
        Ok(Move::Forward)
    } else if idx(from) - idx(to) == 1 {
        Ok(Move::Back)
    } else {
        Err("戻せるのは一つ前の状態までです。")
    }
}

/// The kinds of timeline entries (`incident_timeline.kind`) with their labels.
pub fn timeline_kind_label(kind: &str) -> &'static str {
    match kind {
        "status" => "状態",
        "note" => "経過",
        "correction" => "訂正",
        "vendor" => "関係箇所への連絡",
        "attachment" => "添付資料",
        "print" => "印刷",
        "link" => "関連付け",
        "notice" => "広報",
        "contact" => "連絡",
        _ => "記録",
    }
}

/// The fields of the record the edit form may change, with their labels (a correction entry
/// names the field by its label).
pub const EDITABLE: &[(&str, &str)] = &[
    ("title", "件名"),
    ("severity", "重大度"),
    ("discovered_at", "発見日時"),
    ("discovered_where", "発見箇所"),
    ("occurred_at", "発生日時"),
    ("description", "障害内容"),
    ("impact", "影響範囲"),
    ("affects_users", "利用者への影響"),
    ("affected_services", "影響を受けたサービス"),
    ("facilities", "影響を受けた施設"),
    ("recovered_at", "復旧日時"),
    ("cause", "原因"),
    ("cause_category", "原因区分"),
    ("action_taken", "処置"),
    ("remarks", "備考"),
];

/// The label of an editable field.
pub fn field_label(field: &str) -> &'static str {
    EDITABLE
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, l)| *l)
        .unwrap_or("項目")
}

/// The text of a correction entry: `原因：「旧」→「新」` (an empty value reads （未記入）).
pub fn correction_text(field: &str, old: &str, new: &str) -> String {
    let show = |v: &str| {
        if v.trim().is_empty() {
            "（未記入）".to_string()
        } else {
            format!("「{v}」")
        }
    };
    format!(
        "{}を訂正：{} → {}",
        field_label(field),
        show(old),
        show(new)
    )
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

    #[test]
    fn r17_1_status_moves_forward_back_one_step_with_a_reason_and_never_out_of_reported() {
        use Status::*;
        assert_eq!(
            check_move(Investigating, CauseIdentified),
            Ok(Move::Forward)
        );
        assert_eq!(check_move(Investigating, Recovered), Ok(Move::Forward));
        assert_eq!(check_move(Monitoring, Recovering), Ok(Move::Back));
        assert!(check_move(Monitoring, Investigating).is_err());
        assert!(check_move(Recovering, Reported).is_err());
        assert_eq!(check_move(Recovered, Reported), Ok(Move::Forward));
        assert!(check_move(Reported, Recovered).is_err());
        assert!(check_move(Recovered, Recovered).is_err());
    }

    #[test]
    fn r17_1_a_correction_names_the_field_and_keeps_the_old_value() {
        assert_eq!(
            correction_text("cause", "設定誤り", "機器故障"),
            "原因を訂正：「設定誤り」 → 「機器故障」"
        );
        assert_eq!(
            correction_text("remarks", "", "なし"),
            "備考を訂正：（未記入） → 「なし」"
        );
    }
}
