//! Submitting and processing account requests. Each operation is one transaction with its audit
//! events: a batch of letters is issued completely or not at all.

use jiff::civil::Date;
use serde_json::json;

use super::model::{Channel, PersonData, Request, RequestKind, RequestState, VerificationMethod};
use super::repo::{self, NewRequest};
use crate::accounts::service::{self as accounts, AccountSpec, PersonAttributes};
use crate::audit::{self, Actor};
use crate::auth::Role;
use crate::db::{Conn, Db, Timestamp, Tx};
use crate::error::DomainError;

/// Who handles a request: the operator's account (none for the CLI) and the audit actor.
pub struct Handler {
    pub account_id: Option<i64>,
    pub actor: Actor,
}

pub struct Submission {
    pub facility_id: i64,
    pub kind: RequestKind,
    pub person: Option<PersonData>,
    pub target_account_id: Option<i64>,
    pub reason: String,
    pub channel: Channel,
    pub paper_date: Option<Date>,
}

pub async fn submit(
    db: &Db,
    s: &Submission,
    submitted_by: Option<i64>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = submit_in(&mut tx, s, submitted_by, actor, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Checks a submission against the facility and its accounts, stores it, audits it.
pub async fn submit_in(
    conn: &mut Tx,
    s: &Submission,
    submitted_by: Option<i64>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let facility = crate::facilities::find(conn, s.facility_id).await?;
    if facility.withdrawn_at.is_some() {
        return Err(DomainError::invalid(
            "facility",
            format!("{} は脱退済みのため申請できません。", facility.name),
        ));
    }
    if s.kind.needs_person() && s.person.is_none() {
        return Err(DomainError::invalid(
            "person",
            "利用者の情報を入力してください。",
        ));
    }
    if s.kind.needs_target() {
        let target = s
            .target_account_id
            .ok_or_else(|| DomainError::invalid("target", "対象の利用者を選んでください。"))?;
        let person = accounts::person(conn, target)
            .await
            .map_err(|_| DomainError::invalid("target", "対象の利用者が見つかりません。"))?;
        if person.facility_id != Some(s.facility_id)
            || !matches!(person.role.as_str(), "user" | "facility_manager")
        {
            return Err(DomainError::invalid(
                "target",
                "対象の利用者はこの施設に所属していません。",
            ));
        }
        if person.disabled_at.is_some() {
            return Err(DomainError::invalid(
                "target",
                "対象の利用者はすでに利用停止されています。",
            ));
        }
        if repo::open_for_target(conn, target).await? > 0 {
            return Err(DomainError::Conflict(
                "この利用者には処理中の申請があります。処理が終わってから申請してください。".into(),
            ));
        }
    }
    let new = NewRequest {
        facility_id: s.facility_id,
        kind: s.kind,
        channel: s.channel,
        paper_date: s.paper_date.map(|d| d.to_string()),
        submitted_by,
        person: s.person.as_ref(),
        target_account_id: if s.kind.needs_target() {
            s.target_account_id
        } else {
            None
        },
        reason: &s.reason,
    };
    let id = repo::insert(conn, &new, now).await?;
    let details = json!({
        "facility_id": s.facility_id, "kind": s.kind.key(), "channel": s.channel.key(),
        "paper_date": new.paper_date, "person_name": s.person.as_ref().map(|p| p.name.clone()),
        "target_account_id": new.target_account_id,
    });
    audit::record(
        conn,
        now,
        actor,
        "request.received",
        &format!("request:{id}"),
        details,
    )
    .await?;
    Ok(id)
}

/// What goes into one sealed letter. The password is in clear only here and in the PDF.
pub struct LetterData {
    pub request_id: Option<i64>,
    pub facility_name: String,
    pub facility_postal_code: String,
    pub facility_address: String,
    pub manager_name: String,
    pub person: PersonData,
    pub login_id: String,
    pub password: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub reissue: bool,
}

fn received(r: &Request) -> Result<(), DomainError> {
    if r.state != RequestState::Received {
        return Err(DomainError::Conflict(format!(
            "申請 #{} はすでに{}です。",
            r.id,
            r.state.label()
        )));
    }
    Ok(())
}

/// Processes add and change requests together and returns their letters (R12.1, R12.3).
pub async fn issue(
    db: &Db,
    ids: &[i64],
    h: &Handler,
    otp_days: i64,
    now: Timestamp,
) -> Result<Vec<LetterData>, DomainError> {
    if ids.is_empty() {
        return Err(DomainError::invalid(
            "ids",
            "発行する申請を選んでください。",
        ));
    }
    // One-time passwords are hashed before the transaction (CPU work holds no lock).
    let otps = accounts::OneTimePassword::generate_many(ids.len()).await?;
    let mut tx = db.begin().await?;
    let mut letters = Vec::new();
    for (id, otp) in ids.iter().zip(otps) {
        letters.push(issue_one(&mut tx, *id, otp, h, otp_days, now).await?);
    }
    tx.commit().await?;
    Ok(letters)
}

async fn issue_one(
    conn: &mut Tx,
    id: i64,
    otp: accounts::OneTimePassword,
    h: &Handler,
    otp_days: i64,
    now: Timestamp,
) -> Result<LetterData, DomainError> {
    let r = repo::find(conn, id)
        .await
        .map_err(|_| DomainError::invalid("ids", format!("申請 #{id} が見つかりません。")))?;
    received(&r)?;
    if !r.kind.issues_account() {
        return Err(DomainError::invalid(
            "ids",
            format!(
                "申請 #{id} は{}の申請です。ID発行の対象ではありません。",
                r.kind.label()
            ),
        ));
    }
    let facility = crate::facilities::find(conn, r.facility_id).await?;
    if r.kind == RequestKind::Change
        && let Some(old) = r.target_account_id
    {
        accounts::disable_in(
            conn,
            old,
            &h.actor,
            now,
            &format!("変更申請 #{id}（削除＋追加）"),
        )
        .await?;
    }
    let spec = AccountSpec {
        login_id: None,
        display_name: &r.person.name,
        role: Role::User,
        facility_code: Some(&facility.code),
        name_kana: &r.person.kana,
        job_type: &r.person.job_type,
        contact: &r.person.contact,
        otp_days,
    };
    let created = accounts::create_account_in(conn, &spec, otp, &h.actor, now).await?;
    if !repo::mark_processed(conn, id, h.account_id, now, Some(created.account_id)).await? {
        return Err(DomainError::Conflict(format!(
            "申請 #{id} は他の担当者が処理しました。"
        )));
    }
    let why = format!("申請 #{id} の処理");
    accounts::mark_letter_issued_in(conn, created.account_id, &h.actor, now, &why).await?;
    let details = json!({
        "kind": r.kind.key(), "account_id": created.account_id, "login_id": created.login_id,
        "replaced_account_id": r.target_account_id, "turnaround_seconds": now.since(r.received_at).as_secs(),
    });
    audit::record(
        conn,
        now,
        &h.actor,
        "request.processed",
        &format!("request:{id}"),
        details,
    )
    .await?;
    notify_processed(conn, &r, now).await?;
    Ok(LetterData {
        request_id: Some(id),
        facility_name: facility.name,
        facility_postal_code: facility.postal_code,
        facility_address: facility.address,
        manager_name: facility.managers,
        person: r.person,
        login_id: created.login_id,
        password: created.one_time_password,
        issued_at: now,
        expires_at: created.expires_at,
        reissue: false,
    })
}

/// A lost letter: a new one-time password and a new letter; the old password stops working.
/// The administrator's reason goes into the audit event (`account.letter_issued`). This is the
/// one place a letter is re-issued: whatever must follow a re-issue (telling the facility) is
/// called from here.
pub async fn reissue(
    db: &Db,
    account_id: i64,
    reason: &crate::accounts::Reason,
    h: &Handler,
    otp_days: i64,
    now: Timestamp,
) -> Result<LetterData, DomainError> {
    let otp = accounts::OneTimePassword::generate().await?;
    let mut tx = db.begin().await?;
    let person = accounts::person(&mut tx, account_id).await?;
    let facility_id = person.facility_id.ok_or_else(|| {
        DomainError::invalid(
            "account",
            "施設に所属しないアカウントには封書を発行しません。",
        )
    })?;
    let facility = crate::facilities::find(&mut tx, facility_id).await?;
    let (password, expires_at) =
        accounts::reset_password_in(&mut tx, account_id, otp, otp_days, &h.actor, now).await?;
    accounts::mark_letter_issued_in(&mut tx, account_id, &h.actor, now, reason.as_str()).await?;
    notify_reissued(&mut tx, facility_id, &person.display_name, now).await?;
    tx.commit().await?;
    Ok(LetterData {
        request_id: None,
        facility_name: facility.name,
        facility_postal_code: facility.postal_code,
        facility_address: facility.address,
        manager_name: facility.managers,
        person: PersonData {
            name: person.display_name,
            kana: person.name_kana,
            job_type: person.job_type,
            contact: person.contact,
        },
        login_id: person.login_id,
        password,
        issued_at: now,
        expires_at,
        reissue: true,
    })
}

/// Processes a delete request: the account is disabled at once (R12.2).
pub async fn process_delete(
    db: &Db,
    id: i64,
    h: &Handler,
    now: Timestamp,
) -> Result<Request, DomainError> {
    let mut tx = db.begin().await?;
    let (r, target) = open_with_target(&mut tx, id, RequestKind::Delete).await?;
    accounts::disable_in(&mut tx, target, &h.actor, now, &format!("削除申請 #{id}")).await?;
    mark_done(&mut tx, &r, target, h, now).await?;
    let done = repo::find(&mut tx, id).await?;
    tx.commit().await?;
    Ok(done)
}

/// Records the identity verification (本人確認) an attribute change needs (R12.4).
pub async fn verify_identity(
    db: &Db,
    id: i64,
    method: VerificationMethod,
    note: &str,
    h: &Handler,
    now: Timestamp,
) -> Result<(), DomainError> {
    let by = h.account_id.ok_or_else(|| {
        DomainError::invalid(
            "account",
            "本人確認は担当者のアカウントで記録してください。",
        )
    })?;
    let mut tx = db.begin().await?;
    let r = repo::find(&mut tx, id).await?;
    received(&r)?;
    repo::set_verification(&mut tx, id, method, by, now, note).await?;
    let details = json!({"method": method.key(), "note": note});
    audit::record(
        &mut tx,
        now,
        &h.actor,
        "request.identity_verified",
        &format!("request:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Applies an attribute change; refused until identity has been verified (R12.4).
pub async fn apply_attributes(
    db: &Db,
    id: i64,
    h: &Handler,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let (r, target) = open_with_target(&mut tx, id, RequestKind::Attributes).await?;
    if r.verified_at.is_none() {
        return Err(DomainError::Conflict(
            "本人確認の記録がないため、属性を変更できません。先に本人確認を記録してください。"
                .into(),
        ));
    }
    let p = &r.person;
    let attrs = PersonAttributes {
        name: &p.name,
        kana: &p.kana,
        job_type: &p.job_type,
        contact: &p.contact,
    };
    accounts::update_attributes_in(&mut tx, target, &attrs, &h.actor, now).await?;
    mark_done(&mut tx, &r, target, h, now).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn reject(
    db: &Db,
    id: i64,
    reason: &str,
    h: &Handler,
    now: Timestamp,
) -> Result<(), DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "却下の理由を入力してください。",
        ));
    }
    let mut tx = db.begin().await?;
    let r = repo::find(&mut tx, id).await?;
    received(&r)?;
    repo::mark_rejected(&mut tx, id, h.account_id, now, reason).await?;
    audit::record(
        &mut tx,
        now,
        &h.actor,
        "request.rejected",
        &format!("request:{id}"),
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A request still waiting, of the expected kind, and the account it is about.
async fn open_with_target(
    conn: &mut Conn,
    id: i64,
    kind: RequestKind,
) -> Result<(Request, i64), DomainError> {
    let r = repo::find(conn, id).await?;
    received(&r)?;
    if r.kind != kind {
        return Err(DomainError::invalid(
            "kind",
            format!("{}の申請ではありません。", kind.label()),
        ));
    }
    let target = r
        .target_account_id
        .ok_or_else(|| DomainError::invalid("target", "対象の利用者がありません。"))?;
    Ok((r, target))
}

/// Marks a request processed and records it with the time from receipt to execution (R12.2).
async fn mark_done(
    conn: &mut Tx,
    r: &Request,
    account_id: i64,
    h: &Handler,
    now: Timestamp,
) -> Result<(), DomainError> {
    repo::mark_processed(conn, r.id, h.account_id, now, None).await?;
    let details = json!({"kind": r.kind.key(), "account_id": account_id, "turnaround_seconds": now.since(r.received_at).as_secs()});
    audit::record(
        conn,
        now,
        &h.actor,
        "request.processed",
        &format!("request:{}", r.id),
        details,
    )
    .await?;
    notify_processed(conn, r, now).await?;
    Ok(())
}

/// Tells the facility's managers that one of its requests was processed (issue 15 item 3).
async fn notify_processed(conn: &mut Tx, r: &Request, now: Timestamp) -> sqlx::Result<()> {
    let notice = crate::notifications::Notice {
        kind: crate::notifications::Kind::RequestProcessed,
        subject: &format!("利用者申請 #{} を処理しました", r.id),
        body: &format!(
            "{}の{}の申請 #{}（{}）の処理が完了しました。",
            r.facility_name,
            r.kind.label(),
            r.id,
            r.person.name
        ),
        // The facility's processed requests, where this one now shows 処理済.
        link_path: "/requests?state=processed",
    };
    crate::notifications::notify_facility_managers(conn, r.facility_id, &notice, now).await?;
    Ok(())
}

/// Tells the facility's managers that a sealed letter was issued again (issue 15 defect 1).
async fn notify_reissued(
    conn: &mut Tx,
    facility_id: i64,
    person: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    let notice = crate::notifications::Notice {
        kind: crate::notifications::Kind::LetterReissued,
        subject: &format!("{person} さんの封書を再発行しました"),
        body: &format!(
            "{person} さんの ID・初期パスワード通知書（封書）を再発行しました。\n\
             以前の初期パスワードは使えなくなります。封書が届いたら本人にお渡しください。"
        ),
        link_path: "/requests",
    };
    crate::notifications::notify_facility_managers(conn, facility_id, &notice, now).await?;
    Ok(())
}

/// Why a CSV import was refused: the lines to show next to the upload, or another failure.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}", .0.join("\n"))]
    Lines(Vec<String>),
    #[error(transparent)]
    Other(#[from] DomainError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Other(e.into())
    }
}

impl From<ImportError> for DomainError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Lines(lines) => DomainError::invalid("file", lines.join("\n")),
            ImportError::Other(e) => e,
        }
    }
}

