//! X.3 / ASVS 4.2.1 — object-level authorisation. Every registered route with an id parameter
//! is walked (from the registry, as `rbac.rs` walks the route × role table): a route the table
//! below does not know fails the walk by name. For each role a route admits, ids of another
//! facility, another account and another requester are tried: the answer is the same refusal as
//! for an id that does not exist, it carries none of the other party's data, and the attempt is
//! an `access.denied` row of the audit chain. Routes for objects of the whole network must admit
//! no facility role. A sweep then puts foreign ids into every query parameter an id could hide
//! in, on every page a facility role may open.

use std::collections::{BTreeSet, HashMap};

use rainbownet::accounts::LoginId;
use rainbownet::accounts::service::{self, AccountSpec};
use rainbownet::audit::Actor;
use rainbownet::auth::{Access, Role};
use serde_json::Value;

use crate::helpers::*;
use crate::records::{A, C, Net, consent_for, fixture, network};

/// What the id in a route names, and so which ids are another party's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Obj {
    /// Not an object (a static file, a job's name).
    Not,
    /// An object of the whole network: the route must admit staff roles only.
    Network,
    Patient,
    Document,
    /// A document held for the right-patient review: its sending facility's managers only.
    Review,
    Inquiry,
    Announcement,
    Account,
    /// A log-in session: its account's own.
    Session,
}

/// Every route that takes an id (path, query or form), with what the id names. `{id}` in the
/// query or a form field is filled like a path parameter.
struct IdRoute {
    method: &'static str,
    path: &'static str,
    /// Query string (GET) or form fields (POST) with `{id}` where the object's id goes.
    extra: &'static [(&'static str, &'static str)],
    obj: Obj,
    /// The refusal: 404, or 422 for a form that names its field's error (the same text for a
    /// missing id and another party's).
    refusal: u16,
}

const fn r(method: &'static str, path: &'static str, obj: Obj) -> IdRoute {
    IdRoute {
        method,
        path,
        extra: &[],
        obj,
        refusal: 404,
    }
}

/// POST bodies: enough for each handler to act if it were not refused.
const POST_FIELDS: &[(&str, &str)] = &[
    ("content", "確認のための返信です。"),
    ("local_id", "X-OBJ-1"),
    ("confirm", "yes"),
];

