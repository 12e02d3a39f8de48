//! Pages of system operators: all requests, paper entry, processing, letters, CSV import.

use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::model::VerificationMethod;
use super::routes::submit_common;
use super::service::{self, Handler, ImportError};
use super::views::*;
use super::{csv_import, letter, letters_routes, repo};
use crate::audit::Actor;
use crate::auth::Principal;
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::render;
use crate::web::{ClientAddr, Page, Upload, flash_redirect};

fn handler(p: &Principal, addr: &str) -> Handler {
    Handler {
        account_id: Some(p.account_id),
        actor: Actor::of(p, addr),
    }
}

/// The state tab and the letters token of `/admin/requests` (the search, sort and page are in
/// [`crate::web::list::ListQuery`]).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ListFilter {
    state: String,
    /// The download token of letters just made (after processing).
    letters: String,
}

/// The operators' list: every facility's requests, searched, filtered by state, sorted and
/// paged in SQL with their count (X.4). The state tab is kept in the page and sort links; the
/// letters token is not (the download is offered once, on the page processing leads to).
async fn list_page(
    state: &AppState,
    page: Page,
    filter: String,
    q: &ListQuery,
    error: Option<String>,
) -> AppResult<AdminListPage> {
    let order = q.order(repo::ADMIN_SORTS, "waiting", Dir::Asc);
    let like = q.like().unwrap_or_default();
    let mut conn = state.db.pool().acquire().await?;
    let total = repo::count_all(&mut conn, &filter, &like).await?;
    let requests = repo::page_all(&mut conn, &filter, &like, &order, q.limit(), q.offset()).await?;
    let pager = Pager::new("/admin/requests", q, total, &[("state", filter.as_str())]);
    Ok(AdminListPage {
        page: page.titled("利用者申請の処理"),
        // Processing is offered where requests wait, never on the processed or rejected tab.
        can_issue: filter.is_empty() || filter == "received",
        state: filter,
        requests,
        error,
        letters: None,
        q: q.text().unwrap_or_default().to_string(),
        pager,
    })
}

pub async fn index(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Query(f): Query<ListFilter>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let filter = if super::model::RequestState::from_key(&f.state).is_some() {
        f.state
    } else {
        String::new()
    };
    let mut view = list_page(&state, page, filter, &q, None).await?;
    view.letters = letters_routes::waiting(&state, &p, &f.letters).await?;
    render(view, StatusCode::OK)
}

pub async fn create(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    guard: crate::web::ObjectGuard,
    page: Page,
    Form(form): Form<RequestForm>,
) -> AppResult<Response> {
    submit_common(state, addr, (p, guard), page, form, true).await
}

async fn show_page(
    state: &AppState,
    page: Page,
    id: i64,
    error: Option<String>,
) -> AppResult<ShowPage> {
    let mut conn = state.db.pool().acquire().await?;
    let r = repo::find(&mut conn, id).await?;
    Ok(ShowPage {
        page: page.titled(format!("申請 #{id}")),
        r,
        methods: methods(),
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    render(show_page(&state, page, id, None).await?, StatusCode::OK)
}

/// `ids=1&ids=2…` from the list's check boxes (repeated keys, which serde's Form cannot read).
fn ids_of(body: &Bytes) -> Vec<i64> {
    url::form_urlencoded::parse(body)
        .filter(|(k, _)| k == "ids")
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}

/// The state tab and list query posted with the processing form; "" is the all tab, and a
/// missing or unknown tab falls back to the received requests, which the form is for.
fn posted_list(body: &Bytes) -> (String, ListQuery) {
    let raw = String::from_utf8_lossy(body);
    let filter = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .filter(|s| s.is_empty() || super::model::RequestState::from_key(s).is_some())
        .unwrap_or_else(|| "received".into());
    (filter, ListQuery::from_query(&raw))
}

/// The list the processing form was posted from (tab, search, sort, page size, page) with the
/// letters' download token: after processing the user is back where they were (X.4), as after a
/// refusal. Of a repeated key the first counts, as in [`ListQuery`].
fn list_href(body: &Bytes, filter: &str, token: &str) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    url.append_pair("state", filter);
    let mut seen = Vec::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        let kept = matches!(&*k, "q" | "sort" | "dir" | "per" | "page");
        if kept && !v.trim().is_empty() && !seen.contains(&k) {
            url.append_pair(&k, &v);
            seen.push(k);
        }
    }
    url.append_pair("letters", token);
    format!("/admin/requests?{}", url.finish())
}

