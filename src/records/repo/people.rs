//! SQL of API keys, patients, their local IDs and consents.

use sqlx::Row;

use super::scope::{covered, own_in_force};
use crate::db::{Conn, Timestamp};
use crate::records::fhir::PatientInfo;

// ---- API keys ----

#[derive(sqlx::FromRow)]
pub struct ApiKeyOwner {
    #[sqlx(rename = "id")]
    pub key_id: i64,
    pub facility_id: i64,
    #[sqlx(rename = "code")]
    pub facility_code: String,
}

pub async fn find_api_key(conn: &mut Conn, key_hash: &str) -> sqlx::Result<Option<ApiKeyOwner>> {
    sqlx::query_as(
        "SELECT k.id, k.facility_id, f.code FROM api_keys k JOIN facilities f ON f.id = k.facility_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND f.withdrawn_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(&mut *conn)
    .await
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
    sqlx::query_scalar(
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
    .await
}

#[derive(sqlx::FromRow)]
pub struct ApiKeyLine {
    pub id: i64,
    #[sqlx(rename = "code")]
    pub facility_code: String,
    #[sqlx(rename = "name")]
    pub facility_name: String,
    pub label: String,
    #[sqlx(rename = "key_prefix")]
    pub prefix: String,
    pub created_at: Timestamp,
    pub created_by: String,
    /// The display name of the account that issued it (issue 15 item 6), when it is a person's.
    pub created_by_name: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    /// The display name of the account that revoked it, when it is a person's.
    pub revoked_by_name: Option<String>,
}

pub async fn list_api_keys(conn: &mut Conn) -> sqlx::Result<Vec<ApiKeyLine>> {
    sqlx::query_as(
        "SELECT k.id, f.code, f.name, k.label, k.key_prefix, k.created_at, k.created_by,
                (SELECT display_name FROM accounts WHERE login_id = k.created_by) AS created_by_name,
                k.revoked_at, k.revoked_by,
                (SELECT display_name FROM accounts WHERE login_id = k.revoked_by) AS revoked_by_name
         FROM api_keys k JOIN facilities f ON f.id = k.facility_id ORDER BY k.id DESC",
    )
    .fetch_all(&mut *conn)
    .await
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

/// Links a facility's local ID to a patient; false when the local ID is linked already (by a
/// transaction that committed first: the unique key waits for it on PostgreSQL).
pub async fn insert_link(
    conn: &mut Conn,
    patient_id: i64,
    facility_id: i64,
    local_id: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO patient_links (patient_id, facility_id, local_id, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (facility_id, local_id) DO NOTHING",
    )
    .bind(patient_id)
    .bind(facility_id)
    .bind(local_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Clone, sqlx::FromRow)]
pub struct PatientRow {
    pub id: i64,
    pub network_id: String,
    pub name: String,
    pub kana: String,
    pub birth_date: String,
    pub gender: String,
}

pub async fn find_patient(conn: &mut Conn, id: i64) -> sqlx::Result<Option<PatientRow>> {
    sqlx::query_as(
        "SELECT id, network_id, name, kana, birth_date, gender FROM patients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn patient_by_network_id(conn: &mut Conn, network_id: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query("SELECT id FROM patients WHERE network_id = $1")
        .bind(network_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()
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
    /// The facility whose documents the consent shares (and, for a facility's own consent, its
    /// owner).
    pub facility_id: i64,
    /// `facility` or `staff` (a paper form entered by staff).
    pub owner_kind: &'a str,
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
                               scan_content_type, recorded_at, recorded_by, owner_kind)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(c.patient_id)
    .bind(c.facility_id)
    .bind(c.signed_on)
    .bind(c.scope)
    .bind(c.scan_hash)
    .bind(c.scan_content_type)
    .bind(now)
    .bind(c.by)
    .bind(c.owner_kind)
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

#[derive(sqlx::FromRow)]
pub struct ConsentRow {
    pub scan_hash: Option<String>,
    pub scan_content_type: Option<String>,
}

/// The patient's latest consent, whichever facility's documents it shares (its scan is what
/// `GET /records/patients/{id}/consent/scan` serves; the consents in force are in
/// [`super::consent_history`]).
pub async fn current_consent(conn: &mut Conn, patient_id: i64) -> sqlx::Result<Option<ConsentRow>> {
    sqlx::query_as::<_, ConsentRow>(
        "SELECT scan_hash, scan_content_type FROM consents WHERE patient_id = $1
         ORDER BY id DESC LIMIT 1",
    )
    .bind(patient_id)
    .fetch_optional(&mut *conn)
    .await
}

/// A withdrawal: who (`by`, `kind`: `facility` or `staff`) and the scan of the signed form.
pub struct Withdrawal<'a> {
    pub by: &'a str,
    pub kind: &'a str,
    pub scan_hash: Option<&'a str>,
    pub scan_content_type: Option<&'a str>,
}

pub async fn withdraw_consent(
    conn: &mut Conn,
    consent_id: i64,
    w: &Withdrawal<'_>,
    now: Timestamp,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE consents SET withdrawn_at = $1, withdrawn_by = $2, withdrawn_kind = $3,
                withdrawn_scan_hash = $4, withdrawn_scan_content_type = $5
         WHERE id = $6 AND withdrawn_at IS NULL",
    )
    .bind(now)
    .bind(w.by)
    .bind(w.kind)
    .bind(w.scan_hash)
    .bind(w.scan_content_type)
    .bind(consent_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Whether a facility may see a patient at all: it holds a local ID for them, or a consent in
/// force covers it.
pub async fn may_see_patient(
    conn: &mut Conn,
    patient_id: i64,
    facility_id: i64,
) -> sqlx::Result<bool> {
    let sql = format!(
        "SELECT 1 AS x FROM patients p WHERE p.id = $2 AND (EXISTS (SELECT 1 FROM patient_links l
           WHERE l.patient_id = p.id AND l.facility_id = $1) OR {})",
        covered("$1", "p.id")
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
    sqlx::query_scalar(
        "SELECT local_id FROM patient_links WHERE patient_id = $1 AND facility_id = $2",
    )
    .bind(patient_id)
    .bind(facility_id)
    .fetch_optional(&mut *conn)
    .await
}

/// Whether a facility may send documents of a patient: (it has a consent of its own in force,
/// some consent in force covers it).
pub async fn may_send(
    conn: &mut Conn,
    patient_id: i64,
    facility_id: i64,
) -> sqlx::Result<(bool, bool)> {
    let sql = format!(
        "SELECT CASE WHEN {} THEN 1 ELSE 0 END AS own, CASE WHEN {} THEN 1 ELSE 0 END AS covered
         FROM patients p WHERE p.id = $2",
        own_in_force("$1", "p.id"),
        covered("$1", "p.id")
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(patient_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => (
            r.try_get::<i64, _>("own")? == 1,
            r.try_get::<i64, _>("covered")? == 1,
        ),
        None => (false, false),
    })
}

/// A sender's local ID as linked: the network patient, whether the sender's own consent is in
/// force (`own`) or another's covers it (`covered`), and the registered patient's details.
#[derive(Clone)]
pub struct LinkedPatient {
    pub own: bool,
    pub covered: bool,
    pub row: PatientRow,
}

fn linked_sql(facilities: usize, local_ids: usize) -> String {
    let list = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT l.facility_id, l.local_id, CASE WHEN {} THEN 1 ELSE 0 END AS own,
                CASE WHEN {} THEN 1 ELSE 0 END AS covered,
                p.id, p.network_id, p.name, p.kana, p.birth_date, p.gender
         FROM patient_links l JOIN patients p ON p.id = l.patient_id
         WHERE l.facility_id IN ({}) AND l.local_id IN ({})",
        own_in_force("l.facility_id", "l.patient_id"),
        covered("l.facility_id", "l.patient_id"),
        list(1, facilities),
        list(facilities + 1, local_ids)
    )
}

/// The network patient a facility's local ID is linked to (see [`LinkedPatient`]).
pub async fn patient_for(
    conn: &mut Conn,
    facility_id: i64,
    local_id: &str,
) -> sqlx::Result<Option<LinkedPatient>> {
    Ok(patients_for(conn, &[(facility_id, local_id)])
        .await?
        .remove(&(facility_id, local_id.to_owned())))
}

/// [`patient_for`] for many (facility, local ID) pairs at once: a batch, or a group commit of
/// several senders, reads its patients ahead in one statement per 64 pairs instead of two per
/// document (or one per sender); pairs not linked are absent.
pub async fn patients_for(
    conn: &mut Conn,
    pairs: &[(i64, &str)],
) -> sqlx::Result<std::collections::HashMap<(i64, String), LinkedPatient>> {
    let mut out = std::collections::HashMap::new();
    for chunk in crate::db::pow2_chunks(pairs, 64) {
        let facilities = padded(chunk.iter().map(|p| p.0));
        let ids = padded(chunk.iter().map(|p| p.1));
        let sql = linked_sql(facilities.len(), ids.len());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for f in &facilities {
            q = q.bind(*f);
        }
        for id in &ids {
            q = q.bind(*id);
        }
        let asked: std::collections::HashSet<(i64, &str)> = chunk.iter().copied().collect();
        for r in q.fetch_all(&mut *conn).await? {
            let facility: i64 = r.try_get("facility_id")?;
            let local_id: String = r.try_get("local_id")?;
            // The two lists also match one sender's local ID under another sender.
            if !asked.contains(&(facility, local_id.as_str())) {
                continue;
            }
            let linked = LinkedPatient {
                own: r.try_get::<i64, _>("own")? == 1,
                covered: r.try_get::<i64, _>("covered")? == 1,
                row: PatientRow {
                    id: r.try_get("id")?,
                    network_id: r.try_get("network_id")?,
                    name: r.try_get("name")?,
                    kana: r.try_get("kana")?,
                    birth_date: r.try_get("birth_date")?,
                    gender: r.try_get("gender")?,
                },
            };
            out.insert((facility, local_id), linked);
        }
    }
    Ok(out)
}

/// The distinct values, sorted, the last repeated up to a power of two: statements of a few
/// sizes only, as [`crate::db::pow2_chunks`] makes them (a repeated value in `IN` changes nothing).
fn padded<T: Ord + Copy>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = values.collect();
    v.sort_unstable();
    v.dedup();
    if let Some(last) = v.last().copied() {
        v.resize(v.len().next_power_of_two(), last);
    }
    v
}

/// Whether a consent in force covers a facility (links and sent documents aside).
pub async fn in_consent_scope(
    conn: &mut Conn,
    patient_id: i64,
    facility_id: i64,
) -> sqlx::Result<bool> {
    let sql = format!(
        "SELECT 1 AS x FROM patients p WHERE p.id = $2 AND {}",
        covered("$1", "p.id")
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(patient_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::padded;

    #[test]
    fn lists_are_distinct_sorted_and_padded_to_a_power_of_two() {
        assert_eq!(padded([3, 1, 3, 2, 5].into_iter()), [1, 2, 3, 5]);
        assert_eq!(padded([7, 7, 9].into_iter()), [7, 9]);
        assert_eq!(padded([4, 2, 9].into_iter()), [2, 4, 9, 9]);
        assert_eq!(padded(["b", "a", "c", "d", "e"].into_iter()).len(), 8);
        assert!(padded(std::iter::empty::<i64>()).is_empty());
    }
}
