//! Pages of facility managers (their facility's users and requests) and the shared request form.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Date;

use super::model::{Channel, PersonData, RequestKind, RequestState, parse_paper_date};
use super::repo;
use super::service::{self, Submission};
use super::views::*;
use crate::accounts::service as accounts;
use crate::audit::Actor;
use crate::auth::{Principal, Role};
use crate::db::tokyo;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::{ClientAddr, ObjectGuard, Page, flash_redirect, render};

fn own_facility(p: &Principal) -> AppResult<i64> {
    p.facility_id.ok_or(AppError::Forbidden)
}

/// The state filter of `/requests` (the search, sort and page are in [`ListQuery`]).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct MineFilter {
    state: String,
}

/// The facility manager's page: the facility's users and its request history, searched,
/// filtered by state, sorted and paged in SQL (X.4), never beyond the caller's facility.
pub async fn mine(
    State(state): State<AppState>,
    page: Page,
    axum::Extension(p): axum::Extension<Principal>,
    Query(filter): Query<MineFilter>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let facility_id = own_facility(&p)?;
    // An unknown state is ignored like an unknown sort: the whole history, not a 400.
    let state_key = RequestState::from_key(filter.state.trim())
        .map(RequestState::key)
        .unwrap_or("");
    let order = q.order(repo::FACILITY_SORTS, "received", Dir::Desc);
    let like = q.like().unwrap_or_default();
    let mut conn = state.db.pool().acquire().await?;
    let facility = crate::facilities::find(&mut conn, facility_id).await?;
    let people = accounts::people_of_facility(&mut conn, facility_id).await?;
    let total = repo::count_of_facility(&mut conn, facility_id, state_key, &like).await?;
    let requests = repo::page_of_facility(
        &mut conn,
        facility_id,
        state_key,
        &like,
        &order,
        q.limit(),
        q.offset(),
    )
    .await?;
    let pager = Pager::new("/requests", &q, total, &[("state", state_key)]);
    let view = MinePage {
        page: page.titled("利用者の申請"),
        facility_name: facility.name,
        people,
        requests,
        q: q.text().unwrap_or_default().to_string(),
        state: state_key,
        states: RequestState::ALL
            .iter()
            .map(|s| (s.key(), s.label()))
            .collect(),
        pager,
    };
    render(view, StatusCode::OK)
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    kind: String,
    target: String,
}

