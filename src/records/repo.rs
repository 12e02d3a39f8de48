//! All SQL of application data: API keys, patients and their local IDs, consents, documents,
//! attachments, tombstones, and the read events of the audit log for facility managers.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::fhir::PatientInfo;
use crate::db::{Conn, Timestamp};

// ---- API keys ----

pub struct ApiKeyOwner {
    pub key_id: i64,
    pub facility_id: i64,
    pub facility_code: String,
}

pub async fn find_api_key(conn: &mut Conn, key_hash: &str) -> sqlx::Result<Option<ApiKeyOwner>> {
    let row = sqlx::query(
        "SELECT k.id, k.facility_id, f.code FROM api_keys k JOIN facilities f ON f.id = k.facility_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND f.withdrawn_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(ApiKeyOwner {
            key_id: r.try_get("id")?,
            facility_id: r.try_get("facility_id")?,
            facility_code: r.try_get("code")?,
        })
    })
    .transpose()
}

pub async fn insert_api_key(
    conn: &mut Conn,
    facility_id: i64,
    label: &str,
    prefix: &str,
    key_hash: &str,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO api_keys (facility_id, label, key_prefix, key_hash, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(facility_id)
    .bind(label)
    .bind(prefix)
    .bind(key_hash)
    .bind(now)
    .bind(by)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")
}

pub struct ApiKeyLine {
    pub id: i64,
    pub facility_code: String,
    pub facility_name: String,
    pub label: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub revoked_at: Option<Timestamp>,
}

pub async fn list_api_keys(conn: &mut Conn) -> sqlx::Result<Vec<ApiKeyLine>> {
    sqlx::query(
        "SELECT k.id, f.code, f.name, k.label, k.key_prefix, k.created_at, k.created_by, k.revoked_at
         FROM api_keys k JOIN facilities f ON f.id = k.facility_id ORDER BY k.id DESC",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(ApiKeyLine {
            id: r.try_get("id")?,
            facility_code: r.try_get("code")?,
            facility_name: r.try_get("name")?,
            label: r.try_get("label")?,
            prefix: r.try_get("key_prefix")?,
            created_at: r.try_get("created_at")?,
            created_by: r.try_get("created_by")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    })
    .collect()
}

pub async fn revoke_api_key(
    conn: &mut Conn,
    id: i64,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE api_keys SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// A participating (not withdrawn) facility's id and name by its code.
pub async fn facility_by_code(conn: &mut Conn, code: &str) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query("SELECT id, name FROM facilities WHERE code = $1 AND withdrawn_at IS NULL")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .transpose()
}

// ---- patients and consent ----

pub async fn find_link(
    conn: &mut Conn,
    facility_id: i64,
    local_id: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query("SELECT patient_id FROM patient_links WHERE facility_id = $1 AND local_id = $2")
        .bind(facility_id)
        .bind(local_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("patient_id"))
        .transpose()
}

