//! Why the FHIR API refused a submission (`Rejection`, with its `Issue`s): becomes an
//! `OperationOutcome` with Japanese diagnostics (`api.rs`). Pure: no I/O but the log line of an
//! internal error.

/// Why a submission was refused; becomes an `OperationOutcome` with a Japanese diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// FHIR `IssueType` code (invalid, structure, forbidden, too-costly, conflict …).
    pub code: &'static str,
    pub message: String,
    /// The issues found, each with where (FHIRPath); empty: one issue, `message`.
    pub issues: Vec<Issue>,
}

impl Rejection {
    /// A 500 whose cause is logged, not shown.
    pub fn internal(e: impl std::fmt::Debug) -> Self {
        tracing::error!(error = ?e, "records api internal error");
        Self::new(
            500,
            "exception",
            "サーバー内部でエラーが発生しました。時間をおいて再送してください（送信内容は保存されていません）。",
        )
    }

    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            issues: Vec::new(),
        }
    }

    /// A refusal listing several issues; the message is the first one's.
    pub fn with_issues(status: u16, issues: Vec<Issue>) -> Self {
        let first = issues.first();
        Self {
            status,
            code: first.map_or("invalid", |i| i.code),
            message: first.map_or_else(String::new, |i| i.diagnostics.clone()),
            issues,
        }
    }
}

/// One issue of an `OperationOutcome`: what is wrong (Japanese) and where (FHIRPath).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// error, warning or information.
    pub severity: &'static str,
    /// FHIR `IssueType` code (structure, required, value, code-invalid, invalid …).
    pub code: &'static str,
    pub diagnostics: String,
    /// Where, as FHIRPath (`Bundle.entry[1].resource.birthDate`).
    pub expression: String,
}
