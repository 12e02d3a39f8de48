//! SQL of the FHIR search on Bundle ([`crate::records::search`] reads the request): every value
//! is a bound parameter; the consent scope (`readable`) and the right-patient review (a held or
//! rejected document is read by nobody) are part of every query, so a total counts only what the
//! caller may read. Pages are keyset pages on (sort key, id): a page starts after
//! (or ends before) the row its cursor names, so paging never loses or repeats a document, even
//! while documents arrive. The search values the documents table does not hold are in
//! `document_search` and `document_tokens` (migration 0026; [`insert_search_keys_many`] with each new
//! document).

use sqlx::Row;

use super::documents::{DOC_COLUMNS, DocumentRow};
use super::scope::readable;
use crate::db::Conn;
use crate::records::search::{BUNDLE_TYPE_SYSTEM, Cond, Cursor, SearchKeys, Sort, SortKey};
use crate::records::search_values::{DateCond, PatientValue, Prefix, Token};

/// A statement being built: its text and its bound values in `$n` order.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

#[derive(Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

impl Sql {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn text(&mut self, s: &str) -> String {
        self.arg(Arg::Text(s.to_string()))
    }

    fn int(&mut self, i: i64) -> String {
        self.arg(Arg::Int(i))
    }
}

/// `col` ends with `suffix` (portable: no LIKE, so no wildcard in the value matters).
fn ends_with(sql: &mut Sql, col: &str, suffix: &str) -> String {
    let p = sql.text(suffix);
    format!(
        "(length({col}) >= length({p}) AND substr({col}, length({col}) - length({p}) + 1) = {p})"
    )
}

fn token_sql(sql: &mut Sql, t: &Token, system_col: &str, code_col: &str) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &t.system {
        parts.push(format!("{system_col} = {}", sql.text(s)));
    }
    if let Some(c) = &t.code {
        parts.push(format!("{code_col} = {}", sql.text(c)));
    }
    if parts.is_empty() {
        "1 = 1".into()
    } else {
        parts.join(" AND ")
    }
}

fn tokens_exist(sql: &mut Sql, param: &str, t: &Token) -> String {
    let p = sql.text(param);
    let cond = token_sql(sql, t, "t.system", "t.code");
    format!(
        "EXISTS (SELECT 1 FROM document_tokens t WHERE t.document_id = d.id AND t.param = {p} AND {cond})"
    )
}

fn date_sql(sql: &mut Sql, col: &str, c: &DateCond) -> String {
    let lo = sql.text(&c.lo);
    let hi = sql.text(&c.hi);
    match c.prefix {
        Prefix::Eq | Prefix::Ap => format!("({col} >= {lo} AND {col} < {hi})"),
        Prefix::Ne => format!("({col} < {lo} OR {col} >= {hi})"),
        Prefix::Gt | Prefix::Sa => format!("{col} >= {hi}"),
        Prefix::Lt | Prefix::Eb => format!("{col} < {lo}"),
        Prefix::Ge => format!("{col} >= {lo}"),
        Prefix::Le => format!("{col} < {hi}"),
    }
}

/// A reference value against a stored reference: an absolute or `urn:` value as it is,
/// `Type/id` as it is or at the end of an absolute reference, a bare id at the end of any.
fn reference_sql(sql: &mut Sql, col: &str, v: &str) -> String {
    if v.contains(':') {
        return format!("{col} = {}", sql.text(v));
    }
    let exact = format!("{col} = {}", sql.text(v));
    let tail = ends_with(sql, col, &format!("/{v}"));
    format!("({exact} OR {tail})")
}

