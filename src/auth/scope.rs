//! Object-level authorisation (ASVS 4.2.1, X.3): whose an object is ([`Owner`]), how far a
//! principal reaches ([`Scope`]), and the trait a domain implements for the objects its handlers
//! look up by an id from a URL, a query or a form ([`Owned`]). The route rule says who may use a
//! route at all; this says which objects behind it they may reach. `web::ObjectGuard` is the one
//! helper that applies it (uniform "not found", audited refusals); this part is pure and knows no
//! HTTP.

use super::{Principal, Role};

/// Whose an object is, as far as access to it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Anyone the route admits (a published announcement).
    Anyone,
    /// An object of the whole network, for the staff roles the route admits (facilities,
    /// account requests of every facility, helpdesk inquiries as the helpdesk sees them …).
    Network,
    /// Only these roles (an announcement not yet published: its editors).
    Roles(&'static [Role]),
    /// An object of one facility (its accounts): its own people and the network's staff.
    Facility(i64),
    /// An object of one account (an inquiry as its requester sees it): that account only.
    Account(i64),
    /// Shared between facilities as the domain decides (a patient's consent scope): the domain
    /// has already answered for this principal's facility.
    Decided(bool),
}

/// How far a principal reaches: a person (account, role, facility) or a facility system (an API
/// key: facility only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub account_id: Option<i64>,
    pub role: Option<Role>,
    pub facility_id: Option<i64>,
}

impl Scope {
    pub fn of(p: &Principal) -> Scope {
        Scope {
            account_id: Some(p.account_id),
            role: Some(p.role),
            facility_id: p.facility_id,
        }
    }

    /// A facility system authenticated by its API key.
    pub fn facility_system(facility_id: i64) -> Scope {
        Scope {
            account_id: None,
            role: None,
            facility_id: Some(facility_id),
        }
    }

    /// Staff roles act on the whole network.
    pub fn network_wide(&self) -> bool {
        self.role.is_some_and(Role::is_staff)
    }

    /// Whether an object of `owner` is within reach.
    pub fn reaches(&self, owner: Owner) -> bool {
        match owner {
            Owner::Anyone => true,
            Owner::Network => self.network_wide(),
            Owner::Roles(roles) => self.role.is_some_and(|r| roles.contains(&r)),
            Owner::Facility(f) => self.network_wide() || self.facility_id == Some(f),
            Owner::Account(a) => self.account_id == Some(a),
            Owner::Decided(visible) => visible,
        }
    }
}

/// An object a handler looked up by an id it was given. Implemented by each domain for its
/// objects, next to them.
pub trait Owned {
    fn owner(&self) -> Owner;
    /// How the audit log names the object: `account:12`, `patient:3`.
    fn audit_target(&self) -> String;
    /// More about the object for a refusal's audit event (`{"document_id": 5}`).
    fn audit_details(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: Role, account: i64, facility: Option<i64>) -> Scope {
        Scope {
            account_id: Some(account),
            role: Some(role),
            facility_id: facility,
        }
    }

    #[test]
    fn a_facility_role_reaches_its_own_facility_and_nothing_of_another() {
        let m = person(Role::FacilityManager, 5, Some(1));
        assert!(m.reaches(Owner::Facility(1)));
        assert!(!m.reaches(Owner::Facility(2)));
        assert!(!m.reaches(Owner::Network), "network objects are staff's");
        assert!(m.reaches(Owner::Account(5)));
        assert!(
            !m.reaches(Owner::Account(6)),
            "a colleague's object is not mine"
        );
    }

    #[test]
    fn staff_reach_every_facility_but_not_another_accounts_own_objects() {
        let s = person(Role::SystemOperator, 1, None);
        assert!(s.reaches(Owner::Facility(1)) && s.reaches(Owner::Facility(2)));
        assert!(s.reaches(Owner::Network));
        assert!(!s.reaches(Owner::Account(2)));
    }

    #[test]
    fn role_owned_objects_are_for_their_roles_only() {
        const EDITORS: &[Role] = &[Role::SystemAdmin];
        assert!(person(Role::SystemAdmin, 1, None).reaches(Owner::Roles(EDITORS)));
        assert!(!person(Role::ServiceOperator, 1, None).reaches(Owner::Roles(EDITORS)));
        assert!(person(Role::User, 1, Some(1)).reaches(Owner::Anyone));
    }

    #[test]
    fn a_facility_system_reaches_only_its_facility_and_decided_objects() {
        let api = Scope::facility_system(3);
        assert!(api.reaches(Owner::Facility(3)));
        assert!(!api.reaches(Owner::Facility(4)));
        assert!(!api.reaches(Owner::Network));
        assert!(!api.reaches(Owner::Account(3)));
        assert!(api.reaches(Owner::Decided(true)));
        assert!(!api.reaches(Owner::Decided(false)));
    }
}
