//! The demo network's three facilities.

use super::model::{FacilityCode, FacilityKind, NewFacility};
use crate::audit::Actor;
use crate::db::{Db, Timestamp};
use crate::domain::DemoLogin;

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

pub async fn seed(db: &Db, now: Timestamp, fresh: bool) -> anyhow::Result<Vec<DemoLogin>> {
    if !fresh {
        return Ok(Vec::new());
    }
    let actor = Actor::system("demo");
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
        super::service::add(db, &f, &actor, now).await?;
    }
    Ok(Vec::new())
}
