//! Consent pages ([`super::consent`] holds the rules): the consent panel of the patient page
//! (effective scope, history, the facility manager's forms), the facility manager's record of
//! the facility's own consent, the scan of each consent form (the staff's entry of a signed paper form is
//! `consent_paper`). A refused attempt on another's consent
//! answers 403 with a Japanese page, after its audit event is committed.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::consent::{self, Act, Book, ConsentError, Party};
use super::model::{self, Scope};
use super::objects;
use super::read_api::{Read, log_read_alone};
use super::repo;
use super::views::*;
use crate::audit;
use crate::auth::{Principal, Role};
use crate::blobs::BlobStore;
use crate::db::Tx;
use crate::error::{AppError, AppResult, DomainError, ErrorPage};
use crate::state::AppState;
use crate::web::{Caller, ObjectGuard, Page, flash_redirect, render};

/// The 403 page of a refused attempt on a consent the caller does not own.
pub fn refused(message: String) -> Response {
    ErrorPage::response(StatusCode::FORBIDDEN, "この同意は変更できません", message)
}

/// The facility named by a form's `facility` code (empty: none named).
pub async fn target_facility(tx: &mut Tx, code: &str) -> AppResult<Option<i64>> {
    let code = code.trim();
    if code.is_empty() {
        return Ok(None);
    }
    match repo::facility_by_code(tx, code).await? {
        Some((id, _)) => Ok(Some(id)),
        None => Err(AppError::BadRequest(format!(
            "施設コード {code} の参加施設はありません。"
        ))),
    }
}

fn scan_href(patient_id: i64, consent_id: i64, withdrawal: bool) -> String {
    let q = if withdrawal { "?form=withdrawal" } else { "" };
    format!("/records/patients/{patient_id}/consents/{consent_id}/scan{q}")
}

/// The effective scope and the history, as lines; `links`: whether to link the scans (the
/// staff page has none: staff hold the paper).
pub(super) fn lines(book: &Book, links: bool) -> (Vec<ScopeLine>, Vec<HistoryLine>) {
    let scope = book
        .latest_each()
        .into_iter()
        .map(|r| {
            let in_force = book.is_in_force(r);
            let status = match (&r.withdrawn_at, r.withdrawn_kind.as_deref()) {
                (None, _) => "有効".to_string(),
                (Some(at), Some("superseded")) => format!("失効（{}）", at.jst()),
                (Some(at), _) => format!("撤回（{}）", at.jst()),
            };
            ScopeLine {
                facility: format!("{}（{}）", r.facility_name, r.facility_code),
                readers: if in_force {
                    consent::readers_label(r)
                } else {
                    "送信元の施設のみ".into()
                },
                in_force,
                status,
                signed_on: r.signed_on.clone(),
                owner: consent::owner_label(r),
                recorded: format!(
                    "{}　{}",
                    r.recorded_at.jst(),
                    consent::recorder_label(&r.recorded_by)
                ),
                scan: (links && r.scan_hash.is_some())
                    .then(|| scan_href(r.patient_id, r.id, false)),
            }
        })
        .collect();
    let history = book
        .events()
        .into_iter()
        .map(|e| {
            let r = e.record;
            let withdrawal = e.is_withdrawal();
            let (owner, by, form, scan) = if withdrawal {
                let owner = match r.withdrawn_kind.as_deref() {
                    Some("staff") => "運用担当者（紙の書面）".to_string(),
                    Some("superseded") => "移行処理（旧方式で後の同意に置き換え済み）".to_string(),
                    _ => format!("{}（{}）", r.facility_name, r.facility_code),
                };
                let scan = (links && r.withdrawn_scan_hash.is_some())
                    .then(|| scan_href(r.patient_id, r.id, true));
                let form = if r.withdrawn_scan_hash.is_some() {
                    "撤回の書面（スキャンあり）".to_string()
                } else {
                    "—".to_string()
                };
                (
                    owner,
                    consent::recorder_label(r.withdrawn_by.as_deref().unwrap_or("")),
                    form,
                    scan,
                )
            } else {
                let form = format!(
                    "同意書（署名日 {}）{}",
                    r.signed_on,
                    if r.scan_hash.is_some() {
                        "スキャンあり"
                    } else {
                        "スキャンなし"
                    }
                );
                (
                    consent::owner_label(r),
                    consent::recorder_label(&r.recorded_by),
                    form,
                    (links && r.scan_hash.is_some()).then(|| scan_href(r.patient_id, r.id, false)),
                )
            };
            HistoryLine {
                at: e.at.jst(),
                change: e.change.label(),
                withdrawal,
                facility: format!("{}（{}）", r.facility_name, r.facility_code),
                readers: if withdrawal {
                    "—".into()
                } else {
                    consent::readers_label(r)
                },
                owner,
                by,
                form,
                scan,
            }
        })
        .collect();
    (scope, history)
}

