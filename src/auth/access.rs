//! Who may use a route (X.3): the rule attached to every route. It is a fact about roles, not about
//! HTTP, so it lives in the core; `web` enforces it and the navigation and dashboard read it.

use super::Role;

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not (log-in page, static files, health check).
    Public,
    /// Any session, even one that must still change its password or set up TOTP.
    Onboarding,
    /// Any fully logged-in account.
    AnyRole,
    /// Fully logged-in accounts of these roles only.
    Roles(&'static [Role]),
    /// Fully logged-in accounts of these roles, or a machine that sends `Authorization: Bearer`
    /// (the handler checks the token and answers 401 itself; e.g. a metrics scraper).
    RolesOrBearer(&'static [Role]),
    /// Facility systems: no session; the handler's extractor checks the `Authorization: Bearer`
    /// API key and answers 401 itself (see `records`).
    ApiKey,
}

impl Access {
    /// Whether a fully logged-in account of `role` may use the route.
    pub fn allows(&self, role: Role) -> bool {
        match self {
            Access::Public | Access::Onboarding | Access::AnyRole => true,
            Access::Roles(list) | Access::RolesOrBearer(list) => list.contains(&role),
            Access::ApiKey => false,
        }
    }
}

/// One registered route and its rule.
#[derive(Clone, Debug)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

impl RouteRule {
    /// Whether a concrete path (`/admin/requests/12?x=1`) is this rule's pattern
    /// (`/admin/requests/{id}`); the query string is ignored.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        if self.method != method {
            return false;
        }
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

/// Whether `role` may open `GET href` under `rules`: a link is shown only when this holds.
/// When several rules match, the router takes the most specific one (a literal segment wins
/// over a `{param}` at the first place they differ: `/incidents/recurrence` is not
/// `/incidents/{id}`), and so does this.
pub fn may_open(rules: &[RouteRule], role: Role, href: &str) -> bool {
    let specificity = |r: &RouteRule| -> Vec<bool> {
        r.path
            .split('/')
            .map(|w| !(w.starts_with('{') && w.ends_with('}')))
            .collect()
    };
    rules
        .iter()
        .filter(|r| r.matches("GET", href))
        .max_by_key(|r| specificity(r))
        .is_some_and(|r| r.access.allows(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &'static str) -> RouteRule {
        RouteRule {
            method: "GET",
            path,
            access: Access::Roles(&[Role::SystemAdmin]),
        }
    }

    #[test]
    fn x3_may_open_follows_the_literal_route_over_a_pattern_as_the_router_does() {
        let rules = [
            RouteRule {
                method: "GET",
                path: "/incidents/{id}",
                access: Access::Roles(&[Role::SystemOperator, Role::SystemAdmin]),
            },
            RouteRule {
                method: "GET",
                path: "/incidents/recurrence",
                access: Access::Roles(&[Role::SystemAdmin]),
            },
        ];
        assert!(may_open(&rules, Role::SystemOperator, "/incidents/12"));
        assert!(!may_open(
            &rules,
            Role::SystemOperator,
            "/incidents/recurrence"
        ));
        assert!(may_open(&rules, Role::SystemAdmin, "/incidents/recurrence"));
    }

    #[test]
    fn a_pattern_matches_concrete_paths_and_ignores_the_query() {
        let r = rule("/admin/requests/{id}");
        assert!(r.matches("GET", "/admin/requests/12"));
        assert!(r.matches("GET", "/admin/requests/12?state=received"));
        assert!(!r.matches("GET", "/admin/requests/"));
        assert!(!r.matches("GET", "/admin/requests/12/apply"));
        assert!(!r.matches("POST", "/admin/requests/12"));
        assert!(rule("/").matches("GET", "/"));
        assert!(!rule("/").matches("GET", "/audit"));
    }

    #[test]
    fn a_link_may_be_opened_only_by_the_roles_of_its_rule() {
        let rules = [rule("/audit")];
        assert!(may_open(&rules, Role::SystemAdmin, "/audit?page=2"));
        assert!(!may_open(&rules, Role::User, "/audit"));
        assert!(!may_open(&rules, Role::SystemAdmin, "/nowhere"));
    }
}
