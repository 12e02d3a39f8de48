//! System administrators' side: facility API keys (issue — shown once, stored as SHA-256 —,
//! list, revoke) and retention (R21.1, R22.1): the list of expired documents and the manual
//! purge, which replaces each document by a tombstone and removes blobs nothing refers to.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::repo;
use super::service;
use super::views::size_text;
use crate::audit::{self, Actor};
use crate::db::Timestamp;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

pub struct KeyLine {
    /// For the revoke form's URL only; the page shows the key by facility, use and prefix.
    pub id: i64,
    pub facility: String,
    pub label: String,
    pub prefix: String,
    pub created: String,
    /// The issuer's login ID, in the cell's title.
    pub created_by: String,
    /// When, and by whom (a person's name, else the shown actor).
    pub revoked: Option<String>,
    /// The revoker's login ID, in the cell's title (empty: no person's name to explain).
    pub revoked_by: String,
}

#[derive(Template)]
#[template(path = "records/api_keys.html")]
pub struct ApiKeysPage {
    pub page: Page,
    pub keys: Vec<KeyLine>,
    pub new_key: Option<String>,
    pub error: Option<String>,
    pub facility_code: String,
    pub label: String,
    /// The active facilities offered as a `<datalist>` (code, name), as `/admin/accounts/new`.
    pub facilities: Vec<(String, String)>,
}

async fn keys_page(
    state: &AppState,
    page: Page,
    new_key: Option<String>,
    error: Option<String>,
    facility_code: String,
    label: String,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let keys = repo::list_api_keys(&mut conn)
        .await?
        .into_iter()
        .map(|k| KeyLine {
            // The login ID beside a person's name; a system actor has only its shown name.
            created_by: if k.created_by_name.is_some() {
                k.created_by.clone()
            } else {
                String::new()
            },
            id: k.id,
            facility: format!("{}（{}）", k.facility_name, k.facility_code),
            label: k.label,
            prefix: k.prefix,
            created: format!(
                "{}（{}）",
                k.created_at.jst(),
                k.created_by_name
                    .unwrap_or_else(|| crate::audit::Actor::shown(&k.created_by))
            ),
            revoked_by: match (&k.revoked_by, &k.revoked_by_name) {
                (Some(login), Some(_)) => login.clone(),
                _ => String::new(),
            },
            revoked: k.revoked_at.map(|t| {
                let by = k
                    .revoked_by_name
                    .clone()
                    .or_else(|| k.revoked_by.as_deref().map(crate::audit::Actor::shown));
                match by {
                    Some(by) => format!("{}、{by}", t.jst()),
                    None => t.jst(),
                }
            }),
        })
        .collect();
    let facilities = crate::facilities::list_active(&mut conn)
        .await?
        .into_iter()
        .map(|f| (f.code, f.name))
        .collect();
    let t = ApiKeysPage {
        facilities,
        page: page.titled("API キー"),
        keys,
        new_key,
        error,
        facility_code,
        label,
    };
    render(t, status)
}

pub async fn api_keys(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    keys_page(
        &state,
        page,
        None,
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct KeyForm {
    facility_code: String,
    label: String,
}

pub async fn create_key(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    page: Page,
    Form(f): Form<KeyForm>,
) -> AppResult<Response> {
    // The facility is typed as its code or its exact name and resolved among the active ones.
    let mut conn = state.db.pool().acquire().await?;
    let active = crate::facilities::list_active(&mut conn).await?;
    drop(conn);
    let resolved = crate::facilities::resolve_facility(&f.facility_code, &active)
        .and_then(|c| c.ok_or_else(|| "施設コードか施設名を入力してください。".to_string()));
    let code = match resolved {
        Ok(code) => code,
        Err(message) => {
            return keys_page(
                &state,
                page,
                None,
                Some(message),
                f.facility_code,
                f.label,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match service::create_api_key(&state.db, &code, &f.label, &actor, state.now()).await {
        Ok((_, key)) => {
            keys_page(
                &state,
                page,
                Some(key),
                None,
                String::new(),
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(DomainError::Invalid { message, .. }) => {
            keys_page(
                &state,
                page,
                None,
                Some(message),
                f.facility_code,
                f.label,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConfirmForm {
    confirm: String,
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    Path(id): Path<i64>,
    Form(f): Form<ConfirmForm>,
) -> AppResult<Response> {
    let now = state.now();
    if f.confirm != "yes" {
        return Err(AppError::BadRequest(
            "失効の確認にチェックを入れてください。".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    service::revoke_api_key(&mut tx, id, &actor, now).await?;
    tx.commit().await?;
    super::api::forget_api_keys(&state.db);
    Ok(flash_redirect(
        &state,
        "/admin/api-keys",
        "API キーを失効させました。",
    ))
}

// ---- retention ----

/// The daily `records.retention` job: lists expired documents in the audit chain and its
/// result; deletes nothing (R22.1: deletion is a manual operation).
pub async fn review_expired(state: &AppState, now: Timestamp) -> anyhow::Result<String> {
    let mut tx = state.db.begin().await?;
    let expired = repo::expired(&mut tx, now, 10_000).await?;
    let ids: Vec<i64> = expired.iter().map(|e| e.id).collect();
    audit::record(
        &mut tx,
        now,
        &Actor::system("records.retention"),
        "records.retention_listed",
        "documents",
        json!({"expired": ids.len(), "document_ids": ids}),
    )
    .await?;
    tx.commit().await?;
    Ok(format!(
        "保存期間（送信日から1年）を過ぎた文書 {} 件（システム管理者による削除待ち。自動削除はしません）",
        ids.len()
    ))
}

pub struct ExpiredView {
    pub id: i64,
    pub facility: String,
    pub type_label: String,
    pub sent: String,
    pub expired: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "records/retention.html")]
pub struct RetentionPage {
    pub page: Page,
    pub docs: Vec<ExpiredView>,
    pub ids: String,
    pub error: Option<String>,
}

async fn retention_page(
    state: &AppState,
    page: Page,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let docs: Vec<ExpiredView> = repo::expired(&mut conn, state.now(), 1000)
        .await?
        .into_iter()
        .map(|e| ExpiredView {
            id: e.id,
            facility: e.facility_name,
            type_label: e.type_label,
            sent: e.sent_at.jst(),
            expired: e.expires_at.jst(),
            size: size_text(e.size_bytes),
        })
        .collect();
    let ids = docs
        .iter()
        .map(|d| d.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let t = RetentionPage {
        page: page.titled("保存期間を過ぎた文書"),
        docs,
        ids,
        error,
    };
    render(t, status)
}

pub async fn retention(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    retention_page(&state, page, None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PurgeForm {
    ids: String,
    confirm: String,
}

pub async fn purge_confirmed(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    page: Page,
    Form(f): Form<PurgeForm>,
) -> AppResult<Response> {
    let ids: Vec<i64> = f
        .ids
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if ids.is_empty() || f.confirm != "yes" {
        let e = Some(
            "削除する文書を確認し、「内容を確認しました」にチェックを入れてから実行してください。"
                .to_string(),
        );
        return retention_page(&state, page, e, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let (docs, blobs) = service::purge(&state, &ids, &actor, state.now()).await?;
    Ok(flash_redirect(
        &state,
        "/admin/records/retention",
        &format!(
            "{docs} 件の文書を削除しました（添付ファイル {blobs} 件を削除、記録は墓標として保持）。"
        ),
    ))
}
