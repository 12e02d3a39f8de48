//! Every state change of the portal: announcements, runbooks (each save a revision), change
//! requests and schedule windows. Each is one transaction with its audit event and fails with a
//! [`DomainError`]: a stale revision or a state that no longer allows the step is a `Conflict`,
//! a value to correct is `Invalid` on its field.

use serde_json::json;

use super::model::{self, RequestKind, RequestState};
use super::repo::{self, AnnouncementFields, NewRevision};
use super::{NewWindow, WindowError, repo_requests};
use crate::audit::{self, Actor};
use crate::auth::Principal;
use crate::db::{Conn, Db, Timestamp};
use crate::error::DomainError;

pub(super) const DOC_ANNOUNCEMENT: &str = "announcement";
pub(super) const DOC_RUNBOOK: &str = "runbook";

/// Who makes a change: named in revisions, events and messages, and the audit actor.
pub struct Editor<'a> {
    pub login_id: &'a str,
    pub name: &'a str,
    pub role_label: &'a str,
    pub actor: Actor,
}

impl<'a> Editor<'a> {
    pub fn of(p: &'a Principal, client_addr: &str) -> Self {
        Editor {
            login_id: &p.login_id,
            name: &p.display_name,
            role_label: p.role.label(),
            actor: Actor::of(p, client_addr),
        }
    }
}

impl From<WindowError> for DomainError {
    fn from(e: WindowError) -> Self {
        match e {
            WindowError::NoTitle => DomainError::invalid("title", e.to_string()),
            WindowError::EndsBeforeStart => DomainError::invalid("ends_at", e.to_string()),
            WindowError::Db(e) => e.into(),
        }
    }
}

/// The two kinds of documents that keep revisions.
#[derive(Clone, Copy)]
enum Doc {
    Announcement,
    Runbook,
}

impl Doc {
    fn key(self) -> &'static str {
        match self {
            Doc::Announcement => DOC_ANNOUNCEMENT,
            Doc::Runbook => DOC_RUNBOOK,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Doc::Announcement => "announcement",
            Doc::Runbook => "runbook",
        }
    }
}

/// One saved state of a document: its revision number, content and why it was made.
struct Saved<'a> {
    revision: i64,
    title: &'a str,
    body_md: &'a str,
    note: &'a str,
}

/// Keeps a revision of a document and the audit event `portal.<doc>_<verb>` of the change, on
/// the caller's transaction: every save, restore and creation goes through here.
#[allow(clippy::too_many_arguments)]
async fn record_revision(
    conn: &mut Conn,
    doc: Doc,
    id: i64,
    saved: &Saved<'_>,
    verb: &str,
    details: serde_json::Value,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    repo::insert_revision(
        conn,
        &NewRevision {
            doc_kind: doc.key(),
            doc_id: id,
            revision: saved.revision,
            title: saved.title,
            body_md: saved.body_md,
            author_login: e.login_id,
            author_name: e.name,
            note: saved.note,
        },
        now,
    )
    .await?;
    audit::record(
        conn,
        now,
        &e.actor,
        &format!("portal.{}_{verb}", doc.name()),
        &format!("portal_{}:{id}", doc.name()),
        details,
    )
    .await?;
    Ok(())
}

fn saved_concurrently() -> DomainError {
    DomainError::conflict("他の人が同時に保存しました。もう一度お試しください。")
}

