//! The page of backup schedules (`/admin/backup/schedules`, R21.2): the list with states and
//! who decided what when; the proposal form for system administrators, the decision forms for
//! the service operator.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};

use super::repo_schedule::{self as repo, ScheduleRow};
use super::service_schedule::{self as service, Proposal};
use super::settings::BackupSettings;
use super::{DECIDERS, PROPOSERS, model::Kind, readonly};
use crate::auth::Principal;
use crate::db::Timestamp;
use crate::error::{AppResult, DomainError};
use crate::portal::Editor;
use crate::state::AppState;
use crate::web::{ClientAddr, Page, flash_redirect, render};

pub const PATH: &str = "/admin/backup/schedules";

pub struct Line {
    pub id: i64,
    pub kind: &'static str,
    pub when: String,
    pub stop: String,
    pub state: &'static str,
    pub badge: &'static str,
    pub proposed: String,
    pub note: String,
    pub decided: String,
    pub decision_note: String,
    pub next: String,
    pub last: String,
    pub is_proposed: bool,
    pub is_approved: bool,
}

fn line(r: &ScheduleRow, now: Timestamp) -> Line {
    let cadence = service::cadence_of(r).ok();
    let (state, badge) = match r.state.as_str() {
        "proposed" => ("提案中（承認待ち）", "badge-warn"),
        "approved" => ("承認済（実施中の予定）", "badge-ok"),
        "rejected" => ("却下", "badge-alert"),
        _ => ("廃止", "badge-idle"),
    };
    let approved = r.state == "approved";
    let last = match (r.last_slot, r.last_result.as_deref()) {
        (Some(slot), Some(result)) => {
            let what = match result {
                "ok" => "完了".to_string(),
                "running" => "実行中".to_string(),
                "missed" => format!("未実施（{}）", r.last_detail.clone().unwrap_or_default()),
                _ => format!("失敗：{}", r.last_detail.clone().unwrap_or_default()),
            };
            format!("{}　{what}", slot.jst())
        }
        _ => String::new(),
    };
    let next = if approved {
        let mut s = service::next_slot(r).map(|t| t.jst()).unwrap_or_default();
        if let Some(p) = r
            .published_slot
            .filter(|p| p.plus_minutes(r.window_minutes) > now)
        {
            s = format!("{s}（停止をポータルに掲載済：{}）", p.jst());
        }
        s
    } else {
        String::new()
    };
    Line {
        id: r.id,
        kind: Kind::parse(&r.kind).map_or("", Kind::label),
        when: cadence.map(|c| c.label()).unwrap_or_default(),
        stop: if service::stops(r) {
            format!("停止する（最長 {} 分、閲覧のみ）", r.window_minutes)
        } else {
            "停止しない".into()
        },
        state,
        badge,
        proposed: format!("{}　{}", r.proposed_by, r.proposed_at.jst()),
        note: r.note.clone(),
        decided: match (&r.decided_by, r.decided_at) {
            (Some(by), Some(at)) => format!("{by}　{}", at.jst()),
            _ => String::new(),
        },
        decision_note: r.decision_note.clone().unwrap_or_default(),
        next,
        last,
        is_proposed: r.state == "proposed",
        is_approved: approved,
    }
}

#[derive(Template)]
#[template(path = "backup/schedules.html")]
pub struct SchedulesPage {
    pub page: Page,
    pub items: Vec<Line>,
    pub can_propose: bool,
    pub can_decide: bool,
    pub form: Proposal,
    pub stop_checked: bool,
    pub error: Option<String>,
    pub readonly: Option<String>,
    pub missed_after: u32,
    pub notice_days: u32,
}

async fn page_with(
    state: &AppState,
    page: Page,
    p: &Principal,
    form: Proposal,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let now = state.now();
    let settings = state.section::<BackupSettings>();
    let mut conn = state.db.pool().acquire().await?;
    let rows = repo::list(&mut conn).await?;
    drop(conn);
    let readonly = readonly::until(&state.db, now).await?.map(|u| u.jst());
    render(
        SchedulesPage {
            page: page.titled("バックアップの予定"),
            items: rows.iter().map(|r| line(r, now)).collect(),
            can_propose: PROPOSERS.contains(&p.role),
            can_decide: DECIDERS.contains(&p.role),
            stop_checked: form.stop_service.is_some(),
            form,
            error,
            readonly,
            missed_after: settings.missed_after_minutes,
            notice_days: settings.stop_notice_days,
        },
        status,
    )
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
) -> AppResult<Response> {
    let form = Proposal {
        kind: "daily".into(),
        local_time: "02:00".into(),
        day_of_month: "1".into(),
        window_minutes: "60".into(),
        ..Default::default()
    };
    page_with(&state, page, &p, form, None, StatusCode::OK).await
}

/// A system administrator proposes a schedule.
pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Proposal>,
) -> AppResult<Response> {
    let e = Editor::of(&p, &addr);
    match service::propose(&state.db, &form, &e, state.now()).await {
        Ok(_) => Ok(flash_redirect(
            &state,
            PATH,
            "予定を提案しました。サービス運用者の承認後に実施され、ポータルに掲載されます。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            page_with(
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

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    pub note: String,
}

/// The page again with a decision's error (a reason left out, say).
async fn decision_failed(
    state: &AppState,
    page: Page,
    p: &Principal,
    result: Result<(), DomainError>,
    done: &str,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(flash_redirect(state, PATH, done)),
        Err(DomainError::Invalid { message, .. }) => {
            let form = Proposal {
                kind: "daily".into(),
                ..Default::default()
            };
            page_with(
                state,
                page,
                p,
                form,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The service operator approves: the schedule runs from now on and is published.
pub async fn approve(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    let settings = state.section::<BackupSettings>();
    let e = Editor::of(&p, &addr);
    let result = service::approve(&state.db, id, &form.note, &e, &settings, state.now()).await;
    decision_failed(
        &state,
        page,
        &p,
        result,
        "予定を承認しました。ポータルのお知らせ（バックアップ予定）に掲載しました。",
    )
    .await
}

pub async fn reject(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    let e = Editor::of(&p, &addr);
    let result = service::reject(&state.db, id, &form.note, &e, state.now()).await;
    decision_failed(&state, page, &p, result, "予定を却下しました。").await
}

pub async fn retire(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> AppResult<Response> {
    let e = Editor::of(&p, &addr);
    let result = service::retire(&state.db, id, &form.note, &e, state.now()).await;
    decision_failed(
        &state,
        page,
        &p,
        result,
        "予定を廃止しました。この予定のバックアップは実施されなくなります。",
    )
    .await
}
