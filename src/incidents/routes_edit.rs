//! Handlers of the correction form: a correction is checked like a new record
//! (`form_check::check_read`) against the revision the form was read at; the old values stay in
//! the 経過.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::form_check::{check_read, read_form};
use super::model::Incident;
use super::repo;
use super::routes::{facility_names, find_guarded, local, revision_of};
use super::routes_form::{facility_choices, form_again};
use super::service;
use super::views::IncidentForm;
use crate::db::Timestamp;
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect};

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
    let (mut f, facilities, read) = read_form(&body);
    if f.cause_category.trim().is_empty() {
        // A form without the field (an older page) keeps the category.
        f.cause_category = inc.cause_category.clone();
    }
    let revision = revision_of(&f.revision)?;
    let fields = match check_read(&f, read, now) {
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
