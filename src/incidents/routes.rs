//! Handlers: the list, the new and edit forms and the incident's page, with the helpers the
//! other handler files share (`find_guarded`, `after`, the datetime-local fields). The page's
//! actions are in `routes_actions.rs`, the attachments and the printed report in
//! `routes_files.rs`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::model::{
    self, CauseCategory, Incident, NewIncident, Severity, Status, check_move, timeline_kind_label,
};
use super::repo::{self, Fields};
use super::service::{self, Affected, Origin};
use super::views::*;
use super::{ADMINS, NOTE_TAKERS};
use super::{contacts, recurrence, repo_recurrence};
use crate::auth::Principal;
use crate::db::{Timestamp, tokyo};
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect, render};

/// `2026-11-30T10:00` (Japan time) of an instant, for a form's datetime-local field.
pub(super) fn local(t: Timestamp) -> String {
    t.as_jiff()
        .to_zoned(tokyo())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A datetime-local value (Japan time); empty is None.
pub(super) fn parse_local(s: &str) -> Result<Option<Timestamp>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(tokyo()).ok())
        .map(|z| Some(Timestamp::from(z.timestamp())))
        .ok_or(())
}

pub(super) const TIME_HINT: &str = "日時は 2026-11-30T10:00 の形で入力してください。";

pub(super) fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

fn severities() -> Vec<(&'static str, &'static str)> {
    Severity::ALL.iter().map(|s| (s.key(), s.label())).collect()
}

fn causes() -> Vec<(&'static str, &'static str)> {
    CauseCategory::ALL
        .iter()
        .map(|c| (c.key(), c.label()))
        .collect()
}

pub(super) async fn find_guarded(
    state: &AppState,
    guard: &ObjectGuard,
    id: i64,
) -> AppResult<Incident> {
    let mut conn = state.db.pool().acquire().await?;
    let found = repo::find(&mut conn, id).await?;
    drop(conn);
    Ok(guard.check(found).await?)
}

// ---- the list ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    status: String,
    severity: String,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let status = Status::parse(&q.status).map(|s| s.key()).unwrap_or("");
    let severity = Severity::parse(&q.severity).map(|s| s.key()).unwrap_or("");
    let mut conn = state.db.pool().acquire().await?;
    let rows = repo::list_filtered(&mut conn, status, severity, 500)
        .await?
        .into_iter()
        .map(|i| Row {
            id: i.id,
            number: i.number.clone(),
            title: i.title.clone(),
            severity: i.severity().label(),
            severity_key: i.severity().key(),
            status: i.status().label(),
            open: !i.status().is_closed(),
            discovered: i.discovered_at.jst(),
            recovered: i.recovered_at.map(|t| t.jst()).unwrap_or_default(),
        })
        .collect();
    render(
        IndexPage {
            page: page.titled("障害一覧"),
            rows,
            status: status.into(),
            severity: severity.into(),
            statuses: Status::ALL.iter().map(|s| (s.key(), s.label())).collect(),
            severities: severities(),
            can_create: ADMINS.contains(&p.role),
        },
        StatusCode::OK,
    )
}

// ---- new ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    inquiry: String,
    alert: String,
}

async fn facility_choices(state: &AppState, checked: &[i64]) -> AppResult<Vec<FacilityChoice>> {
    let mut conn = state.db.pool().acquire().await?;
    let mut out: Vec<FacilityChoice> = crate::facilities::list_active(&mut conn)
        .await?
        .into_iter()
        .map(|f| FacilityChoice {
            checked: checked.contains(&f.id),
            id: f.id,
            name: f.name,
        })
        .collect();
    // An affected facility that has since withdrawn stays visible in the form.
    for id in checked {
        if !out.iter().any(|f| f.id == *id)
            && let Ok(f) = crate::facilities::find(&mut conn, *id).await
        {
            out.push(FacilityChoice {
                id: f.id,
                name: f.name,
                checked: true,
            });
        }
    }
    Ok(out)
}

