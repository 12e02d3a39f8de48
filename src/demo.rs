//! `rainbownet demo`: a demo network in its own data directory. Every domain's demo seed
//! (`Domain::demo`) runs in its order: on an empty database they seed sample data (facilities,
//! requests, inquiries …); at every start the accounts seed issues fresh one-time passwords for
//! the demo accounts, which `demo` prints.

use crate::db::{Db, Timestamp};
use crate::domain::DemoLogin;
use crate::state::AppState;

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

/// The demo data that goes through the running application (FHIR documents through intake, so
/// that they are validated, stored and searchable as a facility's would be): after [`prepare`],
/// once the application is built. Each seed skips itself when its data is already there.
pub async fn prepare_network(state: &AppState, now: Timestamp) -> anyhow::Result<()> {
    let mut seeds: Vec<_> = crate::startup::domains()
        .into_iter()
        .filter_map(|d| d.demo_network.map(|s| (d.name, s)))
        .collect();
    seeds.sort_by_key(|(_, (order, _))| *order);
    for (name, (_, run)) in seeds {
        run(state, now)
            .await
            .map_err(|e| anyhow::anyhow!("demo data of {name}: {e:#}"))?;
    }
    Ok(())
}
