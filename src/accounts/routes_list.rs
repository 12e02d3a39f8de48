//! `/admin/accounts`: the account list, searched (login ID, name, facility), filtered (role,
//! state), sorted and paged in SQL (issue 15 item 2, X.4). The row actions (unlock, letter
//! re-issue) are unchanged.

use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::repo_list::{self, ACCOUNT_SORTS, AccountFilter, AccountState};
use super::views::*;
use crate::auth::Role;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::{Page, render};

/// The first value of `key` in the query string, trimmed ("" when absent).
fn param(raw: Option<&str>, key: &str) -> String {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

pub async fn admin_list(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<ListQuery>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let now = state.now();
    // Unknown filter values are dropped (the whole list) rather than refused: links get edited.
    let role = param(raw.as_deref(), "role").parse::<Role>().ok();
    let account_state = AccountState::parse(&param(raw.as_deref(), "state"));
    let filter = AccountFilter {
        like: q.like(),
        role,
        state: account_state,
        now,
    };
    let order = q.order(ACCOUNT_SORTS, "role", Dir::Asc);
    let mut conn = state.db.pool().acquire().await?;
    let total = repo_list::count(&mut conn, &filter).await?;
    let accounts = repo_list::page(&mut conn, &filter, &order, q.limit(), q.offset())
        .await?
        .into_iter()
        .map(|a| {
            let locked = a.locked_until.is_some_and(|u| u > now);
            let status = if a.disabled_at.is_some() {
                "無効".to_string()
            } else if locked {
                format!(
                    "ロック中（{} まで）",
                    a.locked_until.map(|t| t.jst()).unwrap_or_default()
                )
            } else if a.must_change_password {
                "初期パスワード未変更".to_string()
            } else {
                "有効".to_string()
            };
            let reissuable = a.role.needs_facility() && a.disabled_at.is_none();
            AccountLine {
                id: a.id,
                login_id: a.login_id,
                display_name: a.display_name,
                role_label: a.role.label(),
                facility: a.facility_name.unwrap_or_else(|| "—".into()),
                status,
                locked,
                locked_since: a.locked_at.map(|t| t.jst()).unwrap_or_default(),
                totp: if a.totp_enabled {
                    "設定済"
                } else {
                    "未設定"
                },
                last_login: a
                    .last_login_at
                    .map(|t| t.jst())
                    .unwrap_or_else(|| "—".into()),
                reissuable,
            }
        })
        .collect();
    let role_key = role.map(Role::key).unwrap_or_default();
    let state_key = account_state.map(AccountState::key).unwrap_or_default();
    let pager = Pager::new(
        "/admin/accounts",
        &q,
        total,
        &[("role", role_key), ("state", state_key)],
    );
    render(
        AdminListPage {
            page: page.titled("アカウント管理"),
            accounts,
            q: q.text().unwrap_or_default().to_string(),
            roles: Role::ALL.iter().map(|r| (r.key(), r.label())).collect(),
            states: AccountState::ALL
                .iter()
                .map(|s| (s.key(), s.label()))
                .collect(),
            role: role_key,
            state: state_key,
            pager,
        },
        StatusCode::OK,
    )
}