fn id_routes() -> Vec<IdRoute> {
    use Obj::*;
    vec![
        r("GET", "/static/{file}", Not),
        r("POST", "/admin/jobs/{name}/run", Network),
        r("POST", "/admin/accounts/{id}/unlock", Network),
        r("GET", "/admin/accounts/{id}", Network),
        r("GET", "/admin/accounts/{id}/disable", Network),
        r("POST", "/admin/accounts/{id}/disable", Network),
        r("GET", "/admin/accounts/{id}/enable", Network),
        r("POST", "/admin/accounts/{id}/enable", Network),
        r("GET", "/admin/accounts/{id}/role", Network),
        r("POST", "/admin/accounts/{id}/role", Network),
        r("GET", "/admin/accounts/{id}/totp-reset", Network),
        r("POST", "/admin/accounts/{id}/totp-reset", Network),
        r("GET", "/admin/accounts/{id}/end-sessions", Network),
        r("POST", "/admin/accounts/{id}/end-sessions", Network),
        r("GET", "/admin/accounts/{id}/password-reset", Network),
        r("POST", "/admin/accounts/{id}/password-reset", Network),
        r("GET", "/admin/accounts/{id}/reissue", Network),
        r("POST", "/admin/accounts/{id}/reissue", Network),
        r("GET", "/admin/facilities/{id}", Network),
        r("POST", "/admin/facilities/{id}", Network),
        r("POST", "/admin/facilities/{id}/withdraw", Network),
        r("GET", "/admin/requests/{id}", Network),
        r("POST", "/admin/requests/{id}/delete", Network),
        r("POST", "/admin/requests/{id}/verify", Network),
        r("POST", "/admin/requests/{id}/apply", Network),
        r("POST", "/admin/requests/{id}/reject", Network),
        r("GET", "/portal/announcements/{id}", Announcement),
        r("GET", "/portal/manage/{id}/edit", Network),
        r("POST", "/portal/manage/{id}", Network),
        r("POST", "/portal/manage/{id}/restore", Network),
        r("GET", "/portal/requests/{id}", Network),
        r("POST", "/portal/requests/{id}/classify", Network),
        r("POST", "/portal/requests/{id}/messages", Network),
        r("POST", "/portal/requests/{id}/agree", Network),
        r("POST", "/portal/requests/{id}/complete", Network),
        r("POST", "/portal/schedules/{id}/approve", Network),
        r("POST", "/admin/backup/{id}/verify", Network),
        r("GET", "/admin/mail/{id}", Network),
        r("POST", "/admin/mail/{id}/retry", Network),
        r("POST", "/admin/backup/schedules/{id}/approve", Network),
        r("POST", "/admin/backup/schedules/{id}/reject", Network),
        r("POST", "/admin/backup/schedules/{id}/retire", Network),
        r("GET", "/admin/firewall/reviews/{id}", Network),
        r("POST", "/admin/firewall/reviews/{id}/sign", Network),
        r("GET", "/portal/runbooks/{id}", Network),
        r("GET", "/admin/monitors/{id}", Network),
        r("POST", "/admin/monitors/{id}", Network),
        r("GET", "/admin/monitors/{id}/edit", Network),
        r("POST", "/admin/monitors/{id}/pause", Network),
        r("POST", "/admin/monitors/{id}/resume", Network),
        r("POST", "/admin/monitors/alerts/{id}/acknowledge", Network),
        r("POST", "/admin/monitors/oncall/{id}/deactivate", Network),
        r("POST", "/portal/runbooks/{id}", Network),
        r("POST", "/portal/runbooks/{id}/restore", Network),
        r("GET", "/api/fhir/Bundle/{id}", Document),
        r("GET", "/records/patients/{id}", Patient),
        r("GET", "/records/patients/{id}/consent/scan", Patient),
        r("POST", "/records/patients/{id}/consent/withdraw", Patient),
        r("POST", "/records/patients/{id}/consent", Patient),
        // `{cid}` is filled with the same id: patient 1's first consent is consent 1.
        r("GET", "/records/patients/{id}/consents/{cid}/scan", Patient),
        r("POST", "/records/patients/{id}/link", Patient),
        r("GET", "/records/documents/{id}", Document),
        r("GET", "/records/documents/{id}/attachments/{n}", Document),
        r("GET", "/records/review/{id}", Review),
        r("POST", "/records/review/{id}/accept", Review),
        r("POST", "/records/review/{id}/reject", Review),
        r("POST", "/admin/api-keys/{id}/revoke", Network),
        r("POST", "/admin/calendar/days/{id}/withdraw", Network),
        r("GET", "/incidents/{id}", Network),
        r("GET", "/incidents/{id}/edit", Network),
        r("POST", "/incidents/{id}", Network),
        r("POST", "/incidents/{id}/status", Network),
        r("POST", "/incidents/{id}/timeline", Network),
        r("POST", "/incidents/{id}/vendors", Network),
        r("POST", "/incidents/{id}/attachments", Network),
        r("GET", "/incidents/{id}/attachments/{n}", Network),
        r("POST", "/incidents/{id}/links", Network),
        r("GET", "/incidents/{id}/report.pdf", Network),
        r("GET", "/helpdesk/{id}", Network),
        r("POST", "/helpdesk/{id}/responses", Network),
        r("POST", "/helpdesk/{id}/corrections", Network),
        r("POST", "/helpdesk/{id}/attachments", Network),
        r("GET", "/helpdesk/{id}/attachments/{n}", Network),
        r("POST", "/helpdesk/{id}/assignment", Network),
        r("GET", "/helpdesk/{id}/merge", Network),
        r("POST", "/helpdesk/{id}/merge", Network),
        r("POST", "/helpdesk/canned/{id}/retire", Network),
        // A notification is its recipient's own; another person's answers 404 — proved in
        // notifications::issue15_x4_a_public_answer_… (not yet a kind of this table's world).
        r("POST", "/notifications/{id}/read", Not),
        r("POST", "/account/sessions/{id}/end", Session),
        r("GET", "/support/{id}", Inquiry),
        r("POST", "/support/{id}/reply", Inquiry),
        r("POST", "/support/{id}/attachments", Inquiry),
        r("GET", "/support/{id}/attachments/{n}", Inquiry),
        // Incidents: the contact tree, the checklist, recurrence reports (staff only).
        r("GET", "/incidents/contacts/{id}", Network),
        r("POST", "/incidents/contacts/{id}", Network),
        r("POST", "/incidents/contacts/{id}/move", Network),
        r("POST", "/incidents/contacts/{id}/deactivate", Network),
        r("POST", "/incidents/contacts/{id}/reactivate", Network),
        r("GET", "/incidents/{id}/contacts", Network),
        r("POST", "/incidents/{id}/notice", Network),
        r("POST", "/incidents/{id}/contacts/notify", Network),
        r("POST", "/incidents/{id}/contacts/record", Network),
        r("GET", "/incidents/recurrence/{id}", Network),
        r("POST", "/incidents/recurrence/{id}", Network),
        r("POST", "/incidents/recurrence/{id}/submit", Network),
        r("POST", "/incidents/recurrence/{id}/accept", Network),
        r("POST", "/incidents/recurrence/{id}/return", Network),
        r("POST", "/incidents/recurrence/{id}/committee", Network),
        r("GET", "/incidents/recurrence/{id}/minutes", Network),
        r("POST", "/incidents/recurrence/{id}/measures", Network),
        r("POST", "/incidents/recurrence/measures/{id}/done", Network),
        // Ids in the query or the form.
        IdRoute {
            method: "GET",
            path: "/requests/new",
            extra: &[("kind", "attributes"), ("target", "{id}")],
            obj: Account,
            refusal: 404,
        },
        IdRoute {
            method: "GET",
            path: "/admin/records/consents",
            extra: &[("patient", "{id}")],
            obj: Network,
            refusal: 404,
        },
        IdRoute {
            method: "POST",
            path: "/incidents/recurrence",
            extra: &[("incident_id", "{id}"), ("title", "t"), ("body", "b")],
            obj: Network,
            refusal: 422,
        },
        IdRoute {
            method: "POST",
            path: "/requests",
            extra: &[("kind", "delete"), ("target", "{id}")],
            obj: Account,
            refusal: 422,
        },
    ]
}

