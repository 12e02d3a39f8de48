//! Staff handlers of one inquiry: recording it (`/helpdesk/new`) and its page (`/helpdesk/{id}`),
//! and the pieces the other handler files share (the clock row, entry views, `clip`, `inquiry`).
//! The list is in `routes_list.rs`, responses and corrections in `routes_reply.rs`, the monthly
//! report in `routes_report.rs`, team work in `routes_team.rs`, files in `files.rs`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::model::{CATEGORIES, CHANNELS, METHODS, PRIORITIES, Status, default_method};
use super::repo::{self, Entry, Inquiry, NewInquiry};
use super::repo_team;
use super::service;
use super::service::overdue;
use super::views::*;
use crate::calendar::{BusinessCalendar, format_hours};
use crate::db::Timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

pub(super) async fn calendar(state: &AppState) -> AppResult<BusinessCalendar> {
    let mut conn = state.db.pool().acquire().await?;
    Ok(crate::calendar::load(&mut conn, &state.settings.calendar).await?)
}

pub(super) fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

pub(super) fn row(
    state: &AppState,
    cal: &BusinessCalendar,
    inq: &Inquiry,
    entries: &[Entry],
    now: Timestamp,
) -> Row {
    let clock = service::clock(cal, inq, entries, now);
    Row {
        id: inq.id,
        received: inq.received_at.jst(),
        channel: inq.channel.clone(),
        category: inq.category.clone(),
        requester: format!("{}（{}）", inq.requester_name, inq.facility_name),
        subject: inq.subject.clone(),
        status: inq.status.clone(),
        first_response: format!(
            "{}{}",
            format_hours(clock.first_response),
            if clock.responded { "" } else { "経過" }
        ),
        resolution: format_hours(clock.resolution),
        overdue: overdue(&clock, &state.section::<super::model::HelpdeskSettings>()),
        priority: inq.priority.clone(),
        assignee: String::new(),
    }
}

pub(super) fn entry_view(e: &Entry) -> EntryView {
    EntryView {
        id: e.id,
        kind: match e.kind.as_str() {
            "response" => "対応",
            "requester" => "問い合わせ者からの返信",
            "correction" => "訂正",
            "merge" => "統合",
            _ => "記録",
        },
        at: e.at.jst(),
        who: e.actor_name.clone(),
        method: e.method.clone(),
        content: e.content.clone(),
        status_after: e.status_after.clone(),
        public: e.public,
        corrects: e.corrects_entry_id,
        files: Vec::new(),
    }
}

pub(super) fn name_of(staff: &[(i64, String)], id: Option<i64>) -> String {
    match id {
        None => String::new(),
        Some(id) => staff
            .iter()
            .find(|(s, _)| *s == id)
            .map_or_else(|| format!("アカウント {id}"), |(_, n)| n.clone()),
    }
}

fn new_page(page: Page, form: InquiryForm, errors: Vec<(&'static str, String)>) -> NewPage {
    NewPage {
        page: page.titled("問い合わせの記録"),
        form,
        errors,
        channels: CHANNELS,
        categories: CATEGORIES,
    }
}

pub async fn new_form(page: Page) -> AppResult<Response> {
    let form = InquiryForm {
        channel: "電話".into(),
        ..InquiryForm::default()
    };
    render(new_page(page, form, Vec::new()), StatusCode::OK)
}

fn optional_id(
    s: &str,
    field: &'static str,
    errors: &mut Vec<(&'static str, String)>,
) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    match s.trim_start_matches('#').parse::<i64>() {
        Ok(v) if v > 0 => Some(v),
        _ => {
            errors.push((field, "番号は正の整数で入力してください。".into()));
            None
        }
    }
}

/// When a phone call or FAX came in, typed afterwards (Japan time); not in the future.
fn received_time(s: &str, now: Timestamp) -> Result<Timestamp, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(now);
    }
    let t = s
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(crate::db::tokyo()).ok())
        .map(|z| Timestamp::from(z.timestamp()))
        .ok_or("受付日時は 2026-11-30T10:00 の形で入力してください。")?;
    if t > now {
        return Err("受付日時に未来の日時は入力できません。");
    }
    Ok(t)
}

