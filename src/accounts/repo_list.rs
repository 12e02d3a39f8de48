//! SQL of the account list `/admin/accounts` (issue 15 item 2, X.4): searched by login ID, name
//! or facility, filtered by role and state, sorted through a whitelist and paged, with the
//! count in SQL so the page never loads every account.

use super::model::AccountSummary;
use crate::auth::Role;
use crate::db::{Conn, Timestamp};
use crate::web::list::Order;

/// Sort keys of the account list (public key, SQL); the default is the role.
pub const ACCOUNT_SORTS: &[(&str, &str)] = &[
    ("role", "a.role"),
    ("login_id", "a.login_id"),
    ("name", "a.display_name"),
    ("facility", "f.name"),
    ("last_login", "a.last_login_at"),
];

/// The state filter: in use, disabled, or locked out right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
    Active,
    Disabled,
    Locked,
}

impl AccountState {
    pub const ALL: [AccountState; 3] = [
        AccountState::Active,
        AccountState::Disabled,
        AccountState::Locked,
    ];

    /// `None` for anything else: a hand-edited link shows every state instead of a 400.
    pub fn parse(s: &str) -> Option<AccountState> {
        AccountState::ALL.into_iter().find(|k| k.key() == s.trim())
    }

    pub fn key(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Disabled => "disabled",
            AccountState::Locked => "locked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AccountState::Active => "有効",
            AccountState::Disabled => "無効",
            AccountState::Locked => "ロック中",
        }
    }
}

/// What narrows the list; `like` is already `%…%` with the wildcards escaped.
pub struct AccountFilter {
    pub like: Option<String>,
    pub role: Option<Role>,
    pub state: Option<AccountState>,
    pub now: Timestamp,
}

enum Arg {
    Text(String),
    Time(Timestamp),
}

/// The `WHERE` clause and its arguments, numbered from `$1` in order.
fn where_clause(f: &AccountFilter) -> (String, Vec<Arg>) {
    let mut parts: Vec<String> = vec!["1 = 1".into()];
    let mut args = Vec::new();
    if let Some(like) = &f.like {
        args.push(Arg::Text(like.clone()));
        let n = args.len();
        parts.push(format!(
            "(LOWER(a.login_id) LIKE LOWER(${n}) ESCAPE '\\'
              OR LOWER(a.display_name) LIKE LOWER(${n}) ESCAPE '\\'
              OR LOWER(COALESCE(f.name, '')) LIKE LOWER(${n}) ESCAPE '\\'
              OR LOWER(COALESCE(f.code, '')) LIKE LOWER(${n}) ESCAPE '\\')"
        ));
    }
    if let Some(role) = f.role {
        args.push(Arg::Text(role.key().to_string()));
        parts.push(format!("a.role = ${}", args.len()));
    }
    match f.state {
        None => {}
        Some(AccountState::Disabled) => parts.push("a.disabled_at IS NOT NULL".into()),
        Some(AccountState::Locked) => {
            args.push(Arg::Time(f.now));
            parts.push(format!(
                "a.disabled_at IS NULL AND a.locked_until > ${}",
                args.len()
            ));
        }
        Some(AccountState::Active) => {
            args.push(Arg::Time(f.now));
            parts.push(format!(
                "a.disabled_at IS NULL AND (a.locked_until IS NULL OR a.locked_until <= ${})",
                args.len()
            ));
        }
    }
    (parts.join(" AND "), args)
}

const FROM: &str = "FROM accounts a LEFT JOIN facilities f ON f.id = a.facility_id";

/// One page of accounts in `order` (one of [`ACCOUNT_SORTS`]; login ID and id break ties so
/// pages never overlap).
pub async fn page(
    conn: &mut Conn,
    filter: &AccountFilter,
    order: &Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AccountSummary>> {
    let (cond, args) = where_clause(filter);
    let n = args.len();
    let sql = format!(
        "SELECT a.id, a.login_id, a.display_name, a.role, f.name AS facility_name, a.locked_at,
                a.locked_until, a.disabled_at, a.must_change_password, a.totp_enabled_at,
                a.last_login_at
           {FROM} WHERE {cond}
          ORDER BY {}, a.login_id, a.id LIMIT ${} OFFSET ${}",
        order.sql_clause(),
        n + 1,
        n + 2
    );
    let mut query = sqlx::query_as::<_, AccountSummary>(sqlx::AssertSqlSafe(sql));
    for arg in args {
        query = match arg {
            Arg::Text(t) => query.bind(t),
            Arg::Time(t) => query.bind(t),
        };
    }
    query.bind(limit).bind(offset).fetch_all(&mut *conn).await
}

/// How many accounts match `filter`.
pub async fn count(conn: &mut Conn, filter: &AccountFilter) -> sqlx::Result<i64> {
    let (cond, args) = where_clause(filter);
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {cond}");
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
    for arg in args {
        query = match arg {
            Arg::Text(t) => query.bind(t),
            Arg::Time(t) => query.bind(t),
        };
    }
    query.fetch_one(&mut *conn).await
}
