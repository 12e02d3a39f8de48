//! `rainbownet demo`: a demo network (three facilities, one account per role) in its own data
//! directory. Each start issues fresh one-time passwords for the demo accounts and prints them.

use crate::accounts::service::{self, AccountSpec};
use crate::accounts::{self, LoginId};
use crate::audit::Actor;
use crate::auth::Role;
use crate::db::{Db, Timestamp};

pub const FACILITIES: &[(&str, &str, &str)] = &[
    ("2310000001", "清須市民病院", "病院"),
    ("2310000002", "あおば内科クリニック", "診療所"),
    ("2310000003", "春日訪問看護ステーション", "訪問看護"),
];

pub const ACCOUNTS: &[(&str, &str, Role, Option<&str>)] = &[
    (
        "demo-city",
        "清須 市子（健康福祉課）",
        Role::ServiceOperator,
        None,
    ),
    ("demo-committee", "委員 一郎", Role::Committee, None),
    ("demo-opsmgr", "運用 責任", Role::OpsManager, None),
    ("demo-admin", "管理 太郎", Role::SystemAdmin, None),
    ("demo-operator", "運用 花子", Role::SystemOperator, None),
    ("demo-keys", "鍵 守", Role::KeyManager, None),
    (
        "demo-facility",
        "青葉 院長",
        Role::FacilityManager,
        Some("2310000002"),
    ),
    ("demo-user", "青葉 看護師", Role::User, Some("2310000002")),
];

pub struct DemoLogin {
    pub login_id: &'static str,
    pub role: Role,
    pub password: String,
}

/// Seeds an empty database, then issues fresh one-time passwords for every demo account.
pub async fn prepare(db: &Db, now: Timestamp) -> anyhow::Result<Vec<DemoLogin>> {
    let actor = Actor::system("demo");
    let mut conn = db.pool().acquire().await?;
    let empty = accounts::count(&mut conn).await? == 0;
    drop(conn);
    if empty {
        for (code, name, kind) in FACILITIES {
            accounts::add_facility(db, code, name, kind, &actor, now).await?;
        }
        crate::helpdesk::seed_demo(db, now).await?;
    }
    let mut out = Vec::new();
    for (login_id, name, role, facility) in ACCOUNTS {
        let password = match service::id_by_login_id(db, login_id).await? {
            Some(id) => service::reset_password(db, id, &actor, now).await?.0,
            None => {
                let spec = AccountSpec {
                    login_id: Some(LoginId::parse(login_id).map_err(anyhow::Error::msg)?),
                    display_name: name,
                    role: *role,
                    facility_code: *facility,
                };
                service::create_account(db, &spec, &actor, now)
                    .await?
                    .one_time_password
            }
        };
        out.push(DemoLogin {
            login_id,
            role: *role,
            password,
        });
    }
    Ok(out)
}
