//! `rainbownet demo`: a demo network in its own data directory. Every domain's demo seed
//! (`Domain::demo`) runs in its order: on an empty database they seed sample data (facilities,
//! requests, inquiries …); at every start the accounts seed issues fresh one-time passwords for
//! the demo accounts, which `demo` prints.

use crate::db::{Db, Timestamp};
use crate::domain::DemoLogin;

/// Seeds an empty database, then issues fresh one-time passwords for every demo account.
pub async fn prepare(db: &Db, now: Timestamp) -> anyhow::Result<Vec<DemoLogin>> {
    let mut conn = db.pool().acquire().await?;
    let fresh = crate::accounts::count(&mut conn).await? == 0;
    drop(conn);
    let mut seeds: Vec<_> = crate::startup::domains()
        .into_iter()
        .filter_map(|d| d.demo.map(|s| (d.name, s)))
        .collect();
    seeds.sort_by_key(|(_, s)| s.order);
    let mut logins = Vec::new();
    for (name, seed) in seeds {
        let found = (seed.run)(db, now, fresh)
            .await
            .map_err(|e| anyhow::anyhow!("demo data of {name}: {e:#}"))?;
        logins.extend(found);
    }
    Ok(logins)
}
