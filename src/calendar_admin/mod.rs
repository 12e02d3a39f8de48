//! The business calendar's page (R15.1): a month with its closed days, and the extra closed or
//! open days that system administrators and operators register (with a reason) or withdraw. The
//! rules and the days themselves are the core `calendar`; this domain is only its page.

mod cli;
mod routes;

use crate::auth::Role;
use crate::domain::Domain;
use crate::web::{Access, Routes};

/// Who maintains the extra closed/open days.
pub const EDITORS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];

pub fn domain() -> Domain {
    Domain::new("calendar_admin")
        .routes(
            Routes::new()
                .get("/admin/calendar", Access::Roles(EDITORS), routes::index)
                .post(
                    "/admin/calendar/days",
                    Access::Roles(EDITORS),
                    routes::add_day,
                )
                .post(
                    "/admin/calendar/days/{id}/withdraw",
                    Access::Roles(EDITORS),
                    routes::withdraw_day,
                ),
        )
        .nav("ヘルプデスク", 310, "/admin/calendar", "営業日カレンダー")
        .cli(cli::check())
        .cli(cli::month())
}
