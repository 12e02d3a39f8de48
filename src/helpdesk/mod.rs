//! The helpdesk (R15.1–R15.3): every inquiry and every response is recorded.
//!
//! Rules:
//! - An inquiry comes in by 電話 / メール / FAX / Webフォーム / 窓口, has one of the eight
//!   categories of R15.2, the person and facility, the content, and optionally the id of an
//!   account request or an incident it concerns (the incident must exist; an incident drafted
//!   from an inquiry links it through [`link_incident`], and the incident's page lists its
//!   inquiries through [`inquiries_of_incident`]).
//! - Status 受付 → 対応中 → 回答待ち → 完了. Staff responses record who, when, how and what and
//!   set the status; a requester's reply ends 回答待ち (and reopens 完了). Nothing is deleted or
//!   edited: a correction is a new entry that names the entry it corrects.
//! - Users and facility managers ask through the portal (`/support`) and see only their own
//!   inquiries and the public answers (anyone else's reads as not found, and the attempt is
//!   audited: `web::ObjectGuard`). Outside business hours the form says when the helpdesk
//!   next opens ([`crate::calendar`]).
//! - System operators and administrators handle inquiries (`/helpdesk`).
//! - The response clock counts business time only and pauses while 回答待ち; targets come from
//!   `[helpdesk]`; overdue inquiries are highlighted in the list and counted on the dashboard.
//! - A team works the list (issue 15 item 5): an inquiry has an assignee (an active account of
//!   the helpdesk roles, told through `notifications` when assigned by someone else) and a
//!   priority (緊急・高・通常・低). The list searches (number, subject, content, requester,
//!   facility), filters (status, assignee, priority, facility), sorts and pages with counts.
//! - A response's method defaults to the way the inquiry came in ([`model::default_method`]).
//!   A public staff response notifies the requester who asked through the portal; an internal
//!   memo does not (and does not count as the first response).
//! - Canned replies are kept by the staff (`/helpdesk/canned`; retired with a reason, never
//!   deleted) and inserted into the response form by a plain GET (no JavaScript).
//! - A duplicate is merged into the kept inquiry with confirmation and a reason: the duplicate
//!   is closed (完了) with an entry naming the kept one, and its messages stay on its page.
//! - Files are attached to an inquiry by the requester and the staff (a staff file may be an
//!   internal memo's), checked, stored and served as [`files`] says. A reply (a staff response
//!   or memo, the requester's reply) may carry files in the same submit (multipart, no
//!   JavaScript): the reply, its file rows (`entry_id`) and their audit events are one
//!   transaction, each file is shown under its reply, a memo's files are the staff's only, and a
//!   refused file (type, over 10 MB) saves nothing and brings the form back with the text.
//! - The monthly report is a page (printable), CSV (UTF-8 with BOM) and Excel.
//! - Every change writes its audit event in the same transaction.
//!
//! Which file holds what: handlers in `routes.rs` (recording an inquiry, its page, the helpers
//! the others share), `routes_list.rs` (the staff's list), `routes_reply.rs` (responses, memos,
//! corrections), `routes_report.rs` (the monthly report), `routes_team.rs` (assignment, merge,
//! canned replies), `files.rs` and `uploads.rs` (attachments), `portal.rs` (the requesters'
//! side); state changes in `service.rs` / `service_team.rs`; SQL in `repo.rs`, `repo_team.rs`,
//! `repo_files.rs`; the report's figures in `report.rs`; page structs in `views.rs`.

mod files;
pub mod model;
mod portal;
mod repo;
mod repo_files;
mod repo_team;
pub mod report;
mod routes;
mod routes_list;
mod routes_reply;
mod routes_report;
mod routes_team;
pub mod service;
mod service_team;
mod uploads;
mod views;

use crate::auth::Principal;
use crate::auth::Role;
use crate::calendar::BusinessCalendar;
use crate::db::{Conn, Timestamp};
use crate::domain::Domain;
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

pub use model::HelpdeskSettings;

pub use model::{STAFF, staff_role_keys};

/// Who asks through the portal.
pub const REQUESTERS: &[Role] = &[Role::User, Role::FacilityManager];

