//! Consent authority (X.3): who may record, widen, narrow or withdraw a patient's consent, and
//! what the consents in force let each facility read.
//!
//! The security policy says nothing about consent; it names 個人情報保護法 and the MHLW guidance
//! for medical and care providers, under which the facility that provides a patient's data to
//! another needs the patient's consent to that provision. Hence:
//! - A consent shares the documents of ONE facility (`consents.facility_id`): the patient agrees
//!   that this facility's documents may be read by the facilities of its scope (every
//!   participating facility, or those listed). The sender of a document always reads it.
//! - A consent is owned by whoever recorded it: the facility itself (its API key through
//!   `POST /api/fhir/Consent` or a Bundle, or its facility manager on the patient page), or the
//!   network's staff — system administrators and operators — entering a signed paper form at
//!   `/admin/records/consents`, which needs the scan of the form (refused without it).
//! - Only the owner changes a consent: a new consent for the same facility's documents (it
//!   widens, narrows, changes or renews the scope) or its withdrawal. A facility acts only on
//!   the consent of its own documents, and not while staff own it (the patient's paper form
//!   stands until staff record another). Staff may act on any facility's consent, each time with
//!   a new signed form, and then own it. After a withdrawal the one who withdrew holds it: the
//!   facility may record a new consent unless staff withdrew it.
//! - Anything else is refused with 403 (an `OperationOutcome` in the API, a Japanese page in the
//!   UI) and the refusal is audited (`records.consent_refused`: who, which consent, what was
//!   attempted), with nothing changed. Attempts are: a Consent whose `organization` (the
//!   custodian) is another facility, a form naming another facility's consent, and a withdrawal
//!   from a facility that has no consent of its own in force while others have one (under the
//!   old rule that withdrew the patient's latest consent, whoever had recorded it).
//! - A second facility that links the patient (it is in the scope of some consent in force) may
//!   send documents by its own ID; they are read by itself only until it records a consent of
//!   its own, for its own documents, which changes nothing in the first facility's consent.
//! - The effective scope (for each facility's documents: who may read them, under which
//!   consent, owned by whom) and the history (who — facility and user — when, which form and
//!   scan, what changed) are on the patient page and in `GET /api/fhir/Consent?patient=…`, for
//!   the facilities that may see the patient.
//! - Consents recorded before this rule belong to the facility in their row (migration 0011).

use serde_json::json;

use super::model::{ConsentChange, Rejection, Scope};
use super::repo::{self, ConsentRecord};
use crate::audit::{self, Actor};
use crate::db::{Timestamp, Tx};
use crate::error::DomainError;

/// Who acts on a consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// A facility: its API key or its facility manager.
    Facility(i64),
    /// System administrators and operators entering a signed paper form.
    Staff,
}

impl Party {
    fn key(self) -> &'static str {
        match self {
            Party::Facility(_) => "facility",
            Party::Staff => "staff",
        }
    }
}

/// One act on a patient's consent: by whom, through which channel (`api`, `ui`, `paper`), when.
pub struct Act<'a> {
    pub party: Party,
    pub patient_id: i64,
    pub actor: &'a Actor,
    pub channel: &'a str,
    pub now: Timestamp,
}

/// The scan of a signed form, hashed; the caller stores the blob before it commits.
#[derive(Clone, Copy)]
pub struct ScanRef<'a> {
    pub hash: &'a str,
    pub content_type: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The consent belongs to someone else. The refusal is already audited on the caller's
    /// transaction: commit it, then answer 403 with this message.
    #[error("{0}")]
    NotOwner(String),
    #[error(
        "紙の同意書にもとづく記録には、患者が署名した書面のスキャン（PDF・PNG・JPEG・TIFF）の添付が必要です。何も記録していません。"
    )]
    ScanMissing,
    #[error(transparent)]
    Other(#[from] DomainError),
}

impl From<sqlx::Error> for ConsentError {
    fn from(e: sqlx::Error) -> Self {
        ConsentError::Other(e.into())
    }
}

