//! Handlers: the list and the incident's page, with the helpers the other handler files share
//! (`find_guarded`, `after`, the datetime-local fields). The new form is in `routes_form.rs`,
//! the correction form in `routes_edit.rs`, the page's actions in `routes_actions.rs`, the
//! attachments and the printed report in `routes_files.rs`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::model::{self, Incident, Severity, Status, check_move, timeline_kind_label};
use super::repo;
use super::views::*;
use super::{ADMINS, NOTE_TAKERS};
use super::{contacts_panel, recurrence, repo_recurrence};
use crate::auth::Principal;
use crate::db::{Timestamp, tokyo};
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect, render};

/// `2026-11-30T10:00` (Japan time) of an instant, for a form's datetime-local field.
pub(super) fn local(t: Timestamp) -> String {
    t.as_jiff()
        .to_zoned(tokyo())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A datetime-local value (Japan time); empty is None.
pub(super) fn parse_local(s: &str) -> Result<Option<Timestamp>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(tokyo()).ok())
        .map(|z| Some(Timestamp::from(z.timestamp())))
        .ok_or(())
}

pub(super) const TIME_HINT: &str = "日時は 2026-11-30T10:00 の形で入力してください。";

pub(super) fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

pub(super) fn severities() -> Vec<(&'static str, &'static str)> {
    Severity::ALL.iter().map(|s| (s.key(), s.label())).collect()
}

pub(super) async fn find_guarded(
    state: &AppState,
    guard: &ObjectGuard,
    id: i64,
) -> AppResult<Incident> {
    let mut conn = state.db.pool().acquire().await?;
    let found = repo::find(&mut conn, id).await?;
    drop(conn);
    Ok(guard.check(found).await?)
}

// ---- the list ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    status: String,
    severity: String,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let status = Status::parse(&q.status).map(|s| s.key()).unwrap_or("");
    let severity = Severity::parse(&q.severity).map(|s| s.key()).unwrap_or("");
    let mut conn = state.db.pool().acquire().await?;
    let rows = repo::list_filtered(&mut conn, status, severity, 500)
        .await?
        .into_iter()
        .map(|i| Row {
            id: i.id,
            number: i.number.clone(),
            title: i.title.clone(),
            severity: i.severity().label(),
            severity_key: i.severity().key(),
            status: i.status().label(),
            open: !i.status().is_closed(),
            discovered: i.discovered_at.jst(),
            recovered: i.recovered_at.map(|t| t.jst()).unwrap_or_default(),
        })
        .collect();
    render(
        IndexPage {
            page: page.titled("障害一覧"),
            rows,
            status: status.into(),
            severity: severity.into(),
            statuses: Status::ALL.iter().map(|s| (s.key(), s.label())).collect(),
            severities: severities(),
            can_create: ADMINS.contains(&p.role),
        },
        StatusCode::OK,
    )
}

// ---- the incident's page ----

fn size_text(n: i64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / 1024.0 / 1024.0)
    } else if n >= 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{n} バイト")
    }
}

pub(super) async fn facility_names(state: &AppState, ids: &[i64]) -> AppResult<Vec<String>> {
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Vec::new();
    for id in ids {
        out.push(match crate::facilities::find(&mut conn, *id).await {
            Ok(f) => f.name,
            Err(sqlx::Error::RowNotFound) => format!("施設 #{id}"),
            Err(e) => return Err(e.into()),
        });
    }
    Ok(out)
}

async fn links(state: &AppState, id: i64) -> AppResult<Vec<LinkView>> {
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Vec::new();
    for a in crate::monitor::repo_incidents::alerts_of_incident(&mut conn, id).await? {
        out.push(LinkView {
            href: None,
            label: format!("監視アラート #{}", a.id),
            detail: format!(
                "{}（{}）{} {}：{}",
                a.monitor_name,
                a.target,
                a.at.jst(),
                if a.kind == "down" { "停止" } else { "回復" },
                a.detail
            ),
        });
    }
    for q in crate::helpdesk::inquiries_of_incident(&mut conn, id).await? {
        out.push(LinkView {
            href: Some(format!("/helpdesk/{}", q.id)),
            label: format!("問い合わせ #{}", q.id),
            detail: format!(
                "{} {}「{}」（{}）",
                q.received_at.jst(),
                q.requester,
                q.subject,
                q.status
            ),
        });
    }
    Ok(out)
}

fn source_text(i: &Incident) -> String {
    match (i.source.as_str(), i.source_ref) {
        ("inquiry", Some(r)) => format!("問い合わせ #{r} から作成"),
        ("alert", Some(r)) => format!("監視アラート #{r} から作成"),
        _ => "手入力で作成".into(),
    }
}

