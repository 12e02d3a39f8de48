//! State changes of the portal's documents: announcements and runbooks, each save a revision
//! (change requests and schedule windows are `service_requests`). Each is one transaction with its audit event and fails with a
//! [`DomainError`]: a stale revision or a state that no longer allows the step is a `Conflict`,
//! a value to correct is `Invalid` on its field.

use serde_json::json;

use super::model;
use super::repo::{self, AnnouncementFields, NewRevision};
use crate::audit::{self, Actor};
use crate::auth::Principal;
use crate::db::{Db, Timestamp, Tx};
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
    conn: &mut Tx,
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

/// The revision and event of a restore: the old revision's content saved again as `revision`.
#[allow(clippy::too_many_arguments)]
async fn record_restore(
    conn: &mut Tx,
    doc: Doc,
    id: i64,
    from: i64,
    revision: i64,
    old: &repo::Revision,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(), DomainError> {
    let note = format!("第{from}版から復元");
    let saved = Saved {
        revision,
        title: &old.title,
        body_md: &old.body_md,
        note: &note,
    };
    let details = json!({"from_revision": from, "revision": revision});
    record_revision(conn, doc, id, &saved, "restored", details, e, now).await
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
    let saved = save_announcement_in(&mut tx, id, fields, base_revision, e, now).await?;
    tx.commit().await?;
    Ok(saved)
}

/// [`save_announcement`] on the caller's transaction.
pub async fn save_announcement_in(
    tx: &mut Tx,
    id: Option<i64>,
    fields: &AnnouncementFields<'_>,
    base_revision: i64,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<(i64, i64), DomainError> {
    let (id, revision, verb) = match id {
        None => {
            let id = repo::insert_announcement(tx, fields, e.login_id, now).await?;
            (id, 1, "created")
        }
        Some(id) => {
            let old = repo::find_announcement(tx, id).await?;
            let content_changed = old.title != fields.title || old.body_md != fields.body_md;
            let content_updated_at =
                if content_changed && model::is_change_after_publication(old.publish_at, now) {
                    Some(now)
                } else {
                    old.content_updated_at
                };
            let ok =
                repo::update_announcement(tx, id, base_revision, fields, content_updated_at, now)
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
    record_revision(tx, Doc::Announcement, id, &saved, verb, details, e, now).await?;
    Ok((id, revision))
}

/// What another domain publishes as an announcement (backups: when they run, R21.2).
pub struct Notice<'a> {
    pub category: model::Category,
    pub title: &'a str,
    pub body_md: &'a str,
    /// Also on the log-in page and in the feed.
    pub is_public: bool,
    /// Hidden from then on (`Some(now)` takes it down).
    pub expires_at: Option<Timestamp>,
}

/// Publishes an announcement on behalf of another domain, on the caller's transaction: creates
/// it, or — given the id of one published before — saves the new text as its next revision (a
/// change of text after publication marks it 更新). Nothing is saved when nothing changed.
/// Returns the announcement's id.
pub async fn publish_notice_in(
    tx: &mut Tx,
    existing: Option<i64>,
    n: &Notice<'_>,
    e: &Editor<'_>,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let old = match existing {
        Some(id) => match repo::find_announcement(tx, id).await {
            Ok(a) => Some(a),
            Err(sqlx::Error::RowNotFound) => None,
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let fields = AnnouncementFields {
        category: n.category.key(),
        title: n.title,
        body_md: n.body_md,
        is_public: n.is_public,
        pinned: false,
        publish_at: old.as_ref().map_or(now, |a| a.publish_at.min(now)),
        expires_at: n.expires_at,
    };
    match old {
        Some(a)
            if a.title == fields.title
                && a.body_md == fields.body_md
                && a.is_public == fields.is_public
                && a.category == fields.category
                && a.expires_at == fields.expires_at =>
        {
            Ok(a.id)
        }
        Some(a) => {
            let (id, _) = save_announcement_in(tx, Some(a.id), &fields, a.revision, e, now).await?;
            Ok(id)
        }
        None => {
            let (id, _) = save_announcement_in(tx, None, &fields, 0, e, now).await?;
            Ok(id)
        }
    }
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
    record_restore(&mut tx, Doc::Announcement, id, from, revision, &old, e, now).await?;
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
    record_restore(&mut tx, Doc::Runbook, id, from, revision, &old, e, now).await?;
    tx.commit().await?;
    Ok(revision)
}