pub async fn insert_patient(
    conn: &mut Conn,
    network_id: &str,
    p: &PatientInfo,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO patients (network_id, name, kana, birth_date, gender, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(network_id)
    .bind(&p.name)
    .bind(&p.kana)
    .bind(&p.birth_date)
    .bind(&p.gender)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")
}

pub async fn insert_link(
    conn: &mut Conn,
    patient_id: i64,
    facility_id: i64,
    local_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO patient_links (patient_id, facility_id, local_id, created_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(patient_id)
    .bind(facility_id)
    .bind(local_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub struct PatientRow {
    pub id: i64,
    pub network_id: String,
    pub name: String,
    pub kana: String,
    pub birth_date: String,
    pub gender: String,
}

fn patient_from(r: &AnyRow) -> sqlx::Result<PatientRow> {
    Ok(PatientRow {
        id: r.try_get("id")?,
        network_id: r.try_get("network_id")?,
        name: r.try_get("name")?,
        kana: r.try_get("kana")?,
        birth_date: r.try_get("birth_date")?,
        gender: r.try_get("gender")?,
    })
}

pub async fn find_patient(conn: &mut Conn, id: i64) -> sqlx::Result<Option<PatientRow>> {
    sqlx::query("SELECT id, network_id, name, kana, birth_date, gender FROM patients WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(patient_from)
        .transpose()
}

pub async fn patient_by_network_id(conn: &mut Conn, network_id: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query("SELECT id FROM patients WHERE network_id = $1")
        .bind(network_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()
}

/// SQL condition: facility `{F}` may read documents of the patient in column `{P}` sent by the
/// facility in column `{S}` — it sent them, or the patient's latest consent is in force and
/// covers it.
fn readable(f: &str, p: &str, s: &str) -> String {
    format!(
        "({s} = {f} OR EXISTS (SELECT 1 FROM consents c
            WHERE c.id = (SELECT MAX(c2.id) FROM consents c2 WHERE c2.patient_id = {p})
              AND c.withdrawn_at IS NULL
              AND (c.scope = 'all' OR EXISTS (SELECT 1 FROM consent_facilities cf
                     WHERE cf.consent_id = c.id AND cf.facility_id = {f}))))"
    )
}

/// Patients a facility cares for (linked) or may read under consent.
pub async fn visible_patients(
    conn: &mut Conn,
    facility_id: i64,
) -> sqlx::Result<Vec<(PatientRow, Option<String>)>> {
    let sql = format!(
        "SELECT p.id, p.network_id, p.name, p.kana, p.birth_date, p.gender,
                (SELECT l.local_id FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1) AS local_id
         FROM patients p
         WHERE EXISTS (SELECT 1 FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1)
            OR {}
         ORDER BY p.kana, p.id LIMIT 500",
        readable("$1", "p.id", "-1")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((patient_from(r)?, r.try_get("local_id")?)))
        .collect()
}

pub async fn is_linked(conn: &mut Conn, patient_id: i64, facility_id: i64) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("SELECT 1 AS x FROM patient_links WHERE patient_id = $1 AND facility_id = $2")
            .bind(patient_id)
            .bind(facility_id)
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
    )
}

pub struct NewConsent<'a> {
    pub patient_id: i64,
    pub facility_id: i64,
    pub signed_on: &'a str,
    pub scope: &'a str,
    pub scan_hash: Option<&'a str>,
    pub scan_content_type: Option<&'a str>,
    pub by: &'a str,
}

pub async fn insert_consent(
    conn: &mut Conn,
    c: &NewConsent<'_>,
    now: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO consents (patient_id, facility_id, signed_on, scope, scan_hash,
                               scan_content_type, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(c.patient_id)
    .bind(c.facility_id)
    .bind(c.signed_on)
    .bind(c.scope)
    .bind(c.scan_hash)
    .bind(c.scan_content_type)
    .bind(now)
    .bind(c.by)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")
}

pub async fn insert_consent_facility(
    conn: &mut Conn,
    consent_id: i64,
    facility_id: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO consent_facilities (consent_id, facility_id) VALUES ($1, $2)")
        .bind(consent_id)
        .bind(facility_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub struct ConsentRow {
    pub id: i64,
    pub signed_on: String,
    pub scope: String,
    pub scan_hash: Option<String>,
    pub recorded_at: Timestamp,
    pub recorded_by: String,
    pub withdrawn_at: Option<Timestamp>,
    pub facilities: Vec<String>,
}

/// The patient's latest consent (the one in force unless withdrawn).
pub async fn current_consent(conn: &mut Conn, patient_id: i64) -> sqlx::Result<Option<ConsentRow>> {
    let Some(r) = sqlx::query(
        "SELECT id, signed_on, scope, scan_hash, recorded_at, recorded_by, withdrawn_at
         FROM consents WHERE patient_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(patient_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let id: i64 = r.try_get("id")?;
    let facilities = sqlx::query(
        "SELECT f.name FROM consent_facilities cf JOIN facilities f ON f.id = cf.facility_id
         WHERE cf.consent_id = $1 ORDER BY f.code",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("name"))
    .collect::<sqlx::Result<_>>()?;
    Ok(Some(ConsentRow {
        id,
        signed_on: r.try_get("signed_on")?,
        scope: r.try_get("scope")?,
        scan_hash: r.try_get("scan_hash")?,
        recorded_at: r.try_get("recorded_at")?,
        recorded_by: r.try_get("recorded_by")?,
        withdrawn_at: r.try_get("withdrawn_at")?,
        facilities,
    }))
}

pub async fn withdraw_consent(
    conn: &mut Conn,
    consent_id: i64,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE consents SET withdrawn_at = $1, withdrawn_by = $2 WHERE id = $3 AND withdrawn_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(consent_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

// ---- documents ----

pub async fn find_by_identifier(
    conn: &mut Conn,
    facility_id: i64,
    system: &str,
    value: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query(
        "SELECT id, content_hash FROM documents
         WHERE facility_id = $1 AND identifier_system = $2 AND identifier_value = $3",
    )
    .bind(facility_id)
    .bind(system)
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| Ok((r.try_get("id")?, r.try_get("content_hash")?)))
    .transpose()
}

pub struct NewDocument<'a> {
    pub patient_id: i64,
    pub facility_id: i64,
    pub bundle_type: &'a str,
    pub identifier_system: &'a str,
    pub identifier_value: &'a str,
    pub type_code: &'a str,
    pub type_label: &'a str,
    pub title: &'a str,
    pub doc_date: &'a str,
    pub content_hash: &'a str,
    pub content: &'a str,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn insert_document(conn: &mut Conn, d: &NewDocument<'_>) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO documents (patient_id, facility_id, bundle_type, identifier_system,
            identifier_value, type_code, type_label, title, doc_date, content_hash, content,
            size_bytes, sent_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(d.patient_id)
    .bind(d.facility_id)
    .bind(d.bundle_type)
    .bind(d.identifier_system)
    .bind(d.identifier_value)
    .bind(d.type_code)
    .bind(d.type_label)
    .bind(d.title)
    .bind(d.doc_date)
    .bind(d.content_hash)
    .bind(d.content)
    .bind(d.content.len() as i64)
    .bind(d.sent_at)
    .bind(d.expires_at)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")
}

pub async fn insert_attachment(
    conn: &mut Conn,
    document_id: i64,
    ordinal: i64,
    a: &super::fhir::Attachment,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO document_attachments (document_id, ordinal, blob_hash, content_type, title, size_bytes)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(document_id)
    .bind(ordinal)
    .bind(&a.hash)
    .bind(&a.content_type)
    .bind(&a.title)
    .bind(a.bytes.len() as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub struct DocumentRow {
    pub id: i64,
    pub patient_id: i64,
    pub facility_name: String,
    pub type_label: String,
    pub title: String,
    pub doc_date: String,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    pub content: String,
}

const DOC_COLUMNS: &str = "d.id, d.patient_id, f.name AS facility_name, d.type_label, d.title, d.doc_date, d.sent_at, d.expires_at, d.content";

fn document_from(r: &AnyRow) -> sqlx::Result<DocumentRow> {
    Ok(DocumentRow {
        id: r.try_get("id")?,
        patient_id: r.try_get("patient_id")?,
        facility_name: r.try_get("facility_name")?,
        type_label: r.try_get("type_label")?,
        title: r.try_get("title")?,
        doc_date: r.try_get("doc_date")?,
        sent_at: r.try_get("sent_at")?,
        expires_at: r.try_get("expires_at")?,
        content: r.try_get("content")?,
    })
}

/// A document and whether `facility_id` may read it.
pub async fn find_document(
    conn: &mut Conn,
    id: i64,
    facility_id: i64,
) -> sqlx::Result<Option<(DocumentRow, bool)>> {
    let sql = format!(
        "SELECT {DOC_COLUMNS}, CASE WHEN {} THEN 1 ELSE 0 END AS may_read
         FROM documents d JOIN facilities f ON f.id = d.facility_id WHERE d.id = $2",
        readable("$1", "d.patient_id", "d.facility_id")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| Ok((document_from(&r)?, r.try_get::<i64, _>("may_read")? == 1)))
        .transpose()
}

#[derive(Default)]
pub struct Search {
    pub patient_id: Option<i64>,
    pub type_code: Option<String>,
    /// (operator, YYYY-MM-DD) pairs: `=`, `>=`, `<=`, `>`, `<`.
    pub dates: Vec<(&'static str, String)>,
    pub limit: i64,
}

/// Documents `facility_id` may read, newest first.
pub async fn search(
    conn: &mut Conn,
    facility_id: i64,
    s: &Search,
) -> sqlx::Result<Vec<DocumentRow>> {
    let mut sql = format!(
        "SELECT {DOC_COLUMNS} FROM documents d JOIN facilities f ON f.id = d.facility_id WHERE {}",
        readable("$1", "d.patient_id", "d.facility_id")
    );
    let mut n = 1;
    if s.patient_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND d.patient_id = ${n}"));
    }
    if s.type_code.is_some() {
        n += 1;
        sql.push_str(&format!(" AND d.type_code = ${n}"));
    }
    for (op, _) in &s.dates {
        n += 1;
        sql.push_str(&format!(" AND d.doc_date {op} ${n}"));
    }
    sql.push_str(&format!(
        " ORDER BY d.doc_date DESC, d.id DESC LIMIT {}",
        s.limit.clamp(1, 500)
    ));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(facility_id);
    if let Some(p) = s.patient_id {
        q = q.bind(p);
    }
    if let Some(t) = &s.type_code {
        q = q.bind(t.clone());
    }
    for (_, d) in &s.dates {
        q = q.bind(d.clone());
    }
    q.fetch_all(&mut *conn)
        .await?
        .iter()
        .map(document_from)
        .collect()
}

pub struct AttachmentRow {
    pub ordinal: i64,
    pub blob_hash: String,
    pub content_type: String,
    pub title: String,
    pub size_bytes: i64,
}

pub async fn attachments(conn: &mut Conn, document_id: i64) -> sqlx::Result<Vec<AttachmentRow>> {
    sqlx::query(
        "SELECT ordinal, blob_hash, content_type, title, size_bytes FROM document_attachments
         WHERE document_id = $1 ORDER BY ordinal",
    )
    .bind(document_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(AttachmentRow {
            ordinal: r.try_get("ordinal")?,
            blob_hash: r.try_get("blob_hash")?,
            content_type: r.try_get("content_type")?,
            title: r.try_get("title")?,
            size_bytes: r.try_get("size_bytes")?,
        })
    })
    .collect()
}

// ---- retention ----

pub struct ExpiredLine {
    pub id: i64,
    pub facility_name: String,
    pub type_label: String,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    pub size_bytes: i64,
}

pub async fn expired(
    conn: &mut Conn,
    now: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<ExpiredLine>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, f.name, d.type_label, d.sent_at, d.expires_at, d.size_bytes
         FROM documents d JOIN facilities f ON f.id = d.facility_id
         WHERE d.expires_at <= $1 ORDER BY d.expires_at, d.id LIMIT {}",
        limit.clamp(1, 10_000)
    )))
    .bind(now)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(ExpiredLine {
            id: r.try_get("id")?,
            facility_name: r.try_get("name")?,
            type_label: r.try_get("type_label")?,
            sent_at: r.try_get("sent_at")?,
            expires_at: r.try_get("expires_at")?,
            size_bytes: r.try_get("size_bytes")?,
        })
    })
    .collect()
}

/// Replaces an expired document by its tombstone; returns its attachments' blob hashes, or
/// None when the document is gone or not expired.
pub async fn purge_document(
    conn: &mut Conn,
    id: i64,
    by: &str,
    now: Timestamp,
) -> sqlx::Result<Option<Vec<String>>> {
    let inserted = sqlx::query(
        "INSERT INTO document_tombstones (document_id, facility_id, content_hash, sent_at, expires_at, purged_at, purged_by)
         SELECT id, facility_id, content_hash, sent_at, expires_at, $1, $2 FROM documents
         WHERE id = $3 AND expires_at <= $1",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    let hashes = attachments(conn, id)
        .await?
        .into_iter()
        .map(|a| a.blob_hash)
        .collect();
    sqlx::query("DELETE FROM document_attachments WHERE document_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM documents WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(hashes))
}

pub async fn blob_referenced(conn: &mut Conn, hash: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS x FROM document_attachments WHERE blob_hash = $1
         UNION ALL SELECT 1 AS x FROM consents WHERE scan_hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?
    .is_some())
}

// ---- access log ----

pub struct AccessLine {
    pub at: Timestamp,
    pub login: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

/// Read events (`records.*read*`, searches) on the patients linked to `facility_id`. Reads the
/// audit table directly: the audit chain is where reads are recorded, and there is no copy.
pub async fn access_log(
    conn: &mut Conn,
    facility_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<AccessLine>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT a.at, a.actor_login, a.actor_role, a.action, a.target, a.details FROM audit_events a
         WHERE a.action IN ('records.document_read', 'records.timeline_read', 'records.attachment_read')
           AND a.target IN (SELECT 'patient:' || CAST(l.patient_id AS TEXT) FROM patient_links l
                            WHERE l.facility_id = $1)
         ORDER BY a.id DESC LIMIT {}",
        limit.clamp(1, 1000)
    )))
    .bind(facility_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(AccessLine {
            at: r.try_get("at")?,
            login: r.try_get("actor_login")?,
            role: r.try_get("actor_role")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            details: r.try_get("details")?,
        })
    })
    .collect()
}

/// Whether a facility may see a patient at all: it holds a local ID for them, or the consent
/// in force covers it.
pub async fn may_see_patient(
    conn: &mut Conn,
    patient_id: i64,
    facility_id: i64,
) -> sqlx::Result<bool> {
    let sql = format!(
        "SELECT 1 AS x FROM patients p WHERE p.id = $2 AND (EXISTS (SELECT 1 FROM patient_links l
           WHERE l.patient_id = p.id AND l.facility_id = $1) OR {})",
        readable("$1", "p.id", "-1")
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(patient_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

pub async fn local_id(
    conn: &mut Conn,
    patient_id: i64,
    facility_id: i64,
) -> sqlx::Result<Option<String>> {
    sqlx::query("SELECT local_id FROM patient_links WHERE patient_id = $1 AND facility_id = $2")
        .bind(patient_id)
        .bind(facility_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("local_id"))
        .transpose()
}
