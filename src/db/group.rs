//! Group commit: many requests that each need a durable commit share one transaction.
//!
//! A request queues its item with [`GroupCommit::submit`] and waits. Every submission spawns a
//! committer task; the first committer to take the leader lock takes everything queued so far
//! and hands it to the commit function, which stores the whole batch in one transaction and
//! returns one result per item, in order. Each waiter then gets its own result — after the
//! commit, so an acknowledgement means durable. Later committers find the queue empty (an
//! earlier leader took their item along) and end. The committer runs in its own task, so a
//! client that hangs up cannot cut a commit short or leave the others without their answer.
//!
//! A queue belongs to a [`Db`](super::Db) value (one per item type, [`Db::group`](super::Db::group)),
//! so it lives and dies with the application that opened the database.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// A queue of `T` waiting to be committed together; each waiter gets an `R`.
pub struct GroupCommit<T, R> {
    queue: Mutex<Vec<(T, oneshot::Sender<R>)>>,
    leader: tokio::sync::Mutex<()>,
}

impl<T, R> Default for GroupCommit<T, R> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            leader: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Queues `item` and waits for its result. `commit` receives a batch (this item and whatever
    /// else is waiting; possibly another submitter's function commits this item) and must return
    /// one result per item in the same order. `None` means the commit ended without an answer
    /// for this item (it panicked or returned too few results).
    pub async fn submit<F, Fut>(self: &Arc<Self>, item: T, commit: F) -> Option<R>
    where
        F: FnOnce(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((item, reply));
        let me = Arc::clone(self);
        tokio::spawn(async move { me.lead(commit).await });
        answer.await.ok()
    }

    async fn lead<F, Fut>(&self, commit: F)
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<R>>,
    {
        let _leader = self.leader.lock().await;
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner));
        if batch.is_empty() {
            return;
        }
        let (items, replies): (Vec<T>, Vec<oneshot::Sender<R>>) = batch.into_iter().unzip();
        let results = commit(items).await;
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// `items` in slices for multi-row statements: `max` at a time (a power of two), the rest in
/// halving powers of two (for 45 and 16: 16, 16, 8, 4, 1). Statements of only a few distinct
/// sizes stay in the driver's prepared-statement cache (sizes 1 … n would push each other out
/// and be parsed again each time), and none binds more parameters than `max` rows hold.
pub fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1).next_power_of_two();
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut size = max;
        while size > rest.len() {
            size /= 2;
        }
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// The most rows of one multi-row INSERT ([`pow2_chunks`]): every statement saved is a hand-off
/// to the database (SQLite's worker thread, a PostgreSQL round trip) in a group's serial path.
pub const ROWS_PER_INSERT: usize = 64;

/// The VALUES list of a multi-row INSERT: `rows` tuples of `cols` parameters, bound in order.
/// PostgreSQL numbers them (`$1, $2, …`); SQLite gets anonymous `?`: sqlx looks up the name of
/// every parameter of a SQLite statement, and SQLite finds a name by walking the statement's
/// list of named parameters, so binding `$n` costs time quadratic in the statement's size
/// (`sqlite3_bind_parameter_name` and `memcmp` were ~9 % of a batch with 32-row statements).
pub fn value_rows(conn: &super::Conn, rows: usize, cols: usize) -> String {
    values_list(conn.backend_name() == "PostgreSQL", rows, cols)
}

fn values_list(numbered: bool, rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push_str(&format!("${}", r * cols + c + 1));
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// The group-commit queues of one database, one per item and result type, and the other values
/// that live with it ([`Db::shared`](super::Db::shared)), one per type.
#[derive(Default)]
pub(super) struct Groups(Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl Groups {
    pub(super) fn get<T: Send + 'static, R: Send + 'static>(&self) -> Arc<GroupCommit<T, R>> {
        self.shared::<GroupCommit<T, R>>()
    }

    pub(super) fn shared<V: Default + Send + Sync + 'static>(&self) -> Arc<V> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map
            .entry(TypeId::of::<V>())
            .or_insert_with(|| Arc::new(V::default()));
        match Arc::clone(entry).downcast::<V>() {
            Ok(value) => value,
            // Unreachable: the key is the type's own id.
            Err(_) => Arc::new(V::default()),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn x5_value_rows_number_postgresql_parameters_and_leave_sqlite_ones_anonymous() {
        assert_eq!(values_list(true, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_list(false, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(values_list(false, 1, 1), "(?)");
    }

    use super::*;

    #[tokio::test]
    async fn each_waiter_gets_its_own_result_from_a_shared_batch() {
        let group: Arc<GroupCommit<u32, (u32, usize)>> = Arc::default();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            let (group, batches) = (group.clone(), batches.clone());
            tasks.push(tokio::spawn(async move {
                group
                    .submit(i, move |items: Vec<u32>| async move {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        let n = items.len();
                        batches
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(n);
                        items.into_iter().map(|i| (i * 10, n)).collect()
                    })
                    .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let (r, _) = t.await.expect("task").expect("answer");
            assert_eq!(r, i as u32 * 10);
        }
        let batches = batches.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(
            batches.iter().sum::<usize>(),
            20,
            "every item committed once"
        );
        assert!(
            batches.len() < 20,
            "some items shared a commit: {batches:?}"
        );
    }

    #[tokio::test]
    async fn a_commit_without_an_answer_is_none() {
        let group: Arc<GroupCommit<u32, u32>> = Arc::default();
        let r = group.submit(1, |_items| async { Vec::new() }).await;
        assert_eq!(r, None);
    }

    #[test]
    fn chunks_are_powers_of_two_up_to_the_maximum_and_cover_every_item() {
        let items: Vec<u32> = (0..45).collect();
        let sizes: Vec<usize> = pow2_chunks(&items, 16).map(<[u32]>::len).collect();
        assert_eq!(sizes, [16, 16, 8, 4, 1]);
        let back: Vec<u32> = pow2_chunks(&items, 16).flatten().copied().collect();
        assert_eq!(back, items);
        assert_eq!(pow2_chunks(&items[..0], 16).count(), 0);
        assert_eq!(
            pow2_chunks(&items[..3], 12)
                .map(<[u32]>::len)
                .collect::<Vec<_>>(),
            [2, 1]
        );
    }

    #[test]
    fn a_database_keeps_one_queue_per_type() {
        let groups = Groups::default();
        let a = groups.get::<u32, u32>();
        let b = groups.get::<u32, u32>();
        let c = groups.get::<u64, u32>();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(Arc::strong_count(&c), 2);
    }
}
