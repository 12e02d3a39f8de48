//! SQL of the patient list (`/records`, X.4: searched, sorted, paged) and of the patient part
//! of the global search (`/search`, issue 15 item 2): the patients a facility may see (linked,
//! or covered by a consent in force), matched by network ID, the facility's own local ID, kana
//! or name. Both use the same visibility test and the same match, so the list and the search
//! never disagree.

use super::people::PatientRow;
use super::scope::covered;
use crate::db::Conn;
use crate::web::list::Order;

/// One patient found: what the result line shows and links to.
#[derive(sqlx::FromRow)]
pub struct PatientHit {
    pub id: i64,
    pub network_id: String,
    pub kana: String,
    pub name: String,
    pub local_id: Option<String>,
}

/// Sort keys of the patient list (public key, SQL); the default is kana.
pub const PATIENT_SORTS: &[(&str, &str)] = &[
    ("kana", "p.kana"),
    ("network_id", "p.network_id"),
    ("name", "p.name"),
    ("birth_date", "p.birth_date"),
];

/// `WHERE` of the patients facility `$1` may see, narrowed by the pattern `$2` when `search`.
///
/// The visibility test is a scalar subquery on purpose: written as `EXISTS … OR EXISTS …` in
/// the WHERE clause, PostgreSQL turns both into hashed subplans, which read every link and
/// every consent of the network before the first row (5.8 s at 1,000,000 patients); as one
/// scalar per patient it walks `patients_kana` (migration 0030) and stops after a page.
fn visible_where(search: bool) -> String {
    let mut sql = format!(
        "(SELECT 1 AS x
          WHERE EXISTS (SELECT 1 FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1)
             OR {}) = 1",
        covered("$1", "p.id")
    );
    if search {
        sql.push_str(
            " AND (LOWER(p.network_id) LIKE LOWER($2) ESCAPE '\\'
                OR LOWER(p.kana) LIKE LOWER($2) ESCAPE '\\'
                OR LOWER(p.name) LIKE LOWER($2) ESCAPE '\\'
                OR EXISTS (SELECT 1 FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1
                           AND LOWER(l.local_id) LIKE LOWER($2) ESCAPE '\\'))",
        );
    }
    sql
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
         WHERE {}
         ORDER BY p.kana, p.id LIMIT $3",
        visible_where(true)
    );
    sqlx::query_as::<_, PatientHit>(sqlx::AssertSqlSafe(sql))
        .bind(facility_id)
        .bind(like)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

#[derive(sqlx::FromRow)]
struct VisiblePatient {
    #[sqlx(flatten)]
    patient: PatientRow,
    local_id: Option<String>,
}

/// One page of the patients `facility_id` may see, matching `like` when given, in `order`
/// (one of [`PATIENT_SORTS`]; the id breaks ties so pages never overlap).
pub async fn visible_patients(
    conn: &mut Conn,
    facility_id: i64,
    like: Option<&str>,
    order: &Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<(PatientRow, Option<String>)>> {
    let (limit_at, offset_at) = if like.is_some() {
        ("$3", "$4")
    } else {
        ("$2", "$3")
    };
    let sql = format!(
        "SELECT p.id, p.network_id, p.name, p.kana, p.birth_date, p.gender,
                (SELECT l.local_id FROM patient_links l WHERE l.patient_id = p.id AND l.facility_id = $1) AS local_id
         FROM patients p
         WHERE {}
         ORDER BY {}, p.id LIMIT {limit_at} OFFSET {offset_at}",
        visible_where(like.is_some()),
        order.sql_clause()
    );
    let mut query = sqlx::query_as::<_, VisiblePatient>(sqlx::AssertSqlSafe(sql)).bind(facility_id);
    if let Some(like) = like {
        query = query.bind(like);
    }
    Ok(query
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| (r.patient, r.local_id))
        .collect())
}

/// The patient list counts no further: past it the list says "10000 件以上". A network of a
/// million patients, most of them visible to every facility under consents for all, would
/// otherwise test every patient on every page view.
pub const PATIENT_COUNT_CAP: i64 = 10_000;

/// How many patients `facility_id` may see that match `like` (all of them without it), up to
/// [`PATIENT_COUNT_CAP`] + 1 (more than the cap: there are at least that many).
pub async fn count_visible_patients(
    conn: &mut Conn,
    facility_id: i64,
    like: Option<&str>,
) -> sqlx::Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 AS x FROM patients p WHERE {} LIMIT {}) c",
        visible_where(like.is_some()),
        PATIENT_COUNT_CAP + 1
    );
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(facility_id);
    if let Some(like) = like {
        query = query.bind(like);
    }
    query.fetch_one(&mut *conn).await
}
