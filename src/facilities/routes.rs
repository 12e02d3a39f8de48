use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::model::{FacilityCode, FacilityKind};
use super::views::*;
use super::{NewFacility, repo};
use crate::audit::{self, Actor};
use crate::auth::Principal;
use crate::db::{Constraint, constraint};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{ClientAddr, Page, flash_redirect};

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
    form: FacilityForm,
    errors: FacilityErrors,
) -> AppResult<AdminPage> {
    let mut conn = state.db.pool().acquire().await?;
    let facilities = repo::list(&mut conn, false).await?;
    Ok(AdminPage {
        page: page.titled("施設の管理"),
        facilities,
        form,
        errors,
        kinds: kinds(),
    })
}

pub async fn admin_index(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let view = admin_page(
        &state,
        page,
        FacilityForm::default(),
        FacilityErrors::default(),
    )
    .await?;
    Ok(Html(view.render()?).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Form(form): Form<FacilityForm>,
) -> AppResult<Response> {
    let new = match parse(&form) {
        Ok(n) => n,
        Err(errors) => {
            let view = admin_page(&state, page, form, errors).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(view.render()?)).into_response());
        }
    };
    match super::add(&state.db, &new, &Actor::of(&p, &addr), state.now()).await {
        Ok(_) => Ok(flash_redirect(
            "/admin/facilities",
            &format!("{} を登録しました。", new.name),
            state.settings.server.secure_cookies,
        )),
        Err(AppError::Conflict(msg)) => {
            let errors = FacilityErrors {
                code: Some(msg),
                ..Default::default()
            };
            let view = admin_page(&state, page, form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(view.render()?)).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let f = repo::find(&mut conn, id).await?;
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
        withdrawn: f.withdrawn_at.is_some(),
        form,
        errors: FacilityErrors::default(),
        kinds: kinds(),
    };
    Ok(Html(view.render()?).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<FacilityForm>,
) -> AppResult<Response> {
    let now = state.now();
    let invalid = |errors: FacilityErrors, form: FacilityForm, page: Page| -> AppResult<Response> {
        let view = EditPage {
            page: page.titled("施設の編集"),
            id,
            withdrawn: false,
            form,
            errors,
            kinds: kinds(),
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(view.render()?)).into_response())
    };
    let new = match parse(&form) {
        Ok(n) => n,
        Err(errors) => return invalid(errors, form, page),
    };
    let mut tx = state.db.begin().await?;
    let before = repo::find(&mut tx, id).await?;
    match repo::update(&mut tx, id, &new.fields()).await {
        Ok(_) => {}
        Err(e) if constraint(&e) == Some(Constraint::Unique) => {
            drop(tx);
            let errors = FacilityErrors {
                code: Some(format!(
                    "施設コード {} はすでに登録されています。",
                    new.code
                )),
                ..Default::default()
            };
            return invalid(errors, form, page);
        }
        Err(e) => return Err(e.into()),
    }
    let details = serde_json::json!({
        "before": {"code": before.code, "name": before.name, "kind": before.kind, "address": before.address, "phone": before.phone, "fax": before.fax},
        "after": {"code": new.code.as_str(), "name": new.name, "kind": new.kind.label(), "address": new.address, "phone": new.phone, "fax": new.fax},
    });
    audit::record(
        &mut tx,
        now,
        &Actor::of(&p, &addr),
        "facility.updated",
        &format!("facility:{id}"),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(flash_redirect(
        "/admin/facilities",
        "施設の情報を更新しました。",
        state.settings.server.secure_cookies,
    ))
}

pub async fn withdraw(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let f = repo::find(&mut tx, id).await?;
    let msg = if repo::withdraw(&mut tx, id, now).await? {
        audit::record(
            &mut tx,
            now,
            &Actor::of(&p, &addr),
            "facility.withdrawn",
            &format!("facility:{id}"),
            serde_json::json!({"code": f.code, "name": f.name}),
        )
        .await?;
        format!(
            "{} の脱退を記録しました。所属アカウントはアカウント棚卸しで確認してください。",
            f.name
        )
    } else {
        "この施設はすでに脱退しています。".to_string()
    };
    tx.commit().await?;
    Ok(flash_redirect(
        "/admin/facilities",
        &msg,
        state.settings.server.secure_cookies,
    ))
}
