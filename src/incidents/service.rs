//! Incidents' state changes; each one transaction with its audit event.

use serde_json::json;

use sha2::{Digest, Sha256};

use super::model::{self, CauseCategory, Incident, Move, NewIncident, Severity, Source, Status};
use super::repo::{self, Fields, NewVendorContact};
use crate::audit::{self, Actor};
use crate::blobs::BlobStore;
use crate::db::{Db, Timestamp, Tx, tokyo};
use crate::error::DomainError;

/// Opens an incident (status 調査中) on the caller's transaction, with its first timeline entry,
/// and returns its id. The caller commits (an incident drafted from an alert or an inquiry links
/// it on the same transaction).
pub async fn create_in(
    tx: &mut Tx,
    n: &NewIncident,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    for (field, value, label) in [
        ("title", &n.title, "件名"),
        ("discovered_where", &n.discovered_where, "発見箇所"),
        ("description", &n.description, "障害内容"),
    ] {
        if value.trim().is_empty() {
            return Err(DomainError::invalid(
                field,
                format!("{label}を入力してください。"),
            ));
        }
    }
    let year = now.as_jiff().to_zoned(tokyo()).year();
    let seq = repo::count_in_year(tx, year).await? + 1;
    let number = model::number(year, seq);
    let id = repo::insert(tx, &number, n, &actor.login, now).await?;
    repo::add_timeline(
        tx,
        id,
        n.discovered_at,
        "status",
        "障害を受け付けました（調査中）。",
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        tx,
        now,
        actor,
        "incident.created",
        &format!("incident:{id}"),
        json!({
            "number": number,
            "severity": n.severity.key(),
            "source": n.source.key(),
            "source_ref": n.source_ref,
        }),
    )
    .await?;
    Ok(id)
}

/// Where a new incident comes from, and so what it is linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Manual,
    Inquiry(i64),
    Alert(i64),
}

impl Origin {
    pub fn source(self) -> (Source, Option<i64>) {
        match self {
            Origin::Manual => (Source::Manual, None),
            Origin::Inquiry(id) => (Source::Inquiry, Some(id)),
            Origin::Alert(id) => (Source::Alert, Some(id)),
        }
    }
}

/// What the new-incident form has beyond [`NewIncident`].
#[derive(Clone, Debug, Default)]
pub struct Affected {
    pub services: String,
    pub facility_ids: Vec<i64>,
}

/// Opens an incident by hand, from an inquiry or from an alert (which is linked on the same
/// transaction: its `incident_id` is set, a `link` entry is written to the 経過).
pub async fn create(
    db: &Db,
    n: &NewIncident,
    affected: &Affected,
    origin: Origin,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let mut tx = db.begin().await?;
    let id = create_in(&mut tx, n, actor, now).await?;
    if !affected.services.trim().is_empty() || !affected.facility_ids.is_empty() {
        repo::set_affected_services(&mut tx, id, affected.services.trim()).await?;
        repo::set_facilities(&mut tx, id, &affected.facility_ids).await?;
    }
    match origin {
        Origin::Manual => {}
        Origin::Inquiry(q) => link_in(&mut tx, id, LinkTarget::Inquiry(q), actor, now).await?,
        Origin::Alert(a) => link_in(&mut tx, id, LinkTarget::Alert(a), actor, now).await?,
    }
    tx.commit().await?;
    Ok(id)
}

/// Something an incident is linked to (R17.1, issue 13 item 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    Inquiry(i64),
    Alert(i64),
}