fn cond_sql(sql: &mut Sql, c: &Cond) -> String {
    match c {
        Cond::Id(id) => format!("d.id = {}", sql.int(*id)),
        Cond::Identifier(t) => token_sql(sql, t, "d.identifier_system", "d.identifier_value"),
        Cond::BundleType(t) => {
            if t.system.as_deref().is_some_and(|s| s != BUNDLE_TYPE_SYSTEM) {
                return "1 = 0".into();
            }
            match &t.code {
                Some(code) => format!("d.bundle_type = {}", sql.text(code)),
                None => "1 = 1".into(),
            }
        }
        Cond::Timestamp(dc) => date_sql(sql, "s.bundle_timestamp", dc),
        Cond::LastUpdated(dc) => date_sql(sql, "d.sent_at", dc),
        Cond::Composition(v) => {
            let (kind, id) = match v.rsplit_once('/') {
                Some((head, id)) if !v.contains(':') => (head.rsplit('/').next(), id),
                _ => (None, v.as_str()),
            };
            if kind.is_some_and(|k| k != "Composition") {
                return "1 = 0".into();
            }
            let by_url = reference_sql(sql, "s.composition_url", v);
            if v.contains(':') {
                return by_url;
            }
            format!("(s.composition_id = {} OR {by_url})", sql.text(id))
        }
        Cond::CompositionType(t) => tokens_exist(sql, "composition.type", t),
        Cond::Subject(v) => reference_sql(sql, "s.composition_subject", v),
        // Only a document Bundle has a Composition to chain through.
        Cond::SubjectIdentifier(t) => format!(
            "(d.bundle_type = 'document' AND {})",
            tokens_exist(sql, "patient.identifier", t)
        ),
        Cond::PatientIds(ids) if ids.is_empty() => "1 = 0".into(),
        Cond::PatientIds(ids) => {
            let list: Vec<String> = ids.iter().map(|i| sql.int(*i)).collect();
            format!("d.patient_id IN ({})", list.join(", "))
        }
        Cond::Patient(PatientValue::AnyNetwork) => "1 = 1".into(),
        Cond::Patient(PatientValue::AnyLocal(code)) => format!(
            "EXISTS (SELECT 1 FROM patient_links l JOIN facilities lf ON lf.id = l.facility_id
                     WHERE l.patient_id = d.patient_id AND lf.code = {})",
            sql.text(code)
        ),
        // Named patients are resolved (and their visibility checked) by the handler first.
        Cond::Patient(_) | Cond::Nothing => "1 = 0".into(),
    }
}

/// `FROM … WHERE …` of a search by `facility_id` ($1).
fn base(facility_id: i64, and: &[Vec<Cond>]) -> Sql {
    let mut sql = Sql {
        text: String::new(),
        args: vec![Arg::Int(facility_id)],
    };
    let mut text = format!(
        " FROM documents d JOIN facilities f ON f.id = d.facility_id
          LEFT JOIN document_search s ON s.document_id = d.id
          WHERE d.review_state IS NULL AND {}",
        readable("$1", "d.patient_id", "d.facility_id")
    );
    for alts in and {
        let parts: Vec<String> = alts.iter().map(|c| cond_sql(&mut sql, c)).collect();
        text.push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    sql.text = text;
    sql
}

fn sort_expr(key: SortKey) -> &'static str {
    match key {
        SortKey::Timestamp => "COALESCE(s.bundle_timestamp, '')",
        SortKey::LastUpdated => "d.sent_at",
        // The id alone orders (the key is the same for every row; PostgreSQL refuses a
        // constant in ORDER BY, so the key is left out of it below).
        SortKey::Id => "''",
    }
}

async fn run<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    args: Vec<Arg>,
    conn: &mut Conn,
) -> sqlx::Result<Vec<O>>
where
    O: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    let mut q = q;
    for a in args {
        q = match a {
            Arg::Text(t) => q.bind(t),
            Arg::Int(i) => q.bind(i),
        };
    }
    q.fetch_all(&mut *conn).await
}

