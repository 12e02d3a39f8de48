//! X.3 — every route × every role. The expectations below are written independently of the
//! application's rules: a route added without an expectation here fails the first test, and a
//! guard that does not enforce its rule fails the second.

use std::collections::BTreeSet;

use rainbownet::auth::Role;
use rainbownet::auth::Role::*;
use rainbownet::startup::routes;

use crate::helpers::*;

#[derive(Clone, Copy, Debug)]
enum Expect {
    Public,
    Onboarding,
    AnyRole,
    Only(&'static [Role]),
}

const AUDIT_READERS: &[Role] = &[SystemAdmin, OpsManager, ServiceOperator];
const ACCOUNT_MANAGERS: &[Role] = &[SystemAdmin, SystemOperator];
const ADMINS: &[Role] = &[SystemAdmin];
const HELPDESK_STAFF: &[Role] = &[SystemAdmin, SystemOperator];
const REQUESTERS: &[Role] = &[User, FacilityManager];

fn expected() -> Vec<(&'static str, &'static str, Expect)> {
    use Expect::*;
    vec![
        ("GET", "/static/{file}", Public),
        ("GET", "/healthz", Public),
        ("GET", "/login", Public),
        ("POST", "/login", Public),
        ("GET", "/", AnyRole),
        ("GET", "/login/totp", Onboarding),
        ("POST", "/login/totp", Onboarding),
        ("POST", "/logout", Onboarding),
        ("GET", "/account/password", Onboarding),
        ("POST", "/account/password", Onboarding),
        ("GET", "/account/totp/enroll", Onboarding),
        ("POST", "/account/totp/enroll", Onboarding),
        ("GET", "/admin/accounts", Only(ACCOUNT_MANAGERS)),
        (
            "POST",
            "/admin/accounts/{id}/unlock",
            Only(ACCOUNT_MANAGERS),
        ),
        ("GET", "/audit", Only(AUDIT_READERS)),
        ("GET", "/audit/export.csv", Only(AUDIT_READERS)),
        ("GET", "/audit/sessions", Only(AUDIT_READERS)),
        ("GET", "/audit/verify", Only(AUDIT_READERS)),
        ("GET", "/admin/jobs", Only(ADMINS)),
        ("POST", "/admin/jobs/{name}/run", Only(ADMINS)),
        ("GET", "/admin/calendar", Only(HELPDESK_STAFF)),
        ("POST", "/admin/calendar/days", Only(HELPDESK_STAFF)),
        (
            "POST",
            "/admin/calendar/days/{id}/withdraw",
            Only(HELPDESK_STAFF),
        ),
        ("GET", "/helpdesk", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/new", Only(HELPDESK_STAFF)),
        ("POST", "/helpdesk", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/reports", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/reports/export.csv", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/reports/export.xlsx", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/{id}", Only(HELPDESK_STAFF)),
        ("POST", "/helpdesk/{id}/responses", Only(HELPDESK_STAFF)),
        ("POST", "/helpdesk/{id}/corrections", Only(HELPDESK_STAFF)),
        ("GET", "/support", Only(REQUESTERS)),
        ("GET", "/support/new", Only(REQUESTERS)),
        ("POST", "/support", Only(REQUESTERS)),
        ("GET", "/support/{id}", Only(REQUESTERS)),
        ("POST", "/support/{id}/reply", Only(REQUESTERS)),
    ]
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{name}", "sessions.expire")
        .replace("{file}", "app.css")
}

#[test]
fn x3_every_registered_route_has_an_expected_rule_and_vice_versa() {
    let registered: BTreeSet<(String, String)> = routes()
        .rules()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let expected: BTreeSet<(String, String)> = expected()
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = registered.difference(&expected).collect();
    let stale: Vec<_> = expected.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "routes without an expectation in tests/api/rbac.rs: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "expectations for routes that do not exist: {stale:?}"
    );
}

async fn request(c: &TestClient, method: &str, path: &str) -> reqwest::Response {
    if method == "GET" {
        c.get(path).await
    } else {
        c.post_form(path, &[]).await
    }
}

#[tokio::test]
async fn x3_every_route_allows_and_denies_each_role_as_expected() {
    let app = spawn_app().await;
    let mut routes = expected();
    // Log-out last: it ends the session the other requests use.
    routes.sort_by_key(|(m, p, _)| (*m == "POST" && *p == "/logout", *p, *m));
    for role in Role::ALL {
        let user = app.login_as(role).await;
        for (method, path, expect) in &routes {
            let res = request(&user.client, method, &concrete(path)).await;
            let status = res.status().as_u16();
            let allowed = match expect {
                Expect::Public | Expect::Onboarding | Expect::AnyRole => true,
                Expect::Only(roles) => roles.contains(&role),
            };
            if allowed {
                assert_ne!(status, 403, "{role:?} must be allowed {method} {path}");
                assert_ne!(
                    location(&res),
                    "/login",
                    "{role:?} stays logged in for {method} {path}"
                );
            } else {
                assert_eq!(status, 403, "{role:?} must be denied {method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn x3_without_a_session_only_public_routes_answer() {
    let app = spawn_app().await;
    let c = app.client();
    for (method, path, expect) in expected() {
        let res = request(&c, method, &concrete(path)).await;
        match expect {
            Expect::Public => assert!(
                res.status().as_u16() < 400 || res.status() == 401 || res.status() == 422,
                "{method} {path}: {}",
                res.status()
            ),
            _ => {
                assert_eq!(res.status(), 303, "{method} {path}");
                assert_eq!(location(&res), "/login", "{method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn x3_navigation_shows_only_what_the_role_may_open() {
    let app = spawn_app().await;
    let user = app.login_as(User).await;
    let body = user.client.get("/").await.text().await.unwrap();
    assert!(!body.contains("href=\"/audit\""));
    assert!(!body.contains("href=\"/admin/accounts\""));
    let admin = app.login_as(SystemAdmin).await;
    let body = admin.client.get("/").await.text().await.unwrap();
    assert!(body.contains("href=\"/audit\""));
    assert!(body.contains("href=\"/admin/jobs\""));
}