async fn link_in(
    tx: &mut Tx,
    incident_id: i64,
    target: LinkTarget,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let (text, audit_target) = match target {
        LinkTarget::Inquiry(q) => {
            let inq = crate::helpdesk::inquiry_for_incident(tx, q)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid("target", "その番号の問い合わせはありません。")
                })?;
            if !crate::helpdesk::link_incident(tx, q, incident_id).await? {
                return Err(DomainError::conflict(format!(
                    "問い合わせ #{q} は既に別の障害（#{}）に関連付けられています。",
                    inq.incident_id.unwrap_or_default()
                )));
            }
            (
                format!("問い合わせ #{q}「{}」を関連付けました。", inq.subject),
                format!("inquiry:{q}"),
            )
        }
        LinkTarget::Alert(a) => {
            let alert = crate::monitor::repo_incidents::alert(tx, a)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid("target", "その番号の監視アラートはありません。")
                })?;
            if !crate::monitor::repo_incidents::link(tx, a, incident_id).await? {
                return Err(DomainError::conflict(format!(
                    "監視アラート #{a} は既に別の障害（#{}）に関連付けられています。",
                    alert.incident_id.unwrap_or_default()
                )));
            }
            (
                format!(
                    "監視アラート #{a}（{}：{}）を関連付けました。",
                    alert.monitor_name,
                    if alert.kind == "down" {
                        "停止"
                    } else {
                        "回復"
                    }
                ),
                format!("monitor_alert:{a}"),
            )
        }
    };
    repo::add_timeline(tx, incident_id, now, "link", &text, &actor.login, now).await?;
    audit::record(
        tx,
        now,
        actor,
        "incident.linked",
        &format!("incident:{incident_id}"),
        json!({ "linked": audit_target }),
    )
    .await?;
    Ok(())
}

