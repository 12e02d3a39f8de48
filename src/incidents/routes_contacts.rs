//! Handlers of the contact tree (`/incidents/contacts`), an incident's portal notice and its
//! contact checklist (`/incidents/{id}/contacts`) (R17.2).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::contacts::{
    self, ContactFields, EDITORS, IncidentRef, READERS, RECORDERS, RecordFields,
};
use super::contacts_panel::{self, PanelData};
use super::notices;
use super::repo;
use super::repo_contacts::{self as crepo, Contact};
use crate::auth::Principal;
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Access, Caller, ObjectGuard, Page, Routes, flash_redirect, render};

/// The routes of this area; `domain()` chains them.
pub fn routes() -> Routes {
    let readers = Access::Roles(READERS);
    let editors = Access::Roles(EDITORS);
    Routes::new()
        .get("/incidents/contacts", readers, tree)
        .post("/incidents/contacts", editors, add)
        .get("/incidents/contacts/{id}", editors, edit_form)
        .post("/incidents/contacts/{id}", editors, update)
        .post("/incidents/contacts/{id}/move", editors, move_contact)
        .post("/incidents/contacts/{id}/deactivate", editors, deactivate)
        .post("/incidents/contacts/{id}/reactivate", editors, reactivate)
        .get("/incidents/{id}/contacts", readers, checklist)
        .post("/incidents/{id}/notice", editors, post_notice)
        .post("/incidents/{id}/contacts/notify", editors, notify)
        .post(
            "/incidents/{id}/contacts/record",
            Access::Roles(RECORDERS),
            record,
        )
}

// ---- the tree ----

pub struct LevelGroup {
    pub level: i64,
    pub contacts: Vec<Contact>,
}

#[derive(Template)]
#[template(path = "incidents/contacts.html")]
pub struct TreePage {
    pub page: Page,
    pub levels: Vec<LevelGroup>,
    pub inactive: Vec<Contact>,
    pub can_edit: bool,
    pub form: ContactFields,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "incidents/contacts_edit.html")]
pub struct EditPage {
    pub page: Page,
    pub contact: Contact,
    pub form: ContactFields,
    pub error: Option<String>,
}

fn group(contacts: Vec<Contact>) -> (Vec<LevelGroup>, Vec<Contact>) {
    let mut levels: Vec<LevelGroup> = Vec::new();
    let mut inactive = Vec::new();
    for c in contacts {
        if c.deactivated_at.is_some() {
            inactive.push(c);
            continue;
        }
        match levels.last_mut() {
            Some(g) if g.level == c.level => g.contacts.push(c),
            _ => levels.push(LevelGroup {
                level: c.level,
                contacts: vec![c],
            }),
        }
    }
    (levels, inactive)
}

async fn tree_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    form: ContactFields,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let (levels, inactive) = group(crepo::list_contacts(&mut conn).await?);
    render(
        TreePage {
            page: page.titled("障害時などの連絡体制（別紙4）"),
            levels,
            inactive,
            can_edit: EDITORS.contains(&p.role),
            form,
            error,
        },
        status,
    )
}

pub async fn tree(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    let form = ContactFields {
        level: "1".into(),
        ..Default::default()
    };
    tree_page(&state, page, &p, form, None, StatusCode::OK).await
}

