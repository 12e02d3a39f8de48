//! The access log of a facility's patients (X.2, issue 15): who read which patient's data, when,
//! from which facility, and refused reads. It is the audit chain read through `audit_ui`'s parts:
//! names beside ids (the reader 氏名（ログインID）, the patient 氏名（カナ）, the document's title,
//! the facility's name), filters, sorting, paging with the real total, and CSV / .xlsx of exactly
//! the filtered set.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::views::AccessLogPage;
use crate::audit_ui::export::{self, Layout};
use crate::audit_ui::query::LogQuery;
use crate::audit_ui::repo::{self as log, Search};
use crate::audit_ui::{labels, render};
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::list::ListQuery;
use crate::web::{Page, render as render_page};

/// The events that are reads of (or refused reads of) a patient's data.
pub const READS: &[&str] = &[
    "records.document_read",
    "records.timeline_read",
    "records.attachment_read",
    "records.consent_scan_read",
    "access.denied",
];

fn search(p: &Principal, q: &LogQuery) -> Result<Search, AppError> {
    let facility = p.facility_id.ok_or(AppError::Forbidden)?;
    let mut s = q.search().map_err(AppError::BadRequest)?;
    s.actions = Some(READS);
    s.patients_of = Some(facility);
    Ok(s)
}

pub async fn page(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Query(q): Query<LogQuery>,
    Query(list): Query<ListQuery>,
) -> AppResult<Response> {
    let order = LogQuery::order(&list);
    let (lines, error, pager) = match search(&p, &q) {
        Ok(s) => {
            let mut conn = state.db.pool().acquire().await?;
            let total = log::count(&mut conn, &s).await?;
            let rows = log::page(
                &mut conn,
                &s,
                &order.sql_clause(),
                list.limit(),
                list.offset(),
            )
            .await?;
            let pager = q.pager("/records/access-log", &list, total);
            (render::lines(&mut conn, rows).await?, None, pager)
        }
        Err(AppError::BadRequest(e)) => (
            Vec::new(),
            Some(e),
            q.pager("/records/access-log", &list, 0),
        ),
        Err(e) => return Err(e),
    };
    let actions = READS.iter().map(|a| (*a, labels::action(a))).collect();
    render_page(
        AccessLogPage {
            page: page.titled("診療情報のアクセスログ"),
            export: q.filters(),
            q,
            actions,
            lines,
            error,
            pager,
        },
        StatusCode::OK,
    )
}

fn name(state: &AppState) -> String {
    format!(
        "access-log-{}",
        state.now().jst().get(..10).unwrap_or("log")
    )
}

pub async fn csv(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Query<LogQuery>,
) -> AppResult<Response> {
    let s = search(&p, &q)?;
    Ok(export::csv(
        state.db.clone(),
        s,
        Layout::Access,
        &name(&state),
    ))
}

pub async fn xlsx(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Query(q): Query<LogQuery>,
) -> AppResult<Response> {
    let s = search(&p, &q)?;
    export::xlsx(state.db.clone(), s, Layout::Access, &name(&state)).await
}
