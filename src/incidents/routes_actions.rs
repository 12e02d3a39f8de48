//! Handlers of the incident page's actions: the status change, a note in the 経過, a vendor
//! contact and a link to an inquiry or an alert. Each ends in `routes::after` (the page again,
//! with a flash or the error).

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::model::Status;
use super::repo::NewVendorContact;
use super::routes::{TIME_HINT, after, clip, find_guarded, parse_local, revision_of};
use super::service::{self, LinkTarget};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StatusForm {
    status: String,
    at: String,
    reason: String,
    revision: String,
}

pub async fn status(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<StatusForm>,
) -> AppResult<Response> {
    let now = state.now();
    find_guarded(&state, &guard, id).await?;
    let revision = revision_of(&f.revision)?;
    let result = match (Status::parse(&f.status), parse_local(&f.at)) {
        (None, _) => Err(DomainError::invalid(
            "status",
            "新しい状態を選んでください。",
        )),
        (_, Err(())) => Err(DomainError::invalid("at", TIME_HINT)),
        (_, Ok(Some(at))) if at > now => {
            Err(DomainError::invalid("at", "未来の日時は入力できません。"))
        }
        (Some(to), Ok(at)) => {
            service::change_status(
                &state.db,
                id,
                revision,
                to,
                at.unwrap_or(now),
                &clip(&f.reason, 2_000),
                &actor,
                now,
            )
            .await
        }
    };
    after(&state, page, &p, id, result, "状態を変更しました。").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoteForm {
    at: String,
    text: String,
}

pub async fn note(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<NoteForm>,
) -> AppResult<Response> {
    let now = state.now();
    find_guarded(&state, &guard, id).await?;
    let result = match parse_local(&f.at) {
        Err(()) => Err(DomainError::invalid("at", TIME_HINT)),
        Ok(at) => service::add_note(
            &state.db,
            id,
            at.unwrap_or(now),
            &clip(&f.text, 10_000),
            &actor,
            now,
        )
        .await
        .map(|_| ()),
    };
    after(&state, page, &p, id, result, "経過を記録しました。").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct VendorForm {
    contacted_at: String,
    organisation: String,
    person: String,
    reference_no: String,
    request: String,
    answer: String,
}

pub async fn vendor(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<VendorForm>,
) -> AppResult<Response> {
    let now = state.now();
    find_guarded(&state, &guard, id).await?;
    let (organisation, person, reference_no) = (
        clip(&f.organisation, 200),
        clip(&f.person, 100),
        clip(&f.reference_no, 100),
    );
    let (request, answer) = (clip(&f.request, 5_000), clip(&f.answer, 5_000));
    let result = match parse_local(&f.contacted_at) {
        Err(()) => Err(DomainError::invalid("contacted_at", TIME_HINT)),
        Ok(at) => service::add_vendor_contact(
            &state.db,
            id,
            &NewVendorContact {
                contacted_at: at.unwrap_or(now),
                organisation: &organisation,
                person: &person,
                reference_no: &reference_no,
                request: &request,
                answer: &answer,
            },
            &actor,
            now,
        )
        .await
        .map(|_| ()),
    };
    after(
        &state,
        page,
        &p,
        id,
        result,
        "関係箇所への連絡を記録しました。",
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkForm {
    kind: String,
    target: String,
}

pub async fn link(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<LinkForm>,
) -> AppResult<Response> {
    let now = state.now();
    find_guarded(&state, &guard, id).await?;
    let target = f
        .target
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0);
    let result = match (f.kind.as_str(), target) {
        (_, None) => Err(DomainError::invalid(
            "target",
            "番号を正の整数で入力してください。",
        )),
        ("inquiry", Some(t)) => {
            service::link(&state.db, id, LinkTarget::Inquiry(t), &actor, now).await
        }
        ("alert", Some(t)) => service::link(&state.db, id, LinkTarget::Alert(t), &actor, now).await,
        _ => Err(DomainError::invalid(
            "kind",
            "関連付ける対象を選んでください。",
        )),
    };
    after(&state, page, &p, id, result, "関連付けました。").await
}
