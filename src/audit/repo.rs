//! All SQL of the audit log.

use super::model::{AuditRow, ChainHead, Head};
use crate::db::{Conn, Timestamp};

/// How many chains `audit_head` holds (migration 0039).
pub const CHAINS: i64 = 32;

/// A claim of `n` places at the end of one chain, held (its head row locked) until the
/// transaction ends.
pub struct Claim {
    pub chain: i64,
    /// The chain's last place after the claim: the claimed places end here.
    pub last: i64,
    /// The hash of the row before the first claimed place.
    pub prev_hash: String,
    /// `n` fresh row ids, ascending.
    pub ids: Vec<i64>,
}

/// Claims `n` places at the end of a chain no other open transaction holds, and `n` row ids.
/// PostgreSQL: the chain this transaction holds already, else the first head row that
/// `FOR UPDATE SKIP LOCKED` can lock at once, and the ids from the `audit_events_ids` sequence after
/// that lock, so that they increase along the chain; only when every chain is held does it wait
/// for one. SQLite has one writer at a time: chain 1, and ids after the largest.
pub async fn claim(conn: &mut Conn, n: i64) -> sqlx::Result<Claim> {
    if conn.backend_name() != "PostgreSQL" {
        let (chain, last, prev_hash): (i64, i64, String) = sqlx::query_as(
            "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING id, seq, last_hash",
        )
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
        let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM audit_events")
            .fetch_one(&mut *conn)
            .await?;
        return Ok(Claim {
            chain,
            last,
            prev_hash,
            ids: (max + 1..=max + n).collect(),
        });
    }
    // A chain this transaction already holds first (its head row's version is this
    // transaction's own): otherwise a free chain with a lower number would be taken as well,
    // and writers that each came back for another claim ended up holding every chain between
    // them (24 writers, 32 chains). A claim made under a savepoint is not recognised (its row
    // carries the savepoint's id) and takes the first free chain, as before.
    const FREE: &str = "(SELECT id FROM audit_head
        ORDER BY xmin = pg_current_xact_id()::xid DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED)";
    let mut rows = claim_pg(conn, n, FREE, None).await?;
    if rows.is_empty() {
        // Every chain is held: wait for one (which one does not matter).
        rows = claim_pg(conn, n, "$2", Some(any_chain(rand::random()))).await?;
    }
    let Some((chain, last, prev_hash, _)) = rows.first().cloned() else {
        return Err(sqlx::Error::RowNotFound);
    };
    let mut ids: Vec<i64> = rows.into_iter().map(|r| r.3).collect();
    ids.sort_unstable();
    Ok(Claim {
        chain,
        last,
        prev_hash,
        ids,
    })
}

/// A chain from a random number: 1 ..= CHAINS. (It was `1 + r as i64 % CHAINS`, which is
/// negative for half of all `r`: a claim that had to wait then found no head row and failed.)
fn any_chain(r: u64) -> i64 {
    1 + (r % CHAINS as u64) as i64
}

async fn claim_pg(
    conn: &mut Conn,
    n: i64,
    which: &str,
    chain: Option<i64>,
) -> sqlx::Result<Vec<(i64, i64, String, i64)>> {
    let sql = format!(
        "WITH h AS (UPDATE audit_head SET seq = seq + $1 WHERE id = {which}
                    RETURNING id, seq, last_hash)
         SELECT h.id, h.seq, h.last_hash, nextval('audit_events_ids') AS next_id
         FROM h CROSS JOIN generate_series(1, $1) AS g"
    );
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(n);
    if let Some(c) = chain {
        q = q.bind(c);
    }
    q.fetch_all(&mut *conn).await
}

