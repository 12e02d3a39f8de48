//! The facility managers' pages of the right-patient review queue ([`super::review`]):
//! `/records/review` (their facility's held documents, and those resolved lately),
//! `/records/review/{id}` (the patient as sent beside the registered patient, and the forms to
//! accept or reject, each with a confirmation and a reason), and the dashboard card. A review
//! of another facility answers 404 like a missing one (the refusal audited). Pages showing
//! patient data write their read to the audit chain.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::fhir::PatientInfo;
use super::model;
use super::patient_match::{Sent, labels};
use super::repo::{self, ReviewRow};
use super::review::{self, Decision, parse_fields};
use super::views::*;
use crate::audit::{self, Actor};
use crate::auth::{Principal, Role};
use crate::db::{Conn, Timestamp};
use crate::error::{AppError, AppResult, DomainError};
use crate::state::{AppState, Card};
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::{Caller, ObjectGuard, Page, flash_redirect, render};

fn facility_of(p: &Principal) -> AppResult<i64> {
    p.facility_id.ok_or(AppError::Forbidden)
}

fn state_label(s: &str) -> &'static str {
    match s {
        "pending" => "確認待ち",
        "accepted" => "受け付け済み（患者に登録）",
        "rejected" => "受け付けない（登録しない）",
        _ => "不明",
    }
}

fn line(r: &ReviewRow) -> ReviewLine {
    ReviewLine {
        id: r.id,
        document_id: r.document_id,
        type_label: r.type_label.clone(),
        title: r.title.clone(),
        doc_date: r.doc_date.clone(),
        local_id: r.local_id.clone(),
        identifier: r.identifier_value.clone(),
        sent_name: r.sent_name.clone(),
        differs: labels(&parse_fields(&r.differs)),
        created: r.created_at.jst(),
        state: state_label(&r.state),
        resolved: r.resolved_at.map(|t| t.jst()).unwrap_or_default(),
        resolved_by: r.resolved_by.clone().unwrap_or_default(),
        reason: r.reason.clone().unwrap_or_default(),
    }
}

pub async fn index(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    page: Page,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let facility = facility_of(&p)?;
    // The held documents are searched, sorted and paged in SQL (X.4); the recently resolved
    // stay a short list of the latest.
    let order = q.order(repo::PENDING_SORTS, "received", Dir::Asc);
    let like = q.like().unwrap_or_default();
    let mut tx = state.db.begin().await?;
    let total = repo::count_pending_matching(&mut tx, facility, &like).await?;
    let pending: Vec<ReviewLine> =
        repo::page_pending(&mut tx, facility, &like, &order, q.limit(), q.offset())
            .await?
            .iter()
            .map(line)
            .collect();
    let resolved: Vec<ReviewLine> = repo::list_reviews(&mut tx, facility, false, 50)
        .await?
        .iter()
        .map(line)
        .collect();
    // The list shows names as sent: a read of application data.
    audit::record(
        &mut tx,
        state.now(),
        &actor,
        "records.reviews_listed",
        &format!("facility:{facility}"),
        json!({"facility_id": facility, "pending": pending.len(), "channel": "ui"}),
    )
    .await?;
    tx.commit().await?;
    render(
        ReviewListPage {
            page: page.titled("患者照合の確認"),
            pending,
            resolved,
            q: q.text().unwrap_or_default().to_string(),
            pager: Pager::new("/records/review", &q, total, &[] as &[(&str, &str)]),
        },
        StatusCode::OK,
    )
}

