//! The house (issue 9; X.3 access on every page, X.5 one binary and its configuration): a domain
//! is one registration value. A throwaway domain, added to the product's list here exactly as a new folder would be added to `startup::domains()`, appears in
//! the navigation, the jobs, the dashboard, the settings and the route × role rules, with nothing
//! else edited. Also: every domain's settings section is documented in the example file.

use rainbownet::auth::{Principal, Role};
use rainbownet::config::Settings;
use rainbownet::db::Timestamp;
use rainbownet::domain::Domain;
use rainbownet::state::{AppState, Card};
use rainbownet::web::{Access, Routes};
use serde::{Deserialize, Serialize};

use crate::helpers::*;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct NotesSettings {
    greeting: String,
}

impl Default for NotesSettings {
    fn default() -> Self {
        Self {
            greeting: "こんにちは".into(),
        }
    }
}

const KEEPERS: &[Role] = &[Role::KeyManager];

async fn notes_page(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    state.section::<NotesSettings>().greeting.clone()
}

async fn notes_cards(_: &AppState, p: &Principal, _: Timestamp) -> anyhow::Result<Vec<Card>> {
    if p.role != Role::KeyManager {
        return Ok(Vec::new());
    }
    let card = |title: &str, href: &str| Card {
        title: title.into(),
        value: "3 件".into(),
        note: String::new(),
        tone: "ok",
        href: href.into(),
    };
    // The second links to a page this role may not open: the dashboard must drop it.
    Ok(vec![
        card("メモの件数", "/notes"),
        card("禁じられたカード", "/audit"),
    ])
}

fn notes() -> Domain {
    Domain::new("notes")
        .routes(
            Routes::new()
                .get("/notes", Access::Roles(KEEPERS), notes_page)
                .post("/notes/{id}/done", Access::Roles(KEEPERS), notes_page),
        )
        .nav("", 60, "/notes", "メモ帳")
        .settings::<NotesSettings>()
        .job(
            "notes.tidy",
            "メモの整理",
            jiff::SignedDuration::from_hours(1),
            |_, _| Box::pin(async { Ok("整理しました".to_string()) }),
        )
        .cards(|s, p, now| Box::pin(notes_cards(s, p, now)))
}

async fn spawn_with_notes() -> TestApp {
    let mut domains = rainbownet::startup::domains();
    domains.push(notes());
    spawn_app_of(
        |s| {
            s.set_section(
                "notes",
                &NotesSettings {
                    greeting: "設定から".into(),
                },
            )
        },
        domains,
    )
    .await
}

#[tokio::test]
async fn x3_a_new_domain_is_in_the_navigation_for_the_roles_that_may_open_it() {
    let app = spawn_with_notes().await;
    let keys = app.login_as(Role::KeyManager).await;
    let body = keys.client.get("/").await.text().await.unwrap();
    assert!(body.contains("href=\"/notes\""), "{body}");
    let user = app.login_as(Role::User).await;
    let body = user.client.get("/").await.text().await.unwrap();
    assert!(!body.contains("href=\"/notes\""));
}

#[tokio::test]
async fn x3_a_new_domain_s_route_rules_are_enforced_and_its_settings_read() {
    let app = spawn_with_notes().await;
    assert!(
        app.state
            .rules()
            .iter()
            .any(|r| r.path == "/notes/{id}/done" && r.method == "POST")
    );
    let keys = app.login_as(Role::KeyManager).await;
    let res = keys.client.get("/notes").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "設定から");
    let admin = app.login_as(Role::SystemAdmin).await;
    assert_eq!(admin.client.get("/notes").await.status(), 403);
    assert_eq!(
        admin.client.post_form("/notes/1/done", &[]).await.status(),
        403
    );
}

