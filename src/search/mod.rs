//! Global search (issue 15 item 2, X.4): one box in the header, `GET /search?q=`, results grouped
//! by kind — accounts (login ID, name), facilities (code, name), patients (network ID, the
//! facility's local ID, kana, name) and inquiries (number).
//!
//! Rules:
//! - The text matches literally (`%` and `_` are not wildcards: `web::list::ListQuery::like`),
//!   case-insensitively, anywhere in the field; an inquiry matches by its number (`123` or `#123`).
//! - A group is searched only when the caller may open its result links
//!   (`AppState::may_open`): nobody is shown a link that would answer 403. Per object, a
//!   caller of a facility sees only that facility's accounts and facility.
//! - Patients are searched only for the roles that read patients (the people of a facility),
//!   only among the patients the facility may see (the rule of the patient list), and each
//!   search that reads patient data is audited (`records.patients_searched`) like the patient list.
//! - Each group shows at most [`GROUP_LIMIT`] rows; the page says when there may be more and
//!   links to the group's own list.

mod repo;
mod routes;
mod views;

use crate::domain::Domain;
use crate::web::{Access, Routes};

/// Rows per group: a global search points the way, the lists do the paging.
pub const GROUP_LIMIT: i64 = 20;

pub fn domain() -> Domain {
    Domain::new("search").routes(Routes::new().get("/search", Access::AnyRole, routes::index))
}
