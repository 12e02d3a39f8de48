//! `rainbownet demo`: a demo network (three facilities, one account per role) in its own data
//! directory. Each start issues fresh one-time passwords for the demo accounts and prints them.

use crate::accounts::service::{self, AccountSpec};
use crate::accounts::{self, LoginId};
use crate::audit::Actor;
use crate::auth::Role;
use crate::db::{Db, Timestamp};
use crate::facilities::{self, FacilityCode, FacilityKind, NewFacility};

/// Code, name, kind, postal code, address, phone, FAX.
pub const FACILITIES: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "2310000001",
        "清須市民病院",
        "病院",
        "452-0901",
        "愛知県清須市阿原北野18",
        "052-400-0001",
        "052-400-0002",
    ),
    (
        "2310000002",
        "あおば内科クリニック",
        "診療所",
        "452-0942",
        "愛知県清須市清洲2丁目1-5",
        "052-400-1001",
        "052-400-1002",
    ),
    (
        "2310000003",
        "春日訪問看護ステーション",
        "訪問看護",
        "452-0961",
        "愛知県清須市春日振形85",
        "052-400-2001",
        "052-400-2002",
    ),
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
        for (code, name, kind, postal_code, address, phone, fax) in FACILITIES {
            let f = NewFacility {
                code: FacilityCode::parse(code).map_err(anyhow::Error::msg)?,
                name: name.to_string(),
                kind: FacilityKind::parse(kind).map_err(anyhow::Error::msg)?,
                postal_code: postal_code.to_string(),
                address: address.to_string(),
                phone: phone.to_string(),
                fax: fax.to_string(),
            };
            facilities::add(db, &f, &actor, now).await?;
        }
        crate::helpdesk::seed_demo(db, now).await?;
    }
    if empty {
        seed_requests(db, &actor, now).await?;
    }
    let mut out = Vec::new();
    for (login_id, name, role, facility) in ACCOUNTS {
        let password = match service::id_by_login_id(db, login_id).await? {
            Some(id) => service::reset_password(db, id, &actor, now).await?.0,
            None => {
                let id = LoginId::parse(login_id).map_err(anyhow::Error::msg)?;
                let spec = AccountSpec::new(Some(id), name, *role, *facility);
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

/// Two add requests from the demo clinic's manager, waiting for an operator, so that the whole
/// path — request, letters, first log-in — can be tried at once.
async fn seed_requests(db: &Db, actor: &crate::audit::Actor, now: Timestamp) -> anyhow::Result<()> {
    use crate::requests::model::{Channel, PersonData, RequestKind};
    use crate::requests::service::{Submission, submit};
    let mut conn = db.pool().acquire().await?;
    let Some(facility_id) = facilities::id_by_code(&mut conn, "2310000002").await? else {
        return Ok(());
    };
    drop(conn);
    for (name, kana, job) in [
        ("清須 花子", "きよす はなこ", "看護師"),
        ("春日 一郎", "かすが いちろう", "医師"),
    ] {
        let person = PersonData::parse(name, kana, job, "")
            .map_err(|e| anyhow::anyhow!(e.messages().join(" ")))?;
        let s = Submission {
            facility_id,
            kind: RequestKind::Add,
            person: Some(person),
            target_account_id: None,
            reason: "デモ用の申請".into(),
            channel: Channel::Portal,
            paper_date: None,
        };
        submit(db, &s, None, actor, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