impl From<ConsentError> for Rejection {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::NotOwner(m) => Rejection::new(403, "forbidden", m),
            ConsentError::ScanMissing => Rejection::new(422, "invalid", e.to_string()),
            ConsentError::Other(e) => e.into(),
        }
    }
}

/// A patient's consent records, oldest first.
pub struct Book {
    pub records: Vec<ConsentRecord>,
}

impl Book {
    pub async fn load(conn: &mut Tx, patient_id: i64) -> sqlx::Result<Book> {
        Ok(Book {
            records: repo::consent_history(conn, patient_id).await?,
        })
    }

    /// The latest record for the documents of a facility.
    pub fn latest(&self, facility_id: i64) -> Option<&ConsentRecord> {
        self.records
            .iter()
            .rev()
            .find(|r| r.facility_id == facility_id)
    }

    pub fn is_in_force(&self, r: &ConsentRecord) -> bool {
        r.withdrawn_at.is_none() && self.latest(r.facility_id).map(|l| l.id) == Some(r.id)
    }

    /// The consents in force: for each facility's documents the latest, unless withdrawn.
    pub fn in_force(&self) -> Vec<&ConsentRecord> {
        self.records
            .iter()
            .filter(|r| self.is_in_force(r))
            .collect()
    }

    /// For each facility with a consent record, its latest (in force or not), by facility code.
    pub fn latest_each(&self) -> Vec<&ConsentRecord> {
        let mut v: Vec<&ConsentRecord> = self
            .records
            .iter()
            .filter(|r| self.latest(r.facility_id).map(|l| l.id) == Some(r.id))
            .collect();
        v.sort_by(|a, b| a.facility_code.cmp(&b.facility_code));
        v
    }

    /// What the record changed, compared with the consent of the same documents in force when
    /// it was recorded.
    pub fn change_of(&self, r: &ConsentRecord) -> ConsentChange {
        let before = self
            .records
            .iter()
            .rfind(|p| p.id < r.id && p.facility_id == r.facility_id)
            .filter(|p| p.withdrawn_at.is_none_or(|w| w > r.recorded_at))
            .map(scope_of);
        ConsentChange::between(before.as_ref(), &scope_of(r))
    }

    /// The history: each record and each withdrawal, in time order.
    pub fn events(&self) -> Vec<Event<'_>> {
        let mut events = Vec::new();
        for r in &self.records {
            events.push(Event {
                at: r.recorded_at,
                record: r,
                change: self.change_of(r),
            });
            if let Some(at) = r.withdrawn_at {
                let change = if r.withdrawn_kind.as_deref() == Some("superseded") {
                    ConsentChange::Superseded
                } else {
                    ConsentChange::Withdrawn
                };
                events.push(Event {
                    at,
                    record: r,
                    change,
                });
            }
        }
        events.sort_by_key(|e| (e.at, e.record.id, e.is_withdrawal()));
        events
    }
}

/// One line of the history.
pub struct Event<'a> {
    pub at: Timestamp,
    pub record: &'a ConsentRecord,
    pub change: ConsentChange,
}

impl Event<'_> {
    pub fn is_withdrawal(&self) -> bool {
        matches!(
            self.change,
            ConsentChange::Withdrawn | ConsentChange::Superseded
        )
    }
}

pub fn scope_of(r: &ConsentRecord) -> Scope {
    if r.scope == "all" {
        Scope::All
    } else {
        Scope::Listed(r.listed.iter().map(|(code, _)| code.clone()).collect())
    }
}

/// Who may change the consent of a facility's documents, from its latest record: the owner of
/// the consent in force, or whoever withdrew the last one; the facility itself if none.
pub fn holder(latest: Option<&ConsentRecord>, facility_id: i64) -> Party {
    match latest {
        None => Party::Facility(facility_id),
        Some(r) if r.withdrawn_at.is_some() => match r.withdrawn_kind.as_deref() {
            Some("staff") => Party::Staff,
            _ => Party::Facility(r.facility_id),
        },
        Some(r) if r.owner_kind == "staff" => Party::Staff,
        Some(r) => Party::Facility(r.facility_id),
    }
}

