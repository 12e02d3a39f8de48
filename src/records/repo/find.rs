//! SQL of the patient part of the global search (`/search`, issue 15 item 2): the patients a
//! facility may see (linked, or covered by a consent in force — the same rule as the patient
//! list), matched by network ID, the facility's own local ID, kana or name.

use super::scope::covered;
use crate::db::Conn;

/// One patient found: what the result line shows and links to.
#[derive(sqlx::FromRow)]
pub struct PatientHit {
    pub id: i64,
    pub network_id: String,
    pub kana: String,
    pub name: String,
    pub local_id: Option<String>,
}

/// At most `limit` visible patients of `facility_id` whose IDs, kana or name contain the
/// pattern `like` (already `%…%` with wildcards escaped: see `web::list::ListQuery::like`).
pub async fn find_visible_patients(
    conn: &mut Conn,
    facility_id: i64,
    like: &str,
    limit: i64,
) -> sqlx::Result<Vec<PatientHit>> {
    let sql = format!(
        "SELECT p.id, p.network_id, p.kana, p.name,
                (SELECT l.local_id FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1) AS local_id
         FROM patients p
         WHERE (SELECT 1 AS x
                WHERE EXISTS (SELECT 1 FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1)
                   OR {}) = 1
           AND (LOWER(p.network_id) LIKE LOWER($2) ESCAPE '\\'
                OR LOWER(p.kana) LIKE LOWER($2) ESCAPE '\\'
                OR LOWER(p.name) LIKE LOWER($2) ESCAPE '\\'
                OR EXISTS (SELECT 1 FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1
                           AND LOWER(l.local_id) LIKE LOWER($2) ESCAPE '\\'))
         ORDER BY p.kana, p.id LIMIT $3",
        covered("$1", "p.id")
    );
    sqlx::query_as::<_, PatientHit>(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(like)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}