/// Links one more inquiry or alert to an existing incident.
pub async fn link(
    db: &Db,
    incident_id: i64,
    target: LinkTarget,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    repo::find(&mut tx, incident_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    link_in(&mut tx, incident_id, target, actor, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The message of a stale form (the record changed after the form was opened).
pub const STALE: &str = "この障害は、画面を開いた後に他の人が更新しました。最新の内容を読み込み直してから、もう一度操作してください。";

fn stale() -> DomainError {
    DomainError::conflict(STALE)
}

fn check_fields(f: &Fields) -> Result<(), DomainError> {
    for (field, value, label) in [
        ("title", &f.title, "件名"),
        ("discovered_where", &f.discovered_where, "発見箇所"),
        ("description", &f.description, "障害内容"),
    ] {
        if value.trim().is_empty() {
            return Err(DomainError::invalid(
                field,
                format!("{label}を入力してください。"),
            ));
        }
    }
    if Severity::parse(&f.severity).is_none() {
        return Err(DomainError::invalid("severity", "重大度を選んでください。"));
    }
    if let (Some(o), Some(r)) = (f.occurred_at, f.recovered_at)
        && r < o
    {
        return Err(DomainError::invalid(
            "recovered_at",
            "復旧日時が発生日時より前になっています。",
        ));
    }
    Ok(())
}

fn show_time(t: Option<Timestamp>) -> String {
    t.map(|t| t.jst()).unwrap_or_default()
}

fn severity_label(key: &str) -> String {
    Severity::parse(key)
        .map(|s| s.label().to_string())
        .unwrap_or_default()
}

/// The changed fields as (field, old, new) display texts.
fn diff(old: &Fields, new: &Fields) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut text = |field: &'static str, a: &str, b: &str| {
        if a != b {
            out.push((field, a.to_string(), b.to_string()));
        }
    };
    text("title", &old.title, &new.title);
    text(
        "severity",
        &severity_label(&old.severity),
        &severity_label(&new.severity),
    );
    text(
        "discovered_at",
        &old.discovered_at.jst(),
        &new.discovered_at.jst(),
    );
    text(
        "discovered_where",
        &old.discovered_where,
        &new.discovered_where,
    );
    text(
        "occurred_at",
        &show_time(old.occurred_at),
        &show_time(new.occurred_at),
    );
    text("description", &old.description, &new.description);
    text("impact", &old.impact, &new.impact);
    let yes_no = |b: bool| if b { "あり" } else { "なし" };
    text(
        "affects_users",
        yes_no(old.affects_users),
        yes_no(new.affects_users),
    );
    text(
        "affected_services",
        &old.affected_services,
        &new.affected_services,
    );
    text(
        "recovered_at",
        &show_time(old.recovered_at),
        &show_time(new.recovered_at),
    );
    text("cause", &old.cause, &new.cause);
    let category = |k: &str| CauseCategory::parse(k).map_or(k.to_string(), |c| c.label().into());
    text(
        "cause_category",
        &category(&old.cause_category),
        &category(&new.cause_category),
    );
    text("action_taken", &old.action_taken, &new.action_taken);
    text("remarks", &old.remarks, &new.remarks);
    out
}

pub fn fields_of(i: &Incident) -> Fields {
    Fields {
        title: i.title.clone(),
        severity: i.severity.clone(),
        discovered_at: i.discovered_at,
        discovered_where: i.discovered_where.clone(),
        occurred_at: i.occurred_at,
        description: i.description.clone(),
        impact: i.impact.clone(),
        affects_users: i.affects_users,
        affected_services: i.affected_services.clone(),
        recovered_at: i.recovered_at,
        cause: i.cause.clone(),
        cause_category: i.cause_category.clone(),
        action_taken: i.action_taken.clone(),
        remarks: i.remarks.clone(),
    }
}

/// Corrects the record's fields from the edit form opened at `revision`: every changed field
/// is a `correction` entry of the 経過 with its old and new value (nothing is overwritten
/// without a trace). A stale revision is a `Conflict` ([`STALE`]). Returns how many fields
/// changed (0: nothing was written).
#[allow(clippy::too_many_arguments)]
pub async fn correct(
    db: &Db,
    id: i64,
    revision: i64,
    new: &Fields,
    facility_names: &[(i64, String)],
    facility_ids: &[i64],
    actor: &Actor,
    now: Timestamp,
) -> Result<usize, DomainError> {
    check_fields(new)?;
    let mut tx = db.begin().await?;
    let inc = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if inc.revision != revision {
        return Err(stale());
    }
    let old = fields_of(&inc);
    let mut changes = diff(&old, new);
    let old_facilities = repo::facility_ids(&mut tx, id).await?;
    let mut wanted = facility_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let name_of = |ids: &[i64]| {
        ids.iter()
            .map(|i| {
                facility_names
                    .iter()
                    .find(|(f, _)| f == i)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| format!("施設 #{i}"))
            })
            .collect::<Vec<_>>()
            .join("、")
    };
    if old_facilities != wanted {
        changes.push(("facilities", name_of(&old_facilities), name_of(&wanted)));
        repo::set_facilities(&mut tx, id, &wanted).await?;
    }
    if changes.is_empty() {
        return Ok(0);
    }
    if !repo::update_fields(&mut tx, id, revision, new, now).await? {
        return Err(stale());
    }
    for (field, a, b) in &changes {
        repo::add_timeline(
            &mut tx,
            id,
            now,
            "correction",
            &model::correction_text(field, a, b),
            &actor.login,
            now,
        )
        .await?;
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.corrected",
        &format!("incident:{id}"),
        json!({
            "revision": revision + 1,
            "changes": changes.iter().map(|(f, a, b)| json!({"field": f, "old": a, "new": b}))
                .collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(changes.len())
}

/// Moves an incident along its status flow ([`model::check_move`]): a step forward, or one step
/// back with a `reason`. 復旧 sets the 復旧日時 (to `at`) if it is empty; going back from 復旧
/// empties it again (a correction entry keeps the old value); 報告済 needs 復旧日時, 原因 and 処置.
#[allow(clippy::too_many_arguments)]
pub async fn change_status(
    db: &Db,
    id: i64,
    revision: i64,
    to: Status,
    at: Timestamp,
    reason: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    let inc = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if inc.revision != revision {
        return Err(stale());
    }
    let from = inc.status();
    let mv = model::check_move(from, to).map_err(|m| DomainError::invalid("status", m))?;
    let reason = reason.trim();
    if mv == Move::Back && reason.is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "前の状態に戻すときは、その理由を入力してください。",
        ));
    }
    let mut recovered_at = inc.recovered_at;
    let mut reported_at = inc.reported_at;
    if to == Status::Reported {
        let missing: Vec<&str> = [
            (inc.recovered_at.is_none(), "復旧日時"),
            (inc.cause.trim().is_empty(), "原因"),
            (inc.action_taken.trim().is_empty(), "処置"),
        ]
        .into_iter()
        .filter_map(|(m, l)| m.then_some(l))
        .collect();
        if !missing.is_empty() {
            return Err(DomainError::invalid(
                "status",
                format!(
                    "報告済にする前に、{}を記入してください。",
                    missing.join("・")
                ),
            ));
        }
        reported_at = Some(now);
    }
    if to == Status::Recovered && recovered_at.is_none() {
        recovered_at = Some(at);
    }
    let mut entries = Vec::new();
    if from == Status::Recovered && mv == Move::Back && inc.recovered_at.is_some() {
        recovered_at = None;
        entries.push((
            "correction",
            model::correction_text("recovered_at", &show_time(inc.recovered_at), ""),
        ));
    }
    if !repo::update_status(&mut tx, id, revision, to, recovered_at, reported_at, now).await? {
        return Err(stale());
    }
    let text = match mv {
        Move::Forward => {
            let mut t = format!("状態を「{}」にしました。", to.label());
            if !reason.is_empty() {
                t.push_str(reason);
            }
            t
        }
        Move::Back => format!(
            "状態を「{}」から「{}」に戻しました。理由：{reason}",
            from.label(),
            to.label()
        ),
    };
    repo::add_timeline(&mut tx, id, at, "status", &text, &actor.login, now).await?;
    for (kind, t) in entries {
        repo::add_timeline(&mut tx, id, now, kind, &t, &actor.login, now).await?;
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.status_changed",
        &format!("incident:{id}"),
        json!({
            "from": from.key(),
            "to": to.key(),
            "back": mv == Move::Back,
            "reason": reason,
            "at": at,
        }),
    )
    .await?;
    // The portal's 障害情報, if one was posted, follows the status (R17.2).
    let changed = repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    super::notices::on_status_change(&mut tx, &changed, actor, now).await?;
    tx.commit().await?;
    Ok(())
}

