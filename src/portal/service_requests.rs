//! State changes of the portal's change requests (R13.1–R13.3) and schedule windows (R21.2): each
//! is one transaction with its audit event and fails with a [`DomainError`]; a state that no
//! longer allows the step is a `Conflict`, a value to correct is `Invalid` on its field.

use serde_json::json;

use super::model::{self, RequestKind, RequestState};
use super::service::Editor;
use super::{NewWindow, WindowError, repo_requests};
use crate::audit::{self, Actor};
use crate::db::{Db, Timestamp, Tx};
use crate::error::DomainError;

impl From<WindowError> for DomainError {
    fn from(e: WindowError) -> Self {
        match e {
            WindowError::NoTitle => DomainError::invalid("title", e.to_string()),
            WindowError::EndsBeforeStart => DomainError::invalid("ends_at", e.to_string()),
            WindowError::Db(e) => e.into(),
        }
    }
}

/// The city submits a change request (R13.1).
pub async fn submit_change_request(
    db: &Db,
    title: &str,
    body: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = repo_requests::insert_request(&mut tx, title, body, e.login_id, e.name, now).await?;
    repo_requests::insert_event(
        &mut tx,
        id,
        e.login_id,
        e.name,
        None,
        RequestState::Submitted.key(),
        "依頼を受け付けました",
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &e.actor,
        "portal.change_requested",
        &format!("portal_change_request:{id}"),
        json!({"title": title}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// One state change of a change request: checks the expected state, records the event and the
/// audit entry. `false` when the request was no longer in `from`.
async fn change_state(
    db: &Db,
    id: i64,
    (from, to): (RequestState, RequestState),
    kind: Option<RequestKind>,
    note: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<bool, DomainError> {
    let mut tx = db.begin().await?;
    let r = repo_requests::find_request(&mut tx, id).await?;
    let lead = (to == RequestState::Done).then(|| now.since(r.requested_at).as_mins());
    if !repo_requests::transition(
        &mut tx,
        id,
        from.key(),
        to.key(),
        kind.map(RequestKind::key),
        lead,
        now,
    )
    .await?
    {
        return Ok(false);
    }
    repo_requests::insert_event(
        &mut tx,
        id,
        e.login_id,
        e.name,
        Some(from.key()),
        to.key(),
        note,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &e.actor,
        &format!("portal.change_request_{}", to.key()),
        &format!("portal_change_request:{id}"),
        json!({
            "from": from.key(), "to": to.key(), "kind": kind.map(RequestKind::key),
            "lead_minutes": lead, "note": note,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// An operator classifies a submitted request as content-only or needing design (R13.2).
pub async fn classify_change_request(
    db: &Db,
    id: i64,
    kind: Option<RequestKind>,
    note: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<RequestKind, DomainError> {
    let mut conn = db.pool().acquire().await?;
    repo_requests::find_request(&mut conn, id).await?;
    drop(conn);
    let kind = kind.ok_or_else(|| {
        DomainError::invalid(
            "kind",
            "「内容のみ」か「画面設計を伴う」かを選んでください。",
        )
    })?;
    let note = match note.trim() {
        "" => kind.label().to_string(),
        n => format!("{}：{n}", kind.label()),
    };
    let states = (RequestState::Submitted, kind.next_state());
    if !change_state(db, id, states, Some(kind), &note, e, now).await? {
        return Err(DomainError::conflict("この依頼はすでに分類されています。"));
    }
    Ok(kind)
}

/// A message in a change request's thread (until it is done).
pub async fn post_change_request_message(
    db: &Db,
    id: i64,
    body: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let body = body.trim();
    let mut tx = db.begin().await?;
    let r = repo_requests::find_request(&mut tx, id).await?;
    let st = RequestState::parse(&r.state).unwrap_or(RequestState::Done);
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(DomainError::invalid(
            "body",
            "メッセージを入力してください（10,000文字以内）。",
        ));
    }
    if !model::may_discuss(st) {
        return Err(DomainError::conflict(
            "完了した依頼にはメッセージを送れません。",
        ));
    }
    repo_requests::insert_message(&mut tx, id, e.login_id, e.name, e.role_label, body, now).await?;
    audit::record(
        &mut tx,
        now,
        &e.actor,
        "portal.change_request_message",
        &format!("portal_change_request:{id}"),
        json!({"chars": body.chars().count()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The city agrees to the design discussed (協議中 → 合意済).
pub async fn agree_change_request(
    db: &Db,
    id: i64,
    note: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let note = match note.trim() {
        "" => "設計内容に合意しました",
        n => n,
    };
    let states = (RequestState::Consulting, RequestState::Agreed);
    if !change_state(db, id, states, None, note, e, now).await? {
        return Err(DomainError::conflict("協議中の依頼ではありません。"));
    }
    Ok(())
}

/// The work is done and published (対応中 / 合意済 → 完了); the lead time is recorded.
pub async fn complete_change_request(
    db: &Db,
    id: i64,
    note: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut conn = db.pool().acquire().await?;
    let r = repo_requests::find_request(&mut conn, id).await?;
    drop(conn);
    let from = RequestState::parse(&r.state).unwrap_or(RequestState::Done);
    if !model::may_complete(from) {
        return Err(DomainError::conflict(
            "この依頼はまだ完了にできません（分類・合意が必要です）。",
        ));
    }
    let note = match note.trim() {
        "" => "変更を反映しました",
        n => n,
    };
    if !change_state(db, id, (from, RequestState::Done), None, note, e, now).await? {
        return Err(DomainError::conflict(
            "依頼の状態が変わりました。再読み込みしてください。",
        ));
    }
    Ok(())
}

/// Proposes a schedule window (state 提案中; published once the service operator approves it).
/// Call it on the caller's transaction, so that the window and the caller's own change are kept
/// together; the audit event is written here.
pub async fn schedule_window(
    conn: &mut Tx,
    w: &NewWindow<'_>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, WindowError> {
    let title = w.title.trim();
    if title.is_empty() {
        return Err(WindowError::NoTitle);
    }
    if w.ends_at <= w.starts_at {
        return Err(WindowError::EndsBeforeStart);
    }
    let id = repo_requests::insert_window(
        conn,
        &repo_requests::NewWindowRow {
            kind: w.kind.key(),
            title,
            starts_at: w.starts_at,
            ends_at: w.ends_at,
            services: w.services.trim(),
            reason: w.reason.trim(),
            source: w.source,
            created_by: &actor.login,
        },
        now,
    )
    .await?;
    let details = json!({
        "kind": w.kind.key(), "title": title, "starts_at": w.starts_at.to_db(),
        "ends_at": w.ends_at.to_db(), "services": w.services, "source": w.source,
    });
    audit::record(
        conn,
        now,
        actor,
        "portal.window_proposed",
        &format!("portal_schedule:{id}"),
        details,
    )
    .await?;
    Ok(id)
}

/// [`schedule_window`] in a transaction of its own (an operator's proposal in the UI).
pub async fn propose_window(
    db: &Db,
    w: &NewWindow<'_>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = schedule_window(&mut tx, w, actor, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// The service operator approves a proposed window; from then on it is published.
pub async fn approve_window(
    db: &Db,
    id: i64,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let w = repo_requests::find_window(&mut tx, id).await?;
    let who = format!("{}（{}）", e.name, e.login_id);
    if !repo_requests::approve_window(&mut tx, id, &who, now).await? {
        return Err(DomainError::conflict("この予定はすでに承認されています。"));
    }
    audit::record(
        &mut tx,
        now,
        &e.actor,
        "portal.window_approved",
        &format!("portal_schedule:{id}"),
        json!({"title": w.title, "kind": w.kind,
            "starts_at": w.starts_at.to_db(), "ends_at": w.ends_at.to_db()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A window another domain publishes at once, approved by the service operator who approved
/// the plan it belongs to (backups: the monthly stop of a schedule the service operator
/// approved, R21.3). Proposed and approved on the caller's transaction, both audited, with
/// `approver` (`name（login）`) recorded as who approved it.
pub async fn publish_approved_window(
    conn: &mut Tx,
    w: &NewWindow<'_>,
    approver: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, WindowError> {
    let id = schedule_window(conn, w, actor, now).await?;
    repo_requests::approve_window(conn, id, approver, now).await?;
    audit::record(
        conn,
        now,
        actor,
        "portal.window_approved",
        &format!("portal_schedule:{id}"),
        json!({"title": w.title.trim(), "kind": w.kind.key(), "approved_by": approver,
            "source": w.source, "starts_at": w.starts_at.to_db(), "ends_at": w.ends_at.to_db()}),
    )
    .await?;
    Ok(id)
}

/// Takes down a window that has not started (its plan was withdrawn); audited. `false` when
/// it had already started, ended or been withdrawn (nothing is changed then).
pub async fn withdraw_window(
    conn: &mut Tx,
    id: i64,
    reason: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    if !repo_requests::withdraw_window(conn, id, now).await? {
        return Ok(false);
    }
    audit::record(
        conn,
        now,
        actor,
        "portal.window_withdrawn",
        &format!("portal_schedule:{id}"),
        json!({"reason": reason}),
    )
    .await?;
    Ok(true)
}

/// Ends a window in progress early (the work finished): its banner goes at once; audited.
/// `false` when it was not in progress.
pub async fn end_window(
    conn: &mut Tx,
    id: i64,
    reason: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<bool, DomainError> {
    if !repo_requests::end_window(conn, id, now).await? {
        return Ok(false);
    }
    audit::record(
        conn,
        now,
        actor,
        "portal.window_ended",
        &format!("portal_schedule:{id}"),
        json!({"reason": reason, "ended_at": now.to_db()}),
    )
    .await?;
    Ok(true)
}
