//! X.3 — every route × every role. The walk covers every route that the domains of
//! `startup::domains()` register (a new domain is in it by its one line), each against its
//! declared rule. The expectations below are written independently of the application: the
//! declared rule of each of these routes must be exactly the expected one (so a rule widened by
//! mistake fails), and a guard that does not enforce its rule fails the walk.

use std::collections::BTreeSet;

use rainbownet::auth::Role::*;
use rainbownet::auth::{Access, Role};
use rainbownet::startup::routes;

use crate::helpers::*;

#[derive(Clone, Copy, Debug)]
enum Expect {
    Public,
    Onboarding,
    AnyRole,
    Only(&'static [Role]),
    /// Facility systems' API: no session role gets in; without a key the answer is 401.
    ApiKey,
}

const AUDIT_READERS: &[Role] = &[SystemAdmin, OpsManager, ServiceOperator];
const ACCOUNT_MANAGERS: &[Role] = &[SystemAdmin, SystemOperator];
const ADMINS: &[Role] = &[SystemAdmin];
const STAFF: &[Role] = &[
    ServiceOperator,
    Committee,
    OpsManager,
    SystemAdmin,
    SystemOperator,
    KeyManager,
];
const FACILITY_MANAGERS: &[Role] = &[FacilityManager];
const REQUEST_FORM: &[Role] = &[FacilityManager, SystemAdmin, SystemOperator];
const PORTAL_EDITORS: &[Role] = &[SystemAdmin, SystemOperator];
const CITY: &[Role] = &[ServiceOperator];
const PORTAL_STAFF: &[Role] = &[SystemAdmin, SystemOperator, ServiceOperator, OpsManager];
const REQUEST_PARTIES: &[Role] = &[SystemAdmin, SystemOperator, ServiceOperator];
const RECORD_READERS: &[Role] = &[User, FacilityManager];
const HELPDESK_STAFF: &[Role] = &[SystemAdmin, SystemOperator];
const REQUESTERS: &[Role] = &[User, FacilityManager];
const CONSENT_STAFF: &[Role] = &[SystemAdmin, SystemOperator];
const BACKUP_SCHEDULE_READERS: &[Role] = &[SystemAdmin, ServiceOperator, OpsManager];
const MAIL_READERS: &[Role] = &[SystemAdmin, ServiceOperator];
/// R22.1: the system administrator runs the monitoring (第22条); operators, the service
/// operator and the operations manager read it.
const MONITOR_READERS: &[Role] = &[SystemAdmin, SystemOperator, ServiceOperator, OpsManager];
const FIREWALL_READERS: &[Role] = &[SystemAdmin, ServiceOperator];
const INCIDENT_STAFF: &[Role] = &[SystemAdmin, SystemOperator, ServiceOperator, OpsManager];
const CONTACT_RECORDERS: &[Role] = &[SystemAdmin, SystemOperator];
const RECURRENCE_READERS: &[Role] = &[SystemAdmin, ServiceOperator, OpsManager, Committee];
const COMMITTEE_RECORDERS: &[Role] = &[SystemAdmin, ServiceOperator];
const INCIDENT_READERS: &[Role] = &[SystemAdmin, SystemOperator, ServiceOperator, OpsManager];
const INCIDENT_NOTES: &[Role] = &[SystemAdmin, SystemOperator];

fn expected() -> Vec<(&'static str, &'static str, Expect)> {
    use Expect::*;
    vec![
        ("GET", "/static/{file}", Public),
        ("GET", "/healthz", Public),
        ("GET", "/readyz", Public),
        ("GET", "/metrics", Only(ADMINS)),
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
        ("GET", "/account/recovery-codes", AnyRole),
        ("POST", "/account/recovery-codes", AnyRole),
        ("GET", "/account/sessions", AnyRole),
        ("POST", "/account/sessions/end-others", AnyRole),
        ("POST", "/account/sessions/{id}/end", AnyRole),
        ("POST", "/account/language", Only(STAFF)),
        ("GET", "/admin/accounts", Only(ACCOUNT_MANAGERS)),
        (
            "POST",
            "/admin/accounts/{id}/unlock",
            Only(ACCOUNT_MANAGERS),
        ),
        ("GET", "/admin/accounts/new", Only(ACCOUNT_MANAGERS)),
        ("POST", "/admin/accounts/new", Only(ACCOUNT_MANAGERS)),
        ("GET", "/admin/accounts/{id}", Only(ACCOUNT_MANAGERS)),
        (
            "GET",
            "/admin/accounts/{id}/disable",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "POST",
            "/admin/accounts/{id}/disable",
            Only(ACCOUNT_MANAGERS),
        ),
        ("GET", "/admin/accounts/{id}/enable", Only(ACCOUNT_MANAGERS)),
        (
            "POST",
            "/admin/accounts/{id}/enable",
            Only(ACCOUNT_MANAGERS),
        ),
        ("GET", "/admin/accounts/{id}/role", Only(ACCOUNT_MANAGERS)),
        ("POST", "/admin/accounts/{id}/role", Only(ACCOUNT_MANAGERS)),
        (
            "GET",
            "/admin/accounts/{id}/totp-reset",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "POST",
            "/admin/accounts/{id}/totp-reset",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "GET",
            "/admin/accounts/{id}/end-sessions",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "POST",
            "/admin/accounts/{id}/end-sessions",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "GET",
            "/admin/accounts/{id}/password-reset",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "POST",
            "/admin/accounts/{id}/password-reset",
            Only(ACCOUNT_MANAGERS),
        ),
        ("GET", "/audit", Only(AUDIT_READERS)),
        ("GET", "/audit/export.csv", Only(AUDIT_READERS)),
        ("GET", "/audit/sessions", Only(AUDIT_READERS)),
        ("GET", "/audit/verify", Only(AUDIT_READERS)),
        ("GET", "/audit/anchor.log", Only(AUDIT_READERS)),
        ("GET", "/admin/mail", Only(MAIL_READERS)),
        ("GET", "/admin/mail/{id}", Only(MAIL_READERS)),
        ("POST", "/admin/mail/test", Only(ADMINS)),
        ("POST", "/admin/mail/{id}/retry", Only(ADMINS)),
        ("GET", "/admin/jobs", Only(ADMINS)),
        ("POST", "/admin/jobs/{name}/run", Only(ADMINS)),
        ("GET", "/admin/inventory", Only(ACCOUNT_MANAGERS)),
        ("POST", "/admin/inventory/review", Only(ACCOUNT_MANAGERS)),
        ("GET", "/facilities", AnyRole),
        ("GET", "/admin/facilities", Only(ACCOUNT_MANAGERS)),
        ("POST", "/admin/facilities", Only(ACCOUNT_MANAGERS)),
        ("GET", "/admin/facilities/{id}", Only(ACCOUNT_MANAGERS)),
        ("POST", "/admin/facilities/{id}", Only(ACCOUNT_MANAGERS)),
        (
            "POST",
            "/admin/facilities/{id}/withdraw",
            Only(ACCOUNT_MANAGERS),
        ),
        ("GET", "/requests", Only(FACILITY_MANAGERS)),
        ("GET", "/requests/new", Only(REQUEST_FORM)),
        ("POST", "/requests", Only(FACILITY_MANAGERS)),
        ("GET", "/admin/requests", Only(ACCOUNT_MANAGERS)),
        ("GET", "/admin/requests/letters", Only(ACCOUNT_MANAGERS)),
        ("GET", "/admin/requests/letters/pdf", Only(ACCOUNT_MANAGERS)),
        (
            "GET",
            "/admin/accounts/{id}/reissue",
            Only(ACCOUNT_MANAGERS),
        ),
        ("POST", "/admin/requests", Only(ACCOUNT_MANAGERS)),
        ("POST", "/admin/requests/issue", Only(ACCOUNT_MANAGERS)),
        ("GET", "/admin/requests/import", Only(ACCOUNT_MANAGERS)),
        ("POST", "/admin/requests/import", Only(ACCOUNT_MANAGERS)),
        ("GET", "/admin/requests/{id}", Only(ACCOUNT_MANAGERS)),
        (
            "POST",
            "/admin/requests/{id}/delete",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "POST",
            "/admin/requests/{id}/verify",
            Only(ACCOUNT_MANAGERS),
        ),
        ("POST", "/admin/requests/{id}/apply", Only(ACCOUNT_MANAGERS)),
        (
            "POST",
            "/admin/requests/{id}/reject",
            Only(ACCOUNT_MANAGERS),
        ),
        (
            "POST",
            "/admin/accounts/{id}/reissue",
            Only(ACCOUNT_MANAGERS),
        ),
        ("GET", "/portal", AnyRole),
        ("GET", "/portal/feed.atom", Public),
        ("GET", "/portal/announcements/{id}", AnyRole),
        ("GET", "/portal/manage", Only(PORTAL_EDITORS)),
        ("GET", "/portal/manage/new", Only(PORTAL_EDITORS)),
        ("POST", "/portal/manage", Only(PORTAL_EDITORS)),
        ("GET", "/portal/manage/{id}/edit", Only(PORTAL_EDITORS)),
        ("POST", "/portal/manage/{id}", Only(PORTAL_EDITORS)),
        ("POST", "/portal/manage/{id}/restore", Only(PORTAL_EDITORS)),
        ("GET", "/portal/requests", Only(PORTAL_STAFF)),
        ("GET", "/portal/requests/new", Only(CITY)),
        ("POST", "/portal/requests", Only(CITY)),
        ("GET", "/portal/requests/{id}", Only(PORTAL_STAFF)),
        (
            "POST",
            "/portal/requests/{id}/classify",
            Only(PORTAL_EDITORS),
        ),
        (
            "POST",
            "/portal/requests/{id}/messages",
            Only(REQUEST_PARTIES),
        ),
        ("POST", "/portal/requests/{id}/agree", Only(CITY)),
        (
            "POST",
            "/portal/requests/{id}/complete",
            Only(PORTAL_EDITORS),
        ),
        ("GET", "/portal/schedules", Only(PORTAL_STAFF)),
        ("POST", "/portal/schedules", Only(PORTAL_EDITORS)),
        ("POST", "/portal/schedules/{id}/approve", Only(CITY)),
        (
            "GET",
            "/admin/backup/schedules",
            Only(BACKUP_SCHEDULE_READERS),
        ),
        ("POST", "/admin/backup/schedules", Only(ADMINS)),
        ("GET", "/admin/backup", Only(BACKUP_SCHEDULE_READERS)),
        ("POST", "/admin/backup/run", Only(ADMINS)),
        ("POST", "/admin/backup/{id}/verify", Only(ADMINS)),
        ("POST", "/admin/backup/drill", Only(ADMINS)),
        ("POST", "/admin/backup/prune", Only(ADMINS)),
        ("POST", "/admin/backup/schedules/{id}/approve", Only(CITY)),
        ("POST", "/admin/backup/schedules/{id}/reject", Only(CITY)),
        ("POST", "/admin/backup/schedules/{id}/retire", Only(CITY)),
        ("GET", "/admin/monitors", Only(MONITOR_READERS)),
        ("POST", "/admin/monitors", Only(ADMINS)),
        ("GET", "/admin/monitors/new", Only(ADMINS)),
        ("GET", "/admin/monitors/{id}", Only(MONITOR_READERS)),
        ("POST", "/admin/monitors/{id}", Only(ADMINS)),
        ("GET", "/admin/monitors/{id}/edit", Only(ADMINS)),
        ("POST", "/admin/monitors/{id}/pause", Only(ADMINS)),
        ("POST", "/admin/monitors/{id}/resume", Only(ADMINS)),
        ("GET", "/admin/monitors/alerts", Only(MONITOR_READERS)),
        (
            "POST",
            "/admin/monitors/alerts/{id}/acknowledge",
            Only(ADMINS),
        ),
        ("GET", "/admin/monitors/oncall", Only(ADMINS)),
        ("POST", "/admin/monitors/oncall", Only(ADMINS)),
        (
            "POST",
            "/admin/monitors/oncall/{id}/deactivate",
            Only(ADMINS),
        ),
        ("GET", "/admin/monitors/summary", Only(MONITOR_READERS)),
        ("GET", "/admin/firewall", Only(FIREWALL_READERS)),
        (
            "GET",
            "/admin/firewall/reviews/{id}",
            Only(FIREWALL_READERS),
        ),
        ("POST", "/admin/firewall/reviews/{id}/sign", Only(ADMINS)),
        ("GET", "/portal/runbooks", Only(ADMINS)),
        ("POST", "/portal/runbooks", Only(ADMINS)),
        ("GET", "/portal/runbooks/{id}", Only(ADMINS)),
        ("POST", "/portal/runbooks/{id}", Only(ADMINS)),
        ("POST", "/portal/runbooks/{id}/restore", Only(ADMINS)),
        ("POST", "/api/fhir/Bundle", ApiKey),
        ("POST", "/api/fhir/Bundle/$validate", ApiKey),
        ("POST", "/api/fhir", ApiKey),
        ("POST", "/api/fhir/Consent", ApiKey),
        ("GET", "/api/fhir/Consent", ApiKey),
        ("POST", "/api/fhir/Patient/$link", ApiKey),
        ("GET", "/api/fhir/Bundle/{id}", ApiKey),
        ("GET", "/api/fhir/Bundle", ApiKey),
        ("GET", "/api/fhir/metadata", Public),
        ("GET", "/api/openapi.json", Public),
        ("GET", "/records", Only(RECORD_READERS)),
        ("GET", "/records/patients/new", Only(FACILITY_MANAGERS)),
        ("POST", "/records/patients", Only(FACILITY_MANAGERS)),
        ("GET", "/records/patients/{id}", Only(RECORD_READERS)),
        (
            "GET",
            "/records/patients/{id}/consent/scan",
            Only(RECORD_READERS),
        ),
        (
            "POST",
            "/records/patients/{id}/consent/withdraw",
            Only(FACILITY_MANAGERS),
        ),
        (
            "POST",
            "/records/patients/{id}/consent",
            Only(FACILITY_MANAGERS),
        ),
        (
            "GET",
            "/records/patients/{id}/consents/{cid}/scan",
            Only(RECORD_READERS),
        ),
        (
            "POST",
            "/records/patients/{id}/link",
            Only(FACILITY_MANAGERS),
        ),
        ("GET", "/records/documents/{id}", Only(RECORD_READERS)),
        (
            "GET",
            "/records/documents/{id}/attachments/{n}",
            Only(RECORD_READERS),
        ),
        ("GET", "/records/access-log", Only(FACILITY_MANAGERS)),
        ("GET", "/records/review", Only(FACILITY_MANAGERS)),
        ("GET", "/records/review/{id}", Only(FACILITY_MANAGERS)),
        (
            "POST",
            "/records/review/{id}/accept",
            Only(FACILITY_MANAGERS),
        ),
        (
            "POST",
            "/records/review/{id}/reject",
            Only(FACILITY_MANAGERS),
        ),
        ("GET", "/admin/api-keys", Only(ADMINS)),
        ("POST", "/admin/api-keys", Only(ADMINS)),
        ("POST", "/admin/api-keys/{id}/revoke", Only(ADMINS)),
        ("GET", "/admin/records/retention", Only(ADMINS)),
        ("POST", "/admin/records/purge", Only(ADMINS)),
        ("GET", "/admin/records/consents", Only(CONSENT_STAFF)),
        ("POST", "/admin/records/consents", Only(CONSENT_STAFF)),
        ("GET", "/admin/calendar", Only(HELPDESK_STAFF)),
        ("POST", "/admin/calendar/days", Only(HELPDESK_STAFF)),
        (
            "POST",
            "/admin/calendar/days/{id}/withdraw",
            Only(HELPDESK_STAFF),
        ),
        ("GET", "/incidents", Only(INCIDENT_READERS)),
        ("GET", "/incidents/new", Only(ADMINS)),
        ("POST", "/incidents", Only(ADMINS)),
        ("GET", "/incidents/{id}", Only(INCIDENT_READERS)),
        ("GET", "/incidents/{id}/edit", Only(ADMINS)),
        ("POST", "/incidents/{id}", Only(ADMINS)),
        ("POST", "/incidents/{id}/status", Only(ADMINS)),
        ("POST", "/incidents/{id}/timeline", Only(INCIDENT_NOTES)),
        ("POST", "/incidents/{id}/vendors", Only(ADMINS)),
        ("POST", "/incidents/{id}/attachments", Only(ADMINS)),
        (
            "GET",
            "/incidents/{id}/attachments/{n}",
            Only(INCIDENT_READERS),
        ),
        ("POST", "/incidents/{id}/links", Only(ADMINS)),
        ("GET", "/incidents/{id}/report.pdf", Only(INCIDENT_READERS)),
        ("GET", "/helpdesk", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/new", Only(HELPDESK_STAFF)),
        ("POST", "/helpdesk", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/reports", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/reports/export.csv", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/reports/export.xlsx", Only(HELPDESK_STAFF)),
        ("GET", "/helpdesk/{id}", Only(HELPDESK_STAFF)),
        ("POST", "/helpdesk/{id}/responses", Only(HELPDESK_STAFF)),
        ("POST", "/helpdesk/{id}/corrections", Only(HELPDESK_STAFF)),
        ("POST", "/helpdesk/{id}/attachments", Only(HELPDESK_STAFF)),
        (
            "GET",
            "/helpdesk/{id}/attachments/{n}",
            Only(HELPDESK_STAFF),
        ),
        ("GET", "/support", Only(REQUESTERS)),
        ("GET", "/support/new", Only(REQUESTERS)),
        ("POST", "/support", Only(REQUESTERS)),
        ("GET", "/support/{id}", Only(REQUESTERS)),
        ("POST", "/support/{id}/reply", Only(REQUESTERS)),
        ("POST", "/support/{id}/attachments", Only(REQUESTERS)),
        ("GET", "/support/{id}/attachments/{n}", Only(REQUESTERS)),
        ("GET", "/incidents/contacts", Only(INCIDENT_STAFF)),
        ("POST", "/incidents/contacts", Only(ADMINS)),
        ("GET", "/incidents/contacts/{id}", Only(ADMINS)),
        ("POST", "/incidents/contacts/{id}", Only(ADMINS)),
        ("POST", "/incidents/contacts/{id}/move", Only(ADMINS)),
        ("POST", "/incidents/contacts/{id}/deactivate", Only(ADMINS)),
        ("POST", "/incidents/contacts/{id}/reactivate", Only(ADMINS)),
        ("GET", "/incidents/{id}/contacts", Only(INCIDENT_STAFF)),
        ("POST", "/incidents/{id}/notice", Only(ADMINS)),
        ("POST", "/incidents/{id}/contacts/notify", Only(ADMINS)),
        (
            "POST",
            "/incidents/{id}/contacts/record",
            Only(CONTACT_RECORDERS),
        ),
        ("GET", "/incidents/recurrence", Only(RECURRENCE_READERS)),
        ("POST", "/incidents/recurrence", Only(ADMINS)),
        (
            "GET",
            "/incidents/recurrence/{id}",
            Only(RECURRENCE_READERS),
        ),
        ("POST", "/incidents/recurrence/{id}", Only(ADMINS)),
        ("POST", "/incidents/recurrence/{id}/submit", Only(ADMINS)),
        ("POST", "/incidents/recurrence/{id}/accept", Only(CITY)),
        ("POST", "/incidents/recurrence/{id}/return", Only(CITY)),
        (
            "POST",
            "/incidents/recurrence/{id}/committee",
            Only(COMMITTEE_RECORDERS),
        ),
        (
            "GET",
            "/incidents/recurrence/{id}/minutes",
            Only(RECURRENCE_READERS),
        ),
        ("POST", "/incidents/recurrence/{id}/measures", Only(ADMINS)),
        (
            "POST",
            "/incidents/recurrence/measures/{id}/done",
            Only(ADMINS),
        ),
        ("GET", "/incidents/stats", Only(INCIDENT_STAFF)),
        ("GET", "/incidents/stats/export.csv", Only(INCIDENT_STAFF)),
        ("GET", "/incidents/stats/export.xlsx", Only(INCIDENT_STAFF)),
    ]
}

/// A path to request for a pattern: `{name}` is a real job, `{file}` a real static file, any
/// other parameter `1`.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{name}" => "sessions.expire",
            "{file}" => "app.css",
            s if s.starts_with('{') && s.ends_with('}') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn expect_of(access: Access) -> Expect {
    match access {
        Access::Public => Expect::Public,
        Access::Onboarding => Expect::Onboarding,
        Access::AnyRole => Expect::AnyRole,
        Access::Roles(r) | Access::RolesOrBearer(r) => Expect::Only(r),
        Access::ApiKey => Expect::ApiKey,
    }
}

fn same(a: Expect, b: Expect) -> bool {
    match (a, b) {
        (Expect::Only(x), Expect::Only(y)) => {
            x.iter().all(|r| y.contains(r)) && y.iter().all(|r| x.contains(r))
        }
        (a, b) => std::mem::discriminant(&a) == std::mem::discriminant(&b),
    }
}

/// Every registered route with its declared rule, as the walk checks it.
fn registered(app: &TestApp) -> Vec<(&'static str, &'static str, Expect)> {
    app.state
        .rules()
        .iter()
        .map(|r| (r.method, r.path, expect_of(r.access)))
        .collect()
}

#[test]
fn x3_every_expected_route_is_registered_with_exactly_the_expected_rule() {
    let routes = routes();
    let registered: BTreeSet<(String, String)> = routes
        .rules()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    for (method, path, expect) in expected() {
        assert!(
            registered.contains(&(method.to_string(), path.to_string())),
            "expectation for a route that does not exist: {method} {path}"
        );
        let rule = routes
            .rules()
            .iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap();
        assert!(
            same(expect_of(rule.access), expect),
            "{method} {path}: declared {:?}, expected {expect:?}",
            rule.access
        );
    }
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
    let mut routes = registered(&app);
    assert!(routes.len() >= expected().len());
    // Log-out last: it ends the session the other requests use.
    routes.sort_by_key(|(m, p, _)| (*m == "POST" && *p == "/logout", *p, *m));
    for role in Role::ALL {
        let user = app.login_as(role).await;
        for (method, path, expect) in &routes {
            let res = request(&user.client, method, &concrete(path)).await;
            let status = res.status().as_u16();
            if let Expect::ApiKey = expect {
                assert_eq!(
                    status, 401,
                    "{role:?}: a session is no API key for {method} {path}"
                );
                continue;
            }
            let allowed = match expect {
                Expect::Public | Expect::Onboarding | Expect::AnyRole => true,
                Expect::Only(roles) => roles.contains(&role),
                Expect::ApiKey => false,
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
    for (method, path, expect) in registered(&app) {
        let res = request(&c, method, &concrete(path)).await;
        match expect {
            Expect::Public => assert!(
                res.status().as_u16() < 400 || res.status() == 401 || res.status() == 422,
                "{method} {path}: {}",
                res.status()
            ),
            Expect::ApiKey => assert_eq!(res.status(), 401, "{method} {path}"),
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
