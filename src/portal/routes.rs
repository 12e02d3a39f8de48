//! Handlers of the top page, announcements (editing, preview, history, restore) and the feed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::EDITORS;
use super::model::{self, Category};
use super::repo::{self, AnnouncementFields};
use super::repo_requests;
use super::service::{self, Editor};
use super::views::*;
use crate::auth::{Owned, Owner, Principal};
use crate::db::Timestamp;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::{ClientAddr, ObjectGuard, Page, flash_redirect, render};

use super::service::DOC_ANNOUNCEMENT;

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
) -> AppResult<Response> {
    let now = state.now();
    let days = state.section::<super::PortalSettings>().new_badge_days;
    let mut conn = state.db.pool().acquire().await?;
    let items = repo::list_visible(&mut conn, now, false, 500).await?;
    let windows = repo_requests::approved_not_ended(&mut conn, now).await?;
    let sections = Category::ALL
        .iter()
        .map(|c| CategorySection {
            label: c.label(),
            key: c.key(),
            items: items
                .iter()
                .filter(|a| a.category == c.key())
                .map(|a| notice_line(a, now, days))
                .collect(),
        })
        .collect();
    render(
        IndexPage {
            page: page.titled("ポータル"),
            sections,
            windows: windows.iter().map(|w| window_line(w, now)).collect(),
            can_edit: EDITORS.contains(&p.role),
        },
        StatusCode::OK,
    )
}

/// An announcement at `now`: published and unexpired ones are everyone's; scheduled and expired
/// ones exist only for editors.
struct Notice {
    a: repo::Announcement,
    now: Timestamp,
}

impl Owned for Notice {
    fn owner(&self) -> Owner {
        let visible =
            self.a.publish_at <= self.now && self.a.expires_at.is_none_or(|e| e > self.now);
        if visible {
            Owner::Anyone
        } else {
            Owner::Roles(EDITORS)
        }
    }

    fn audit_target(&self) -> String {
        format!("announcement:{}", self.a.id)
    }
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    let found = match repo::find_announcement(&mut conn, id).await {
        Ok(a) => Some(Notice { a, now }),
        Err(sqlx::Error::RowNotFound) => None,
        Err(e) => return Err(e.into()),
    };
    drop(conn);
    let a = guard.check(found).await?.a;
    let can_edit = EDITORS.contains(&p.role);
    let item = notice_line(
        &a,
        now,
        state.section::<super::PortalSettings>().new_badge_days,
    );
    render(
        ShowPage {
            page: page.titled(a.title.clone()),
            item,
            can_edit,
        },
        StatusCode::OK,
    )
}

/// Atom feed of public, published, unexpired announcements.
pub async fn feed(State(state): State<AppState>) -> AppResult<Response> {
    let now = state.now();
    let mut conn = state.db.pool().acquire().await?;
    let items = repo::list_visible(&mut conn, now, true, 50).await?;
    let rfc = |t: Timestamp| t.to_db();
    let entries: Vec<FeedEntry> = items
        .iter()
        .map(|a| FeedEntry {
            id: a.id,
            title: a.title.clone(),
            category: Category::parse(&a.category)
                .map(Category::label)
                .unwrap_or("お知らせ"),
            updated: rfc(a.content_updated_at.unwrap_or(a.publish_at)),
            published: rfc(a.publish_at),
            html: model::render_markdown(&a.body_md),
        })
        .collect();
    let updated = items
        .iter()
        .map(|a| a.content_updated_at.unwrap_or(a.publish_at))
        .max()
        .unwrap_or(now);
    let feed = Feed {
        base: state
            .settings
            .server
            .public_url
            .trim_end_matches('/')
            .to_string(),
        updated: rfc(updated),
        entries,
    };
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        feed.render()?,
    )
        .into_response())
}