#[tokio::test]
async fn x5_a_new_domain_s_job_is_listed_and_runs() {
    let app = spawn_with_notes().await;
    let msg = rainbownet::jobs::run(&app.state, "notes.tidy", "test")
        .await
        .unwrap();
    assert_eq!(msg, "整理しました");
    let admin = app.login_as(Role::SystemAdmin).await;
    let body = admin.client.get("/admin/jobs").await.text().await.unwrap();
    assert!(body.contains("notes.tidy") && body.contains("メモの整理"));
}

#[tokio::test]
async fn x3_a_new_domain_s_cards_are_on_the_dashboard_only_with_links_the_role_may_open() {
    let app = spawn_with_notes().await;
    let keys = app.login_as(Role::KeyManager).await;
    let body = keys.client.get("/").await.text().await.unwrap();
    assert!(body.contains("メモの件数"), "{body}");
    assert!(!body.contains("禁じられたカード"));
}

#[tokio::test]
async fn x3_every_dashboard_card_links_to_a_page_its_role_may_open() {
    let app = spawn_app().await;
    let doc = |html: &str| scraper::Html::parse_document(html);
    let cards = scraper::Selector::parse("a.card").unwrap();
    for role in Role::ALL {
        let user = app.login_as(role).await;
        let body = user.client.get("/").await.text().await.unwrap();
        let hrefs: Vec<String> = doc(&body)
            .select(&cards)
            .filter_map(|a| a.value().attr("href").map(str::to_string))
            .collect();
        for href in hrefs {
            let res = user.client.get(&href).await;
            assert_eq!(res.status(), 200, "{role:?}: card link {href}");
        }
    }
}

#[tokio::test]
async fn x5_a_settings_section_that_no_domain_owns_is_refused() {
    let mut settings = Settings::default();
    settings.set_section("helpdeskk", &serde_json::json!({"first_response_hours": 4}));
    let err = rainbownet::startup::registry(&settings).err().unwrap();
    assert!(err.to_string().contains("helpdeskk"), "{err}");
    let mut settings = Settings::default();
    settings.set_section("helpdesk", &serde_json::json!({"first_response_hourz": 4}));
    let err = rainbownet::startup::registry(&settings).err().unwrap();
    assert!(err.to_string().contains("first_response_hourz"), "{err}");
}

#[test]
fn x5_the_example_file_documents_every_domain_s_settings_and_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/rainbownet.example.toml");
    let loaded = Settings::load(Some(&path)).expect("example config loads");
    rainbownet::startup::registry(&loaded).expect("its sections are the domains'");
    let text = std::fs::read_to_string(&path).unwrap();
    for d in rainbownet::startup::domains() {
        let Some(section) = d.settings else { continue };
        assert!(
            text.contains(&format!("[{}]", section.name)),
            "example lacks [{}]",
            section.name
        );
        let defaults = (section.defaults)();
        for (key, value) in defaults.as_object().unwrap() {
            // A nested table is documented as its own `[section.key]` header.
            let documented = if value.is_object() {
                text.contains(&format!("[{}.{key}]", section.name))
            } else {
                text.contains(&format!("{key} ="))
            };
            assert!(documented, "example lacks {}.{key}", section.name);
        }
    }
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own signature
fn x5_a_domain_section_can_be_set_from_the_environment() {
    // figment reads RAINBOWNET__SECTION__KEY; the value reaches the domain's typed section.
    figment::Jail::expect_with(|jail| {
        jail.set_env("RAINBOWNET__HELPDESK__FIRST_RESPONSE_HOURS", "6");
        let settings = Settings::load(None).unwrap();
        let registry = rainbownet::startup::registry(&settings).unwrap();
        let helpdesk = registry
            .sections
            .get(&std::any::TypeId::of::<
                rainbownet::helpdesk::HelpdeskSettings,
            >())
            .and_then(|s| {
                s.clone()
                    .downcast::<rainbownet::helpdesk::HelpdeskSettings>()
                    .ok()
            })
            .unwrap();
        assert_eq!(helpdesk.first_response_hours, 6);
        Ok(())
    });
}