pub async fn issue(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    body: Bytes,
) -> AppResult<Response> {
    let ids = ids_of(&body);
    // The list the form was posted from (hidden fields): a refusal shows it again as it was.
    let (filter, list) = posted_list(&body);
    let now = state.now();
    // Load the font before anything is written: without it no letter could be printed.
    if let Err(e) = letter::font(&state.settings) {
        tracing::error!(error = %e, "letter font missing");
        let msg =
            "封書のフォントが見つからないため発行できません。システム管理者に連絡してください。"
                .to_string();
        return render(
            list_page(&state, page, filter, &list, Some(msg)).await?,
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    match service::issue(
        &state.db,
        &ids,
        &handler(&p, &addr),
        state
            .section::<crate::accounts::AccountSettings>()
            .one_time_password_days,
        now,
    )
    .await
    {
        Ok(letters) => {
            // Named in Japan time, as every page shows times.
            let name = format!(
                "letters-{}.pdf",
                now.as_jiff()
                    .to_zoned(crate::db::tokyo())
                    .strftime("%Y%m%d-%H%M%S")
            );
            let token = letters_routes::hold(&state, &p, &letters, name).await?;
            let msg = format!(
                "{} 件の申請を処理しました。封書（PDF）をダウンロードして印刷してください。",
                letters.len()
            );
            Ok(flash_redirect(
                &state,
                &list_href(&body, &filter, &token),
                &msg,
            ))
        }
        Err(DomainError::Invalid { message, .. } | DomainError::Conflict(message)) => render(
            list_page(&state, page, filter, &list, Some(message)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

/// Runs an operation on one request; its refusals are shown on the request's page.
async fn on_request(
    state: &AppState,
    page: Page,
    id: i64,
    result: Result<(), DomainError>,
    done: &str,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(flash_redirect(
            state,
            &format!("/admin/requests/{id}"),
            done,
        )),
        Err(DomainError::Invalid { message, .. } | DomainError::Conflict(message)) => render(
            show_page(state, page, id, Some(message)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn process_delete(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let result = service::process_delete(&state.db, id, &handler(&p, &addr), state.now())
        .await
        .map(|_| ());
    on_request(
        &state,
        page,
        id,
        result,
        "利用を停止しました。ログイン中のセッションも終了しています。",
    )
    .await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct VerifyForm {
    method: String,
    note: String,
}

pub async fn verify(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<VerifyForm>,
) -> AppResult<Response> {
    let result = match VerificationMethod::from_key(&form.method) {
        None => Err(DomainError::invalid(
            "method",
            "本人確認の方法を選んでください。",
        )),
        Some(m) => {
            let note: String = form.note.trim().chars().take(500).collect();
            service::verify_identity(&state.db, id, m, &note, &handler(&p, &addr), state.now())
                .await
        }
    };
    on_request(&state, page, id, result, "本人確認を記録しました。").await
}

pub async fn apply(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let result = service::apply_attributes(&state.db, id, &handler(&p, &addr), state.now()).await;
    on_request(&state, page, id, result, "属性を変更しました。").await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct RejectForm {
    reason: String,
}

pub async fn reject(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<RejectForm>,
) -> AppResult<Response> {
    let result = service::reject(
        &state.db,
        id,
        &form.reason,
        &handler(&p, &addr),
        state.now(),
    )
    .await;
    on_request(&state, page, id, result, "申請を却下しました。").await
}

pub async fn import_form(page: Page) -> AppResult<Response> {
    render(
        ImportPage {
            page: page.titled("申請のCSV取込"),
            errors: Vec::new(),
        },
        StatusCode::OK,
    )
}

pub async fn import(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    up: Upload,
) -> AppResult<Response> {
    let page = page.titled("申請のCSV取込");
    let refuse = |page: Page, errors: Vec<String>| {
        render(
            ImportPage { page, errors },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    // Read by [`Upload`] (the route keeps axum's 2 MB body limit); not a form, unreadable or too
    // large reads as no file, as it always has.
    let bytes = up
        .files()
        .ok()
        .and_then(|files| files.into_iter().rfind(|f| f.field == "file"))
        .map(|f| f.bytes);
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return refuse(page, vec!["CSVファイルを選んでください。".into()]);
    };
    let Some(text) = csv_import::decode(&bytes) else {
        return refuse(
            page,
            vec!["文字コードを判別できません。UTF-8 または Shift_JIS で保存してください。".into()],
        );
    };
    let rows = match csv_import::parse(&text) {
        Ok(rows) => rows,
        Err(errors) => return refuse(page, errors),
    };
    let count = match service::import_csv(&state.db, rows, &handler(&p, &addr), state.now()).await {
        Ok(count) => count,
        Err(ImportError::Lines(errors)) => return refuse(page, errors),
        Err(ImportError::Other(e)) => return Err(e.into()),
    };
    Ok(flash_redirect(
        &state,
        "/admin/requests?state=received",
        &format!("{count} 件の追加申請を取り込みました。"),
    ))
}