/// Creates (`id` none) or updates an announcement based on `base_revision`; returns its id and
/// the new revision. A save based on a stale revision is a `Conflict` (no lost update).
pub async fn save_announcement(
    db: &Db,
    id: Option<i64>,
    fields: &AnnouncementFields<'_>,
    base_revision: i64,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(i64, i64), DomainError> {
    let mut tx = db.begin().await?;
    let (id, revision, verb) = match id {
        None => {
            let id = repo::insert_announcement(&mut tx, fields, e.login_id, now).await?;
            (id, 1, "created")
        }
        Some(id) => {
            let old = repo::find_announcement(&mut tx, id).await?;
            let content_changed = old.title != fields.title || old.body_md != fields.body_md;
            let content_updated_at =
                if content_changed && model::is_change_after_publication(old.publish_at, now) {
                    Some(now)
                } else {
                    old.content_updated_at
                };
            let ok = repo::update_announcement(
                &mut tx,
                id,
                base_revision,
                fields,
                content_updated_at,
                now,
            )
            .await?;
            if !ok {
                return Err(DomainError::conflict(format!(
                    "編集中に他の人が保存しました（現在の版は第{}版です）。下の履歴で最新の内容を確認してから、もう一度保存してください。",
                    old.revision
                )));
            }
            (id, old.revision + 1, "updated")
        }
    };
    let saved = Saved {
        revision,
        title: fields.title,
        body_md: fields.body_md,
        note: if revision == 1 { "作成" } else { "編集" },
    };
    let details = json!({
        "revision": revision, "title": fields.title, "category": fields.category,
        "public": fields.is_public, "pinned": fields.pinned,
        "publish_at": fields.publish_at.to_db(), "expires_at": fields.expires_at.map(|t| t.to_db()),
    });
    record_revision(
        &mut tx,
        Doc::Announcement,
        id,
        &saved,
        verb,
        details,
        e,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((id, revision))
}

/// Copies an old revision's title and body into a new revision; returns the new revision.
pub async fn restore_announcement(
    db: &Db,
    id: i64,
    from: i64,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let a = repo::find_announcement(&mut tx, id).await?;
    let old = repo::find_revision(&mut tx, DOC_ANNOUNCEMENT, id, from).await?;
    let fields = AnnouncementFields {
        category: &a.category,
        title: &old.title,
        body_md: &old.body_md,
        is_public: a.is_public,
        pinned: a.pinned,
        publish_at: a.publish_at,
        expires_at: a.expires_at,
    };
    let changed = old.title != a.title || old.body_md != a.body_md;
    let content_updated_at = if changed && model::is_change_after_publication(a.publish_at, now) {
        Some(now)
    } else {
        a.content_updated_at
    };
    if !repo::update_announcement(&mut tx, id, a.revision, &fields, content_updated_at, now).await?
    {
        return Err(saved_concurrently());
    }
    let revision = a.revision + 1;
    let note = format!("第{from}版から復元");
    let saved = Saved {
        revision,
        title: &old.title,
        body_md: &old.body_md,
        note: &note,
    };
    let details = json!({"from_revision": from, "revision": revision});
    record_revision(
        &mut tx,
        Doc::Announcement,
        id,
        &saved,
        "restored",
        details,
        e,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(revision)
}

/// Adds a runbook (its first revision).
pub async fn create_runbook(
    db: &Db,
    title: &str,
    body: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = repo::insert_runbook(&mut tx, title, body, e.login_id, now).await?;
    let saved = Saved {
        revision: 1,
        title,
        body_md: body,
        note: "作成",
    };
    let details = json!({"title": title});
    record_revision(
        &mut tx,
        Doc::Runbook,
        id,
        &saved,
        "created",
        details,
        e,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves a runbook based on `base_revision`; returns the new revision. Stale: `Conflict`.
pub async fn update_runbook(
    db: &Db,
    id: i64,
    base_revision: i64,
    title: &str,
    body: &str,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let updated =
        repo::update_runbook(&mut tx, id, base_revision, title, body, e.login_id, now).await?;
    if !updated {
        return Err(DomainError::conflict(
            "編集中に他の人が保存しました。履歴で最新の内容を確認してから、もう一度保存してください。",
        ));
    }
    let revision = base_revision + 1;
    let saved = Saved {
        revision,
        title,
        body_md: body,
        note: "編集",
    };
    let details = json!({"title": title, "revision": revision});
    record_revision(
        &mut tx,
        Doc::Runbook,
        id,
        &saved,
        "updated",
        details,
        e,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(revision)
}

/// Copies an old runbook revision into a new one; returns the new revision.
pub async fn restore_runbook(
    db: &Db,
    id: i64,
    from: i64,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let r = repo::find_runbook(&mut tx, id).await?;
    let old = repo::find_revision(&mut tx, DOC_RUNBOOK, id, from).await?;
    let ok = repo::update_runbook(
        &mut tx,
        id,
        r.revision,
        &old.title,
        &old.body_md,
        e.login_id,
        now,
    )
    .await?;
    if !ok {
        return Err(saved_concurrently());
    }
    let revision = r.revision + 1;
    let note = format!("第{from}版から復元");
    let saved = Saved {
        revision,
        title: &old.title,
        body_md: &old.body_md,
        note: &note,
    };
    let details = json!({"from_revision": from, "revision": revision});
    record_revision(
        &mut tx,
        Doc::Runbook,
        id,
        &saved,
        "restored",
        details,
        e,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(revision)
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
    conn: &mut Conn,
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