fn id_param(s: &str) -> AppResult<Option<i64>> {
    let s = s.trim().trim_start_matches('#');
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .map(Some)
        .ok_or_else(|| AppError::BadRequest("番号は正の整数で指定してください。".into()))
}

/// The form pre-filled from an inquiry or an alert, and the line that says so.
async fn prefill(
    state: &AppState,
    inquiry: Option<i64>,
    alert: Option<i64>,
) -> AppResult<(IncidentForm, String)> {
    let now = state.now();
    let mut form = IncidentForm {
        severity: Severity::Minor.key().into(),
        discovered_at: local(now),
        ..IncidentForm::default()
    };
    let mut conn = state.db.pool().acquire().await?;
    if let Some(q) = inquiry {
        let inq = crate::helpdesk::inquiry_for_incident(&mut conn, q)
            .await?
            .ok_or(AppError::NotFound)?;
        if let Some(i) = inq.incident_id {
            return Err(AppError::Conflict(format!(
                "問い合わせ #{q} は既に障害 #{i} に関連付けられています。"
            )));
        }
        form.title = clip(&inq.subject, 200);
        form.discovered_at = local(inq.received_at);
        form.discovered_where = format!("ヘルプデスクへの問い合わせ（#{q}、{}）", inq.requester);
        form.description = inq.content.clone();
        form.inquiry = q.to_string();
        return Ok((
            form,
            format!("問い合わせ #{q}「{}」から作成します。", inq.subject),
        ));
    }
    if let Some(a) = alert {
        let al = crate::monitor::repo_incidents::alert(&mut conn, a)
            .await?
            .ok_or(AppError::NotFound)?;
        if let Some(i) = al.incident_id {
            return Err(AppError::Conflict(format!(
                "監視アラート #{a} は既に障害 #{i} に関連付けられています。"
            )));
        }
        let results =
            crate::monitor::repo_incidents::last_results(&mut conn, al.monitor_id, al.at, 6)
                .await?;
        // The first failing slot of the run of failures that raised the alert.
        let occurred = results
            .iter()
            .take_while(|r| r.outcome != "up")
            .last()
            .map(|r| r.checked_at.unwrap_or(r.slot_at));
        let mut description = format!(
            "稼働監視「{}」（{} {}）が{}を検知しました。{}",
            al.monitor_name,
            al.monitor_kind,
            al.target,
            if al.kind == "down" {
                "停止"
            } else {
                "回復"
            },
            al.detail
        );
        if !results.is_empty() {
            description.push_str("\n直近の監視結果：");
            for r in &results {
                description.push_str(&format!(
                    "\n・{} {}{}{}",
                    r.slot_at.jst(),
                    r.outcome,
                    r.status_code
                        .map(|c| format!(" HTTP {c}"))
                        .unwrap_or_default(),
                    r.detail
                        .as_deref()
                        .filter(|d| !d.is_empty())
                        .map(|d| format!("（{d}）"))
                        .unwrap_or_default()
                ));
            }
        }
        form.title = clip(&format!("{} の停止", al.monitor_name), 200);
        form.severity = Severity::Major.key().into();
        form.discovered_at = local(al.at);
        form.occurred_at = occurred.map(local).unwrap_or_default();
        form.discovered_where = format!("稼働監視（{}：{}）", al.monitor_name, al.target);
        form.description = description;
        form.affected_services = al.monitor_name.clone();
        form.alert = a.to_string();
        return Ok((
            form,
            format!(
                "監視アラート #{a}（{}、{}）から作成します。",
                al.monitor_name,
                al.at.jst()
            ),
        ));
    }
    Ok((form, String::new()))
}

pub async fn new_form(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let (form, origin) = prefill(&state, id_param(&q.inquiry)?, id_param(&q.alert)?).await?;
    render(
        FormPage {
            page: page.titled("障害の登録"),
            id: None,
            number: String::new(),
            form,
            errors: Vec::new(),
            severities: severities(),
            causes: causes(),
            facilities: facility_choices(&state, &[]).await?,
            origin,
        },
        StatusCode::OK,
    )
}