/// A person of a facility with a name of their own, logged in.
async fn member(app: &TestApp, role: Role, facility: &str, login: &str, name: &str) -> TestClient {
    let spec = AccountSpec::new(
        Some(LoginId::parse(login).unwrap()),
        name,
        role,
        Some(facility),
    );
    let c = service::create_account(app.db(), &spec, &Actor::system("test"), app.now())
        .await
        .unwrap();
    let client = app.client();
    assert_eq!(
        client
            .login(&c.login_id, &c.one_time_password)
            .await
            .status(),
        303
    );
    let pw = "Kiyosu2026rainbow";
    let res = client
        .post_form(
            "/account/password",
            &[
                ("current_password", &c.one_time_password),
                ("new_password", pw),
                ("confirm_password", pw),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    client
}

async fn ask(c: &TestClient, subject: &str) -> i64 {
    let res = c
        .post_form(
            "/support",
            &[
                ("category", "システム利用"),
                ("subject", subject),
                ("content", "内容です。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "inquiry {subject}");
    let id = location(&res).rsplit('/').next().unwrap().parse().unwrap();
    // Its file number 1 (`/support/{id}/attachments/{n}`).
    let path = format!("/support/{id}/attachments");
    let res = crate::helpdesk_files::upload(c, &path, "画面.pdf", b"%PDF-1.4\n", false).await;
    assert_eq!(res.status(), 303, "file of inquiry {subject}");
    id
}

async fn scalar(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(bind.to_string())
        .fetch_one(app.db().pool())
        .await
        .unwrap()
}

/// The foreign facility's copy of a fixture: its code, a patient of its own with other names.
fn foreign(text: &str) -> String {
    text.replace(A, C)
        .replace("清須 花子", "秘匿 太郎")
        .replace("キヨス ハナコ", "ヒトク タロウ")
        .replace("\"000123\"", "\"C-777\"")
}

const FOREIGN_PATIENT: [&str; 2] = ["秘匿 太郎", "ヒトク タロウ"];
const FOREIGN_PERSON: &str = "他施設 次郎";
const SCHEDULED: &str = "予約掲載の内部のお知らせ";
const MISSING: i64 = 987_654;

/// Who tries: a person (by role) or facility A's system with its API key.
enum Who<'a> {
    Person(Role, &'a TestClient),
    System(&'a str),
}

struct World {
    net: Net,
    /// Facility A's user and manager, and one logged-in person of each staff role.
    people: Vec<(Role, TestClient)>,
    /// Per object kind and role: (ids that are the role's own, ids that are another party's).
    own: HashMap<(Obj, Option<Role>), Vec<i64>>,
    foreign: HashMap<(Obj, Option<Role>), Vec<i64>>,
    /// Text of the other parties that a role must never be shown.
    secrets: HashMap<Option<Role>, Vec<String>>,
}

async fn world() -> World {
    let net = network().await;
    let app = &net.app;
    // Facility A: a patient with a document, a user and a manager who each asked something.
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[A]))
            .await
            .status(),
        201
    );
    let own_doc = net.accept(A, fixture("referral_57133-1.json")).await;
    let own_patient = scalar(
        app,
        "SELECT patient_id FROM documents WHERE CAST(id AS TEXT) = $1",
        &own_doc.to_string(),
    )
    .await;
    let a_user = member(app, Role::User, A, "a-obj-user", "自施設 一郎").await;
    let a_mgr = member(app, Role::FacilityManager, A, "a-obj-mgr", "自施設 管理").await;
    let user_q = ask(&a_user, "利用者本人の問い合わせ").await;
    let mgr_q = ask(&a_mgr, "管理者本人の問い合わせ").await;
    // Facility C: its own patient (consent for C only), a document, a user who asked.
    assert_eq!(
        net.send(C, "/api/fhir/Consent", foreign(&consent_for(&[C])))
            .await
            .status(),
        201
    );
    let foreign_doc = net
        .accept(C, foreign(&fixture("referral_57133-1.json")))
        .await;
    let foreign_patient = scalar(
        app,
        "SELECT patient_id FROM documents WHERE CAST(id AS TEXT) = $1",
        &foreign_doc.to_string(),
    )
    .await;
    // Each document waits in its facility's right-patient review queue (rows made here: the
    // world runs in refuse mode, where nothing is held).
    let review = |doc: i64| async move {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO document_reviews (document_id, facility_id, patient_id, local_id,
                identifier_value, sent_name, sent_kana, sent_birth_date, sent_gender, differs,
                state, created_at)
             SELECT id, facility_id, patient_id, '000123', identifier_value, '送信 氏名', '', '',
                    'unknown', 'name', 'pending', sent_at FROM documents WHERE id = $1 RETURNING id",
        )
        .bind(doc)
        .fetch_one(app.db().pool())
        .await
        .unwrap()
    };
    let own_review = review(own_doc).await;
    let foreign_review = review(foreign_doc).await;
    let c_user = member(app, Role::User, C, "c-obj-user", FOREIGN_PERSON).await;
    let c_q = ask(&c_user, "他施設の問い合わせ件名").await;
    let c_account = app.account_id("c-obj-user").await;
    let c_session: i64 = sqlx::query_scalar(
        "SELECT MAX(id) FROM sessions WHERE account_id = $1 AND ended_at IS NULL",
    )
    .bind(c_account)
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    let a_account = app.account_id("a-obj-user").await;
    // Staff; an editor publishes one announcement now and schedules another.
    let mut people = vec![(Role::User, a_user), (Role::FacilityManager, a_mgr)];
    for role in Role::ALL.into_iter().filter(|r| r.is_staff()) {
        people.push((role, app.login_as(role).await.client));
    }
    let staff_account = app
        .account_id(&app.login_as(Role::SystemAdmin).await.login_id)
        .await;
    let editor = &people
        .iter()
        .find(|(r, _)| *r == Role::SystemOperator)
        .unwrap()
        .1;
    let later = rainbownet::portal::model::to_local(app.now().plus_minutes(600));
    let scheduled = crate::portal::publish(
        editor,
        "notice",
        SCHEDULED,
        "本文",
        &[("publish_at", &later)],
    )
    .await
    .parse::<i64>()
    .unwrap();
    let published = crate::portal::publish(editor, "notice", "掲載中のお知らせ", "本文", &[])
        .await
        .parse::<i64>()
        .unwrap();

    let mut own = HashMap::new();
    let mut foreign_ids = HashMap::new();
    let mut secrets: HashMap<Option<Role>, Vec<String>> = HashMap::new();
    let editors = [Role::SystemAdmin, Role::SystemOperator];
    for (role, _) in &people {
        let k = Some(*role);
        let facility = role.needs_facility();
        let mut s: Vec<String> = FOREIGN_PATIENT.iter().map(|t| t.to_string()).collect();
        if !editors.contains(role) {
            s.push(SCHEDULED.into());
            foreign_ids.insert((Obj::Announcement, k), vec![scheduled]);
        }
        own.insert((Obj::Announcement, k), vec![published]);
        foreign_ids.insert((Obj::Session, k), vec![c_session]);
        if facility {
            s.push(FOREIGN_PERSON.into());
            s.push("他施設の問い合わせ件名".into());
            own.insert((Obj::Patient, k), vec![own_patient]);
            own.insert((Obj::Document, k), vec![own_doc]);
            foreign_ids.insert((Obj::Patient, k), vec![foreign_patient]);
            foreign_ids.insert((Obj::Document, k), vec![foreign_doc]);
            own.insert((Obj::Review, k), vec![own_review]);
            foreign_ids.insert((Obj::Review, k), vec![foreign_review]);
            let (mine, colleague, colleague_subject) = if *role == Role::User {
                (user_q, mgr_q, "管理者本人の問い合わせ")
            } else {
                (mgr_q, user_q, "利用者本人の問い合わせ")
            };
            s.push(colleague_subject.into());
            own.insert((Obj::Inquiry, k), vec![mine]);
            foreign_ids.insert((Obj::Inquiry, k), vec![colleague, c_q]);
            own.insert((Obj::Account, k), vec![a_account]);
            foreign_ids.insert((Obj::Account, k), vec![c_account, staff_account]);
        } else {
            own.insert((Obj::Account, k), vec![a_account, c_account]);
        }
        secrets.insert(k, s);
    }
    // Facility A's system (API key).
    own.insert((Obj::Document, None), vec![own_doc]);
    foreign_ids.insert((Obj::Document, None), vec![foreign_doc]);
    secrets.insert(
        None,
        FOREIGN_PATIENT.iter().map(|t| t.to_string()).collect(),
    );
    World {
        net,
        people,
        own,
        foreign: foreign_ids,
        secrets,
    }
}

/// `path` with every `{…}` parameter set: `{n}` (an attachment's number) to 1, the rest to `id`.
fn fill(path: &str, id: i64) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{n}" => "1".to_string(),
            "{file}" => "app.css".to_string(),
            "{name}" => "sessions.expire".to_string(),
            s if s.starts_with('{') && s.ends_with('}') => id.to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn try_route(w: &World, who: &Who<'_>, route: &IdRoute, id: i64) -> (u16, String) {
    let path = fill(route.path, id);
    let id_text = id.to_string();
    let extra: Vec<(&str, String)> = route
        .extra
        .iter()
        .map(|(k, v)| (*k, v.replace("{id}", &id_text)))
        .collect();
    let res = match who {
        Who::System(code) => w.net.get(code, &path).await,
        Who::Person(_, c) if route.method == "GET" => {
            let query: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let url = if query.is_empty() {
                path
            } else {
                format!("{path}?{}", query.join("&"))
            };
            c.get(&url).await
        }
        Who::Person(_, c) => {
            let mut fields: Vec<(&str, &str)> = POST_FIELDS.to_vec();
            fields.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            c.post_form(&path, &fields).await
        }
    };
    let status = res.status().as_u16();
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = res.text().await.unwrap_or_default();
    if request_id.is_empty() {
        (status, body)
    } else {
        (status, body.replace(&request_id, "<request id>"))
    }
}

/// The page title of an HTML answer (or the whole JSON body).
fn shape(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        return v.to_string();
    }
    body.split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn x3_every_route_with_an_id_refuses_other_parties_ids_alike_and_audits_them() {
    let w = world().await;
    let app = &w.net.app;
    let table = id_routes();
    // The table and the registry agree: every route with a path parameter is in it.
    let known: BTreeSet<(&str, &str)> = table.iter().map(|t| (t.method, t.path)).collect();
    for rule in app.state.rules() {
        if rule.path.contains('{') {
            assert!(
                known.contains(&(rule.method, rule.path)),
                "{} {} takes an id but the object-level table does not know what it names",
                rule.method,
                rule.path
            );
        }
    }
    let mut checked = 0;
    for route in &table {
        let rule = app
            .state
            .rules()
            .iter()
            .find(|r| r.method == route.method && r.path == route.path)
            .unwrap_or_else(|| panic!("{} {} is not registered", route.method, route.path));
        match route.obj {
            Obj::Not => continue,
            Obj::Network => {
                let Access::Roles(roles) = rule.access else {
                    panic!(
                        "{} {}: network objects need a role rule",
                        rule.method, rule.path
                    );
                };
                for role in roles {
                    assert!(
                        !role.needs_facility(),
                        "{} {} names network-wide objects but admits {role:?}",
                        rule.method,
                        rule.path
                    );
                }
                continue;
            }
            _ => {}
        }
        let mut whos: Vec<Who> = Vec::new();
        if rule.access == Access::ApiKey {
            whos.push(Who::System(A));
        }
        for (role, c) in &w.people {
            if rule.access.allows(*role) && rule.access != Access::ApiKey {
                whos.push(Who::Person(*role, c));
            }
        }
        assert!(
            !whos.is_empty(),
            "{} {}: nobody to try",
            rule.method,
            rule.path
        );
        for who in &whos {
            let key = match who {
                Who::Person(role, _) => Some(*role),
                Who::System(_) => None,
            };
            let label = format!("{key:?} {} {}", route.method, route.path);
            let secrets = &w.secrets[&key];
            // Positive control: the role's own object opens (pages only: forms would act).
            if route.method == "GET" {
                for id in w.own.get(&(route.obj, key)).into_iter().flatten() {
                    let (status, _) = try_route(&w, who, route, *id).await;
                    assert_eq!(status, 200, "{label}: own object {id}");
                }
            }
            let before = app.audit_count("access.denied").await;
            let (missing_status, missing_body) = try_route(&w, who, route, MISSING).await;
            assert_eq!(missing_status, route.refusal, "{label}: missing id");
            assert_eq!(
                app.audit_count("access.denied").await,
                before,
                "{label}: a missing id is no refusal of an object"
            );
            for id in w.foreign.get(&(route.obj, key)).into_iter().flatten() {
                let before = app.audit_count("access.denied").await;
                let (status, body) = try_route(&w, who, route, *id).await;
                assert_eq!(
                    status, route.refusal,
                    "{label}: another party's id {id} (a missing one gets {missing_status})"
                );
                assert_eq!(
                    body,
                    missing_body.replace(&MISSING.to_string(), &id.to_string()),
                    "{label}: the same answer as for a missing id (but the request id)"
                );
                for s in secrets {
                    assert!(!body.contains(s.as_str()), "{label}: {id} shows {s}");
                }
                assert_eq!(
                    app.audit_count("access.denied").await,
                    before + 1,
                    "{label}: the refusal of {id} is audited"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} foreign ids were tried");
}

#[tokio::test]
async fn x3_no_page_a_facility_role_opens_shows_another_partys_data_for_ids_in_its_query() {
    let w = world().await;
    let app = &w.net.app;
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    for ((_, role), v) in &w.foreign {
        if role.is_some_and(|r| r.needs_facility()) {
            ids.extend(v);
        }
    }
    let params = [
        "target",
        "account",
        "account_id",
        "id",
        "patient",
        "document",
        "inquiry",
        "request",
        "facility",
        "facility_id",
    ];
    let mut tried = 0;
    for (role, c) in w.people.iter().filter(|(r, _)| r.needs_facility()) {
        let secrets = &w.secrets[&Some(*role)];
        for rule in app.state.rules() {
            if rule.method != "GET" || !rule.access.allows(*role) || rule.access == Access::ApiKey {
                continue;
            }
            for id in &ids {
                let query: Vec<String> = params.iter().map(|p| format!("{p}={id}")).collect();
                let url = format!(
                    "{}?kind=attributes&{}",
                    fill(rule.path, *id),
                    query.join("&")
                );
                let res = c.get(&url).await;
                let status = res.status().as_u16();
                let body = res.text().await.unwrap_or_default();
                for s in secrets {
                    assert!(
                        !body.contains(s.as_str()),
                        "{role:?} GET {url} ({status}) shows another party's {s}"
                    );
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 50, "{tried}");
}

#[tokio::test]
async fn x3_the_request_form_shows_no_other_facilitys_account_and_records_the_attempt() {
    let w = world().await;
    let app = &w.net.app;
    let fm = &w
        .people
        .iter()
        .find(|(r, _)| *r == Role::FacilityManager)
        .unwrap()
        .1;
    let mine = app.account_id("a-obj-user").await;
    let other = app.account_id("c-obj-user").await;
    // The reported IDOR: the attribute-change form prefilled from any account id.
    let res = fm
        .get(&format!("/requests/new?kind=attributes&target={mine}"))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("自施設 一郎"));
    let res = fm
        .get(&format!("/requests/new?kind=attributes&target={other}"))
        .await;
    assert_eq!(res.status(), 404);
    assert!(!res.text().await.unwrap().contains(FOREIGN_PERSON));
    let res = fm
        .get(&format!("/requests/new?kind=attributes&target={MISSING}"))
        .await;
    assert_eq!(res.status(), 404, "missing and foreign alike");
    let (target, details): (String, String) = sqlx::query_as(
        "SELECT target, details FROM audit_events WHERE action = 'access.denied' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    assert_eq!(target, format!("account:{other}"));
    let d: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(d["route"], "GET /requests/new");
    // A tampered submission reads like a missing account, and is recorded too.
    let before = app.audit_count("access.denied").await;
    let foreign = fm
        .post_form(
            "/requests",
            &[("kind", "delete"), ("target", &other.to_string())],
        )
        .await;
    assert_eq!(foreign.status(), 422);
    let foreign = foreign.text().await.unwrap();
    assert!(foreign.contains("対象の利用者が見つかりません"));
    assert!(!foreign.contains(FOREIGN_PERSON));
    let missing = fm
        .post_form(
            "/requests",
            &[("kind", "delete"), ("target", &MISSING.to_string())],
        )
        .await;
    assert_eq!(missing.status(), 422);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("対象の利用者が見つかりません")
    );
    assert_eq!(app.audit_count("access.denied").await, before + 1);
    assert_eq!(app.count("account_requests").await, 0, "nothing stored");
}

#[tokio::test]
async fn x3_x2_records_outside_the_scope_answer_like_missing_ones_and_refused_reads_are_audited() {
    let w = world().await;
    let app = &w.net.app;
    let user = &w.people.iter().find(|(r, _)| *r == Role::User).unwrap().1;
    let foreign_doc = w.foreign[&(Obj::Document, Some(Role::User))][0];
    let foreign_patient = w.foreign[&(Obj::Patient, Some(Role::User))][0];
    let pages = [
        ("/records/patients/{}", foreign_patient),
        ("/records/patients/{}/consent/scan", foreign_patient),
        ("/records/documents/{}", foreign_doc),
        ("/records/documents/{}/attachments/1", foreign_doc),
    ];
    let mut refused = 0;
    for (template, id) in pages {
        let outside = user.get(&template.replace("{}", &id.to_string())).await;
        let missing = user
            .get(&template.replace("{}", &MISSING.to_string()))
            .await;
        assert_eq!(outside.status(), 404, "{template}");
        assert_eq!(missing.status(), 404, "{template}");
        let (o, m) = (outside.text().await.unwrap(), missing.text().await.unwrap());
        assert_eq!(shape(&o), shape(&m), "{template}: the same page");
        refused += 1;
    }
    // Each refused read is a row naming the patient, the route, the facility and the reader.
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT target, actor_login, details FROM audit_events WHERE action = 'access.denied' ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), refused, "{rows:?}");
    let routes: Vec<String> = rows
        .iter()
        .map(|(target, login, details)| {
            assert_eq!(target, &format!("patient:{foreign_patient}"));
            assert_eq!(login, "a-obj-user");
            let d: Value = serde_json::from_str(details).unwrap();
            assert_eq!(d["channel"], "ui");
            assert!(d["facility_id"].is_i64());
            d["route"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        routes,
        [
            "GET /records/patients/{id}",
            "GET /records/patients/{id}/consent/scan",
            "GET /records/documents/{id}",
            "GET /records/documents/{id}/attachments/{n}",
        ]
    );
    // The API: a direct read answers like a missing Bundle; a search by the patient's network ID
    // answers like an unknown patient; both are recorded.
    let outside = w
        .net
        .get(A, &format!("/api/fhir/Bundle/{foreign_doc}"))
        .await;
    assert_eq!(outside.status(), 404);
    let o: Value = outside.json().await.unwrap();
    let m: Value = w
        .net
        .get(A, &format!("/api/fhir/Bundle/{MISSING}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        o["issue"][0]["code"], m["issue"][0]["code"],
        "the same outcome: {o} / {m}"
    );
    let network_id: String = sqlx::query_scalar("SELECT network_id FROM patients WHERE id = $1")
        .bind(foreign_patient)
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let found: Value = w
        .net
        .get(A, &format!("/api/fhir/Bundle?patient={network_id}"))
        .await
        .json()
        .await
        .unwrap();
    let unknown: Value = w
        .net
        .get(A, "/api/fhir/Bundle?patient=KR0000000000")
        .await
        .json()
        .await
        .unwrap();
    // The same answer as for an unknown patient (the self links differ only by the value asked).
    assert_eq!(
        (&found["total"], &found["entry"]),
        (&unknown["total"], &unknown["entry"])
    );
    assert_eq!(found["total"], 0);
    assert_eq!(app.audit_count("access.denied").await, refused as i64 + 2);
    let api_rows: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'access.denied' AND actor_role = 'api_key' ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    assert_eq!(api_rows.len(), 2);
    assert!(api_rows.iter().all(|d| d.contains("\"channel\":\"api\"")));
    // The facility whose patient it is sees the refused reads in its access log.
    let c_mgr = member(app, Role::FacilityManager, C, "c-obj-mgr", "他施設 管理").await;
    let log = c_mgr.get("/records/access-log").await.text().await.unwrap();
    assert!(log.contains("閲覧の拒否"), "{log}");
    assert!(log.contains("a-obj-user"));
}

#[tokio::test]
async fn x3_an_attachment_declared_as_html_is_served_as_an_octet_stream_download() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[A]))
            .await
            .status(),
        201
    );
    let script = "<html><script>alert(document.cookie)</script></html>";
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, script);
    let mut doc: Value = serde_json::from_str(&fixture("referral_57133-1.json")).unwrap();
    let mut replaced = 0;
    fn swap(v: &mut Value, data: &str, n: &mut usize) {
        match v {
            Value::Object(m) => {
                if m.get("contentType").and_then(Value::as_str) == Some("application/pdf") {
                    m.insert("contentType".into(), "text/html".into());
                    m.insert("data".into(), data.into());
                    *n += 1;
                    return;
                }
                m.values_mut().for_each(|v| swap(v, data, n));
            }
            Value::Array(a) => a.iter_mut().for_each(|v| swap(v, data, n)),
            _ => {}
        }
    }
    swap(&mut doc, &data, &mut replaced);
    assert_eq!(replaced, 1);
    let id = net.accept(A, doc.to_string()).await;
    let user = net.person(Role::User, A, "a-html-reader").await;
    let res = user
        .get(&format!("/records/documents/{id}/attachments/1"))
        .await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    // Named after its title, but never with the extension it claims (心電図.pdf): what is
    // served as an octet stream is a `.bin`.
    assert_eq!(
        h["content-disposition"],
        format!(
            "attachment; filename=\"document-{id}-1.bin\"; filename*=UTF-8''%E5%BF%83%E9%9B%BB%E5%9B%B3.pdf.bin"
        )
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(res.text().await.unwrap(), script, "the bytes as sent");
    // The API gives the Bundle back as FHIR JSON: the declared type is data there, not a header.
    let res = net.get(A, &format!("/api/fhir/Bundle/{id}")).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/fhir+json")
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    // Allowed types (the PDF of the same fixture, the PNG consent scan) keep their type: see
    // `records::reading`.
}
