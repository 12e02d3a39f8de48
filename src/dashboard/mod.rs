//! The dashboard: the first page after log-in, one per role. It shows what needs attention now
//! (locked accounts, the last audit-chain check, open sessions) and, as the other domains land,
//! their cards (monitoring, backups, inquiries, keys, inspections).

mod routes;

use crate::web::{Access, Routes};

pub fn router() -> Routes {
    Routes::new().get("/", Access::AnyRole, routes::index).get(
        "/healthz",
        Access::Public,
        routes::health,
    )
}
