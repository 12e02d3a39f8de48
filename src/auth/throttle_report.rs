//! The throttle's side of the report of failed log-ins (ASVS 2.2.1): the refusals of the windows
//! that have closed, handed once to the `accounts` report job for its summary.

use std::collections::HashMap;

use super::repo_throttle as repo;
use super::throttle::Throttle;
use crate::db::Timestamp;

impl Throttle {
    /// Takes the refusals of every window that has closed by `now`: (key, window start) → count.
    /// With shared counters, the rows of the closed windows are deleted as they are taken (by
    /// whichever instance runs the report job).
    pub async fn take_closed_refusals(
        &self,
        now: Timestamp,
    ) -> sqlx::Result<HashMap<(String, Timestamp), u64>> {
        let index = self.settings.index(now);
        let mut shared = Vec::new();
        if let Some(db) = &self.shared {
            let start = self.settings.window_of_index(index).start;
            let mut conn = db.pool().acquire().await?;
            shared = repo::take_closed(&mut conn, start).await?;
        }
        let mut taken = {
            let mut c = self.lock();
            self.roll(&mut c, index);
            std::mem::take(&mut c.closed)
        };
        for (key, window, refused) in shared {
            *taken.entry((key, window)).or_default() += u64::try_from(refused).unwrap_or(0);
        }
        Ok(taken)
    }
}