pub async fn add(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Form(form): Form<ContactFields>,
) -> AppResult<Response> {
    match contacts::add(&state.db, &form, &actor, state.now()).await {
        Ok(_) => Ok(flash_redirect(
            &state,
            "/incidents/contacts",
            "連絡先を追加しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            tree_page(
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

async fn contact_of(state: &AppState, guard: &ObjectGuard, id: i64) -> AppResult<Contact> {
    let mut conn = state.db.pool().acquire().await?;
    let found = crepo::find_contact(&mut conn, id).await?;
    drop(conn);
    Ok(guard.check(found).await?)
}

fn fields_of(c: &Contact) -> ContactFields {
    ContactFields {
        level: c.level.to_string(),
        organisation: c.organisation.clone(),
        person: c.person.clone(),
        phone: c.phone.clone(),
        fax: c.fax.clone(),
        email: c.email.clone(),
        note: c.note.clone(),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let contact = contact_of(&state, &guard, id).await?;
    render(
        EditPage {
            page: page.titled("連絡先の編集"),
            form: fields_of(&contact),
            contact,
            error: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UpdateForm {
    #[serde(flatten)]
    pub fields: ContactFields,
    pub revision: String,
}

pub async fn update(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<UpdateForm>,
) -> AppResult<Response> {
    let contact = contact_of(&state, &guard, id).await?;
    let revision = form.revision.trim().parse::<i64>().unwrap_or(0);
    let status = match contacts::update(&state.db, id, revision, &form.fields, &actor, state.now())
        .await
    {
        Ok(()) => {
            return Ok(flash_redirect(
                &state,
                "/incidents/contacts",
                "連絡先を保存しました。",
            ));
        }
        Err(DomainError::Invalid { message, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, message),
        Err(DomainError::Conflict(message)) => (StatusCode::CONFLICT, message),
        Err(e) => return Err(e.into()),
    };
    render(
        EditPage {
            page: page.titled("連絡先の編集"),
            contact,
            form: form.fields,
            error: Some(status.1),
        },
        status.0,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MoveForm {
    pub direction: String,
}

pub async fn move_contact(
    State(state): State<AppState>,
    guard: ObjectGuard,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<MoveForm>,
) -> AppResult<Response> {
    contact_of(&state, &guard, id).await?;
    let up = match form.direction.as_str() {
        "up" => true,
        "down" => false,
        _ => {
            return Err(
                DomainError::invalid("direction", "並べ替えの向きを指定してください。").into(),
            );
        }
    };
    contacts::move_within_level(&state.db, id, up, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        "/incidents/contacts",
        "順番を変更しました。",
    ))
}

pub async fn deactivate(
    State(state): State<AppState>,
    guard: ObjectGuard,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    contact_of(&state, &guard, id).await?;
    contacts::set_active(&state.db, id, false, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        "/incidents/contacts",
        "連絡先の使用を停止しました（記録は残ります）。",
    ))
}

pub async fn reactivate(
    State(state): State<AppState>,
    guard: ObjectGuard,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    contact_of(&state, &guard, id).await?;
    contacts::set_active(&state.db, id, true, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        "/incidents/contacts",
        "連絡先の使用を再開しました。",
    ))
}

// ---- an incident's notice and checklist ----

#[derive(Template)]
#[template(path = "incidents/contacts_checklist.html")]
pub struct ChecklistPage {
    pub page: Page,
    pub number: String,
    pub title: String,
    pub status: &'static str,
    pub contacts_panel: PanelData,
    pub error: Option<String>,
}

async fn incident_of(state: &AppState, guard: &ObjectGuard, id: i64) -> AppResult<IncidentRef> {
    let mut conn = state.db.pool().acquire().await?;
    let found = repo::find(&mut conn, id).await?.map(IncidentRef);
    drop(conn);
    Ok(guard.check(found).await?)
}

async fn checklist_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    i: IncidentRef,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let mut panel = contacts_panel::panel(&mut conn, i.0.id, p.role).await?;
    panel.return_to = "contacts";
    checklist_render(page, i, panel, error, status)
}

fn checklist_render(
    page: Page,
    i: IncidentRef,
    panel: PanelData,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    render(
        ChecklistPage {
            page: page.titled(format!("{} 利用者への連絡", i.0.number)),
            number: i.0.number.clone(),
            title: i.0.title.clone(),
            status: i.0.status().label(),
            contacts_panel: panel,
            error,
        },
        status,
    )
}

pub async fn checklist(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, .. }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let i = incident_of(&state, &guard, id).await?;
    checklist_page(&state, page, &p, i, None, StatusCode::OK).await
}

/// Where an action of the panel returns: the incident's page or the checklist page.
fn back(id: i64, return_to: &str) -> String {
    if return_to == "contacts" {
        format!("/incidents/{id}/contacts")
    } else {
        format!("/incidents/{id}")
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeForm {
    pub expected_recovery: String,
    pub return_to: String,
}

pub async fn post_notice(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<NoticeForm>,
) -> AppResult<Response> {
    let i = incident_of(&state, &guard, id).await?;
    match notices::post(&state.db, id, &form.expected_recovery, &actor, state.now()).await {
        Ok(_) => Ok(flash_redirect(
            &state,
            &back(id, &form.return_to),
            "ポータルの障害情報を掲載（更新）しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            checklist_page(
                &state,
                page,
                &p,
                i,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReturnForm {
    pub return_to: String,
}

pub async fn notify(
    State(state): State<AppState>,
    guard: ObjectGuard,
    Caller { actor, .. }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<ReturnForm>,
) -> AppResult<Response> {
    incident_of(&state, &guard, id).await?;
    let n = contacts::notify(&state.db, id, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        &back(id, &form.return_to),
        &format!("{n} 件のメールを送信待ちにしました。送信されると「伝達済」になります。"),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RecordForm {
    #[serde(flatten)]
    pub fields: RecordFields,
    pub return_to: String,
}

pub async fn record(
    State(state): State<AppState>,
    page: Page,
    guard: ObjectGuard,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(form): Form<RecordForm>,
) -> AppResult<Response> {
    let i = incident_of(&state, &guard, id).await?;
    match contacts::record(&state.db, id, &form.fields, &actor, state.now()).await {
        Ok(_) => Ok(flash_redirect(
            &state,
            &back(id, &form.return_to),
            "連絡の結果を記録しました。",
        )),
        Err(DomainError::Invalid { message, .. }) => {
            // The checklist page again: the form as it was sent, the reason beside it.
            let mut conn = state.db.pool().acquire().await?;
            let mut panel = contacts_panel::panel(&mut conn, i.0.id, p.role).await?;
            drop(conn);
            panel.return_to = "contacts";
            panel.entered = form.fields;
            panel.record_error = Some(message);
            checklist_render(page, i, panel, None, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}
