//! The staff's entry of a signed paper consent form with its scan (`/admin/records/consents`):
//! find the patient, record or withdraw on behalf of a facility (the scan is required), see the
//! history. The rules are in [`super::consent`].

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::consent::{self, Act, Book, ConsentError, Party, ScanRef};
use super::model::{self, ConsentChange, Scope};
use super::repo;
use super::views::*;
use crate::audit;
use crate::blobs::BlobStore;
use crate::db::Tx;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::upload::Refusal;
use crate::web::{Caller, Page, Upload, flash_redirect, render};

use super::consent_ui::{lines, parse_scope};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PaperQuery {
    /// The network patient ID (地域連携ID, KR…).
    patient: String,
}

const PAPER_TITLE: &str = "紙の同意書・撤回書の記録";

/// The patient (and their consents) for the staff page; reading them is audited on `tx`.
async fn paper_patient(
    tx: &mut Tx,
    network_id: &str,
    actor: &audit::Actor,
    now: crate::db::Timestamp,
) -> AppResult<Option<(i64, PaperPatient, ConsentPanel)>> {
    let Some(id) = repo::patient_by_network_id(tx, network_id).await? else {
        return Ok(None);
    };
    let p = repo::find_patient(tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let linked = repo::linked_facilities(tx, id).await?;
    let book = Book::load(tx, id).await?;
    let (lines, history) = lines(&book, false);
    audit::record(
        tx,
        now,
        actor,
        "records.consents_read",
        &format!("patient:{id}"),
        json!({"channel": "staff", "consents": book.records.len()}),
    )
    .await?;
    Ok(Some((
        id,
        PaperPatient {
            network_id: p.network_id,
            name: p.name,
            kana: p.kana,
            birth_date: p.birth_date,
            gender: model::gender_label(&p.gender),
            linked,
        },
        ConsentPanel {
            lines,
            history,
            ..Default::default()
        },
    )))
}

/// `GET /admin/records/consents?patient=KR…`: staff look a patient up by network ID, see the
/// consents and enter a signed paper form.
pub async fn paper_form(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    page: Page,
    Query(q): Query<PaperQuery>,
) -> AppResult<Response> {
    let network_id = q.patient.trim().to_string();
    let mut errors = Vec::new();
    let mut found = None;
    if !network_id.is_empty() {
        let mut tx = state.db.begin().await?;
        found = paper_patient(&mut tx, &network_id, &actor, state.now()).await?;
        tx.commit().await?;
        if found.is_none() {
            errors.push(format!(
                "地域連携ID {network_id} の患者は登録されていません。"
            ));
        }
    }
    let (patient, consent) = match found {
        Some((_, p, c)) => (Some(p), c),
        None => (None, ConsentPanel::default()),
    };
    let choices = paper_choices(&state, &[]).await?;
    render(
        PaperConsentPage {
            page: page.titled(PAPER_TITLE),
            patient,
            consent,
            choices,
            form: PaperValues {
                patient: network_id,
                action: "grant".into(),
                scope: "all".into(),
                ..Default::default()
            },
            errors,
        },
        StatusCode::OK,
    )
}

/// Why a scan sent as text (a part with neither a file name nor a type) is not taken.
const SCAN_AS_TEXT: &str = "同意書のスキャンがファイルとして届きませんでした。スキャンのファイル（PDF・PNG・JPEG・TIFF）を選んで、もう一度送信してください。";

/// The fields of the paper-form upload, read by [`Upload`] (the route keeps axum's 2 MB body
/// limit). A refusal gives the messages this form always gave, and keeps none of the values.
/// A scan without a file name is taken when its part declares a type ([`Upload`] names it);
/// one sent as plain text cannot be the file (its bytes were read as text): the third value says so.
fn read_paper(up: Upload) -> Result<(PaperValues, Vec<u8>, Option<&'static str>), String> {
    match up.refused {
        Some(Refusal::TooLarge) => return Err("同意書のスキャンを読み取れませんでした。".into()),
        Some(_) => {
            return Err("送信内容を読み取れませんでした。もう一度送信してください。".into());
        }
        None => {}
    }
    let mut v = PaperValues::default();
    let mut as_text = None;
    for (name, text) in up.fields {
        match name.as_str() {
            "patient" => v.patient = text.trim().to_string(),
            "facility" => v.facility = text.trim().to_string(),
            "action" => v.action = text,
            "signed_on" => v.signed_on = text,
            "scope" => v.scope = text,
            "facilities" => v.facilities.push(text.trim().to_string()),
            "scan" if !text.is_empty() => as_text = Some(SCAN_AS_TEXT),
            _ => {}
        }
    }
    let scan = up
        .files
        .into_iter()
        .rfind(|f| f.field == "scan")
        .map(|f| f.bytes)
        .unwrap_or_default();
    let as_text = as_text.filter(|_| scan.is_empty());
    Ok((v, scan, as_text))
}

/// `POST /admin/records/consents` (multipart, CSRF token in the query): staff record a consent
/// (`action=grant`) or its withdrawal (`action=withdraw`) for one facility's documents from a
/// signed paper form, whose scan (PDF, PNG, JPEG or TIFF) is required.
pub async fn paper_record(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    page: Page,
    headers: HeaderMap,
    up: Upload,
) -> AppResult<Response> {
    let now = state.now();
    // Only a multipart form carries the scan ([`Upload`] would read a plain form too).
    let multipart = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (form, bytes, scan_as_text) = match multipart {
        true => match read_paper(up) {
            Ok(r) => r,
            Err(e) => {
                return paper_refused(&state, &actor, page, PaperValues::default(), vec![e]).await;
            }
        },
        false => {
            return paper_refused(
                &state,
                &actor,
                page,
                PaperValues::default(),
                vec!["フォームから送信してください（multipart/form-data）。".into()],
            )
            .await;
        }
    };
    let mut errors: Vec<String> = scan_as_text.into_iter().map(String::from).collect();
    let scan_type = if bytes.is_empty() {
        None
    } else {
        let t = model::scan_type(&bytes);
        if t.is_none() {
            errors.push(
                "同意書のスキャンは PDF・PNG・JPEG・TIFF のファイルを添付してください。".into(),
            );
        }
        t
    };
    let withdraw = match form.action.as_str() {
        "grant" => false,
        "withdraw" => true,
        _ => {
            errors.push("記録する内容（同意・撤回）を選んでください。".into());
            false
        }
    };
    let signed_on = model::date_part(form.signed_on.trim());
    let scope = if withdraw {
        None
    } else {
        if signed_on.is_none() {
            errors.push("同意書の署名日を YYYY-MM-DD で入力してください。".into());
        }
        parse_scope(&form.scope, &form.facilities, &mut errors)
    };
    let store = BlobStore::of(&state);
    let _gate = store.writing().await;
    let mut tx = state.db.begin().await?;
    let patient_id = repo::patient_by_network_id(&mut tx, &form.patient).await?;
    if patient_id.is_none() {
        errors.push(format!(
            "地域連携ID {} の患者は登録されていません。",
            form.patient
        ));
    }
    let facility = match (
        patient_id,
        repo::facility_by_code(&mut tx, &form.facility).await?,
    ) {
        (Some(p), Some((f, _))) if repo::is_linked(&mut tx, p, f).await? => Some(f),
        (_, Some(_)) => {
            errors.push(format!(
                "施設 {} はこの患者の患者ID を連携していません。同意の対象（文書の送信元）になる施設を選んでください。",
                form.facility
            ));
            None
        }
        (_, None) => {
            errors.push("同意の対象（文書の送信元）の施設を選んでください。".into());
            None
        }
    };
    let (Some(patient_id), Some(facility), true) = (patient_id, facility, errors.is_empty()) else {
        drop(tx);
        return paper_refused(&state, &actor, page, form, errors).await;
    };
    let hash = hex::encode(Sha256::digest(&bytes));
    let scan = scan_type.map(|content_type| ScanRef {
        hash: &hash,
        content_type,
    });
    let act = Act {
        party: Party::Staff,
        patient_id,
        actor: &actor,
        channel: "paper",
        now,
    };
    let done = if withdraw {
        consent::withdraw(&mut tx, &act, Some(facility), scan)
            .await
            .map(|_| ConsentChange::Withdrawn)
    } else {
        consent::record(
            &mut tx,
            &act,
            facility,
            signed_on.as_deref().unwrap_or_default(),
            scope.as_ref().unwrap_or(&Scope::All),
            scan,
        )
        .await
        .map(|(_, change)| change)
    };
    let change = match done {
        Ok(change) => change,
        Err(ConsentError::Other(
            DomainError::Invalid { message, .. } | DomainError::Conflict(message),
        )) => {
            drop(tx);
            return paper_refused(&state, &actor, page, form, vec![message]).await;
        }
        Err(e @ (ConsentError::ScanMissing | ConsentError::NotOwner(_))) => {
            drop(tx);
            return paper_refused(&state, &actor, page, form, vec![e.to_string()]).await;
        }
        Err(ConsentError::Other(e)) => return Err(e.into()),
    };
    if scan.is_some() {
        store.put(&hash, &bytes).await.map_err(AppError::Internal)?;
    }
    tx.commit().await?;
    Ok(flash_redirect(
        &state,
        &format!("/admin/records/consents?patient={}", form.patient),
        &format!(
            "紙の書面にもとづき記録しました（{}）。この同意は運用担当者の所有になります。",
            change.label()
        ),
    ))
}

/// The staff page again, with the values and why nothing was recorded (422).
async fn paper_refused(
    state: &AppState,
    actor: &audit::Actor,
    page: Page,
    form: PaperValues,
    errors: Vec<String>,
) -> AppResult<Response> {
    let mut found = None;
    if !form.patient.is_empty() {
        let mut tx = state.db.begin().await?;
        found = paper_patient(&mut tx, &form.patient, actor, state.now()).await?;
        tx.commit().await?;
    }
    let (patient, consent) = match found {
        Some((_, p, c)) => (Some(p), c),
        None => (None, ConsentPanel::default()),
    };
    let choices = paper_choices(state, &form.facilities).await?;
    render(
        PaperConsentPage {
            page: page.titled(PAPER_TITLE),
            patient,
            consent,
            choices,
            form,
            errors,
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// The participating facilities as the checkboxes of a `listed` scope, `ticked` ticked (the
/// same choice as the facility manager's consent form).
async fn paper_choices(state: &AppState, ticked: &[String]) -> AppResult<Vec<ScopeChoice>> {
    let mut tx = state.db.begin().await?;
    let facilities = repo::participating_facilities(&mut tx).await?;
    tx.commit().await?;
    Ok(ScopeChoice::all(&facilities, ticked))
}