/// Imports add requests from parsed CSV rows: all of them in one transaction, or none (a line
/// refused names its line number). Returns how many were imported.
pub(crate) async fn import_csv(
    db: &Db,
    rows: Vec<super::csv_import::Row>,
    h: &Handler,
    now: Timestamp,
) -> Result<usize, ImportError> {
    let mut tx = db.begin().await?;
    let mut errors = Vec::new();
    let mut submissions = Vec::new();
    for row in rows {
        match crate::facilities::id_by_code(&mut tx, &row.facility_code).await? {
            None => errors.push(format!(
                "{}行目: 施設コード {} の施設は登録されていません。",
                row.line, row.facility_code
            )),
            Some(facility_id) => submissions.push((
                row.line,
                Submission {
                    facility_id,
                    kind: RequestKind::Add,
                    person: Some(row.person),
                    target_account_id: None,
                    reason: "CSV取込".into(),
                    channel: Channel::Csv,
                    paper_date: None,
                },
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Lines(errors));
    }
    let count = submissions.len();
    for (line, s) in &submissions {
        // Nothing is half-imported: returning drops the transaction and rolls back every line.
        match submit_in(&mut tx, s, h.account_id, &h.actor, now).await {
            Ok(_) => {}
            Err(DomainError::Invalid { message, .. } | DomainError::Conflict(message)) => {
                return Err(ImportError::Lines(vec![format!("{line}行目: {message}")]));
            }
            Err(e) => return Err(e.into()),
        }
    }
    audit::record(
        &mut tx,
        now,
        &h.actor,
        "request.csv_imported",
        "account_requests",
        json!({"rows": count}),
    )
    .await?;
    tx.commit().await?;
    Ok(count)
}
