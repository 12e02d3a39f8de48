//! The requesters' side (`/support`): users and facility managers ask, and see their own
//! inquiries with the public answers. Outside business hours the form says when the helpdesk
//! next opens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};

use super::model::CATEGORIES;
use super::repo::{self, Inquiry, NewInquiry};
use super::routes::{calendar, check_common, clip, entry_view, row};
use super::service::{self, Author};
use super::uploads;
use super::views::*;
use crate::auth::{Owned, Owner, Principal};
use crate::calendar::{BusinessCalendar, Closed, Openness};
use crate::db::{Conn, Timestamp};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::render;
use crate::web::{Caller, ObjectGuard, Page, Upload, flash_redirect};

/// The "closed now, open again at …" notice, or None while open.
fn closed_notice(cal: &BusinessCalendar, now: Timestamp) -> Option<String> {
    match cal.is_open(now.as_jiff()) {
        Openness::Open => None,
        Openness::Closed(reason) => Some(match cal.next_opening(now.as_jiff()) {
            Some(t) => format!(
                "ただいまヘルプデスクは営業時間外です{}。お問い合わせは受け付けますが、回答は次の営業開始 {} 以降になります。",
                match reason {
                    Closed::OutsideHours => String::new(),
                    other => format!("（{}）", other.label()),
                },
                cal.describe(t)
            ),
            None => "ただいまヘルプデスクは営業時間外です。".into(),
        }),
    }
}

fn hours_text(cal: &BusinessCalendar) -> String {
    let h = cal.hours();
    format!(
        "{} {}〜{}（祝日・年末年始を除く）",
        h.days
            .iter()
            .map(|w| crate::calendar::weekday_ja(*w))
            .collect::<Vec<_>>()
            .join("・"),
        h.opens.strftime("%-H:%M"),
        h.closes.strftime("%-H:%M")
    )
}

/// An inquiry as the portal shows it: its requester's own (one taken by phone without an
/// account is the helpdesk's).
struct Asked(Inquiry);

impl Owned for Asked {
    fn owner(&self) -> Owner {
        match self.0.requester_account_id {
            Some(a) => Owner::Account(a),
            None => Owner::Network,
        }
    }

    fn audit_target(&self) -> String {
        format!("inquiry:{}", self.0.id)
    }
}