/// How many documents match (only those `facility_id` may read).
pub async fn search_count(
    conn: &mut Conn,
    facility_id: i64,
    and: &[Vec<Cond>],
) -> sqlx::Result<i64> {
    let sql = base(facility_id, and);
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n{}",
        sql.text
    )));
    for a in sql.args {
        q = match a {
            Arg::Text(t) => q.bind(t),
            Arg::Int(i) => q.bind(i),
        };
    }
    q.fetch_one(&mut *conn).await?.try_get("n")
}

#[derive(sqlx::FromRow)]
pub struct FoundDocument {
    #[sqlx(flatten)]
    pub row: DocumentRow,
    pub sort_key: String,
}

/// One page of matches in `sort` order: at most `limit` rows after (or, for a backward cursor,
/// before) the cursor's row; a backward page comes back in `sort` order too.
pub async fn search_page(
    conn: &mut Conn,
    facility_id: i64,
    and: &[Vec<Cond>],
    sort: Sort,
    cursor: Option<&Cursor>,
    limit: i64,
) -> sqlx::Result<Vec<FoundDocument>> {
    let mut sql = base(facility_id, and);
    let key = sort_expr(sort.key);
    let forward = cursor.is_none_or(|c| c.forward);
    // Walking backward reverses the order; the rows are turned round below.
    let desc = sort.desc == forward;
    let (dir, cmp) = if desc { ("DESC", "<") } else { ("ASC", ">") };
    let mut text = sql.text.clone();
    let by_id = sort.key == SortKey::Id;
    if let Some(c) = cursor {
        let id = sql.int(c.id);
        if by_id {
            text.push_str(&format!(" AND d.id {cmp} {id}"));
        } else {
            let k = sql.text(&c.key);
            text.push_str(&format!(
                " AND ({key} {cmp} {k} OR ({key} = {k} AND d.id {cmp} {id}))"
            ));
        }
    }
    let order = if by_id {
        format!("d.id {dir}")
    } else {
        format!("{key} {dir}, d.id {dir}")
    };
    let select = format!(
        "SELECT {DOC_COLUMNS}, {key} AS sort_key{text} ORDER BY {order} LIMIT {}",
        limit.clamp(1, 1000)
    );
    let mut rows = run(
        sqlx::query_as::<_, FoundDocument>(sqlx::AssertSqlSafe(select)),
        sql.args,
        conn,
    )
    .await?;
    if !forward {
        rows.reverse();
    }
    Ok(rows)
}

/// Stores the search values of new documents (in the transaction that stores them), in
/// multi-row statements of power-of-two sizes ([`crate::db::pow2_chunks`]), so that the driver
/// keeps them prepared.
pub async fn insert_search_keys_many(
    conn: &mut Conn,
    docs: &[(i64, SearchKeys)],
) -> sqlx::Result<()> {
    let max = crate::db::ROWS_PER_INSERT;
    for chunk in crate::db::pow2_chunks(docs, max) {
        let sql = format!(
            "INSERT INTO document_search (document_id, bundle_timestamp, composition_id,
                composition_url, composition_subject) VALUES {}",
            crate::db::value_rows(conn, chunk.len(), 5)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, k) in chunk {
            q = q
                .bind(*id)
                .bind(k.timestamp.as_deref())
                .bind(k.composition_id.as_deref())
                .bind(k.composition_url.as_deref())
                .bind(k.composition_subject.as_deref());
        }
        q.execute(&mut *conn).await?;
    }
    let tokens: Vec<(i64, &str, &str, &str)> = docs
        .iter()
        .flat_map(|(id, k)| {
            k.tokens
                .iter()
                .map(move |(p, s, c)| (*id, *p, s.as_str(), c.as_str()))
        })
        .collect();
    for chunk in crate::db::pow2_chunks(&tokens, max) {
        let sql = format!(
            "INSERT INTO document_tokens (document_id, param, system, code) VALUES {}",
            crate::db::value_rows(conn, chunk.len(), 4)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, param, system, code) in chunk {
            q = q.bind(*id).bind(*param).bind(*system).bind(*code);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