/// Checks the fields both forms share.
pub(super) fn check_common(f: &InquiryForm, errors: &mut Vec<(&'static str, String)>) {
    if !CATEGORIES.contains(&f.category.as_str()) {
        errors.push(("category", "分類を選んでください。".into()));
    }
    if f.subject.trim().is_empty() {
        errors.push(("subject", "件名を入力してください。".into()));
    }
    if f.content.trim().is_empty() {
        errors.push(("content", "内容を入力してください。".into()));
    }
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Form(f): Form<InquiryForm>,
) -> AppResult<Response> {
    let now = state.now();
    let mut errors = Vec::new();
    if !CHANNELS.contains(&f.channel.as_str()) {
        errors.push(("channel", "受付方法を選んでください。".into()));
    }
    check_common(&f, &mut errors);
    if f.requester_name.trim().is_empty() {
        errors.push((
            "requester_name",
            "問い合わせ者の氏名を入力してください。".into(),
        ));
    }
    let received_at = match received_time(&f.received_at, now) {
        Ok(t) => t,
        Err(e) => {
            errors.push(("received_at", e.into()));
            now
        }
    };
    let account_request_id = optional_id(&f.account_request_id, "account_request_id", &mut errors);
    let incident_id = optional_id(&f.incident_id, "incident_id", &mut errors);
    if let Some(i) = incident_id {
        let mut conn = state.db.pool().acquire().await?;
        if !repo::incident_exists(&mut conn, i).await? {
            errors.push(("incident_id", "その番号の障害は登録されていません。".into()));
        }
    }
    if !errors.is_empty() {
        return render(new_page(page, f, errors), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (name, facility, contact) = (
        clip(&f.requester_name, 100),
        clip(&f.facility_name, 200),
        clip(&f.contact, 200),
    );
    let (subject, content) = (clip(&f.subject, 200), clip(&f.content, 10_000));
    let id = service::create(
        &state.db,
        &NewInquiry {
            received_at,
            channel: &f.channel,
            category: &f.category,
            requester_account_id: None,
            requester_name: &name,
            facility_id: None,
            facility_name: &facility,
            contact: &contact,
            subject: &subject,
            content: &content,
            account_request_id,
            incident_id,
            created_by: Some(p.account_id),
        },
        &actor,
        now,
    )
    .await?;
    Ok(flash_redirect(
        &state,
        &format!("/helpdesk/{id}"),
        &format!("問い合わせ #{id} を受け付けました。"),
    ))
}

/// The inquiry's page with a refusal shown beside the form it answers (`form`: one of
/// [`FormAt`]), where the user is looking.
pub(super) async fn show_page(
    state: &AppState,
    page: Page,
    id: i64,
    form: FormAt,
    error: Option<String>,
) -> AppResult<Response> {
    show_page_with(state, page, id, error.map(|e| (form, e)), None, None).await
}

/// The inquiry's page; `error`: a refusal and the form it belongs to; `canned`: a canned reply
/// to insert; `kept`: the response typed before it was refused (wins over the canned reply).
pub(super) async fn show_page_with(
    state: &AppState,
    page: Page,
    id: i64,
    error: Option<(FormAt, String)>,
    canned: Option<i64>,
    kept: Option<ResponseForm>,
) -> AppResult<Response> {
    let kept = kept.unwrap_or_default();
    // A refused correction's text goes back into the correction form, not the response form.
    let (kept, correction) = match &error {
        Some((FormAt::Correction, _)) => (ResponseForm::default(), kept),
        _ => (kept, ResponseForm::default()),
    };
    let now = state.now();
    let cal = calendar(state).await?;
    let mut conn = state.db.pool().acquire().await?;
    let inq = repo::find(&mut conn, id).await?;
    let entries = repo::entries(&mut conn, id).await?;
    let r = row(state, &cal, &inq, &entries, now);
    let staff = repo_team::staff(&mut conn, &super::model::staff_role_keys()).await?;
    let replies = repo_team::canned(&mut conn).await?;
    let chosen = canned.and_then(|c| replies.iter().find(|r| r.id == c));
    let merged_from = repo_team::merged_from(&mut conn, id).await?;
    let mut entry_views: Vec<EntryView> = entries.iter().map(entry_view).collect();
    let files = file_views(&mut conn, id, true, "/helpdesk").await?;
    let attachments = place_files(&mut entry_views, files);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        ShowPage {
            page: page.titled(format!("問い合わせ #{id}")),
            received: inq.received_at.jst(),
            entries: entry_views,
            first_response: r.first_response,
            resolution: r.resolution,
            overdue: r.overdue,
            methods: METHODS,
            statuses: Status::ALL[1..].iter().map(|s| s.label()).collect(),
            error,
            default_method: default_method(&inq.channel),
            assignee_name: name_of(&staff, inq.assignee_account_id),
            staff,
            priorities: PRIORITIES,
            canned: replies.iter().map(|c| (c.id, c.title.clone())).collect(),
            chosen_canned: chosen.map(|c| c.id),
            draft: if kept.content.is_empty() {
                chosen.map(|c| c.body.clone()).unwrap_or_default()
            } else {
                kept.content
            },
            kept_method: kept.method,
            kept_status: kept.status,
            kept_internal: !kept.internal.is_empty(),
            kept_corrects: correction.corrects,
            kept_correction: correction.content,
            merged_from,
            attachments,
            inq,
        },
        status,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    /// A canned reply to insert into the response form (the 挿入 button, a plain GET).
    canned: String,
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> AppResult<Response> {
    show_page_with(&state, page, id, None, q.canned.trim().parse().ok(), None).await
}

/// The inquiry `id` (404 when there is none), for the staff's pages.
pub(super) async fn inquiry(state: &AppState, id: i64) -> AppResult<Inquiry> {
    let mut conn = state.db.pool().acquire().await?;
    match repo::find(&mut conn, id).await {
        Ok(inq) => Ok(inq),
        Err(sqlx::Error::RowNotFound) => Err(AppError::NotFound),
        Err(e) => Err(e.into()),
    }
}