/// The form's fields and the checked facilities (repeated `facility` fields).
fn read_form(body: &Bytes) -> AppResult<(IncidentForm, Vec<i64>)> {
    let form: IncidentForm = serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::BadRequest("送信内容を読み取れませんでした。".into()))?;
    let facilities = url::form_urlencoded::parse(body)
        .filter(|(k, _)| k == "facility")
        .filter_map(|(_, v)| v.parse::<i64>().ok())
        .collect();
    Ok((form, facilities))
}

/// Checks the form; the fields, or the errors by field.
fn check_form(f: &IncidentForm, now: Timestamp) -> Result<Fields, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let mut time = |field: &'static str, v: &str| match parse_local(v) {
        Ok(Some(t)) if t > now => {
            errors.push((field, "未来の日時は入力できません。".to_string()));
            None
        }
        Ok(t) => t,
        Err(()) => {
            errors.push((field, TIME_HINT.to_string()));
            None
        }
    };
    let discovered_at = time("discovered_at", &f.discovered_at);
    let occurred_at = time("occurred_at", &f.occurred_at);
    let recovered_at = time("recovered_at", &f.recovered_at);
    if discovered_at.is_none() && !errors.iter().any(|(k, _)| *k == "discovered_at") {
        errors.push(("discovered_at", "発見日時を入力してください。".into()));
    }
    if Severity::parse(&f.severity).is_none() {
        errors.push(("severity", "重大度を選んでください。".into()));
    }
    // Not given: 不明 (the edit form fills in the incident's own first).
    let cause_category = if f.cause_category.trim().is_empty() {
        CauseCategory::Unknown
    } else {
        CauseCategory::parse(f.cause_category.trim()).unwrap_or_else(|| {
            errors.push(("cause_category", "原因区分を選んでください。".into()));
            CauseCategory::Unknown
        })
    };
    for (field, value, label) in [
        ("title", &f.title, "件名"),
        ("discovered_where", &f.discovered_where, "発見箇所"),
        ("description", &f.description, "障害内容"),
    ] {
        if value.trim().is_empty() {
            errors.push((field, format!("{label}を入力してください。")));
        }
    }
    let Some(discovered_at) = discovered_at else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Fields {
        title: clip(&f.title, 200),
        severity: f.severity.clone(),
        discovered_at,
        discovered_where: clip(&f.discovered_where, 500),
        occurred_at,
        description: clip(&f.description, 20_000),
        impact: clip(&f.impact, 20_000),
        affects_users: !f.affects_users.is_empty(),
        affected_services: clip(&f.affected_services, 2_000),
        recovered_at,
        cause: clip(&f.cause, 20_000),
        cause_category: cause_category.key().into(),
        action_taken: clip(&f.action_taken, 20_000),
        remarks: clip(&f.remarks, 20_000),
    })
}