/// Inserts rows already chained and sealed (in order, all of one claim), in multi-row
/// statements, and moves their chain's head hash to the last of them.
pub async fn insert_many(conn: &mut Conn, rows: &[AuditRow]) -> sqlx::Result<()> {
    let Some(last) = rows.last() else {
        return Ok(());
    };
    for chunk in crate::db::pow2_chunks(rows, crate::db::ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO audit_events (id, at, actor_account_id, actor_login, actor_role, action,
                                       target, details, client_addr, prev_hash, hash, key_id,
                                       chain, seq) VALUES {}",
            crate::db::value_rows(conn, chunk.len(), 14)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.id)
                .bind(r.at)
                .bind(r.actor_account_id)
                .bind(&r.actor_login)
                .bind(&r.actor_role)
                .bind(&r.action)
                .bind(&r.target)
                .bind(&r.details)
                .bind(&r.client_addr)
                .bind(&r.prev_hash)
                .bind(&r.hash)
                .bind(&r.key_id)
                .bind(r.chain)
                .bind(r.seq);
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = $2")
        .bind(&last.hash)
        .bind(last.chain)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every chain's head, in one statement (so that they are read at one moment).
pub async fn head(conn: &mut Conn) -> sqlx::Result<Head> {
    let rows: Vec<(i64, i64, String, i64)> =
        sqlx::query_as("SELECT id, seq, last_hash, unsealed FROM audit_head ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    let mut head = Head {
        seq: 0,
        last_hash: super::model::GENESIS.to_string(),
        unsealed: 0,
        chains: Vec::new(),
    };
    for (chain, seq, hash, unsealed) in rows {
        if chain == 1 {
            (head.seq, head.last_hash, head.unsealed) = (seq, hash, unsealed);
        } else if seq > 0 {
            head.chains.push(ChainHead { chain, seq, hash });
        }
    }
    Ok(head)
}

const COLUMNS: &str = "id, at, actor_account_id, actor_login, actor_role, action, target, details,
                       client_addr, prev_hash, hash, key_id, chain, seq";

/// Rows with `id > after`, in id order, at most `limit` (for walking the chain in pages).
pub async fn page_after(conn: &mut Conn, after: i64, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// Filters of the audit page and CSV export. Empty strings mean "any".
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Filter {
    pub from: String,
    pub to: String,
    pub action: String,
    pub actor: String,
    pub target: String,
}

pub struct Range {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

pub async fn search(
    conn: &mut Conn,
    f: &Filter,
    range: &Range,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events
         WHERE ($1 = '' OR at >= $1) AND ($2 = '' OR at < $2)
           AND ($3 = '' OR action LIKE $3 || '%')
           AND ($4 = '' OR actor_login = $4)
           AND ($5 = '' OR target LIKE '%' || $5 || '%')
         ORDER BY id DESC LIMIT $6 OFFSET $7"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(range.from.map(|t| t.to_db()).unwrap_or_default())
        .bind(range.to.map(|t| t.to_db()).unwrap_or_default())
        .bind(f.action.trim())
        .bind(f.actor.trim())
        .bind(f.target.trim())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await
}

/// Events of one kind for one target, newest first (used by dashboards).
pub async fn latest_of(conn: &mut Conn, action: &str, limit: i64) -> sqlx::Result<Vec<AuditRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM audit_events WHERE action = $1 ORDER BY id DESC LIMIT $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(action)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// The log-in before the current one (time and address), shown on the dashboard so that people
/// notice a log-in that was not theirs.
pub async fn previous_login(
    conn: &mut Conn,
    account_id: i64,
) -> sqlx::Result<Option<(Timestamp, String)>> {
    sqlx::query_as(
        "SELECT at, client_addr FROM audit_events
          WHERE actor_account_id = $1 AND action = 'auth.login'
          ORDER BY id DESC LIMIT 1 OFFSET 1",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x5_a_waiting_claim_picks_a_chain_that_exists() {
        for r in [0, 1, 31, 32, 33, u64::MAX, u64::MAX / 2 + 1, 1 << 63 | 5] {
            let c = any_chain(r);
            assert!((1..=CHAINS).contains(&c), "{r} → {c}");
        }
    }
}
