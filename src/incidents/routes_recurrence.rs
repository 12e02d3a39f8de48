//! Handlers of recurrence-prevention reports and their measures (R17.3).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::contacts::IncidentRef;
use super::recurrence::{
    self, CITY, COMMITTEE_RECORDERS, Minutes, READERS, ReportState, WRITERS, overdue, today,
};
use super::repo;
use super::repo_recurrence::{self as rrepo, Measure, Report};
use crate::auth::Principal;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Access, Caller, ObjectGuard, Page, Routes, Upload, flash_redirect, render};

/// The routes of this area; `domain()` chains them.
pub fn routes() -> Routes {
    let readers = Access::Roles(READERS);
    let writers = Access::Roles(WRITERS);
    Routes::new()
        .get("/incidents/recurrence", readers, index)
        .post("/incidents/recurrence", writers, create)
        .get("/incidents/recurrence/{id}", readers, show)
        .post("/incidents/recurrence/{id}", writers, update)
        .post("/incidents/recurrence/{id}/submit", writers, submit)
        .post(
            "/incidents/recurrence/{id}/accept",
            Access::Roles(CITY),
            accept,
        )
        .post(
            "/incidents/recurrence/{id}/return",
            Access::Roles(CITY),
            return_report,
        )
        .post_upload(
            "/incidents/recurrence/{id}/committee",
            Access::Roles(COMMITTEE_RECORDERS),
            committee,
        )
        .get("/incidents/recurrence/{id}/minutes", readers, minutes)
        .post("/incidents/recurrence/{id}/measures", writers, add_measure)
        .post(
            "/incidents/recurrence/measures/{id}/done",
            writers,
            complete_measure,
        )
}

pub struct ReportLine {
    pub id: i64,
    pub incident: String,
    pub title: String,
    pub state: &'static str,
    pub waiting: bool,
    pub submitted: String,
    pub decided: String,
    pub measures_open: usize,
    pub measures_late: usize,
}

pub struct MeasureLine {
    pub id: i64,
    pub report_id: i64,
    pub description: String,
    pub owner: String,
    pub due_on: String,
    pub done: String,
    pub is_done: bool,
    pub late: bool,
}

fn measure_line(m: &Measure, t: jiff::civil::Date) -> MeasureLine {
    MeasureLine {
        id: m.id,
        report_id: m.report_id,
        description: m.description.clone(),
        owner: m.owner.clone(),
        due_on: m.due_on.clone(),
        done: match (&m.done_at, &m.done_by) {
            (Some(at), by) => format!(
                "{} 完了（{}）{}",
                at.jst(),
                by.as_deref().unwrap_or(""),
                if m.done_note.is_empty() {
                    String::new()
                } else {
                    format!(" {}", m.done_note)
                }
            ),
            _ => String::new(),
        },
        is_done: m.done_at.is_some(),
        late: overdue(&m.due_on, m.done_at.is_some(), t),
    }
}

#[derive(Template)]
#[template(path = "incidents/recurrence.html")]
pub struct IndexPage {
    pub page: Page,
    pub reports: Vec<ReportLine>,
    pub late: Vec<MeasureLine>,
    pub can_write: bool,
    pub incidents: Vec<(i64, String)>,
    pub form: CreateForm,
    pub error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    pub incident_id: String,
    pub title: String,
    pub body: String,
}

