//! The staff's inquiry list (`/helpdesk`): search, filters, sort and pages with counts.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::model::{PRIORITIES, Status};
use super::repo;
use super::repo_team;
use super::routes::{calendar, name_of, row};
use super::views::IndexPage;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{Page, render};

const PER_PAGE: i64 = 50;

/// The list's query: `?q=&status=&assignee=&priority=&facility=&sort=&dir=&page=`. `status`
/// empty means unfinished only, `all` every status (`?all=1` is the old spelling of it).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    all: String,
    q: String,
    status: String,
    assignee: String,
    priority: String,
    facility: String,
    sort: String,
    dir: String,
    page: String,
}

/// `%text%` with `%`, `_` and `\` escaped, for `LIKE … ESCAPE '\'`.
fn like(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let cal = calendar(&state).await?;
    let text = q.q.trim().to_string();
    let status_key = if !q.all.is_empty() && q.status.is_empty() {
        "all".to_string()
    } else {
        q.status.trim().to_string()
    };
    let status = match status_key.as_str() {
        "" => None,
        "all" => Some(""),
        s => Some(Status::parse(s).map_or("", Status::label)),
    };
    let assignee = match q.assignee.trim() {
        "" => 0,
        "none" => -1,
        s => s.parse::<i64>().unwrap_or(0).max(0),
    };
    let priority = if PRIORITIES.contains(&q.priority.trim()) {
        q.priority.trim()
    } else {
        ""
    };
    let like_text = if text.is_empty() {
        String::new()
    } else {
        like(&text)
    };
    let filter = repo_team::Filter {
        status,
        assignee,
        priority,
        facility: q.facility.trim(),
        like: &like_text,
        number: text.trim_start_matches('#').parse::<i64>().unwrap_or(-1),
    };
    let (sort, order_sql) = repo_team::SORTS
        .iter()
        .find(|(k, _)| *k == q.sort)
        .copied()
        .unwrap_or(repo_team::SORTS[0]);
    let desc = match q.dir.as_str() {
        "asc" => false,
        "desc" => true,
        _ => sort != "priority",
    };
    let page_no = q.page.trim().parse::<i64>().unwrap_or(1).max(1);
    let mut conn = state.db.pool().acquire().await?;
    let (found, total) = repo_team::search(
        &mut conn,
        &filter,
        order_sql,
        desc,
        PER_PAGE,
        (page_no - 1) * PER_PAGE,
    )
    .await?;
    let staff = repo_team::staff(&mut conn, &super::model::staff_role_keys()).await?;
    let mut rows = Vec::new();
    for inq in &found {
        let entries = repo::entries(&mut conn, inq.id).await?;
        let mut r = row(&state, &cal, inq, &entries, now);
        r.assignee = name_of(&staff, inq.assignee_account_id);
        rows.push(r);
    }
    let facilities = repo_team::facility_names(&mut conn).await?;
    let h = &*state.section::<super::model::HelpdeskSettings>();
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let first = if total == 0 {
        0
    } else {
        (page_no - 1) * PER_PAGE + 1
    };
    render(
        IndexPage {
            page: page.titled("ヘルプデスク"),
            last: (first + rows.len() as i64 - 1).max(0),
            rows,
            targets: format!(
                "初回応答 {} 営業時間以内、解決 {} 営業時間以内（回答待ちの時間を除く）",
                h.first_response_hours, h.resolution_hours
            ),
            q: text,
            status: status_key,
            assignee: q.assignee.trim().to_string(),
            priority: priority.to_string(),
            facility: q.facility.trim().to_string(),
            sort: sort.to_string(),
            desc,
            statuses: Status::ALL.iter().map(|s| s.label()).collect(),
            staff,
            priorities: PRIORITIES,
            facilities,
            total,
            page_no,
            pages,
            first,
        },
        StatusCode::OK,
    )
}
