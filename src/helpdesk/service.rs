//! Operations that change an inquiry: each is one transaction with its audit event.

use super::model::{self, Change, ClockReading, Status};
use super::repo::{self, Entry, Inquiry, NewEntry, NewInquiry};
use super::repo_files::{self, FileMeta, NewFile};
use crate::audit::{self, Actor};
use crate::calendar::BusinessCalendar;
use crate::db::{Db, Timestamp, Tx};
use crate::error::DomainError;

pub async fn create(
    db: &Db,
    n: &NewInquiry<'_>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = repo::insert_inquiry(&mut tx, n, Status::Received.label(), now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "helpdesk.inquiry_received",
        &format!("inquiry:{id}"),
        serde_json::json!({
            "channel": n.channel, "category": n.category, "requester": n.requester_name,
            "facility": n.facility_name, "subject": n.subject,
            "account_request_id": n.account_request_id, "incident_id": n.incident_id,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Who wrote an entry and in which role.
pub enum Author<'a> {
    Staff {
        account_id: i64,
        name: &'a str,
        method: &'a str,
        status: Status,
        public: bool,
    },
    Requester {
        account_id: i64,
        name: &'a str,
    },
    Correction {
        account_id: i64,
        name: &'a str,
        corrects: Option<i64>,
    },
}

/// Appends an entry and moves the inquiry's status and clock columns with it.
pub async fn add_entry(
    db: &Db,
    inquiry_id: i64,
    author: Author<'_>,
    content: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    add_entry_with_files(db, inquiry_id, author, content, &[], actor, now).await
}

/// [`add_entry`] with the files sent along (already in the blob store): the entry, its file
/// rows (public as the entry is: a memo's files are the staff's) and the audit events are one
/// transaction.
pub async fn add_entry_with_files(
    db: &Db,
    inquiry_id: i64,
    author: Author<'_>,
    content: &str,
    files: &[FileMeta],
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let inq = repo::find(&mut tx, inquiry_id).await?;
    let current = Status::parse(&inq.status).unwrap_or(Status::Received);
    let mut first = inq.first_response_at;
    let (kind, actor_id, name, method, status, public, corrects) = match author {
        Author::Staff {
            account_id,
            name,
            method,
            status,
            public,
        } => {
            if !current.may_become(status) {
                return Err(DomainError::invalid(
                    "status",
                    "その状態には変更できません。",
                ));
            }
            // Only an answer the requester can read is a response; an internal memo is not.
            if public {
                first = first.or(Some(now));
            }
            ("response", account_id, name, method, status, public, None)
        }
        Author::Requester { account_id, name } => {
            // The requester's reply ends the wait (and reopens a finished inquiry).
            let status = match current {
                Status::Waiting | Status::Done => Status::InProgress,
                s => s,
            };
            (
                "requester",
                account_id,
                name,
                "Webフォーム",
                status,
                true,
                None,
            )
        }
        Author::Correction {
            account_id,
            name,
            corrects,
        } => {
            if let Some(c) = corrects {
                let ok = repo::entries(&mut tx, inquiry_id)
                    .await?
                    .iter()
                    .any(|e| e.id == c);
                if !ok {
                    return Err(DomainError::invalid(
                        "corrects",
                        "訂正する記録が見つかりません。",
                    ));
                }
            }
            (
                "correction",
                account_id,
                name,
                "訂正",
                current,
                true,
                corrects,
            )
        }
    };
    let completed = if status == Status::Done {
        if current == Status::Done {
            inq.completed_at
        } else {
            Some(now)
        }
    } else {
        None
    };
    let entry_id = repo::insert_entry(
        &mut tx,
        &NewEntry {
            inquiry_id,
            kind,
            at: now,
            actor_account_id: Some(actor_id),
            actor_name: name,
            method,
            content,
            status_after: status.label(),
            public,
            corrects_entry_id: corrects,
        },
    )
    .await?;
    repo::update_state(&mut tx, inquiry_id, status.label(), first, completed).await?;
    if kind == "response"
        && public
        && let Some(requester) = inq.requester_account_id
    {
        notify_answer(&mut tx, &inq, requester, content, now).await?;
    }
    audit::record(
        &mut tx,
        now,
        actor,
        &format!("helpdesk.{kind}_added"),
        &format!("inquiry:{inquiry_id}"),
        serde_json::json!({
            "entry_id": entry_id, "method": method, "status_from": current.label(),
            "status_to": status.label(), "corrects_entry_id": corrects,
        }),
    )
    .await?;
    let uploader = Uploader {
        account_id: actor_id,
        name,
    };
    add_files(
        &mut tx,
        inquiry_id,
        Some(entry_id),
        public,
        &uploader,
        files,
        actor,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(entry_id)
}

/// Who uploads a file.
pub struct Uploader<'a> {
    pub account_id: i64,
    pub name: &'a str,
}

/// Records files (in the blob store already) of an inquiry, or of one of its entries, each
/// with its audit event, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn add_files(
    tx: &mut Tx,
    inquiry_id: i64,
    entry_id: Option<i64>,
    public: bool,
    uploader: &Uploader<'_>,
    files: &[FileMeta],
    actor: &Actor,
    now: Timestamp,
) -> sqlx::Result<()> {
    for f in files {
        let fid = repo_files::insert(
            tx,
            &NewFile {
                inquiry_id,
                entry_id,
                file: f,
                public,
                account_id: uploader.account_id,
                by: uploader.name,
            },
            now,
        )
        .await?;
        audit::record(
            tx,
            now,
            actor,
            "helpdesk.attachment_added",
            &format!("inquiry:{inquiry_id}"),
            serde_json::json!({"attachment": fid, "entry_id": entry_id,
                "file_name": f.file_name, "content_type": f.content_type,
                "sha256": f.hash, "size": f.size, "public": public}),
        )
        .await?;
    }
    Ok(())
}

/// Tells the requester (who asked through the portal) that the helpdesk answered.
async fn notify_answer(
    conn: &mut crate::db::Tx,
    inq: &Inquiry,
    requester: i64,
    content: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    let id = inq.id;
    crate::notifications::notify(
        conn,
        requester,
        &crate::notifications::Notice {
            kind: crate::notifications::Kind::HelpdeskAnswered,
            subject: &format!("問い合わせ #{id} にヘルプデスクから回答がありました"),
            body: &format!("問い合わせ #{id}「{}」への回答:\n\n{content}", inq.subject),
            link_path: &format!("/support/{id}"),
        },
        now,
    )
    .await?;
    Ok(())
}

/// The status changes recorded in an inquiry's entries, in order.
pub fn changes(entries: &[Entry]) -> Vec<Change> {
    let mut out = Vec::new();
    let mut last = Status::Received;
    for e in entries {
        if let Some(s) = Status::parse(&e.status_after)
            && s != last
        {
            out.push(Change {
                at: e.at.as_jiff(),
                to: s,
            });
            last = s;
        }
    }
    out
}

pub fn clock(
    cal: &BusinessCalendar,
    inq: &Inquiry,
    entries: &[Entry],
    now: Timestamp,
) -> ClockReading {
    model::read_clock(
        cal,
        inq.received_at.as_jiff(),
        inq.first_response_at.map(|t| t.as_jiff()),
        &changes(entries),
        now.as_jiff(),
    )
}

/// Whether an unfinished inquiry is past one of its targets.
pub fn overdue(r: &ClockReading, settings: &super::model::HelpdeskSettings) -> bool {
    let hours = |h: i64| jiff::SignedDuration::from_hours(h);
    !r.done
        && ((!r.responded && r.first_response > hours(settings.first_response_hours))
            || r.resolution > hours(settings.resolution_hours))
}