/// The review page for `r` (already checked), with the patient as sent beside the registered.
async fn review_page(
    conn: &mut Conn,
    page: Page,
    r: &ReviewRow,
    facility: i64,
    errors: Vec<String>,
    reason: String,
) -> AppResult<ReviewPage> {
    let registered = repo::find_patient(conn, r.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let local = repo::local_id(conn, r.patient_id, facility).await?;
    let sent = Sent::from_info(&PatientInfo {
        local_id: r.local_id.clone(),
        name: r.sent_name.clone(),
        kana: r.sent_kana.clone(),
        birth_date: r.sent_birth_date.clone(),
        gender: r.sent_gender.clone(),
    });
    let differs = parse_fields(&r.differs);
    let rows = compare_rows(&sent, &registered, &differs);
    let patient = PatientLine {
        id: registered.id,
        network_id: registered.network_id.clone(),
        local_id: local.unwrap_or_else(|| "—".into()),
        name: registered.name.clone(),
        kana: registered.kana.clone(),
        birth_date: registered.birth_date.clone(),
        gender: model::gender_label(&registered.gender),
    };
    Ok(ReviewPage {
        page: page.titled(format!("患者照合の確認（{}）", r.title)),
        review: line(r),
        pending: r.state == "pending",
        patient,
        sent: SentPatient {
            local_id: r.local_id.clone(),
            rows,
            differs: !differs.is_empty(),
        },
        errors,
        reason,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let facility = facility_of(&p)?;
    let mut tx = state.db.begin().await?;
    let found = review::find(&mut tx, id).await?;
    let (mut tx, r) = guard.check_in(tx, found).await?;
    let t = review_page(&mut tx, page, &r.row, facility, Vec::new(), String::new()).await?;
    read_event(&mut tx, state.now(), &actor, &r.row, facility).await?;
    tx.commit().await?;
    render(t, StatusCode::OK)
}

async fn read_event(
    tx: &mut crate::db::Tx,
    now: Timestamp,
    actor: &Actor,
    r: &ReviewRow,
    facility: i64,
) -> AppResult<()> {
    audit::record(
        tx,
        now,
        actor,
        "records.review_read",
        &format!("patient:{}", r.patient_id),
        json!({"review_id": r.id, "document_id": r.document_id, "facility_id": facility,
               "channel": "ui"}),
    )
    .await?;
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResolveForm {
    confirm: String,
    reason: String,
}

async fn resolve(
    state: AppState,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    page: Page,
    id: i64,
    form: ResolveForm,
    decision: Decision,
) -> AppResult<Response> {
    let now = state.now();
    let facility = facility_of(&p)?;
    let mut tx = state.db.begin().await?;
    let found = review::find(&mut tx, id).await?;
    let (mut tx, r) = guard.check_in(tx, found).await?;
    let mut errors = Vec::new();
    if form.confirm != "yes" {
        errors.push("確認のチェックを入れてから送信してください。".to_string());
    }
    let result = if errors.is_empty() {
        review::resolve(&mut tx, &r.row, decision, &form.reason, &actor, now).await
    } else {
        Ok(())
    };
    match result {
        Ok(()) if errors.is_empty() => {
            tx.commit().await?;
            let msg = match decision {
                Decision::Accept => "文書を受け付け、登録されている患者の文書として登録しました。",
                Decision::Reject => {
                    "文書を受け付けないことを記録しました。この文書は誰も閲覧できません。送信元のシステムで患者情報を確認し、正しい患者で送り直してください。"
                }
            };
            return Ok(flash_redirect(&state, "/records/review", msg));
        }
        Ok(()) => {}
        Err(DomainError::Invalid { message, .. }) => errors.push(message),
        Err(DomainError::Conflict(m)) => return Err(AppError::Conflict(m)),
        Err(e) => return Err(e.into()),
    }
    let t = review_page(&mut tx, page, &r.row, facility, errors, form.reason).await?;
    read_event(&mut tx, now, &actor, &r.row, facility).await?;
    tx.commit().await?;
    render(t, StatusCode::UNPROCESSABLE_ENTITY)
}

pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<ResolveForm>,
) -> AppResult<Response> {
    resolve(state, caller, guard, page, id, form, Decision::Accept).await
}

pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<ResolveForm>,
) -> AppResult<Response> {
    resolve(state, caller, guard, page, id, form, Decision::Reject).await
}

/// A facility manager's card: documents of the facility held for the review (none when there
/// are none).
pub async fn cards(state: &AppState, p: &Principal, _now: Timestamp) -> anyhow::Result<Vec<Card>> {
    let (Role::FacilityManager, Some(facility)) = (p.role, p.facility_id) else {
        return Ok(Vec::new());
    };
    let mut conn = state.db.pool().acquire().await?;
    let pending = repo::count_pending(&mut conn, facility).await?;
    if pending == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![Card {
        title: "患者照合の確認待ち".into(),
        value: format!("{pending} 件"),
        note: "患者情報が登録と異なる文書です。確認するまで誰も閲覧できません".into(),
        tone: "warn",
        href: "/records/review".into(),
    }])
}
