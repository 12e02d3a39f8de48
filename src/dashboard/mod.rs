//! The dashboard: the first page after log-in, one per role. It shows the cards every domain
//! registered (`Domain::cards`: locked accounts, open sessions, the last audit-chain check,
//! requests, inquiries …) and the newest announcements (X.4, issue 15 item 7).
//!
//! Rules:
//! - Only work that exists is shown: no list of duties to come. A role for which nothing waits is
//!   told so in one plain sentence.
//! - A card links only to a page the role may open: a card whose link the role's rules do not
//!   allow is dropped (and logged as a defect of its domain).
//! - A domain whose cards fail to load does not take the dashboard down: the failure is logged
//!   and the other cards are shown.

mod routes;

use crate::domain::Domain;
use crate::web::{Access, Routes};

pub fn domain() -> Domain {
    Domain::new("dashboard")
        .routes(Routes::new().get("/", Access::AnyRole, routes::index))
        .nav("", 10, "/", "ダッシュボード")
}