/// Who owns a consent, in words.
pub fn owner_label(r: &ConsentRecord) -> String {
    if r.owner_kind == "staff" {
        "運用担当者（紙の同意書）".into()
    } else {
        format!("{}（{}）", r.facility_name, r.facility_code)
    }
}

/// Who recorded or withdrew, in words: a facility system's API key, the migration, or a login.
pub fn recorder_label(login: &str) -> String {
    if let Some(rest) = login.strip_prefix("apikey:") {
        let key = rest.split(':').next().unwrap_or("");
        format!("連携システム（API キー {key}）")
    } else if login.starts_with("system:migration") {
        "移行処理".into()
    } else {
        login.to_string()
    }
}

/// Which facilities may read under a consent, in words.
pub fn readers_label(r: &ConsentRecord) -> String {
    if r.scope == "all" {
        "参加施設すべて".into()
    } else if r.listed.is_empty() {
        "（なし）".into()
    } else {
        r.listed
            .iter()
            .map(|(code, name)| format!("{name}（{code}）"))
            .collect::<Vec<_>>()
            .join("、")
    }
}

/// Checks that the party may change the consent of `facility_id`'s documents; a refusal is
/// audited on `conn` and returned as [`ConsentError::NotOwner`].
async fn authorise(
    conn: &mut Tx,
    book: &Book,
    act: &Act<'_>,
    facility_id: i64,
    attempt: ConsentChange,
    has_scan: bool,
) -> Result<(), ConsentError> {
    let latest = book.latest(facility_id);
    let holder = holder(latest, facility_id);
    let by = match act.party {
        Party::Staff if !has_scan => return Err(ConsentError::ScanMissing),
        Party::Staff => return Ok(()),
        Party::Facility(f) if f == facility_id && holder == Party::Facility(f) => return Ok(()),
        Party::Facility(f) => f,
    };
    let (code, name) = match latest {
        Some(r) => (r.facility_code.clone(), r.facility_name.clone()),
        None => repo::facility_label(conn, facility_id)
            .await?
            .unwrap_or_default(),
    };
    let message = match (by != facility_id, latest, holder) {
        (true, None, _) => format!(
            "{name}（{code}）の文書についての同意は、{name}（または患者が署名した書面にもとづき運用担当者）だけが記録できます。自施設の文書を共有する範囲は、自施設の同意として記録してください。"
        ),
        (true, Some(_), Party::Staff) => format!(
            "この同意は {name}（{code}）の文書についての同意で、運用担当者が患者の署名した書面にもとづいて記録したものです。他の施設は拡大・縮小・撤回できません。"
        ),
        (true, Some(_), Party::Facility(_)) => format!(
            "この同意は {name}（{code}）の文書についての同意で、{name} が記録したものです。他の施設が記録した同意は拡大・縮小・撤回できません。自施設の文書を共有する範囲は、自施設の同意として記録してください。"
        ),
        (false, ..) => "この同意は運用担当者が患者の署名した書面にもとづいて記録（または撤回）したものです。変更・撤回は、患者が署名した書面を添えて運用担当者に依頼してください。".to_string(),
    };
    audit::record(
        conn,
        act.now,
        act.actor,
        "records.consent_refused",
        &format!("patient:{}", act.patient_id),
        json!({"facility_id": by, "consent_facility": code,
               "consent_id": latest.filter(|r| r.withdrawn_at.is_none()).map(|r| r.id),
               "holder": holder.key(), "attempt": attempt.key(), "channel": act.channel}),
    )
    .await?;
    Err(ConsentError::NotOwner(message))
}