pub async fn form_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    paper: bool,
    form: RequestForm,
    errors: FormErrors,
) -> AppResult<FormPage> {
    let kind = RequestKind::from_key(&form.kind).unwrap_or(RequestKind::Add);
    let mut conn = state.db.pool().acquire().await?;
    let (facilities, people) = if paper {
        (crate::facilities::list_active(&mut conn).await?, Vec::new())
    } else {
        let people = accounts::people_of_facility(&mut conn, own_facility(p)?).await?;
        (
            Vec::new(),
            people
                .into_iter()
                .filter(|x| x.disabled_at.is_none() && x.role == "user")
                .collect(),
        )
    };
    let title = if paper {
        "書面で受け付けた申請の登録"
    } else {
        "利用者の申請"
    };
    Ok(FormPage {
        page: page.titled(format!("{title}（{}）", kind.label())),
        action: if paper {
            "/admin/requests"
        } else {
            "/requests"
        },
        paper,
        kind,
        kinds: kinds(),
        job_types: job_types(),
        facilities,
        people,
        form,
        errors,
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    page: Page,
    axum::Extension(p): axum::Extension<Principal>,
    guard: ObjectGuard,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let paper = p.role != Role::FacilityManager;
    let mut form = RequestForm {
        kind: q.kind,
        target: q.target,
        ..Default::default()
    };
    if let Ok(target) = form.target.trim().parse::<i64>() {
        // The target must be an account the person may act on (their own facility's for a
        // facility manager): anything else is "not found", and recorded.
        let found = {
            let mut conn = state.db.pool().acquire().await?;
            accounts::find_person(&mut conn, target).await?
        };
        let person = guard.check(found).await?;
        // An attribute change starts from the values on record.
        if form.kind == "attributes" {
            form.name = person.display_name;
            form.kana = person.name_kana;
            form.job_type = person.job_type;
            form.contact = person.contact;
        }
    }
    render(
        form_page(&state, page, &p, paper, form, FormErrors::default()).await?,
        StatusCode::OK,
    )
}

/// Parses a submitted form into a submission, or the errors to show next to the fields.
pub async fn parse_form(
    state: &AppState,
    p: &Principal,
    guard: &ObjectGuard,
    form: &RequestForm,
    paper: bool,
    today: Date,
) -> AppResult<Result<Submission, FormErrors>> {
    let mut errors = FormErrors::default();
    let Some(kind) = RequestKind::from_key(&form.kind) else {
        errors.general = Some("申請の種類を選んでください。".into());
        return Ok(Err(errors));
    };
    let facility_id = if paper {
        match form.facility_id.trim().parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.facility = Some("施設を選んでください。".into());
                None
            }
        }
    } else {
        Some(own_facility(p)?)
    };
    let person = if kind.needs_person() {
        PersonData::parse(&form.name, &form.kana, &form.job_type, &form.contact)
            .map_err(|e| errors.person = e)
            .ok()
    } else {
        None
    };
    let mut target = None;
    if kind.needs_target() {
        target = if paper && !form.target_login_id.trim().is_empty() {
            accounts::id_by_login_id(&state.db, form.target_login_id.trim()).await?
        } else {
            form.target.trim().parse::<i64>().ok()
        };
        match target {
            None => {
                errors.target =
                    Some("対象の利用者を選んでください（書面の場合は利用者IDを入力）。".into());
            }
            Some(id) => {
                // Missing and out of scope read the same; an out-of-scope id is recorded.
                let found = {
                    let mut conn = state.db.pool().acquire().await?;
                    accounts::find_person(&mut conn, id).await?
                };
                match guard.check(found).await {
                    Ok(_) => {}
                    Err(DomainError::NotFound) => {
                        errors.target = Some("対象の利用者が見つかりません。".into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    let paper_date = if paper {
        parse_paper_date(&form.paper_date, today)
            .map_err(|e| errors.paper_date = Some(e))
            .ok()
    } else {
        None
    };
    if errors.any() {
        return Ok(Err(errors));
    }
    Ok(Ok(Submission {
        facility_id: facility_id.unwrap_or_default(),
        kind,
        person,
        target_account_id: target,
        reason: form.reason.trim().chars().take(500).collect(),
        channel: if paper {
            Channel::Paper
        } else {
            Channel::Portal
        },
        paper_date,
    }))
}

/// Both the facility manager's submission and the operator's paper entry end here.
pub async fn submit_common(
    state: AppState,
    addr: String,
    (p, guard): (Principal, ObjectGuard),
    page: Page,
    form: RequestForm,
    paper: bool,
) -> AppResult<Response> {
    if !form.switch.is_empty() {
        // Switching the kind without JavaScript (issue 15, defect 8): nothing is checked or
        // stored; the fields of the other kind travel along hidden.
        return render(
            form_page(&state, page, &p, paper, form, FormErrors::default()).await?,
            StatusCode::OK,
        );
    }
    let now = state.now();
    let today = now.as_jiff().to_zoned(tokyo()).date();
    let submission = match parse_form(&state, &p, &guard, &form, paper, today).await? {
        Ok(s) => s,
        Err(errors) => {
            return render(
                form_page(&state, page, &p, paper, form, errors).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match service::submit(
        &state.db,
        &submission,
        Some(p.account_id),
        &Actor::of(&p, &addr),
        now,
    )
    .await
    {
        Ok(id) => {
            let to = if paper {
                format!("/admin/requests/{id}")
            } else {
                "/requests".to_string()
            };
            Ok(flash_redirect(
                &state,
                &to,
                &format!("申請 #{id} を受け付けました。"),
            ))
        }
        Err(DomainError::Invalid { message, .. } | DomainError::Conflict(message)) => {
            let errors = FormErrors {
                general: Some(message),
                ..Default::default()
            };
            render(
                form_page(&state, page, &p, paper, form, errors).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    guard: ObjectGuard,
    page: Page,
    Form(form): Form<RequestForm>,
) -> AppResult<Response> {
    submit_common(state, addr, (p, guard), page, form, false).await
}
