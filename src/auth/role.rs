//! The eight roles of REQUIREMENTS.md (X.3). Stored as their key; shown with their Japanese name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ServiceOperator,
    Committee,
    OpsManager,
    SystemAdmin,
    SystemOperator,
    KeyManager,
    FacilityManager,
    User,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::ServiceOperator,
        Role::Committee,
        Role::OpsManager,
        Role::SystemAdmin,
        Role::SystemOperator,
        Role::KeyManager,
        Role::FacilityManager,
        Role::User,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Role::ServiceOperator => "service_operator",
            Role::Committee => "committee",
            Role::OpsManager => "ops_manager",
            Role::SystemAdmin => "system_admin",
            Role::SystemOperator => "system_operator",
            Role::KeyManager => "key_manager",
            Role::FacilityManager => "facility_manager",
            Role::User => "user",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::ServiceOperator => "サービス運用者",
            Role::Committee => "運営委員会",
            Role::OpsManager => "運用管理責任者",
            Role::SystemAdmin => "システム管理者",
            Role::SystemOperator => "システム運用者",
            Role::KeyManager => "鍵管理者",
            Role::FacilityManager => "利用施設管理者",
            Role::User => "利用者",
        }
    }

    /// Staff roles act on the whole network and must use a second factor (X.1).
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::FacilityManager | Role::User)
    }

    /// Roles that belong to a participating facility.
    pub fn needs_facility(self) -> bool {
        matches!(self, Role::FacilityManager | Role::User)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("不明な役割です: {0}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.key() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_key() {
        for r in Role::ALL {
            assert_eq!(r.key().parse::<Role>().expect("parse"), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn only_facility_roles_are_exempt_from_the_second_factor() {
        let exempt: Vec<Role> = Role::ALL.into_iter().filter(|r| !r.is_staff()).collect();
        assert_eq!(exempt, vec![Role::FacilityManager, Role::User]);
    }
}
