//! Pages for the people of facilities (利用者, 利用施設管理者): the patients their facility may
//! see, a patient's timeline (with its consents: [`super::consent_ui`]), each document in
//! Japanese with its attachments, patient registration with consent, consent withdrawal, and the
//! access log of their patients.
//! Every page that shows a patient's data writes the read to the audit chain first.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::consent;
use super::consent_ui;
use super::fhir::PatientInfo;
use super::model::{self, ConsentInfo, Scope};
use super::objects;
use super::patient_match::{self, Presence, Sent};
use super::read_api::{Read, log_read, log_read_alone};
use super::repo;
use super::service;
use super::views::*;
use crate::audit::{self, Actor};
use crate::auth::{Principal, Role};
use crate::blobs::BlobStore;
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::list::{Dir, ListQuery, Pager};
use crate::web::{Caller, ClientAddr, ObjectGuard, Page, flash_redirect, render};

fn facility_of(p: &Principal) -> AppResult<i64> {
    p.facility_id.ok_or(AppError::Forbidden)
}

fn patient_line(p: repo::PatientRow, local_id: Option<String>) -> PatientLine {
    PatientLine {
        id: p.id,
        network_id: p.network_id,
        local_id: local_id.unwrap_or_else(|| "—".into()),
        name: p.name,
        kana: p.kana,
        birth_date: p.birth_date,
        gender: model::gender_label(&p.gender),
    }
}

fn doc_line(d: &repo::DocumentRow) -> DocumentLine {
    DocumentLine {
        id: d.id,
        date: d.doc_date.clone(),
        type_label: d.type_label.clone(),
        title: d.title.clone(),
        facility: d.facility_name.clone(),
        sent: d.sent_at.jst(),
    }
}

pub async fn index(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    page: Page,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let facility = facility_of(&p)?;
    let order = q.order(repo::PATIENT_SORTS, "kana", Dir::Asc);
    let like = q.like();
    let mut tx = state.db.begin().await?;
    let total = repo::count_visible_patients(&mut tx, facility, like.as_deref()).await?;
    let patients: Vec<PatientLine> = repo::visible_patients(
        &mut tx,
        facility,
        like.as_deref(),
        &order,
        q.limit(),
        q.offset(),
    )
    .await?
    .into_iter()
    .map(|(p, l)| patient_line(p, l))
    .collect();
    // The list shows names and birth dates: a read of application data too.
    audit::record(
        &mut tx,
        state.now(),
        &actor,
        "records.patients_listed",
        &format!("facility:{facility}"),
        json!({"facility_id": facility, "patients": patients.len(), "page": q.page(),
               "searched": like.is_some(), "channel": "ui"}),
    )
    .await?;
    tx.commit().await?;
    let more = total > repo::PATIENT_COUNT_CAP;
    let pager = Pager::new(
        "/records",
        &q,
        total.min(repo::PATIENT_COUNT_CAP),
        &[] as &[(&str, &str)],
    )
    .at_least(more);
    render(
        PatientsPage {
            page: page.titled("患者の診療情報"),
            patients,
            can_register: p.role == Role::FacilityManager,
            q: q.text().unwrap_or_default().to_string(),
            pager,
        },
        StatusCode::OK,
    )
}

pub async fn timeline(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let now = state.now();
    let facility = facility_of(&p)?;
    let mut tx = state.db.begin().await?;
    let found = objects::find_patient(&mut tx, id, facility).await?;
    let (mut tx, patient) = guard.check_in(tx, found).await?;
    let patient = patient.row;
    // The documents the facility may read (as before), one page at a time in SQL (X.4).
    let order = q.order(repo::PATIENT_DOC_SORTS, "date", Dir::Desc);
    let like = q.like().unwrap_or_default();
    let total = repo::count_patient_documents(&mut tx, facility, id, &like).await?;
    let documents: Vec<DocumentLine> =
        repo::patient_documents(&mut tx, facility, id, &like, &order, q.limit(), q.offset())
            .await?
            .into_iter()
            .map(|d| DocumentLine {
                id: d.id,
                date: d.doc_date,
                type_label: d.type_label,
                title: d.title,
                facility: d.facility_name,
                sent: d.sent_at.jst(),
            })
            .collect();
    let pager = Pager::new(
        &format!("/records/patients/{id}"),
        &q,
        total,
        &[] as &[(&str, &str)],
    );
    let local = repo::local_id(&mut tx, id, facility).await?;
    let consent = consent_ui::panel(&mut tx, id, &p, local.is_some()).await?;
    let held = repo::count_pending_for_patient(&mut tx, facility, id).await?;
    log_read(
        &mut tx,
        now,
        &actor,
        "records.timeline_read",
        Read {
            patient_id: id,
            document_id: None,
            facility_id: facility,
            channel: "ui",
        },
    )
    .await?;
    tx.commit().await?;
    let can_link = p.role == Role::FacilityManager && local.is_none();
    render(
        TimelinePage {
            page: page.titled(format!("{} さんの診療情報", patient.name)),
            patient: patient_line(patient, local),
            consent,
            documents,
            can_link,
            held,
            can_review: p.role == Role::FacilityManager,
            q: q.text().unwrap_or_default().to_string(),
            pager,
        },
        StatusCode::OK,
    )
}