async fn index_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    form: CreateForm,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let t = today(state.now());
    let mut conn = state.db.pool().acquire().await?;
    let reports = rrepo::list_reports(&mut conn).await?;
    let open = rrepo::list_open_measures(&mut conn).await?;
    let incidents = repo::list(&mut conn).await?;
    let lines = reports
        .iter()
        .map(|r| {
            let mine: Vec<&Measure> = open.iter().filter(|m| m.report_id == r.id).collect();
            ReportLine {
                id: r.id,
                incident: format!("{} {}", r.incident_number, r.incident_title),
                title: r.title.clone(),
                state: r.state().label(),
                waiting: r.state() == ReportState::Submitted,
                submitted: r.submitted_at.map(|t| t.jst()).unwrap_or_default(),
                decided: r.decided_at.map(|t| t.jst()).unwrap_or_default(),
                measures_open: mine.len(),
                measures_late: mine.iter().filter(|m| overdue(&m.due_on, false, t)).count(),
            }
        })
        .collect();
    render(
        IndexPage {
            page: page.titled("再発防止策"),
            reports: lines,
            late: open
                .iter()
                .map(|m| measure_line(m, t))
                .filter(|m| m.late)
                .collect(),
            can_write: WRITERS.contains(&p.role),
            incidents: incidents
                .iter()
                .map(|i| (i.id, format!("{} {}", i.number, i.title)))
                .collect(),
            form,
            error,
        },
        status,
    )
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    index_page(
        &state,
        page,
        &p,
        CreateForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Form(form): Form<CreateForm>,
) -> AppResult<Response> {
    let invalid = |msg: &str| Some(msg.to_string());
    let Ok(incident_id) = form.incident_id.trim().parse::<i64>() else {
        let e = invalid("障害を選んでください。");
        return index_page(&state, page, &p, form, e, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let mut conn = state.db.pool().acquire().await?;
    let found = repo::find(&mut conn, incident_id).await?.map(IncidentRef);
    drop(conn);
    if guard.check(found).await.is_err() {
        let e = invalid("障害を選んでください。");
        return index_page(&state, page, &p, form, e, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match recurrence::create(
        &state.db,
        incident_id,
        &form.title,
        &form.body,
        &actor,
        state.now(),
    )
    .await
    {
        Ok(id) => Ok(flash_redirect(
            &state,
            &format!("/incidents/recurrence/{id}"),
            "再発防止策の報告を作成しました（下書き）。対策を登録して提出してください。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            index_page(
                &state,
                page,
                &p,
                form,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "incidents/recurrence_show.html")]
pub struct ShowPage {
    pub page: Page,
    pub r: Report,
    pub state_label: &'static str,
    pub submitted: String,
    pub decided: String,
    pub measures: Vec<MeasureLine>,
    pub can_edit: bool,
    pub can_write: bool,
    pub can_decide: bool,
    pub can_committee: bool,
    /// May open the incident's page (the committee reads only these pages).
    pub can_open_incident: bool,
    pub error: Option<String>,
}

async fn report_of(state: &AppState, guard: &ObjectGuard, id: i64) -> AppResult<Report> {
    let mut conn = state.db.pool().acquire().await?;
    let found = rrepo::find_report(&mut conn, id).await?;
    drop(conn);
    Ok(guard.check(found).await?)
}

async fn show_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    id: i64,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let t = today(state.now());
    let mut conn = state.db.pool().acquire().await?;
    let r = rrepo::find_report(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let measures = rrepo::list_measures(&mut conn, id).await?;
    let st = r.state();
    render(
        ShowPage {
            page: page.titled(format!("再発防止策の報告 — {}", r.title)),
            state_label: st.label(),
            submitted: match (&r.submitted_at, &r.submitted_by) {
                (Some(at), Some(by)) => format!("{}（{by}）", at.jst()),
                _ => String::new(),
            },
            decided: match (&r.decided_at, &r.decided_by) {
                (Some(at), Some(by)) => format!("{}（{by}）", at.jst()),
                _ => String::new(),
            },
            measures: measures.iter().map(|m| measure_line(m, t)).collect(),
            can_edit: WRITERS.contains(&p.role) && st.editable(),
            can_write: WRITERS.contains(&p.role),
            can_decide: CITY.contains(&p.role) && st == ReportState::Submitted,
            can_committee: COMMITTEE_RECORDERS.contains(&p.role),
            can_open_incident: state.may_open(p.role, &format!("/incidents/{}", r.incident_id)),
            r,
            error,
        },
        status,
    )
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    report_of(&state, &guard, id).await?;
    show_page(&state, page, &p, id, None, StatusCode::OK).await
}

/// A service error as the report page shows it (422 for a value, 409 for a state), or `Err`.
async fn refused(
    state: &AppState,
    page: Page,
    p: &Principal,
    id: i64,
    e: DomainError,
) -> AppResult<Response> {
    let (status, msg) = match e {
        DomainError::Invalid { message, .. } => (StatusCode::UNPROCESSABLE_ENTITY, message),
        DomainError::Conflict(message) => (StatusCode::CONFLICT, message),
        e => return Err(e.into()),
    };
    show_page(state, page, p, id, Some(msg), status).await
}

fn to_report(state: &AppState, id: i64, msg: &str) -> Response {
    flash_redirect(state, &format!("/incidents/recurrence/{id}"), msg)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TextForm {
    pub title: String,
    pub body: String,
    pub revision: String,
}

pub async fn update(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> AppResult<Response> {
    report_of(&state, &guard, id).await?;
    let rev = form.revision.trim().parse().unwrap_or(0);
    match recurrence::update(
        &state.db,
        id,
        rev,
        &form.title,
        &form.body,
        &actor,
        state.now(),
    )
    .await
    {
        Ok(()) => Ok(to_report(&state, id, "報告を保存しました。")),
        Err(e) => refused(&state, page, &p, id, e).await,
    }
}

pub async fn submit(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    report_of(&state, &guard, id).await?;
    match recurrence::submit(&state.db, id, &actor, state.now()).await {
        Ok(()) => Ok(to_report(
            &state,
            id,
            "サービス運用者に提出しました。受理を待っています。",
        )),
        Err(e) => refused(&state, page, &p, id, e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    pub comment: String,
}

pub async fn accept(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    report_of(&state, &guard, id).await?;
    match recurrence::decide(&state.db, id, true, &form.comment, &actor, state.now()).await {
        Ok(()) => Ok(to_report(&state, id, "報告を受理しました。")),
        Err(e) => refused(&state, page, &p, id, e).await,
    }
}

pub async fn return_report(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    report_of(&state, &guard, id).await?;
    match recurrence::decide(&state.db, id, false, &form.comment, &actor, state.now()).await {
        Ok(()) => Ok(to_report(&state, id, "報告を差し戻しました。")),
        Err(e) => refused(&state, page, &p, id, e).await,
    }
}

/// The committee form's fields: held or not, the date, the minutes (read by [`Upload`]).
fn read_committee(up: Upload) -> Result<(bool, String, Option<Minutes>), String> {
    let convened = up.field("convened") == "yes";
    let on = up.field("committee_on").to_string();
    let minutes = up
        .files()?
        .into_iter()
        .find(|f| f.field == "minutes")
        .map(|f| Minutes {
            name: if f.name.is_empty() {
                "minutes".into()
            } else {
                f.name
            },
            bytes: f.bytes,
        });
    Ok((convened, on, minutes))
}

/// `POST /incidents/recurrence/{id}/committee` (multipart, CSRF token in the query).
pub async fn committee(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    up: Upload,
) -> AppResult<Response> {
    report_of(&state, &guard, id).await?;
    let (convened, on, minutes) = match read_committee(up) {
        Ok(v) => v,
        Err(msg) => {
            return show_page(
                &state,
                page,
                &p,
                id,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match recurrence::record_committee(&state, id, convened, &on, minutes, &actor, state.now())
        .await
    {
        Ok(()) => Ok(to_report(
            &state,
            id,
            "臨時運営委員会の記録を保存しました。",
        )),
        Err(e) => refused(&state, page, &p, id, e).await,
    }
}

pub async fn minutes(
    State(state): State<AppState>,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let r = report_of(&state, &guard, id).await?;
    let Some(hash) = r.minutes_hash.as_deref() else {
        return Err(AppError::NotFound);
    };
    let store = crate::blobs::BlobStore::of(&state);
    let bytes = store.get(hash).await.map_err(|_| AppError::NotFound)?;
    Ok(crate::records::objects::download(
        bytes,
        r.minutes_type.as_deref(),
        &format!("minutes-{id}"),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MeasureForm {
    pub description: String,
    pub owner: String,
    pub due_on: String,
}

pub async fn add_measure(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<MeasureForm>,
) -> AppResult<Response> {
    report_of(&state, &guard, id).await?;
    match recurrence::add_measure(
        &state.db,
        id,
        &form.description,
        &form.owner,
        &form.due_on,
        &actor,
        state.now(),
    )
    .await
    {
        Ok(_) => Ok(to_report(&state, id, "対策を登録しました。")),
        Err(e) => refused(&state, page, &p, id, e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneForm {
    pub note: String,
}

pub async fn complete_measure(
    State(state): State<AppState>,
    guard: ObjectGuard,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<DoneForm>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let found = rrepo::find_measure(&mut conn, id).await?;
    drop(conn);
    let m = guard.check(found).await?;
    recurrence::complete_measure(&state.db, id, &form.note, &actor, state.now()).await?;
    Ok(to_report(&state, m.report_id, "対策を完了にしました。"))
}