async fn show_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    inc: Incident,
    error: Option<(StatusCode, String)>,
) -> AppResult<Response> {
    let id = inc.id;
    let mut conn = state.db.pool().acquire().await?;
    let timeline = repo::timeline(&mut conn, id).await?;
    let vendors = repo::vendor_contacts(&mut conn, id).await?;
    let attachments = repo::attachments(&mut conn, id).await?;
    let prints = repo::prints(&mut conn, id).await?;
    let facility_ids = repo::facility_ids(&mut conn, id).await?;
    let contacts_panel = contacts_panel::panel(&mut conn, id, p.role).await?;
    let can_see_recurrence = state.may_open(p.role, "/incidents/recurrence");
    let mut recurrence = Vec::new();
    if can_see_recurrence {
        for r in repo_recurrence::list_for_incident(&mut conn, id).await? {
            let measures = repo_recurrence::list_measures(&mut conn, r.id).await?;
            let state = r.state();
            recurrence.push(RecurrenceView {
                id: r.id,
                title: r.title,
                state: state.label(),
                state_key: state.key(),
                measures: measures.len(),
                measures_done: measures.iter().filter(|m| m.done_at.is_some()).count(),
            });
        }
    }
    drop(conn);
    let facilities = facility_names(state, &facility_ids).await?.join("、");
    let st = inc.status();
    let moves = Status::ALL
        .iter()
        .filter_map(|to| {
            check_move(st, *to)
                .ok()
                .map(|m| (to.key(), to.label(), m == model::Move::Back))
        })
        .collect();
    let t = |v: Option<Timestamp>| v.map(|t| t.jst()).unwrap_or_default();
    let fields = vec![
        ("発見日時", inc.discovered_at.jst()),
        ("発見箇所", inc.discovered_where.clone()),
        ("発生日時", t(inc.occurred_at)),
        ("障害内容", inc.description.clone()),
        ("影響範囲", inc.impact.clone()),
        ("復旧日時", t(inc.recovered_at)),
        ("原因", inc.cause.clone()),
        ("原因区分", inc.cause_category().label().to_string()),
        ("処置", inc.action_taken.clone()),
        ("備考", inc.remarks.clone()),
    ];
    let (status, error) = match error {
        Some((s, m)) => (s, Some(m)),
        None => (StatusCode::OK, None),
    };
    render(
        ShowPage {
            page: page.titled(format!("障害 {}：{}", inc.number, inc.title)),
            id,
            number: inc.number.clone(),
            title: inc.title.clone(),
            status: st.label(),
            status_key: st.key(),
            severity: inc.severity().label(),
            revision: inc.revision,
            closed: st.is_closed(),
            fields,
            affects_users: inc.affects_users,
            affected_services: inc.affected_services.clone(),
            facilities,
            source: source_text(&inc),
            timeline: timeline
                .iter()
                .map(|e| TimelineView {
                    at: e.at.jst(),
                    kind: timeline_kind_label(&e.kind),
                    kind_key: e.kind.clone(),
                    text: e.text.clone(),
                    by: e.recorded_by.clone(),
                    recorded: e.recorded_at.jst(),
                })
                .collect(),
            vendors: vendors
                .into_iter()
                .map(|v| VendorView {
                    at: v.contacted_at.jst(),
                    organisation: v.organisation,
                    person: v.person,
                    reference_no: v.reference_no,
                    request: v.request,
                    answer: v.answer,
                    by: v.recorded_by,
                })
                .collect(),
            attachments: attachments
                .into_iter()
                .map(|a| AttachmentView {
                    n: a.id,
                    file_name: a.file_name,
                    content_type: a.content_type,
                    size: size_text(a.size_bytes),
                    note: a.note,
                    by: a.uploaded_by,
                    at: a.uploaded_at.jst(),
                })
                .collect(),
            links: links(state, id).await?,
            prints: prints
                .into_iter()
                .map(|p| PrintView {
                    kind: if p.kind == "final" {
                        "正式版"
                    } else {
                        "案"
                    },
                    revision: p.revision,
                    sha256: p.sha256,
                    by: p.printed_by,
                    at: p.printed_at.jst(),
                })
                .collect(),
            moves,
            can_admin: ADMINS.contains(&p.role),
            can_note: NOTE_TAKERS.contains(&p.role),
            error,
            now_local: local(state.now()),
            contacts_panel,
            can_see_recurrence,
            can_write_recurrence: can_see_recurrence
                && recurrence::WRITERS.contains(&p.role)
                && state.may_open(p.role, "/incidents/recurrence"),
            recurrence,
        },
        status,
    )
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let inc = find_guarded(&state, &guard, id).await?;
    show_page(&state, page, &p, inc, None).await
}

/// After an action: back to the page with a flash, or the page again with the error (422 for
/// a value, 409 for a stale form or a state that does not allow it).
pub(super) async fn after(
    state: &AppState,
    page: Page,
    p: &Principal,
    id: i64,
    result: Result<(), DomainError>,
    done: &str,
) -> AppResult<Response> {
    let error = match result {
        Ok(()) => {
            return Ok(flash_redirect(state, &format!("/incidents/{id}"), done));
        }
        Err(DomainError::Invalid { message, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, message),
        Err(DomainError::Conflict(message)) => (StatusCode::CONFLICT, message),
        Err(e) => return Err(e.into()),
    };
    let mut conn = state.db.pool().acquire().await?;
    let inc = repo::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    show_page(state, page, p, inc, Some(error)).await
}

pub(super) fn revision_of(s: &str) -> AppResult<i64> {
    s.trim().parse::<i64>().map_err(|_| {
        AppError::BadRequest("フォームの版が読み取れません。画面を開き直してください。".into())
    })
}
