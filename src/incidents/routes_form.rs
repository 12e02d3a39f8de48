//! Handlers of the new incident form (R13): the form, pre-filled from an inquiry or a monitoring
//! alert (`/incidents/new?inquiry=ID`, `?alert=ID`), and the creation. The form's reading and
//! re-showing (`form_again`) serves the correction form (`routes_edit.rs`) too, and so do the
//! reading and checking in `form_check.rs`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::form_check::{check_read, read_form};
use super::model::{CauseCategory, NewIncident, Severity};
use super::routes::{clip, local, severities};
use super::service::{self, Affected, Origin};
use super::views::{FacilityChoice, FormPage, IncidentForm};
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

fn causes() -> Vec<(&'static str, &'static str)> {
    CauseCategory::ALL
        .iter()
        .map(|c| (c.key(), c.label()))
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    inquiry: String,
    alert: String,
}

pub(super) async fn facility_choices(
    state: &AppState,
    checked: &[i64],
) -> AppResult<Vec<FacilityChoice>> {
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

#[allow(clippy::too_many_arguments)]
pub(super) async fn form_again(
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
    let (f, facilities, read) = read_form(&body);
    let origin = match (id_param(&f.inquiry)?, id_param(&f.alert)?) {
        (Some(q), _) => Origin::Inquiry(q),
        (None, Some(a)) => Origin::Alert(a),
        _ => Origin::Manual,
    };
    let fields = match check_read(&f, read, now) {
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