pub async fn document(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let now = state.now();
    let facility = facility_of(&p)?;
    let mut tx = state.db.begin().await?;
    let found = objects::find_document(&mut tx, id, facility, None).await?;
    let (mut tx, doc) = guard.check_in(tx, found).await?;
    let doc = doc.row;
    let patient = repo::find_patient(&mut tx, doc.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let local = repo::local_id(&mut tx, doc.patient_id, facility).await?;
    let review = repo::review_of_document(&mut tx, id).await?;
    let attachments = repo::attachments(&mut tx, id)
        .await?
        .into_iter()
        .map(|a| AttachmentLine {
            ordinal: a.ordinal,
            title: a.title,
            content_type: a.content_type,
            size: size_text(a.size_bytes),
        })
        .collect();
    log_read(
        &mut tx,
        now,
        &Actor::of(&p, &addr),
        "records.document_read",
        Read {
            patient_id: doc.patient_id,
            document_id: Some(id),
            facility_id: facility,
            channel: "ui",
        },
    )
    .await?;
    tx.commit().await?;
    let (sections, resources) = render_bundle(&doc.content);
    // The patient as the Bundle names them, beside the registered patient.
    let sent = bundle_patient(&doc.content).map(|(resource, local_id)| {
        let sent = Sent::from_resource(&resource);
        let differs = patient_match::differences(&sent, &patient, Presence::Required);
        SentPatient {
            local_id,
            rows: compare_rows(&sent, &patient, &differs),
            differs: !differs.is_empty(),
        }
    });
    let review_note = review.filter(|r| r.state == "accepted").map(|r| {
        format!(
            "患者情報が登録と異なるため保留され、送信元施設の利用施設管理者が {} に確認のうえ受け付けました（理由: {}）。",
            r.resolved_at.map(|t| t.jst()).unwrap_or_default(),
            r.reason.unwrap_or_default()
        )
    });
    render(
        DocumentPage {
            page: page.titled(doc.title.clone()),
            patient: patient_line(patient, local),
            expires: doc.expires_at.jst(),
            doc: doc_line(&doc),
            sections,
            resources,
            attachments,
            sent,
            review_note,
        },
        StatusCode::OK,
    )
}

pub async fn attachment(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    ClientAddr(addr): ClientAddr,
    guard: ObjectGuard,
    Path((id, n)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let now = state.now();
    let facility = facility_of(&p)?;
    let mut tx = state.db.begin().await?;
    let found = objects::find_document(&mut tx, id, facility, Some(n)).await?;
    let (mut tx, doc) = guard.check_in(tx, found).await?;
    let doc = doc.row;
    let a = repo::attachments(&mut tx, id)
        .await?
        .into_iter()
        .find(|a| a.ordinal == n)
        .ok_or(AppError::NotFound)?;
    // No transaction is held while the object store answers (issue 16); only a read that
    // succeeded is audited, before the bytes are sent.
    tx.commit().await?;
    let bytes = BlobStore::of(&state)
        .get(&a.blob_hash)
        .await
        .map_err(AppError::Internal)?;
    log_read_alone(
        &state.db,
        now,
        &Actor::of(&p, &addr),
        "records.attachment_read",
        Read {
            patient_id: doc.patient_id,
            document_id: Some(id),
            facility_id: facility,
            channel: "ui",
        },
    )
    .await?;
    Ok(objects::download_named(
        bytes,
        Some(&a.content_type),
        &a.title,
        &format!("document-{id}-{n}"),
    ))
}

pub async fn register_form(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let mut conn = state.db.pool().acquire().await?;
    let facilities = repo::participating_facilities(&mut conn).await?;
    render(
        RegisterPage {
            page: page.titled("患者の登録と同意の記録"),
            form: RegisterValues {
                scope: "all".into(),
                ..Default::default()
            },
            choices: ScopeChoice::all(&facilities, &[]),
            errors: Vec::new(),
        },
        StatusCode::OK,
    )
}

pub async fn register(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    page: Page,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = RegisterValues::from_fields(fields);
    let now = state.now();
    let facility = facility_of(&p)?;
    let mut errors = Vec::new();
    let local_id = form.local_id.trim();
    if local_id.is_empty() || local_id.chars().count() > 64 {
        errors.push("自施設の患者ID を入力してください（64文字以内）。".to_string());
    }
    if form.name.trim().is_empty() || form.kana.trim().is_empty() {
        errors.push("氏名（漢字）とフリガナを入力してください。".into());
    }
    if model::date_part(form.birth_date.trim()).is_none() {
        errors.push("生年月日を YYYY-MM-DD で入力してください。".into());
    }
    let signed_on = model::date_part(form.signed_on.trim());
    if signed_on.is_none() {
        errors.push("同意書の署名日を YYYY-MM-DD で入力してください。".into());
    }
    // No default: a wrong sex would make every later document a patient mismatch (R21.1).
    if !matches!(
        form.gender.as_str(),
        "male" | "female" | "other" | "unknown"
    ) {
        errors.push("性別を選んでください。".into());
    }
    let scope = consent_ui::parse_scope(&form.scope, &form.facilities, &mut errors);
    let mut conn = state.db.pool().acquire().await?;
    let facilities = repo::participating_facilities(&mut conn).await?;
    drop(conn);
    if !errors.is_empty() {
        return render(
            RegisterPage {
                page: page.titled("患者の登録と同意の記録"),
                choices: ScopeChoice::all(&facilities, &form.facilities),
                form,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let info = ConsentInfo {
        active: true,
        signed_on: signed_on.unwrap_or_default(),
        scope: scope.unwrap_or(Scope::All),
        scan: None,
        custodians: Vec::new(),
    };
    let patient = PatientInfo {
        local_id: local_id.to_string(),
        name: form.name.trim().chars().take(100).collect(),
        kana: form.kana.trim().chars().take(100).collect(),
        birth_date: form.birth_date.trim().to_string(),
        gender: form.gender.clone(),
    };
    let mut tx = state.db.begin().await?;
    match service::register_patient(&mut tx, facility, &patient, &info, &actor, now).await {
        Ok(id) => {
            tx.commit().await?;
            Ok(flash_redirect(
                &state,
                &format!("/records/patients/{id}"),
                "患者を登録し、同意を記録しました。",
            ))
        }
        Err(DomainError::Invalid { message, .. }) => render(
            RegisterPage {
                page: page.titled("患者の登録と同意の記録"),
                choices: ScopeChoice::all(&facilities, &form.facilities),
                form,
                errors: vec![message],
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WithdrawForm {
    confirm: String,
    /// The code of the facility whose consent is withdrawn (empty: the caller's own).
    facility: String,
}

/// Withdraws a consent from the patient page: only the facility's own (see [`consent`]); an
/// attempt on another's is refused with 403 and audited.
pub async fn withdraw(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
    Form(form): Form<WithdrawForm>,
) -> AppResult<Response> {
    let now = state.now();
    let facility = facility_of(&p)?;
    let mut tx = state.db.begin().await?;
    let found = objects::find_patient(&mut tx, id, facility).await?;
    let (mut tx, _) = guard.check_in(tx, found).await?;
    if form.confirm != "yes" {
        return Err(AppError::BadRequest(
            "撤回の確認にチェックを入れてから送信してください。".into(),
        ));
    }
    let target = consent_ui::target_facility(&mut tx, &form.facility).await?;
    let act = consent::Act {
        party: consent::Party::Facility(facility),
        patient_id: id,
        actor: &actor,
        channel: "ui",
        now,
    };
    match consent::withdraw(&mut tx, &act, target, None).await {
        Ok(_) => {}
        Err(consent::ConsentError::NotOwner(message)) => {
            tx.commit().await?;
            return Ok(consent_ui::refused(message));
        }
        Err(consent::ConsentError::Other(e)) => return Err(e.into()),
        Err(e @ consent::ConsentError::ScanMissing) => {
            return Err(AppError::BadRequest(e.to_string()));
        }
    }
    tx.commit().await?;
    Ok(flash_redirect(
        &state,
        &format!("/records/patients/{id}"),
        "自施設の同意の撤回を記録しました。以後、他の施設は自施設が送信したこの患者の文書を閲覧できません。",
    ))
}

/// The scan of the consent form in force (or last withdrawn), for facilities that may see the
/// patient; audited like any read.
pub async fn consent_scan(
    State(state): State<AppState>,
    Caller { p, actor }: Caller,
    guard: ObjectGuard,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let now = state.now();
    let facility = facility_of(&p)?;
    let mut tx = state.db.begin().await?;
    let found = objects::find_patient(&mut tx, id, facility).await?;
    let (mut tx, _) = guard.check_in(tx, found).await?;
    let consent = repo::current_consent(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let hash = consent.scan_hash.ok_or(AppError::NotFound)?;
    let read = Read {
        patient_id: id,
        document_id: None,
        facility_id: facility,
        channel: "ui",
    };
    let content_type = consent.scan_content_type.as_deref();
    consent_ui::serve_scan(
        &state,
        tx,
        now,
        &actor,
        read,
        &hash,
        content_type,
        "consent-scan",
    )
    .await
}