/// The consent panel of the patient page for the viewer `p` (`linked`: the viewer's facility
/// holds a local ID of the patient).
pub async fn panel(
    tx: &mut Tx,
    patient_id: i64,
    p: &Principal,
    linked: bool,
) -> AppResult<ConsentPanel> {
    let book = Book::load(tx, patient_id).await?;
    let (lines, history) = lines(&book, true);
    let facility = p.facility_id.unwrap_or(-1);
    let own_latest = book.latest(facility);
    let held_by_staff = consent::holder(own_latest, facility) == Party::Staff;
    let manager = p.role == Role::FacilityManager && linked;
    let own_code = match repo::facility_label(tx, facility).await? {
        Some((code, _)) => code,
        None => String::new(),
    };
    Ok(ConsentPanel {
        lines,
        history,
        own_code,
        can_record: manager && !held_by_staff,
        can_withdraw: manager && !held_by_staff && own_latest.is_some_and(|r| book.is_in_force(r)),
        held_by_staff: linked && held_by_staff,
        choices: if manager {
            ScopeChoice::all(&repo::participating_facilities(tx).await?, &[])
        } else {
            Vec::new()
        },
    })
}

/// A scope from a form: `all`, or `listed` with the ticked facility codes (at least one).
pub(super) fn parse_scope(
    scope: &str,
    codes: &[String],
    errors: &mut Vec<String>,
) -> Option<Scope> {
    match scope {
        "all" => Some(Scope::All),
        "listed" => {
            if codes.is_empty() {
                errors.push("同意の対象とする施設を1つ以上選んでください。".into());
                return None;
            }
            let mut codes = codes.to_vec();
            codes.sort();
            codes.dedup();
            Some(Scope::Listed(codes))
        }
        _ => {
            errors.push("同意の範囲を選んでください。".into());
            None
        }
    }
}