/// Records a consent for the documents of `facility_id`: a first consent, or one that widens,
/// narrows, changes or renews the one in force, if the party may (see the module rules).
/// Listed facilities must be participating facilities. Returns the consent's id and what it
/// changed; audited as `records.consent_recorded`.
pub async fn record(
    conn: &mut Tx,
    act: &Act<'_>,
    facility_id: i64,
    signed_on: &str,
    scope: &Scope,
    scan: Option<ScanRef<'_>>,
) -> Result<(i64, ConsentChange), ConsentError> {
    let book = Book::load(conn, act.patient_id).await?;
    let before = book
        .latest(facility_id)
        .filter(|r| r.withdrawn_at.is_none())
        .map(scope_of);
    let change = ConsentChange::between(before.as_ref(), scope);
    authorise(conn, &book, act, facility_id, change, scan.is_some()).await?;
    let mut listed = Vec::new();
    if let Scope::Listed(codes) = scope {
        for code in codes {
            let (id, _) = repo::facility_by_code(conn, code).await?.ok_or_else(|| {
                DomainError::invalid(
                    "facilities",
                    format!("同意の対象施設コード {code} は参加施設にありません。"),
                )
            })?;
            if !listed.contains(&id) {
                listed.push(id);
            }
        }
    }
    let consent_id = repo::insert_consent(
        conn,
        &repo::NewConsent {
            patient_id: act.patient_id,
            facility_id,
            owner_kind: act.party.key(),
            signed_on,
            scope: scope.key(),
            scan_hash: scan.map(|s| s.hash),
            scan_content_type: scan.map(|s| s.content_type),
            by: &act.actor.login,
        },
        act.now,
    )
    .await?;
    for f in listed {
        repo::insert_consent_facility(conn, consent_id, f).await?;
    }
    let by_facility = match act.party {
        Party::Facility(f) => Some(f),
        Party::Staff => None,
    };
    audit::record(
        conn,
        act.now,
        act.actor,
        "records.consent_recorded",
        &format!("patient:{}", act.patient_id),
        json!({"consent_id": consent_id, "signed_on": signed_on, "scope": scope.key(),
               "facilities": match scope { Scope::Listed(c) => c.clone(), Scope::All => vec![] },
               "scan_sha256": scan.map(|s| s.hash), "facility_id": facility_id,
               "owner": act.party.key(), "by_facility_id": by_facility, "change": change.key(),
               "channel": act.channel}),
    )
    .await?;
    Ok((consent_id, change))
}

