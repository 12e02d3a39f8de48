//! `GET /search?q=`: the global search page (rules in the module doc).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::GROUP_LIMIT;
use super::repo;
use super::views::{Group, Hit, SearchPage};
use crate::audit;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::list::ListQuery;
use crate::web::{Caller, Page, render};

/// `?q=` with `text` as the value, for the "more" link to a group's own list.
fn with_q(path: &str, text: &str) -> String {
    let query = serde_urlencoded::to_string([("q", text)]).unwrap_or_default();
    format!("{path}?{query}")
}

/// The number of an inquiry typed as `123` or `#123`.
fn inquiry_number(text: &str) -> Option<i64> {
    text.strip_prefix('#')
        .unwrap_or(text)
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
}

/// A group from at most `GROUP_LIMIT + 1` rows (the extra row only tells that there are more).
fn group(id: &'static str, title: &'static str, mut hits: Vec<Hit>, list_href: String) -> Group {
    let more = hits.len() as i64 > GROUP_LIMIT;
    hits.truncate(GROUP_LIMIT as usize);
    Group {
        id,
        title,
        hits,
        more,
        list_href,
    }
}

pub async fn index(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    page: Page,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let page = page.titled("検索");
    let (Some(text), Some(like)) = (q.text().map(str::to_string), q.like()) else {
        let view = SearchPage {
            page,
            q: String::new(),
            groups: Vec::new(),
            searched: false,
        };
        return render(view, StatusCode::OK);
    };
    let may = |path: &str| state.may_open(p.role, path);
    let fetch = GROUP_LIMIT + 1;
    let mut groups = Vec::new();
    let mut tx = state.db.begin().await?;
    if may("/admin/accounts") {
        // The account's own page where the role may open it, else the list narrowed to it.
        let own_page = may("/admin/accounts/1");
        let hits = repo::accounts(&mut tx, &like, p.facility_id, fetch)
            .await?
            .into_iter()
            .map(|a| Hit {
                href: if own_page {
                    format!("/admin/accounts/{}", a.id)
                } else {
                    with_q("/admin/accounts", &a.login_id)
                },
                key: a.login_id,
                label: a.display_name,
            })
            .collect();
        let list = with_q("/admin/accounts", &text);
        groups.push(group("accounts", "アカウント", hits, list));
    }
    if may("/admin/facilities/1") {
        let hits = repo::facilities(&mut tx, &like, p.facility_id, fetch)
            .await?
            .into_iter()
            .map(|f| Hit {
                href: format!("/admin/facilities/{}", f.id),
                key: f.code,
                label: f.name,
            })
            .collect();
        let list = with_q("/admin/facilities", &text);
        groups.push(group("facilities", "施設", hits, list));
    }
    if let Some(g) = patients(&state, &mut tx, &p, &actor, &like).await? {
        groups.push(g);
    }
    if may("/helpdesk/1") {
        let found = match inquiry_number(&text) {
            Some(n) => repo::inquiry(&mut tx, n).await?,
            None => None,
        };
        let hits = found
            .into_iter()
            .map(|i| Hit {
                href: format!("/helpdesk/{}", i.id),
                key: format!("#{}", i.id),
                label: format!("{}（{}）", i.subject, i.facility_name),
            })
            .collect();
        groups.push(group("inquiries", "問い合わせ", hits, String::new()));
    }
    tx.commit().await?;
    let view = SearchPage {
        page,
        q: text,
        groups,
        searched: true,
    };
    render(view, StatusCode::OK)
}

/// The patient group, for the people of a facility who may open a patient's page; the search
/// is audited like the patient list because the results show names.
async fn patients(
    state: &AppState,
    tx: &mut crate::db::Tx,
    p: &Principal,
    actor: &audit::Actor,
    like: &str,
) -> AppResult<Option<Group>> {
    let Some(facility) = p.facility_id else {
        return Ok(None);
    };
    if !state.may_open(p.role, "/records/patients/1") {
        return Ok(None);
    }
    let found = crate::records::find_visible_patients(tx, facility, like, GROUP_LIMIT + 1).await?;
    audit::record(
        tx,
        state.now(),
        actor,
        "records.patients_searched",
        &format!("facility:{facility}"),
        json!({"facility_id": facility, "patients": found.len(), "channel": "ui"}),
    )
    .await?;
    let hits = found
        .into_iter()
        .map(|h| Hit {
            href: format!("/records/patients/{}", h.id),
            key: h.network_id,
            label: format!(
                "{}（{}）{}",
                h.kana,
                h.name,
                h.local_id
                    .map(|l| format!(" 自施設ID {l}"))
                    .unwrap_or_default()
            ),
        })
        .collect();
    Ok(Some(group("patients", "患者", hits, String::new())))
}
