//! The staff's replies on an inquiry's page: a response or internal memo (with the files sent
//! along, one transaction) and a correction that names the entry it corrects.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;

use super::model::{METHODS, Status};
use super::routes::{clip, inquiry, show_page_with};
use super::service::{self, Author};
use super::uploads;
use super::views::{FormAt, ResponseForm};
use crate::error::{AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, Page, Upload, flash_redirect};

/// `POST /helpdesk/{id}/responses` (a form, or multipart with files and the CSRF token in the
/// query): a response or internal memo, with the files sent along. Refused (a field, a file):
/// the page comes back with the typed text, nothing saved.
pub async fn respond(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    up: Upload,
) -> AppResult<Response> {
    inquiry(&state, id).await?;
    let f = ResponseForm::of(&up);
    let status = Status::parse(&f.status).filter(|s| *s != Status::Received);
    let files = up.files().and_then(uploads::check);
    let error = if let Err(e) = &files {
        Some(e.clone())
    } else if !METHODS.contains(&f.method.as_str()) {
        Some("対応方法を選んでください。".into())
    } else if status.is_none() {
        Some("対応後の状態を選んでください。".into())
    } else if f.content.trim().is_empty() {
        Some("対応内容を入力してください。".into())
    } else {
        None
    };
    let (Some(status), None, Ok(files)) = (status, &error, files) else {
        let error = error.map(|e| (FormAt::Response, e));
        return show_page_with(&state, page, id, error, None, Some(f)).await;
    };
    let (files, _writing) = uploads::put_blobs(&state, files).await?;
    service::add_entry_with_files(
        &state.db,
        id,
        Author::Staff {
            account_id: p.account_id,
            name: &p.display_name,
            method: &f.method,
            status,
            public: f.internal.is_empty(),
        },
        &clip(&f.content, 10_000),
        &files,
        &actor,
        state.now(),
    )
    .await?;
    Ok(flash_redirect(
        &state,
        &format!("/helpdesk/{id}"),
        "対応を記録しました。",
    ))
}

/// `POST /helpdesk/{id}/corrections`: a correction, naming the entry it corrects (or none: the
/// inquiry itself). Refused (no text, a number that is not one of this inquiry's entries): the
/// page comes back with the error beside the correction form and what was typed, nothing saved.
pub async fn correct(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Path(id): Path<i64>,
    Form(f): Form<ResponseForm>,
) -> AppResult<Response> {
    let now = state.now();
    let corrects = match f.corrects.trim() {
        "" => Ok(None),
        s => s
            .trim_start_matches('#')
            .parse::<i64>()
            .map(Some)
            .map_err(|_| {
                "訂正する記録の番号は、「記録 #12」の 12 のように数字で入力してください。"
                    .to_string()
            }),
    };
    let refused = if f.content.trim().is_empty() {
        Some("訂正内容を入力してください。".to_string())
    } else {
        corrects.as_ref().err().cloned()
    };
    let (Ok(corrects), None) = (corrects, &refused) else {
        let error = refused.map(|e| (FormAt::Correction, e));
        return show_page_with(&state, page, id, error, None, Some(f)).await;
    };
    let added = service::add_entry(
        &state.db,
        id,
        Author::Correction {
            account_id: p.account_id,
            name: &p.display_name,
            corrects,
        },
        &clip(&f.content, 10_000),
        &actor,
        now,
    )
    .await;
    if let Err(DomainError::Invalid { message, .. }) = added {
        let error = Some((FormAt::Correction, message));
        return show_page_with(&state, page, id, error, None, Some(f)).await;
    }
    added?;
    Ok(flash_redirect(
        &state,
        &format!("/helpdesk/{id}"),
        "訂正を記録しました（元の記録はそのまま残ります）。",
    ))
}