/// Withdraws the consent in force for the documents of `target` (None: "the patient's
/// consent", as the API has always taken a Consent with status inactive — the party's own if
/// in force, otherwise the one in force of another facility, which is refused). Returns the
/// withdrawn consent's id; audited as `records.consent_withdrawn`.
pub async fn withdraw(
    conn: &mut Tx,
    act: &Act<'_>,
    target: Option<i64>,
    scan: Option<ScanRef<'_>>,
) -> Result<i64, ConsentError> {
    let book = Book::load(conn, act.patient_id).await?;
    let facility_id = match (target, act.party) {
        (Some(d), _) => d,
        (None, Party::Facility(f)) => {
            let own = book.latest(f).is_some_and(|r| book.is_in_force(r));
            match book.in_force().first() {
                Some(other) if !own => other.facility_id,
                _ => f,
            }
        }
        (None, Party::Staff) => {
            return Err(DomainError::invalid(
                "facility",
                "撤回する同意の施設（文書の送信元）を選んでください。",
            )
            .into());
        }
    };
    authorise(
        conn,
        &book,
        act,
        facility_id,
        ConsentChange::Withdrawn,
        scan.is_some(),
    )
    .await?;
    let current = book
        .latest(facility_id)
        .filter(|r| r.withdrawn_at.is_none())
        .ok_or_else(|| {
            DomainError::conflict(
                "この施設の文書についての同意は記録されていないか、すでに撤回されています。",
            )
        })?;
    repo::withdraw_consent(
        conn,
        current.id,
        &repo::Withdrawal {
            by: &act.actor.login,
            kind: act.party.key(),
            scan_hash: scan.map(|s| s.hash),
            scan_content_type: scan.map(|s| s.content_type),
        },
        act.now,
    )
    .await?;
    let by_facility = match act.party {
        Party::Facility(f) => Some(f),
        Party::Staff => None,
    };
    audit::record(
        conn,
        act.now,
        act.actor,
        "records.consent_withdrawn",
        &format!("patient:{}", act.patient_id),
        json!({"consent_id": current.id, "channel": act.channel, "facility_id": by_facility,
               "consent_facility": current.facility_code, "by": act.party.key(),
               "scan_sha256": scan.map(|s| s.hash)}),
    )
    .await?;
    Ok(current.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: i64, facility_id: i64, owner: &str, withdrawn: Option<&str>) -> ConsentRecord {
        let at = |m: i64| -> Timestamp {
            format!("2026-04-01T00:{m:02}:00.000Z")
                .parse()
                .expect("timestamp")
        };
        ConsentRecord {
            id,
            patient_id: 1,
            facility_id,
            facility_code: format!("231000000{facility_id}"),
            facility_name: format!("施設{facility_id}"),
            owner_kind: owner.into(),
            signed_on: "2026-04-01".into(),
            scope: "all".into(),
            scan_hash: None,
            scan_content_type: None,
            recorded_at: at(id * 2),
            recorded_by: "apikey:1:x".into(),
            withdrawn_at: withdrawn.map(|_| at(id * 2 + 1)),
            withdrawn_by: withdrawn.map(|_| "x".into()),
            withdrawn_kind: withdrawn.map(str::to_string),
            withdrawn_scan_hash: None,
            withdrawn_scan_content_type: None,
            listed: Vec::new(),
        }
    }

    #[test]
    fn each_facilitys_documents_have_their_own_consent_in_force() {
        let book = Book {
            records: vec![
                rec(1, 1, "facility", None),
                rec(2, 2, "facility", None),
                rec(3, 1, "facility", None),
                rec(4, 2, "facility", Some("facility")),
            ],
        };
        let ids: Vec<i64> = book.in_force().iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            vec![3],
            "facility 2's latest is withdrawn; 1's latest is 3"
        );
        assert_eq!(book.change_of(&book.records[2]), ConsentChange::Renewed);
        assert_eq!(book.change_of(&book.records[1]), ConsentChange::Granted);
    }

    #[test]
    fn the_owner_or_whoever_withdrew_holds_a_consent() {
        assert_eq!(holder(None, 7), Party::Facility(7));
        assert_eq!(
            holder(Some(&rec(1, 7, "facility", None)), 7),
            Party::Facility(7)
        );
        assert_eq!(holder(Some(&rec(1, 7, "staff", None)), 7), Party::Staff);
        assert_eq!(
            holder(Some(&rec(1, 7, "facility", Some("staff"))), 7),
            Party::Staff
        );
        assert_eq!(
            holder(Some(&rec(1, 7, "staff", Some("superseded"))), 7),
            Party::Facility(7)
        );
    }

    #[test]
    fn a_consent_recorded_after_a_withdrawal_is_a_new_grant() {
        let book = Book {
            records: vec![
                rec(1, 1, "facility", Some("facility")),
                rec(2, 1, "facility", None),
            ],
        };
        assert_eq!(book.change_of(&book.records[1]), ConsentChange::Granted);
        let kinds: Vec<&str> = book.events().iter().map(|e| e.change.key()).collect();
        assert_eq!(kinds, vec!["granted", "withdrawn", "granted"]);
    }

    #[test]
    fn recorders_are_named_in_words() {
        assert_eq!(
            recorder_label("apikey:3:2310000011"),
            "連携システム（API キー 3）"
        );
        assert_eq!(recorder_label("system:migration-0011"), "移行処理");
        assert_eq!(recorder_label("a-admin"), "a-admin");
    }
}