#[allow(clippy::too_many_arguments)]
async fn form_again(
    state: &AppState,
    page: Page,
    id: Option<i64>,
    number: String,
    form: IncidentForm,
    facilities: &[i64],
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> AppResult<Response> {
    let title = if id.is_some() {
        "障害記録の訂正"
    } else {
        "障害の登録"
    };
    render(
        FormPage {
            page: page.titled(title),
            id,
            number,
            form,
            errors,
            severities: severities(),
            causes: causes(),
            facilities: facility_choices(state, facilities).await?,
            origin: String::new(),
        },
        status,
    )
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    body: Bytes,
) -> AppResult<Response> {
    let now = state.now();
    let (f, facilities) = read_form(&body)?;
    let origin = match (id_param(&f.inquiry)?, id_param(&f.alert)?) {
        (Some(q), _) => Origin::Inquiry(q),
        (None, Some(a)) => Origin::Alert(a),
        _ => Origin::Manual,
    };
    let fields = match check_form(&f, now) {
        Ok(v) => v,
        Err(errors) => {
            return form_again(
                &state,
                page,
                None,
                String::new(),
                f,
                &facilities,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let (source, source_ref) = origin.source();
    let n = NewIncident {
        title: fields.title.clone(),
        severity: Severity::parse(&fields.severity).unwrap_or(Severity::Minor),
        discovered_at: fields.discovered_at,
        discovered_where: fields.discovered_where.clone(),
        occurred_at: fields.occurred_at,
        description: fields.description.clone(),
        impact: fields.impact.clone(),
        affects_users: fields.affects_users,
        cause_category: CauseCategory::parse(&fields.cause_category)
            .unwrap_or(CauseCategory::Unknown),
        source,
        source_ref,
    };
    let affected = Affected {
        services: fields.affected_services.clone(),
        facility_ids: facilities.clone(),
    };
    match service::create(&state.db, &n, &affected, origin, &actor, now).await {
        Ok(id) => Ok(flash_redirect(
            &state,
            &format!("/incidents/{id}"),
            "障害を登録しました（調査中）。",
        )),
        Err(DomainError::Invalid { field, message }) => {
            form_again(
                &state,
                page,
                None,
                String::new(),
                f,
                &facilities,
                vec![(field, message)],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- the incident's page ----

fn size_text(n: i64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / 1024.0 / 1024.0)
    } else if n >= 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{n} バイト")
    }
}

async fn facility_names(state: &AppState, ids: &[i64]) -> AppResult<Vec<String>> {
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Vec::new();
    for id in ids {
        out.push(match crate::facilities::find(&mut conn, *id).await {
            Ok(f) => f.name,
            Err(sqlx::Error::RowNotFound) => format!("施設 #{id}"),
            Err(e) => return Err(e.into()),
        });
    }
    Ok(out)
}

async fn links(state: &AppState, id: i64) -> AppResult<Vec<LinkView>> {
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Vec::new();
    for a in crate::monitor::repo_incidents::alerts_of_incident(&mut conn, id).await? {
        out.push(LinkView {
            href: None,
            label: format!("監視アラート #{}", a.id),
            detail: format!(
                "{}（{}）{} {}：{}",
                a.monitor_name,
                a.target,
                a.at.jst(),
                if a.kind == "down" { "停止" } else { "回復" },
                a.detail
            ),
        });
    }
    for q in crate::helpdesk::inquiries_of_incident(&mut conn, id).await? {
        out.push(LinkView {
            href: Some(format!("/helpdesk/{}", q.id)),
            label: format!("問い合わせ #{}", q.id),
            detail: format!(
                "{} {}「{}」（{}）",
                q.received_at.jst(),
                q.requester,
                q.subject,
                q.status
            ),
        });
    }
    Ok(out)
}

fn source_text(i: &Incident) -> String {
    match (i.source.as_str(), i.source_ref) {
        ("inquiry", Some(r)) => format!("問い合わせ #{r} から作成"),
        ("alert", Some(r)) => format!("監視アラート #{r} から作成"),
        _ => "手入力で作成".into(),
    }
}

async fn show_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    inc: Incident,
    error: Option<(StatusCode, String)>,
) -> AppResult<Response> {
    let id = inc.id;
    let mut conn = state.db.pool().acquire().await?;
    let timeline = repo::timeline(&mut conn, id).await?;
    let vendors = repo::vendor_contacts(&mut conn, id).await?;
    let attachments = repo::attachments(&mut conn, id).await?;
    let prints = repo::prints(&mut conn, id).await?;
    let facility_ids = repo::facility_ids(&mut conn, id).await?;
    let contacts_panel = contacts::panel(&mut conn, id, p.role).await?;
    let can_see_recurrence = state.may_open(p.role, "/incidents/recurrence");
    let mut recurrence = Vec::new();
    if can_see_recurrence {
        for r in repo_recurrence::list_for_incident(&mut conn, id).await? {
            let measures = repo_recurrence::list_measures(&mut conn, r.id).await?;
            let state = r.state();
            recurrence.push(RecurrenceView {
                id: r.id,
                title: r.title,
                state: state.label(),
                state_key: state.key(),
                measures: measures.len(),
                measures_done: measures.iter().filter(|m| m.done_at.is_some()).count(),
            });
        }
    }
    drop(conn);
    let facilities = facility_names(state, &facility_ids).await?.join("、");
    let st = inc.status();
    let moves = Status::ALL
        .iter()
        .filter_map(|to| {
            check_move(st, *to)
                .ok()
                .map(|m| (to.key(), to.label(), m == model::Move::Back))
        })
        .collect();
    let t = |v: Option<Timestamp>| v.map(|t| t.jst()).unwrap_or_default();
    let fields = vec![
        ("発見日時", inc.discovered_at.jst()),
        ("発見箇所", inc.discovered_where.clone()),
        ("発生日時", t(inc.occurred_at)),
        ("障害内容", inc.description.clone()),
        ("影響範囲", inc.impact.clone()),
        ("復旧日時", t(inc.recovered_at)),
        ("原因", inc.cause.clone()),
        ("原因区分", inc.cause_category().label().to_string()),
        ("処置", inc.action_taken.clone()),
        ("備考", inc.remarks.clone()),
    ];
    let (status, error) = match error {
        Some((s, m)) => (s, Some(m)),
        None => (StatusCode::OK, None),
    };
    render(
        ShowPage {
            page: page.titled(format!("障害 {}：{}", inc.number, inc.title)),
            id,
            number: inc.number.clone(),
            title: inc.title.clone(),
            status: st.label(),
            status_key: st.key(),
            severity: inc.severity().label(),
            revision: inc.revision,
            closed: st.is_closed(),
            fields,
            affects_users: inc.affects_users,
            affected_services: inc.affected_services.clone(),
            facilities,
            source: source_text(&inc),
            timeline: timeline
                .iter()
                .map(|e| TimelineView {
                    at: e.at.jst(),
                    kind: timeline_kind_label(&e.kind),
                    kind_key: e.kind.clone(),
                    text: e.text.clone(),
                    by: e.recorded_by.clone(),
                    recorded: e.recorded_at.jst(),
                })
                .collect(),
            vendors: vendors
                .into_iter()
                .map(|v| VendorView {
                    at: v.contacted_at.jst(),
                    organisation: v.organisation,
                    person: v.person,
                    reference_no: v.reference_no,
                    request: v.request,
                    answer: v.answer,
                    by: v.recorded_by,
                })
                .collect(),
            attachments: attachments
                .into_iter()
                .map(|a| AttachmentView {
                    n: a.id,
                    file_name: a.file_name,
                    content_type: a.content_type,
                    size: size_text(a.size_bytes),
                    note: a.note,
                    by: a.uploaded_by,
                    at: a.uploaded_at.jst(),
                })
                .collect(),
            links: links(state, id).await?,
            prints: prints
                .into_iter()
                .map(|p| PrintView {
                    kind: if p.kind == "final" {
                        "正式版"
                    } else {
                        "案"
                    },
                    revision: p.revision,
                    sha256: p.sha256,
                    by: p.printed_by,
                    at: p.printed_at.jst(),
                })
                .collect(),
            moves,
            can_admin: ADMINS.contains(&p.role),
            can_note: NOTE_TAKERS.contains(&p.role),
            error,
            now_local: local(state.now()),
            contacts_panel,
            can_see_recurrence,
            can_write_recurrence: can_see_recurrence
                && recurrence::WRITERS.contains(&p.role)
                && state.may_open(p.role, "/incidents/recurrence"),
            recurrence,
        },
        status,
    )
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let inc = find_guarded(&state, &guard, id).await?;
    show_page(&state, page, &p, inc, None).await
}

/// After an action: back to the page with a flash, or the page again with the error (422 for
/// a value, 409 for a stale form or a state that does not allow it).
pub(super) async fn after(
    state: &AppState,
    page: Page,
    p: &Principal,
    id: i64,
    result: Result<(), DomainError>,
    done: &str,
) -> AppResult<Response> {
    let error = match result {
        Ok(()) => {
            return Ok(flash_redirect(state, &format!("/incidents/{id}"), done));
        }
        Err(DomainError::Invalid { message, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, message),
        Err(DomainError::Conflict(message)) => (StatusCode::CONFLICT, message),
        Err(e) => return Err(e.into()),
    };
    let mut conn = state.db.pool().acquire().await?;
    let inc = repo::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    show_page(state, page, p, inc, Some(error)).await
}

pub(super) fn revision_of(s: &str) -> AppResult<i64> {
    s.trim().parse::<i64>().map_err(|_| {
        AppError::BadRequest("フォームの版が読み取れません。画面を開き直してください。".into())
    })
}

// ---- edit (corrections) ----

fn form_of(i: &Incident) -> IncidentForm {
    let t = |v: Option<Timestamp>| v.map(local).unwrap_or_default();
    IncidentForm {
        title: i.title.clone(),
        severity: i.severity.clone(),
        discovered_at: local(i.discovered_at),
        discovered_where: i.discovered_where.clone(),
        occurred_at: t(i.occurred_at),
        description: i.description.clone(),
        impact: i.impact.clone(),
        affects_users: if i.affects_users {
            "1".into()
        } else {
            String::new()
        },
        affected_services: i.affected_services.clone(),
        recovered_at: t(i.recovered_at),
        cause: i.cause.clone(),
        cause_category: i.cause_category.clone(),
        action_taken: i.action_taken.clone(),
        remarks: i.remarks.clone(),
        inquiry: String::new(),
        alert: String::new(),
        revision: i.revision.to_string(),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let inc = find_guarded(&state, &guard, id).await?;
    let mut conn = state.db.pool().acquire().await?;
    let facilities = repo::facility_ids(&mut conn, id).await?;
    drop(conn);
    form_again(
        &state,
        page,
        Some(id),
        inc.number.clone(),
        form_of(&inc),
        &facilities,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    page: Page,
    Caller { actor, .. }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let now = state.now();
    let inc = find_guarded(&state, &guard, id).await?;
    let (mut f, facilities) = read_form(&body)?;
    if f.cause_category.trim().is_empty() {
        // A form without the field (an older page) keeps the category.
        f.cause_category = inc.cause_category.clone();
    }
    let revision = revision_of(&f.revision)?;
    let fields = match check_form(&f, now) {
        Ok(v) => v,
        Err(errors) => {
            return form_again(
                &state,
                page,
                Some(id),
                inc.number,
                f,
                &facilities,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut names = Vec::new();
    for c in facility_choices(&state, &facilities).await? {
        names.push((c.id, c.name));
    }
    let mut conn = state.db.pool().acquire().await?;
    for fid in repo::facility_ids(&mut conn, id).await? {
        if !names.iter().any(|(i, _)| *i == fid) {
            names.extend(
                facility_names(&state, &[fid])
                    .await?
                    .into_iter()
                    .map(|n| (fid, n)),
            );
        }
    }
    drop(conn);
    match service::correct(
        &state.db,
        id,
        revision,
        &fields,
        &names,
        &facilities,
        &actor,
        now,
    )
    .await
    {
        Ok(0) => Ok(flash_redirect(
            &state,
            &format!("/incidents/{id}"),
            "変更はありませんでした。",
        )),
        Ok(n) => Ok(flash_redirect(
            &state,
            &format!("/incidents/{id}"),
            &format!("{n} 項目を訂正しました（元の値は経過に残ります）。"),
        )),
        Err(DomainError::Invalid { field, message }) => {
            form_again(
                &state,
                page,
                Some(id),
                inc.number,
                f,
                &facilities,
                vec![(field, message)],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