/// Every announcement, searched, sorted and paged in SQL with its count (X.4).
pub async fn manage(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let order = q.order(repo::ANNOUNCEMENT_SORTS, "publish", Dir::Desc);
    let like = q.like().unwrap_or_default();
    let mut conn = state.db.pool().acquire().await?;
    let total = repo::count_announcements(&mut conn, &like).await?;
    let items = repo::page_announcements(&mut conn, &like, &order, q.limit(), q.offset()).await?;
    render(
        ManagePage {
            page: page.titled("お知らせ管理"),
            items: items.iter().map(|a| manage_line(a, now)).collect(),
            q: q.text().unwrap_or_default().to_string(),
            pager: Pager::new("/portal/manage", &q, total, &[] as &[(&str, &str)]),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnnouncementInput {
    category: String,
    title: String,
    body: String,
    is_public: Option<String>,
    pinned: Option<String>,
    publish_at: String,
    expires_at: String,
    /// Text, so that a mangled value is a conflict message rather than a bare 422.
    base_revision: String,
    /// "preview" re-renders with the rendered body; anything else saves.
    action: String,
}

impl AnnouncementInput {
    fn form(&self) -> AnnouncementForm {
        AnnouncementForm {
            category: self.category.clone(),
            title: self.title.trim().to_string(),
            body: self.body.clone(),
            is_public: self.is_public.is_some(),
            pinned: self.pinned.is_some(),
            publish_at: self.publish_at.trim().to_string(),
            expires_at: self.expires_at.trim().to_string(),
            base_revision: self.base_revision.trim().parse().unwrap_or(0),
        }
    }
}

/// Checks the form; on success the publication time and expiry. An empty publication time
/// means `current` (now for a new item, the existing time on an edit), and so does the
/// minute-rounded value the edit form shows, so that saving never shifts it by seconds.
fn validate(
    f: &AnnouncementForm,
    current: Timestamp,
) -> Result<(Category, Timestamp, Option<Timestamp>), Box<FormErrors>> {
    let mut e = FormErrors::default();
    let category = Category::parse(&f.category);
    if category.is_none() {
        e.category = Some("区分を選んでください。".into());
    }
    if f.title.is_empty() {
        e.title = Some("件名を入力してください。".into());
    } else if f.title.chars().count() > 200 {
        e.title = Some("件名は200文字以内にしてください。".into());
    }
    if f.body.trim().is_empty() {
        e.body = Some("本文を入力してください。".into());
    } else if f.body.chars().count() > 50_000 {
        e.body = Some("本文は50,000文字以内にしてください。".into());
    }
    let publish = if f.publish_at.is_empty() || f.publish_at == model::to_local(current) {
        Some(current)
    } else {
        model::parse_local(&f.publish_at)
    };
    if publish.is_none() {
        e.publish_at = Some("公開日時は「2026-12-01T09:00」の形で入力してください。".into());
    }
    let expires = if f.expires_at.is_empty() {
        Ok(None)
    } else {
        model::parse_local(&f.expires_at).map(Some).ok_or(())
    };
    match (&expires, publish) {
        (Err(()), _) => {
            e.expires_at = Some("掲載終了日時は「2026-12-31T17:00」の形で入力してください。".into())
        }
        (Ok(Some(x)), Some(p)) if *x <= p => {
            e.expires_at = Some("掲載終了日時は公開日時より後にしてください。".into())
        }
        _ => {}
    }
    match (category, publish, expires) {
        (Some(c), Some(p), Ok(x)) if !e.any() => Ok((c, p, x)),
        _ => Err(Box::new(e)),
    }
}

async fn edit_page(
    state: &AppState,
    page: Page,
    id: Option<i64>,
    form: AnnouncementForm,
    errors: FormErrors,
    preview: Option<String>,
) -> AppResult<EditPage> {
    let revisions = match id {
        Some(id) => {
            let mut conn = state.db.pool().acquire().await?;
            let a = repo::find_announcement(&mut conn, id).await?;
            let revs = repo::list_revisions(&mut conn, DOC_ANNOUNCEMENT, id).await?;
            revision_lines(&revs, a.revision)
        }
        None => Vec::new(),
    };
    Ok(EditPage {
        page: page.titled(if id.is_some() {
            "お知らせの編集"
        } else {
            "お知らせの作成"
        }),
        id,
        form,
        errors,
        preview,
        categories: category_options(),
        revisions,
        restore_base: id
            .map(|i| format!("/portal/manage/{i}"))
            .unwrap_or_default(),
    })
}

pub async fn new_form(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let form = AnnouncementForm {
        category: Category::Notice.key().into(),
        ..Default::default()
    };
    let view = edit_page(&state, page, None, form, FormErrors::default(), None).await?;
    render(view, StatusCode::OK)
}

pub async fn edit_form(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let a = repo::find_announcement(&mut conn, id).await?;
    drop(conn);
    let form = AnnouncementForm {
        category: a.category.clone(),
        title: a.title.clone(),
        body: a.body_md.clone(),
        is_public: a.is_public,
        pinned: a.pinned,
        publish_at: model::to_local(a.publish_at),
        expires_at: a.expires_at.map(model::to_local).unwrap_or_default(),
        base_revision: a.revision,
    };
    let view = edit_page(&state, page, Some(id), form, FormErrors::default(), None).await?;
    render(view, StatusCode::OK)
}

pub async fn create(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Form(input): Form<AnnouncementInput>,
) -> AppResult<Response> {
    save(state, page, p, addr, None, input).await
}

pub async fn update(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<AnnouncementInput>,
) -> AppResult<Response> {
    save(state, page, p, addr, Some(id), input).await
}

async fn save(
    state: AppState,
    page: Page,
    p: Principal,
    addr: String,
    id: Option<i64>,
    input: AnnouncementInput,
) -> AppResult<Response> {
    let now = state.now();
    let form = input.form();
    let current = match id {
        // 404 before anything else for an announcement that does not exist.
        Some(id) => {
            let mut conn = state.db.pool().acquire().await?;
            repo::find_announcement(&mut conn, id).await?.publish_at
        }
        None => now,
    };
    let checked = validate(&form, current);
    if input.action == "preview" || checked.is_err() {
        let (errors, status) = match checked {
            Err(e) => (*e, StatusCode::UNPROCESSABLE_ENTITY),
            Ok(_) => (FormErrors::default(), StatusCode::OK),
        };
        let preview = (!form.body.trim().is_empty()).then(|| model::render_markdown(&form.body));
        let view = edit_page(&state, page, id, form, errors, preview).await?;
        return render(view, status);
    }
    let Ok((category, publish_at, expires_at)) = checked else {
        return Err(AppError::BadRequest("入力内容を確認してください。".into()));
    };
    let fields = AnnouncementFields {
        category: category.key(),
        title: &form.title,
        body_md: &form.body,
        is_public: form.is_public,
        pinned: form.pinned,
        publish_at,
        expires_at,
    };
    let editor = Editor::of(&p, &addr);
    let saved =
        service::save_announcement(&state.db, id, &fields, form.base_revision, &editor, now).await;
    let (id, revision) = match saved {
        Ok(saved) => saved,
        Err(DomainError::Conflict(message)) => {
            let errors = FormErrors {
                general: Some(message),
                ..Default::default()
            };
            let view = edit_page(&state, page, id, form, errors, None).await?;
            return render(view, StatusCode::CONFLICT);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(flash_redirect(
        &state,
        &format!("/portal/manage/{id}/edit"),
        &format!("お知らせを保存しました（第{revision}版）。"),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RestoreInput {
    revision: String,
}

/// Copies an old revision's title and body into a new revision.
pub async fn restore(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<i64>,
    Form(input): Form<RestoreInput>,
) -> AppResult<Response> {
    let now = state.now();
    let Ok(from) = input.revision.trim().parse::<i64>() else {
        return Err(AppError::BadRequest("復元する版を選んでください。".into()));
    };
    let editor = Editor::of(&p, &addr);
    let revision = service::restore_announcement(&state.db, id, from, &editor, now).await?;
    Ok(flash_redirect(
        &state,
        &format!("/portal/manage/{id}/edit"),
        &format!("第{from}版の内容を第{revision}版として復元しました。"),
    ))
}
