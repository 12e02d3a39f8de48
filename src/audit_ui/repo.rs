//! All SQL of the audit pages: the filtered, sorted, counted search of `audit_events` (the
//! audit log and each facility's access log) and the names beside the ids it shows. Reads only:
//! the chain is written by the core `audit`.

use std::collections::HashMap;

use crate::audit::model::AuditRow;
use crate::db::{Conn, Timestamp};

/// What to search for. Empty strings mean "any".
#[derive(Default)]
pub struct Search {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Log-in ID or name, part of it.
    pub actor: String,
    /// An action code or its prefix (`auth.`, `auth.login`).
    pub action: String,
    /// Part of the target (`account:4`), or of the name of the account, facility or patient.
    pub target: String,
    /// Free text over the action, target, details, actor and address.
    pub text: String,
    /// Only these actions (the access log).
    pub actions: Option<&'static [&'static str]>,
    /// Only events on the patients linked to this facility (the access log).
    pub patients_of: Option<i64>,
    /// Only rows before this id (an export walks the set in id order, a page at a time).
    pub before_id: Option<i64>,
}

fn like(text: &str) -> String {
    let mut s = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

/// The WHERE clause and its parameters (`$1`…).
fn clause(s: &Search) -> (String, Vec<String>) {
    let mut conds: Vec<String> = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |v: String| {
        binds.push(v);
        format!("${}", binds.len())
    };
    if let Some(t) = s.from {
        conds.push(format!("at >= {}", bind(t.to_db())));
    }
    if let Some(t) = s.to {
        conds.push(format!("at < {}", bind(t.to_db())));
    }
    if !s.actor.trim().is_empty() {
        let p = bind(like(&s.actor));
        conds.push(format!(
            "(LOWER(actor_login) LIKE {p} ESCAPE '\\' OR actor_account_id IN
               (SELECT id FROM accounts WHERE LOWER(display_name) LIKE {p} ESCAPE '\\'))"
        ));
    }
    if !s.action.trim().is_empty() {
        let mut a = String::new();
        for c in s.action.trim().chars() {
            if matches!(c, '%' | '_' | '\\') {
                a.push('\\');
            }
            a.push(c);
        }
        a.push('%');
        conds.push(format!("action LIKE {} ESCAPE '\\'", bind(a)));
    }
    if !s.target.trim().is_empty() {
        let p = bind(like(&s.target));
        conds.push(format!(
            "(LOWER(target) LIKE {p} ESCAPE '\\'
              OR target IN (SELECT 'account:' || CAST(id AS TEXT) FROM accounts
                             WHERE LOWER(display_name) LIKE {p} ESCAPE '\\'
                                OR LOWER(login_id) LIKE {p} ESCAPE '\\')
              OR target IN (SELECT 'facility:' || CAST(id AS TEXT) FROM facilities
                             WHERE LOWER(name) LIKE {p} ESCAPE '\\')
              OR target IN (SELECT 'patient:' || CAST(id AS TEXT) FROM patients
                             WHERE LOWER(name) LIKE {p} ESCAPE '\\' OR LOWER(kana) LIKE {p} ESCAPE '\\'
                                OR LOWER(network_id) LIKE {p} ESCAPE '\\'))"
        ));
    }
    if !s.text.trim().is_empty() {
        let p = bind(like(&s.text));
        conds.push(format!(
            "(LOWER(action) LIKE {p} ESCAPE '\\' OR LOWER(target) LIKE {p} ESCAPE '\\'
              OR LOWER(details) LIKE {p} ESCAPE '\\' OR LOWER(actor_login) LIKE {p} ESCAPE '\\'
              OR LOWER(client_addr) LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(actions) = s.actions {
        let list: Vec<String> = actions.iter().map(|a| bind(a.to_string())).collect();
        conds.push(format!("action IN ({})", list.join(", ")));
    }
    if let Some(f) = s.patients_of {
        conds.push(format!(
            "target IN (SELECT 'patient:' || CAST(l.patient_id AS TEXT) FROM patient_links l
                         WHERE l.facility_id = CAST({} AS INTEGER))",
            bind(f.to_string())
        ));
    }
    if let Some(id) = s.before_id {
        conds.push(format!("id < {id}"));
    }
    let sql = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    (sql, binds)
}

const COLUMNS: &str = "id, at, actor_account_id, actor_login, actor_role, action, target, details,
                       client_addr, prev_hash, hash, key_id, chain, seq";

pub async fn count(conn: &mut Conn, s: &Search) -> sqlx::Result<i64> {
    let (w, binds) = clause(s);
    let sql = format!("SELECT COUNT(*) FROM audit_events {w}");
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_one(&mut *conn).await
}

/// One page of the search in `order` (a whitelisted clause, `query::SORTS`), ties broken by the
/// newest first.
pub async fn page(
    conn: &mut Conn,
    s: &Search,
    order: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    let (w, binds) = clause(s);
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events {w} ORDER BY {order}, id DESC LIMIT {} OFFSET {}",
        limit.clamp(1, 10_000),
        offset.max(0)
    );
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_all(&mut *conn).await
}

fn in_list(ids: &[i64]) -> String {
    // Numbers only, so they are safe to write into the statement.
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn pairs(conn: &mut Conn, sql: String) -> sqlx::Result<HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// 氏名（ログインID） of accounts.
pub async fn account_names(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    pairs(
        conn,
        format!(
            "SELECT id, display_name || '（' || login_id || '）' FROM accounts WHERE id IN ({})",
            in_list(ids)
        ),
    )
    .await
}

pub async fn facility_names(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    pairs(
        conn,
        format!(
            "SELECT id, name FROM facilities WHERE id IN ({})",
            in_list(ids)
        ),
    )
    .await
}

/// 氏名（カナ） of patients.
pub async fn patient_names(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    pairs(
        conn,
        format!(
            "SELECT id, name || '（' || kana || '）' FROM patients WHERE id IN ({})",
            in_list(ids)
        ),
    )
    .await
}

pub async fn document_titles(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    pairs(
        conn,
        format!(
            "SELECT id, title FROM documents WHERE id IN ({})",
            in_list(ids)
        ),
    )
    .await
}

/// 「名称」（施設名） of API keys.
pub async fn api_key_names(conn: &mut Conn, ids: &[i64]) -> sqlx::Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    pairs(
        conn,
        format!(
            "SELECT k.id, '「' || k.label || '」（' || f.name || '）'
               FROM api_keys k JOIN facilities f ON f.id = k.facility_id WHERE k.id IN ({})",
            in_list(ids)
        ),
    )
    .await
}