/// A dated entry of the 経過 (what was done or found, and when).
pub async fn add_note(
    db: &Db,
    id: i64,
    at: Timestamp,
    text: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::invalid(
            "text",
            "経過の内容を入力してください。",
        ));
    }
    if at > now {
        return Err(DomainError::invalid(
            "at",
            "経過の日時に未来の日時は入力できません。",
        ));
    }
    let mut tx = db.begin().await?;
    repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let entry = repo::add_timeline(&mut tx, id, at, "note", text, &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.note_added",
        &format!("incident:{id}"),
        json!({ "entry": entry, "at": at }),
    )
    .await?;
    tx.commit().await?;
    Ok(entry)
}

/// A contact with a vendor or maker (article 17 (2)): who, when, their reference number, what
/// was asked and what they answered; also an entry of the 経過.
pub async fn add_vendor_contact(
    db: &Db,
    id: i64,
    v: &NewVendorContact<'_>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    if v.organisation.trim().is_empty() {
        return Err(DomainError::invalid(
            "organisation",
            "連絡先（メーカー・ベンダー名）を入力してください。",
        ));
    }
    if v.contacted_at > now {
        return Err(DomainError::invalid(
            "contacted_at",
            "連絡日時に未来の日時は入力できません。",
        ));
    }
    let mut tx = db.begin().await?;
    repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let cid = repo::insert_vendor_contact(&mut tx, id, v, &actor.login, now).await?;
    let mut text = v.organisation.trim().to_string();
    if !v.person.trim().is_empty() {
        text.push_str(&format!("（{}）", v.person.trim()));
    }
    text.push_str("へ連絡");
    if !v.reference_no.trim().is_empty() {
        text.push_str(&format!("（受付番号 {}）", v.reference_no.trim()));
    }
    text.push('。');
    if !v.request.trim().is_empty() {
        text.push_str(&format!("依頼：{}。", v.request.trim()));
    }
    if !v.answer.trim().is_empty() {
        text.push_str(&format!("回答：{}", v.answer.trim()));
    }
    repo::add_timeline(
        &mut tx,
        id,
        v.contacted_at,
        "vendor",
        &text,
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.vendor_contacted",
        &format!("incident:{id}"),
        json!({
            "contact": cid,
            "organisation": v.organisation,
            "reference_no": v.reference_no,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(cid)
}

/// Records that `actor` downloaded attachment `n` of incident `id` — after the object store
/// answered, in a short transaction of its own, so that only a read that happened is recorded and
/// no transaction waits on the store.
pub async fn record_attachment_read(
    db: &Db,
    id: i64,
    n: i64,
    file_name: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), DomainError> {
    let mut tx = db.begin().await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.attachment_read",
        &format!("incident:{id}"),
        json!({"attachment": n, "file_name": file_name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Stores a 添付資料 in the blob store and records it (the blob write is held open against the
/// purge until the row is committed, as records do).
#[allow(clippy::too_many_arguments)]
pub async fn add_attachment(
    db: &Db,
    store: &BlobStore,
    id: i64,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
    note: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    if bytes.is_empty() {
        return Err(DomainError::invalid(
            "file",
            "添付するファイルを選んでください。",
        ));
    }
    let hash = hex::encode(Sha256::digest(bytes));
    let _writing = store.writing().await;
    store.put(&hash, bytes).await?;
    let mut tx = db.begin().await?;
    repo::find(&mut tx, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let aid = repo::insert_attachment(
        &mut tx,
        id,
        &hash,
        file_name,
        content_type,
        bytes.len() as i64,
        note,
        &actor.login,
        now,
    )
    .await?;
    repo::add_timeline(
        &mut tx,
        id,
        now,
        "attachment",
        &format!("添付資料「{file_name}」を追加しました。"),
        &actor.login,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.attachment_added",
        &format!("incident:{id}"),
        json!({
            "attachment": aid,
            "file_name": file_name,
            "content_type": content_type,
            "sha256": hash,
            "size": bytes.len(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(aid)
}

/// Records a print of the 障害報告書 (who, when, draft or final, the PDF's SHA-256).
async fn record_print(
    db: &Db,
    id: i64,
    kind: &str,
    revision: i64,
    pdf: &[u8],
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, DomainError> {
    let sha = hex::encode(Sha256::digest(pdf));
    let mut tx = db.begin().await?;
    let pid = repo::insert_print(&mut tx, id, kind, revision, &sha, &actor.login, now).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "incident.report_printed",
        &format!("incident:{id}"),
        json!({ "print": pid, "kind": kind, "revision": revision, "sha256": sha }),
    )
    .await?;
    tx.commit().await?;
    Ok(pid)
}

/// Prints the 障害報告書: a draft at any stage, the final version only once 報告済 (else a
/// `Conflict`). The PDF is rendered outside any transaction (on the blocking pool), then the
/// print is recorded with its SHA-256 and audited.
pub async fn print(
    db: &Db,
    pdf: &crate::pdf::PdfSettings,
    settings: &model::IncidentsSettings,
    inc: &Incident,
    draft: bool,
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<u8>, DomainError> {
    if !draft && !inc.status().is_closed() {
        return Err(DomainError::conflict(
            "正式版の障害報告書は、状態が「報告済」になってから印刷できます。それまでは案として印刷してください。",
        ));
    }
    let mut conn = db.pool().acquire().await?;
    let data = super::report::data(&mut conn, settings, inc, draft, now).await?;
    drop(conn);
    let pdf = pdf.clone();
    let bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let font = crate::pdf::Font::load(&pdf)?;
        Ok(super::report::render(&font, &data))
    })
    .await
    .map_err(anyhow::Error::from)??;
    let kind = if draft { "draft" } else { "final" };
    record_print(db, inc.id, kind, inc.revision, &bytes, actor, now).await?;
    Ok(bytes)
}
