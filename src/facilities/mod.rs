//! Participating facilities (参加施設, R15.4): hospitals, clinics, dental clinics, pharmacies,
//! home-nursing stations and care providers that take part in the network.
//!
//! Rules:
//! - A facility has a 10-digit code (医療機関コード / 介護事業所番号), a name, a kind (病院 / 診療所 /
//!   歯科 / 薬局 / 訪問看護 / 介護事業所 / その他), postal code, address, phone and FAX. Its managers
//!   are the accounts with role `facility_manager` and that facility.
//! - Every logged-in person can see the directory of active facilities (R15.4: 参加医療施設の案内).
//! - System operators and administrators add and edit facilities, and record a withdrawal (脱退);
//!   a withdrawn facility is never deleted (its history and accounts stay), and its accounts appear
//!   in the account inventory for review.
//! - Every change is audited.

mod cli;
mod demo;
pub mod model;
mod repo;
mod routes;
pub mod service;
mod views;

pub use model::{Facility, FacilityCode, FacilityKind, NewFacility, resolve_facility};
pub use service::add;

use crate::auth::Role;
use crate::db::Conn;
use crate::domain::Domain;
use crate::web::{Access, Routes};

pub const MANAGERS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];

pub fn domain() -> Domain {
    Domain::new("facilities")
        .routes(routes())
        .nav("", 50, "/facilities", "参加医療施設")
        .nav("利用者", 150, "/admin/facilities", "施設の管理")
        .demo(10, |db, now, fresh| Box::pin(demo::seed(db, now, fresh)))
        .cli(cli::add())
}

fn routes() -> Routes {
    Routes::new()
        .get("/facilities", Access::AnyRole, routes::directory)
        .get(
            "/admin/facilities",
            Access::Roles(MANAGERS),
            routes::admin_index,
        )
        .post("/admin/facilities", Access::Roles(MANAGERS), routes::create)
        .get(
            "/admin/facilities/{id}",
            Access::Roles(MANAGERS),
            routes::edit_form,
        )
        .post(
            "/admin/facilities/{id}",
            Access::Roles(MANAGERS),
            routes::update,
        )
        .post(
            "/admin/facilities/{id}/withdraw",
            Access::Roles(MANAGERS),
            routes::withdraw,
        )
}

pub async fn id_by_code(conn: &mut Conn, code: &str) -> sqlx::Result<Option<i64>> {
    repo::id_by_code(conn, code).await
}

pub async fn find(conn: &mut Conn, id: i64) -> sqlx::Result<Facility> {
    repo::find(conn, id).await
}

pub async fn list_active(conn: &mut Conn) -> sqlx::Result<Vec<Facility>> {
    repo::list(conn, true).await
}