pub fn domain() -> Domain {
    Domain::new("helpdesk")
        .routes(routes())
        .nav("", 30, "/support", "問い合わせ")
        .nav("ヘルプデスク", 300, "/helpdesk", "ヘルプデスク")
        .settings::<HelpdeskSettings>()
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .demo(40, |db, now, fresh| {
            Box::pin(async move {
                if fresh {
                    seed_demo(db, now)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                Ok(Vec::new())
            })
        })
}

/// Unfinished inquiries and how many are past their target, for the staff.
async fn cards(state: &AppState, p: &Principal, now: Timestamp) -> anyhow::Result<Vec<Card>> {
    if !STAFF.contains(&p.role) {
        return Ok(Vec::new());
    }
    let mut conn = state.db.pool().acquire().await?;
    let cal = crate::calendar::load(&mut conn, &state.settings.calendar).await?;
    let settings = state.section::<HelpdeskSettings>();
    let (open, overdue) = open_and_overdue(&mut conn, &cal, &settings, now).await?;
    Ok(vec![Card {
        title: "ヘルプデスクの未完了".into(),
        value: format!("{open} 件"),
        note: if overdue > 0 {
            format!("うち {overdue} 件が目標時間を超えています")
        } else {
            "目標時間を超えたものはありません".into()
        },
        tone: if overdue > 0 {
            "alert"
        } else if open > 0 {
            "warn"
        } else {
            "ok"
        },
        href: "/helpdesk".into(),
    }])
}

fn routes() -> Routes {
    let staff = Access::Roles(STAFF);
    let req = Access::Roles(REQUESTERS);
    Routes::new()
        .get("/helpdesk", staff, routes_list::index)
        .get("/helpdesk/new", staff, routes::new_form)
        .post("/helpdesk", staff, routes::create)
        .get("/helpdesk/reports", staff, routes_report::report)
        .get(
            "/helpdesk/reports/export.csv",
            staff,
            routes_report::report_csv,
        )
        .get(
            "/helpdesk/reports/export.xlsx",
            staff,
            routes_report::report_xlsx,
        )
        .get("/helpdesk/{id}", staff, routes::show)
        .post_upload("/helpdesk/{id}/responses", staff, routes_reply::respond)
        .post("/helpdesk/{id}/corrections", staff, routes_reply::correct)
        .post_upload("/helpdesk/{id}/attachments", staff, files::staff_attach)
        .get(
            "/helpdesk/{id}/attachments/{n}",
            staff,
            files::staff_download,
        )
        .post("/helpdesk/{id}/assignment", staff, routes_team::assign)
        .get("/helpdesk/{id}/merge", staff, routes_team::merge_form)
        .post("/helpdesk/{id}/merge", staff, routes_team::merge)
        .get("/helpdesk/canned", staff, routes_team::canned_index)
        .post("/helpdesk/canned", staff, routes_team::canned_create)
        .post(
            "/helpdesk/canned/{id}/retire",
            staff,
            routes_team::canned_retire,
        )
        .get("/support", req, portal::index)
        .get("/support/new", req, portal::new_form)
        .post("/support", req, portal::create)
        .get("/support/{id}", req, portal::show)
        .post_upload("/support/{id}/reply", req, portal::reply)
        .post_upload("/support/{id}/attachments", req, files::portal_attach)
        .get("/support/{id}/attachments/{n}", req, files::portal_download)
}

/// Unfinished and overdue inquiries, for the dashboard.
pub async fn open_and_overdue(
    conn: &mut Conn,
    cal: &BusinessCalendar,
    settings: &HelpdeskSettings,
    now: Timestamp,
) -> anyhow::Result<(usize, usize)> {
    let open = repo::list(conn, None, true, 10_000).await?;
    let mut overdue = 0;
    for inq in &open {
        let entries = repo::entries(conn, inq.id).await?;
        if service::overdue(&service::clock(cal, inq, &entries, now), settings) {
            overdue += 1;
        }
    }
    Ok((open.len(), overdue))
}

/// A few inquiries for `rainbownet demo`, so the pages and the report are not empty.
pub async fn seed_demo(db: &crate::db::Db, now: Timestamp) -> crate::error::AppResult<()> {
    let actor = crate::audit::Actor::system("demo");
    // Every sample comes from a facility of the demo network (facilities seed first).
    let samples = [
        (
            "電話",
            "利用開始時",
            "2310000002",
            "清須 花子",
            "初回ログインの方法",
            "初期パスワードでログインできません。",
        ),
        (
            "メール",
            "障害対応・復旧時間",
            "2310000001",
            "西 一郎（地域連携室）",
            "画像が表示されない",
            "今朝から画像が表示されません。復旧の見込みを教えてください。",
        ),
        (
            "FAX",
            "参加医療施設の案内",
            "2310000003",
            "東 次郎",
            "参加施設の一覧",
            "市内の参加医療施設の一覧を送ってください。",
        ),
    ];
    let mut conn = db.pool().acquire().await?;
    for (i, (channel, category, code, name, subject, content)) in samples.into_iter().enumerate() {
        let received = now.minus(jiff::SignedDuration::from_hours(30 * (i as i64 + 1)));
        let facility = match crate::facilities::id_by_code(&mut conn, code).await? {
            Some(id) => Some(crate::facilities::find(&mut conn, id).await?),
            None => None,
        };
        service::create(
            db,
            &repo::NewInquiry {
                received_at: received,
                channel,
                category,
                requester_account_id: None,
                requester_name: name,
                facility_id: facility.as_ref().map(|f| f.id),
                facility_name: facility.as_ref().map_or("", |f| f.name.as_str()),
                contact: "",
                subject,
                content,
                account_request_id: None,
                incident_id: None,
                created_by: None,
            },
            &actor,
            now,
        )
        .await?;
    }
    // Canned replies, so that the reply form's 挿入 and the 定型文 page show what they are for.
    for (title, body) in [
        (
            "初期パスワードの再発行",
            "お問い合わせありがとうございます。初期パスワードを再発行しました。貴施設の利用施設管理者からお受け取りのうえ、最初のログインで新しいパスワードに変更してください。",
        ),
        (
            "障害の調査中のお知らせ",
            "ご不便をおかけしております。現在、原因を調査しております。復旧の見込みが分かり次第、ポータルのお知らせでお伝えします。",
        ),
    ] {
        service_team::add_canned(db, title, body, &actor, now).await?;
    }
    Ok(())
}

/// The demo network: an inquiry a demo account sent through the portal's form, so that its
/// 問い合わせ page has a history (called by the accounts' demo seed, which knows the account).
pub async fn seed_own_demo(
    db: &crate::db::Db,
    requester: (i64, &str),
    facility: Option<(i64, &str)>,
    (subject, content): (&str, &str),
    received_at: Timestamp,
) -> crate::error::AppResult<i64> {
    let (account_id, name) = requester;
    Ok(service::create(
        db,
        &repo::NewInquiry {
            received_at,
            channel: "Webフォーム",
            category: "システム利用",
            requester_account_id: Some(account_id),
            requester_name: name,
            facility_id: facility.map(|f| f.0),
            facility_name: facility.map_or("", |f| f.1),
            contact: "",
            subject,
            content,
            account_request_id: None,
            incident_id: None,
            created_by: Some(account_id),
        },
        &crate::audit::Actor::system("demo"),
        received_at,
    )
    .await?)
}

/// The demo network: the helpdesk staff member `staff` takes the demo account's inquiry and
/// answers it, through the same services as the pages (so the assignee and the requester are
/// notified by them, and each notice matches the inquiry's state: issue 15 item 9).
pub async fn answer_own_demo(
    db: &crate::db::Db,
    inquiry_id: i64,
    staff: (i64, &str),
    answer: &str,
    at: Timestamp,
) -> crate::error::AppResult<()> {
    let actor = crate::audit::Actor::system("demo");
    // Assigned by the system (not by the staff member), so the assignee is told.
    service_team::assign(db, inquiry_id, Some(staff.0), "通常", 0, &actor, at).await?;
    let author = service::Author::Staff {
        account_id: staff.0,
        name: staff.1,
        method: "Webフォーム",
        status: model::Status::Waiting,
        public: true,
    };
    let later = at.plus(jiff::SignedDuration::from_hours(1));
    service::add_entry(db, inquiry_id, author, answer, &actor, later).await?;
    Ok(())
}

// ---- for incidents (issue 13): the inquiry's `incident_id` as a real reference ----

/// An inquiry as an incident sees it (to pre-fill a new incident, or to list its links).
#[derive(Clone, Debug)]
pub struct InquiryLink {
    pub id: i64,
    pub received_at: Timestamp,
    pub requester: String,
    pub subject: String,
    pub content: String,
    pub status: String,
    pub incident_id: Option<i64>,
}

impl From<repo::Inquiry> for InquiryLink {
    fn from(i: repo::Inquiry) -> Self {
        InquiryLink {
            id: i.id,
            received_at: i.received_at,
            requester: if i.facility_name.is_empty() {
                i.requester_name
            } else {
                format!("{}（{}）", i.requester_name, i.facility_name)
            },
            subject: i.subject,
            content: i.content,
            status: i.status,
            incident_id: i.incident_id,
        }
    }
}

/// One inquiry, if it exists.
pub async fn inquiry_for_incident(conn: &mut Conn, id: i64) -> sqlx::Result<Option<InquiryLink>> {
    match repo::find(conn, id).await {
        Ok(i) => Ok(Some(i.into())),
        Err(sqlx::Error::RowNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Links an inquiry to an incident on the caller's transaction (the incident audits it);
/// false when the inquiry is already linked to an incident.
pub async fn link_incident(
    conn: &mut Conn,
    inquiry_id: i64,
    incident_id: i64,
) -> sqlx::Result<bool> {
    repo::link_incident(conn, inquiry_id, incident_id).await
}

/// The inquiries linked to an incident.
pub async fn inquiries_of_incident(
    conn: &mut Conn,
    incident_id: i64,
) -> sqlx::Result<Vec<InquiryLink>> {
    Ok(repo::of_incident(conn, incident_id)
        .await?
        .into_iter()
        .map(InquiryLink::from)
        .collect())
}