/// The inquiry if it is the requester's own; otherwise not found (no hint that it exists, and
/// the attempt is recorded).
async fn own(conn: &mut Conn, guard: &ObjectGuard, id: i64) -> AppResult<Inquiry> {
    let found = match repo::find(conn, id).await {
        Ok(inq) => Some(Asked(inq)),
        Err(sqlx::Error::RowNotFound) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(guard.check(found).await?.0)
}

/// The requester's own inquiry `id` (anyone else's: not found, audited).
pub(super) async fn own_inquiry(
    state: &AppState,
    guard: &ObjectGuard,
    id: i64,
) -> AppResult<Inquiry> {
    let mut conn = state.db.pool().acquire().await?;
    own(&mut conn, guard, id).await
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
) -> AppResult<Response> {
    let now = state.now();
    let cal = calendar(&state).await?;
    let mut conn = state.db.pool().acquire().await?;
    let mut rows = Vec::new();
    for inq in repo::list(&mut conn, Some(p.account_id), false, 500).await? {
        let entries = repo::entries(&mut conn, inq.id).await?;
        rows.push(row(&state, &cal, &inq, &entries, now));
    }
    render(
        PortalIndexPage {
            page: page.titled("ヘルプデスクへの問い合わせ"),
            rows,
            notice: closed_notice(&cal, now),
        },
        StatusCode::OK,
    )
}

async fn new_page(
    state: &AppState,
    page: Page,
    form: InquiryForm,
    errors: Vec<(&'static str, String)>,
) -> AppResult<PortalNewPage> {
    let cal = calendar(state).await?;
    Ok(PortalNewPage {
        page: page.titled("問い合わせる"),
        form,
        errors,
        categories: CATEGORIES,
        notice: closed_notice(&cal, state.now()),
        hours: hours_text(&cal),
    })
}

pub async fn new_form(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let view = new_page(&state, page, InquiryForm::default(), Vec::new()).await?;
    render(view, StatusCode::OK)
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Form(f): Form<InquiryForm>,
) -> AppResult<Response> {
    let now = state.now();
    let mut errors = Vec::new();
    check_common(&f, &mut errors);
    if !errors.is_empty() {
        let view = new_page(&state, page, f, errors).await?;
        return render(view, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let mut conn = state.db.pool().acquire().await?;
    let facility = match p.facility_id {
        Some(fid) => repo::facility_name(&mut conn, fid)
            .await?
            .unwrap_or_default(),
        None => String::new(),
    };
    drop(conn);
    let (subject, content, contact) = (
        clip(&f.subject, 200),
        clip(&f.content, 10_000),
        clip(&f.contact, 200),
    );
    let id = service::create(
        &state.db,
        &NewInquiry {
            received_at: now,
            channel: "Webフォーム",
            category: &f.category,
            requester_account_id: Some(p.account_id),
            requester_name: &p.display_name,
            facility_id: p.facility_id,
            facility_name: &facility,
            contact: &contact,
            subject: &subject,
            content: &content,
            account_request_id: None,
            incident_id: None,
            created_by: Some(p.account_id),
        },
        &actor,
        now,
    )
    .await?;
    let cal = calendar(&state).await?;
    let msg = match closed_notice(&cal, now) {
        None => format!("問い合わせ #{id} を受け付けました。"),
        Some(_) => format!(
            "問い合わせ #{id} を受け付けました。回答は次の営業開始 {} 以降になります。",
            cal.next_opening(now.as_jiff())
                .map(|t| cal.describe(t))
                .unwrap_or_default()
        ),
    };
    Ok(flash_redirect(&state, &format!("/support/{id}"), &msg))
}

pub(super) async fn show_page(
    state: &AppState,
    page: Page,
    guard: &ObjectGuard,
    id: i64,
    error: Option<String>,
) -> AppResult<Response> {
    show_page_kept(state, page, guard, id, error, String::new()).await
}

/// The inquiry's page with `draft` (a refused reply's text) kept in the reply form.
async fn show_page_kept(
    state: &AppState,
    page: Page,
    guard: &ObjectGuard,
    id: i64,
    error: Option<String>,
    draft: String,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let inq = own(&mut conn, guard, id).await?;
    let entries = repo::entries(&mut conn, id).await?;
    // Only what the requester may read: public entries, and public files.
    let mut entries: Vec<EntryView> = entries
        .iter()
        .filter(|e| e.public)
        .map(entry_view)
        .collect();
    let files = file_views(&mut conn, id, false, "/support").await?;
    let attachments = place_files(&mut entries, files);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        PortalShowPage {
            page: page.titled(format!("問い合わせ #{id}")),
            received: inq.received_at.jst(),
            inq,
            entries,
            attachments,
            error,
            draft,
        },
        status,
    )
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    show_page(&state, page, &guard, id, None).await
}

/// `POST /support/{id}/reply` (a form, or multipart with files and the CSRF token in the
/// query): the requester's reply with the files sent along. Refused: the page comes back with
/// the typed text, nothing saved.
pub async fn reply(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    up: Upload,
) -> AppResult<Response> {
    own_inquiry(&state, &guard, id).await?;
    let content = up.field("content").to_string();
    let files = match up.files().and_then(uploads::check) {
        Ok(_) if content.trim().is_empty() => Err("返信内容を入力してください。".to_string()),
        other => other,
    };
    let files = match files {
        Ok(files) => files,
        Err(e) => return show_page_kept(&state, page, &guard, id, Some(e), content).await,
    };
    let (files, _writing) = uploads::put_blobs(&state, files).await?;
    service::add_entry_with_files(
        &state.db,
        id,
        Author::Requester {
            account_id: p.account_id,
            name: &p.display_name,
        },
        &clip(&content, 10_000),
        &files,
        &actor,
        state.now(),
    )
    .await?;
    Ok(flash_redirect(
        &state,
        &format!("/support/{id}"),
        "返信を送りました。",
    ))
}
