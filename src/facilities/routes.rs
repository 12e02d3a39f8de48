use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::model::{FacilityCode, FacilityKind};
use super::views::*;
use super::{NewFacility, repo, service};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::{Caller, Page, flash_redirect, render};

fn kinds() -> Vec<&'static str> {
    FacilityKind::ALL.iter().map(|k| k.label()).collect()
}

pub async fn directory(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let facilities = repo::list(&mut conn, true).await?;
    Ok(Html(
        DirectoryPage {
            page: page.titled("参加医療施設の案内"),
            facilities,
        }
        .render()?,
    )
    .into_response())
}

/// Parses the form; errors go next to their fields.
fn parse(form: &FacilityForm) -> Result<NewFacility, FacilityErrors> {
    let mut errors = FacilityErrors::default();
    let code = FacilityCode::parse(&form.code)
        .map_err(|e| errors.code = Some(e))
        .ok();
    let kind = FacilityKind::parse(&form.kind)
        .map_err(|e| errors.kind = Some(e))
        .ok();
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errors.name = Some("施設名を100文字以内で入力してください。".into());
    }
    match (code, kind, errors.any()) {
        (Some(code), Some(kind), false) => Ok(NewFacility {
            code,
            name,
            kind,
            postal_code: form.postal_code.trim().chars().take(10).collect(),
            address: form.address.trim().chars().take(200).collect(),
            phone: form.phone.trim().chars().take(30).collect(),
            fax: form.fax.trim().chars().take(30).collect(),
        }),
        _ => Err(errors),
    }
}

async fn admin_page(
    state: &AppState,
    page: Page,
    q: &ListQuery,
    form: FacilityForm,
    errors: FacilityErrors,
) -> AppResult<AdminPage> {
    let order = q.order(repo::FACILITY_SORTS, "state", Dir::Asc);
    let like = q.like();
    let mut conn = state.db.pool().acquire().await?;
    let total = repo::count(&mut conn, like.as_deref()).await?;
    let facilities = repo::page(&mut conn, like.as_deref(), &order, q.limit(), q.offset()).await?;
    Ok(AdminPage {
        page: page.titled("施設の管理"),
        facilities,
        form,
        errors,
        kinds: kinds(),
        q: q.text().unwrap_or_default().to_string(),
        pager: Pager::new("/admin/facilities", q, total, &[] as &[(&str, &str)]),
    })
}

pub async fn admin_index(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let view = admin_page(
        &state,
        page,
        &q,
        FacilityForm::default(),
        FacilityErrors::default(),
    )
    .await?;
    render(view, StatusCode::OK)
}

pub async fn create(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    page: Page,
    Form(form): Form<FacilityForm>,
) -> AppResult<Response> {
    let new = match parse(&form) {
        Ok(n) => n,
        Err(errors) => {
            let view = admin_page(&state, page, &ListQuery::default(), form, errors).await?;
            return render(view, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    match service::add(&state.db, &new, &actor, state.now()).await {
        Ok(_) => Ok(flash_redirect(
            &state,
            "/admin/facilities",
            &format!("{} を登録しました。", new.name),
        )),
        Err(DomainError::Invalid { message, .. }) => {
            let errors = FacilityErrors {
                code: Some(message),
                ..Default::default()
            };
            let view = admin_page(&state, page, &ListQuery::default(), form, errors).await?;
            render(view, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

/// The new-account form, which a facility's page links with the facility filled in.
const NEW_ACCOUNT: &str = "/admin/accounts/new";

pub async fn edit_form(
    State(state): State<AppState>,
    Caller { p, actor: _ }: Caller,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let f = repo::find(&mut conn, id).await?;
    // A withdrawn facility takes no new accounts; the link shows only to whoever may create one.
    let new_account = (f.withdrawn_at.is_none() && state.may_open(p.role, NEW_ACCOUNT))
        .then(|| format!("{NEW_ACCOUNT}?facility={}", f.code));
    let form = FacilityForm {
        code: f.code,
        name: f.name.clone(),
        kind: f.kind,
        postal_code: f.postal_code,
        address: f.address,
        phone: f.phone,
        fax: f.fax,
    };
    let view = EditPage {
        page: page.titled(format!("{} の編集", f.name)),
        id,
        new_account,
        withdrawn: f.withdrawn_at.is_some(),
        form,
        errors: FacilityErrors::default(),
        kinds: kinds(),
    };
    render(view, StatusCode::OK)
}

pub async fn update(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<FacilityForm>,
) -> AppResult<Response> {
    let now = state.now();
    let invalid = |errors: FacilityErrors, form: FacilityForm, page: Page| -> AppResult<Response> {
        let view = EditPage {
            page: page.titled("施設の編集"),
            id,
            new_account: None,
            withdrawn: false,
            form,
            errors,
            kinds: kinds(),
        };
        render(view, StatusCode::UNPROCESSABLE_ENTITY)
    };
    let new = match parse(&form) {
        Ok(n) => n,
        Err(errors) => return invalid(errors, form, page),
    };
    match service::update(&state.db, id, &new, &actor, now).await {
        Ok(()) => Ok(flash_redirect(
            &state,
            "/admin/facilities",
            "施設の情報を更新しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            let errors = FacilityErrors {
                code: Some(message),
                ..Default::default()
            };
            invalid(errors, form, page)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn withdraw(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let msg = match service::withdraw(&state.db, id, &actor, state.now()).await? {
        Some(name) => format!(
            "{name} の脱退を記録しました。所属アカウントはアカウント棚卸しで確認してください。"
        ),
        None => "この施設はすでに脱退しています。".to_string(),
    };
    Ok(flash_redirect(&state, "/admin/facilities", &msg))
}
