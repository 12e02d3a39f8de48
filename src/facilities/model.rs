//! Facility values with rules. Pure.

use std::fmt;

/// 医療機関コード / 介護事業所番号: exactly 10 digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacilityCode(String);

impl FacilityCode {
    pub fn parse(s: &str) -> Result<FacilityCode, String> {
        let s: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .collect();
        let s = to_ascii_digits(&s);
        if s.len() != 10 || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(
                "施設コードは10桁の数字で入力してください（医療機関コード・介護事業所番号）。"
                    .into(),
            );
        }
        Ok(FacilityCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FacilityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Full-width digits (０-９), as typed by many Japanese input methods, become ASCII.
pub fn to_ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            other => other,
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FacilityKind {
    Hospital,
    Clinic,
    Dental,
    Pharmacy,
    HomeNursing,
    CareProvider,
    Other,
}

impl FacilityKind {
    pub const ALL: [FacilityKind; 7] = [
        FacilityKind::Hospital,
        FacilityKind::Clinic,
        FacilityKind::Dental,
        FacilityKind::Pharmacy,
        FacilityKind::HomeNursing,
        FacilityKind::CareProvider,
        FacilityKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FacilityKind::Hospital => "病院",
            FacilityKind::Clinic => "診療所",
            FacilityKind::Dental => "歯科",
            FacilityKind::Pharmacy => "薬局",
            FacilityKind::HomeNursing => "訪問看護",
            FacilityKind::CareProvider => "介護事業所",
            FacilityKind::Other => "その他",
        }
    }

    /// Accepts the Japanese label (as stored and as typed on paper forms and in the CLI).
    pub fn parse(s: &str) -> Result<FacilityKind, String> {
        let s = s.trim();
        FacilityKind::ALL
            .into_iter()
            .find(|k| k.label() == s)
            .ok_or_else(|| format!("施設の種別は 病院・診療所・歯科・薬局・訪問看護・介護事業所・その他 のいずれかです（{s}）。"))
    }
}

/// A facility as listed and shown.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Facility {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub fax: String,
    pub withdrawn_at: Option<crate::db::Timestamp>,
    /// Display names of the facility's managers, comma-separated.
    pub managers: String,
}

/// A facility to add, already parsed.
pub struct NewFacility {
    pub code: FacilityCode,
    pub name: String,
    pub kind: FacilityKind,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
    pub fax: String,
}

impl NewFacility {
    pub fn minimal(code: FacilityCode, name: &str, kind: FacilityKind) -> NewFacility {
        NewFacility {
            code,
            name: name.to_string(),
            kind,
            postal_code: String::new(),
            address: String::new(),
            phone: String::new(),
            fax: String::new(),
        }
    }
}

/// The code of the active facility `typed` names (its code, with or without hyphens and in
/// full-width digits, or its exact name), `None` for an empty field, or a message saying why
/// none fits.
pub fn resolve_facility(typed: &str, active: &[Facility]) -> Result<Option<String>, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    if let Ok(code) = FacilityCode::parse(typed)
        && let Some(f) = active.iter().find(|f| f.code == code.as_str())
    {
        return Ok(Some(f.code.clone()));
    }
    let named: Vec<&Facility> = active
        .iter()
        .filter(|f| f.name.trim().to_lowercase() == typed.to_lowercase())
        .collect();
    match named.as_slice() {
        [f] => Ok(Some(f.code.clone())),
        [] => Err(format!(
            "施設「{typed}」は登録されていないか、脱退しています。施設コードか施設名を候補から選んでください。"
        )),
        _ => Err(format!(
            "「{typed}」という名前の施設が複数あります。施設コードで指定してください。"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r15_4_facility_codes_are_ten_digits_even_when_typed_full_width() {
        assert_eq!(
            FacilityCode::parse("２３１００００００１")
                .expect("full width")
                .as_str(),
            "2310000001"
        );
        assert_eq!(
            FacilityCode::parse("2310-000-001")
                .expect("dashes")
                .as_str(),
            "2310000001"
        );
        assert!(FacilityCode::parse("231000000").is_err());
        assert!(FacilityCode::parse("23100000ab").is_err());
    }

    #[test]
    fn r15_4_facility_kinds_are_the_seven_of_the_network() {
        for k in FacilityKind::ALL {
            assert_eq!(FacilityKind::parse(k.label()).expect("label"), k);
        }
        assert!(FacilityKind::parse("クリニック").is_err());
    }

    fn facility(code: &str, name: &str) -> Facility {
        Facility {
            id: 0,
            code: code.into(),
            name: name.into(),
            kind: String::new(),
            postal_code: String::new(),
            address: String::new(),
            phone: String::new(),
            fax: String::new(),
            withdrawn_at: None,
            managers: String::new(),
        }
    }

    #[test]
    fn x4_a_facility_is_found_by_its_code_or_its_exact_name() {
        let all = [
            facility("2310000001", "清須市民病院"),
            facility("2310000002", "あま診療所"),
            facility("2310000003", "あま診療所"),
        ];
        let code = |t: &str| resolve_facility(t, &all);
        assert_eq!(code(""), Ok(None));
        assert_eq!(code(" 2310000001 "), Ok(Some("2310000001".into())));
        assert_eq!(code("２３１０-０００００１"), Ok(Some("2310000001".into())));
        assert_eq!(code("清須市民病院"), Ok(Some("2310000001".into())));
        assert!(
            code("清須")
                .expect_err("a part is not a name")
                .contains("登録されていない")
        );
        assert!(code("9999999999").is_err(), "an unknown code");
        assert!(code("あま診療所").expect_err("two").contains("複数"));
    }
}