/// `POST /records/patients/{id}/consent`: the facility manager records (widens, narrows,
/// renews) the facility's own consent. Naming another facility's consent is refused (403,
/// audited).
pub async fn record(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = ConsentValues::from_fields(fields);
    let now = state.now();
    let facility = p.facility_id.ok_or(AppError::Forbidden)?;
    let mut tx = state.db.begin().await?;
    let found = objects::find_patient(&mut tx, id, facility).await?;
    let (mut tx, patient) = guard.check_in(tx, found).await?;
    let patient = patient.row;
    let target = target_facility(&mut tx, &form.facility)
        .await?
        .unwrap_or(facility);
    let mut errors = Vec::new();
    let signed_on = model::date_part(form.signed_on.trim());
    if signed_on.is_none() {
        errors.push("同意書の署名日を YYYY-MM-DD で入力してください。".into());
    }
    let scope = parse_scope(&form.scope, &form.facilities, &mut errors);
    let facilities = repo::participating_facilities(&mut tx).await?;
    if target == facility && !repo::is_linked(&mut tx, id, facility).await? {
        errors.push("自施設の患者ID を連携してから、自施設の同意を記録してください。".into());
    }
    let rerender = |page: Page, form: ConsentValues, errors: Vec<String>| {
        render(
            ConsentFormPage {
                page: page.titled(format!("{} さんの同意の記録", patient.name)),
                patient_id: id,
                patient_name: patient.name.clone(),
                choices: ScopeChoice::all(&facilities, &form.facilities),
                form,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(signed_on), Some(scope), true) = (signed_on, scope, errors.is_empty()) else {
        return rerender(page, form, errors);
    };
    let act = Act {
        party: Party::Facility(facility),
        patient_id: id,
        actor: &actor,
        channel: "ui",
        now,
    };
    let change = match consent::record(&mut tx, &act, target, &signed_on, &scope, None).await {
        Ok((_, change)) => change,
        Err(ConsentError::NotOwner(message)) => {
            tx.commit().await?;
            return Ok(refused(message));
        }
        Err(ConsentError::Other(DomainError::Invalid { message, .. })) => {
            return rerender(page, form, vec![message]);
        }
        Err(ConsentError::Other(e)) => return Err(e.into()),
        Err(e @ ConsentError::ScanMissing) => return rerender(page, form, vec![e.to_string()]),
    };
    tx.commit().await?;
    Ok(flash_redirect(
        &state,
        &format!("/records/patients/{id}"),
        &format!(
            "自施設の文書についての同意を記録しました（{}）。他の施設が記録した同意は変わりません。",
            change.label()
        ),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ScanQuery {
    /// `withdrawal`: the scan of the withdrawal form.
    form: String,
}

/// `GET /records/patients/{id}/consents/{cid}/scan`: the scan of a consent form (or, with
/// `?form=withdrawal`, of its withdrawal), for facilities that may see the patient (through the
/// object guard: 404 otherwise, audited); the read is audited. Served as a download
/// ([`objects::download`]).
pub async fn scan(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path((id, cid)): Path<(i64, i64)>,
    Query(q): Query<ScanQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let facility = p.facility_id.ok_or(AppError::Forbidden)?;
    let mut tx = state.db.begin().await?;
    let found = objects::find_patient(&mut tx, id, facility).await?;
    let (mut tx, _) = guard.check_in(tx, found).await?;
    let book = Book::load(&mut tx, id).await?;
    let r = book
        .records
        .iter()
        .find(|r| r.id == cid)
        .ok_or(AppError::NotFound)?;
    let (hash, content_type) = if q.form == "withdrawal" {
        (&r.withdrawn_scan_hash, &r.withdrawn_scan_content_type)
    } else {
        (&r.scan_hash, &r.scan_content_type)
    };
    let hash = hash.clone().ok_or(AppError::NotFound)?;
    let read = Read {
        patient_id: id,
        document_id: None,
        facility_id: facility,
        channel: "ui",
    };
    let name = format!("consent-{cid}");
    serve_scan(
        &state,
        tx,
        now,
        &actor,
        read,
        &hash,
        content_type.as_deref(),
        &name,
    )
    .await
}

/// Serves the scan `hash` of a consent form as a download; `tx` (the rows read) ends before the
/// blob is fetched, and the read is audited after the fetch succeeded.
#[allow(clippy::too_many_arguments)]
pub async fn serve_scan(
    state: &AppState,
    tx: Tx,
    now: crate::db::Timestamp,
    actor: &audit::Actor,
    read: Read,
    hash: &str,
    content_type: Option<&str>,
    name: &str,
) -> AppResult<Response> {
    // The rows were read in `tx`: end it before the object store answers (issue 16), and
    // audit only a read that succeeded, in a short transaction of its own.
    tx.commit().await?;
    let bytes = BlobStore::of(state)
        .get(hash)
        .await
        .map_err(AppError::Internal)?;
    log_read_alone(&state.db, now, actor, "records.consent_scan_read", read).await?;
    Ok(objects::download(bytes, content_type, name))
}
