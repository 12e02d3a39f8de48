//! X.4 (issue 15, item 8): English for administrators. Every page a staff role may open is in
//! English once that person chose English; the choice is kept on the account (it survives
//! log-out); a staff person who keeps Japanese, and the facilities' own roles, see Japanese; the
//! two catalogues have the same messages with the same variables.
//!
//! The crawl runs on the demo network (an object of every kind) whose text data is made ASCII
//! first (every Japanese character of every text column becomes `u` and its code point), so
//! any Japanese character left on a page is the product's own text the catalogue misses. Each
//! leftover is printed with its page; `I18N_LEFTOVERS=path` also writes them to a file.

use std::collections::{BTreeMap, BTreeSet};

use rainbownet::auth::Role;
use rainbownet::db::Backend;
use rainbownet::i18n::{EN_SOURCE, JA_SOURCE, Piece, has_japanese, messages};

use crate::dashboards::page_links;
use crate::helpers::*;

/// Pages not crawled: not HTML pages of the product (files, feeds, machine interfaces).
const NOT_PAGES: &[&str] = &[
    "/static/",
    "/api/",
    "/metrics",
    "/health",
    "/portal/feed.atom",
];

/// Attributes a person reads (the rewriter translates the same).
const READ_ATTRIBUTES: &[&str] = &["title", "placeholder", "aria-label", "alt", "label"];

/// How many pages of one role the crawl opens at most (each path pattern once).
const MAX_PAGES: usize = 400;

fn vars(pieces: &[Piece]) -> BTreeSet<String> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v.clone()),
            Piece::Text(_) => None,
        })
        .collect()
}

#[test]
fn x4_issue15_both_catalogues_have_the_same_messages_and_variables() {
    let ja: BTreeMap<String, Vec<Piece>> = messages(JA_SOURCE).into_iter().collect();
    let en: BTreeMap<String, Vec<Piece>> = messages(EN_SOURCE).into_iter().collect();
    assert!(ja.len() > 50, "the Japanese catalogue is the source");
    let only_ja: Vec<&String> = ja.keys().filter(|k| !en.contains_key(*k)).collect();
    let only_en: Vec<&String> = en.keys().filter(|k| !ja.contains_key(*k)).collect();
    assert!(only_ja.is_empty(), "untranslated ids: {only_ja:?}");
    assert!(
        only_en.is_empty(),
        "English ids without a source: {only_en:?}"
    );
    for (id, pieces) in &ja {
        let english = &en[id];
        let text: String = english
            .iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(t.as_str()),
                Piece::Var(_) => None,
            })
            .collect();
        assert!(
            !text.trim().is_empty() || !vars(english).is_empty(),
            "{id}: empty English"
        );
        assert!(
            !has_japanese(&text),
            "{id}: Japanese left in en.ftl: {text}"
        );
        assert_eq!(vars(pieces), vars(english), "{id}: the same variables");
    }
}

/// Every Japanese character of every text column becomes `u` + its code point (distinct values
/// stay distinct, JSON stays JSON).
async fn asciify_data(app: &TestApp) {
    let pool = app.db().pool();
    let columns: Vec<(String, String)> = match app.db().backend() {
        Backend::Sqlite => sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND upper(p.type) LIKE '%TEXT%'",
        ),
        Backend::Postgres => sqlx::query_as(
            "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
               AND c.data_type IN ('text', 'character varying')",
        ),
    }
    .fetch_all(pool)
    .await
    .expect("columns");
    for (table, column) in columns {
        let sql = format!("SELECT DISTINCT {column} FROM {table}");
        let values: Vec<(Option<String>,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .expect("values");
        for (value,) in values {
            let Some(value) = value.filter(|v| has_japanese(v)) else {
                continue;
            };
            let ascii: String = value
                .chars()
                .map(|c| {
                    if has_japanese(&c.to_string()) {
                        format!("u{:x}", c as u32)
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            let sql = format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&ascii)
                .bind(&value)
                .execute(pool)
                .await
                .expect("update");
        }
    }
}

/// The Japanese texts of a page: text nodes and attribute values, except the switch's "日本語".
fn japanese_texts(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let mut out = Vec::new();
    for node in doc.root_element().descendants() {
        if let Some(text) = node.value().as_text() {
            let t = text.trim();
            if has_japanese(t) && t != "日本語" {
                out.push(t.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        } else if let Some(el) = node.value().as_element() {
            let button =
                el.name() == "input" && matches!(el.attr("type"), Some("submit" | "button"));
            for (name, value) in el.attrs() {
                // What a person reads; other values (an option's code, a field's content) are
                // data sent back to the server.
                let read = READ_ATTRIBUTES.contains(&name) || (button && name == "value");
                if read && has_japanese(value) {
                    out.push(format!("@{name}={value}"));
                }
            }
        }
    }
    out
}

/// A page's place in the crawl: its path with numbers as `{n}`, and its query's keys.
fn pattern(href: &str) -> String {
    let (path, query) = href.split_once('?').unwrap_or((href, ""));
    let path: Vec<&str> = path
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                "{n}"
            } else {
                s
            }
        })
        .collect();
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort_unstable();
    format!("{}?{}", path.join("/"), keys.join("&"))
}

/// Opens every page `client` reaches from the menu and the route table; returns the Japanese
/// texts found, each with the first page it was on, and how many pages were read.
async fn crawl(client: &TestClient, role: Role) -> (BTreeMap<String, String>, usize) {
    let mut queue: Vec<String> = vec!["/".into()];
    for rule in rainbownet::startup::routes().rules() {
        if rule.method == "GET" && !rule.path.contains('{') && rule.access.allows(role) {
            queue.push(rule.path.to_string());
        }
    }
    let mut seen = BTreeSet::new();
    let mut found = BTreeMap::new();
    let mut pages = 0;
    while let Some(href) = queue.pop() {
        if NOT_PAGES.iter().any(|p| href.starts_with(p)) || !seen.insert(pattern(&href)) {
            continue;
        }
        if pages >= MAX_PAGES {
            break;
        }
        let res = client.get(&href).await;
        let html_page = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if !html_page {
            continue;
        }
        pages += 1;
        let html = res.text().await.unwrap();
        assert!(
            html.contains("<html lang=\"en\">"),
            "{role:?} {href}: not marked English"
        );
        for text in japanese_texts(&html) {
            found
                .entry(text)
                .or_insert_with(|| format!("{role:?} {href}"));
        }
        queue.extend(page_links(&html));
    }
    (found, pages)
}

async fn choose(client: &TestClient, language: &str) -> reqwest::Response {
    client
        .post_form("/account/language", &[("language", language)])
        .await
}

#[tokio::test]
async fn x4_issue15_every_page_of_every_staff_role_is_in_english() {
    let app = spawn_app_with(|s| s.security.require_totp = false).await;
    let logins = rainbownet::demo::prepare(app.db(), app.now())
        .await
        .expect("demo network");
    rainbownet::demo::prepare_network(&app.state, app.now())
        .await
        .expect("demo documents");
    asciify_data(&app).await;
    let mut leftovers: BTreeMap<String, String> = BTreeMap::new();
    for login in logins.into_iter().filter(|l| l.role.is_staff()) {
        let client = app.client();
        assert_eq!(
            client
                .login(&login.login_id, &login.password)
                .await
                .status(),
            303
        );
        let password = "Kiyosu2026english!";
        let res = client
            .post_form(
                "/account/password",
                &[
                    ("current_password", &login.password),
                    ("new_password", password),
                    ("confirm_password", password),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}: password change", login.login_id);
        assert_eq!(choose(&client, "en").await.status(), 303);
        let (found, pages) = crawl(&client, login.role).await;
        assert!(pages > 5, "{:?}: only {pages} pages crawled", login.role);
        eprintln!("{:?}: {pages} pages in English", login.role);
        for (text, page) in found {
            leftovers.entry(text).or_insert(page);
        }
    }
    if let Ok(path) = std::env::var("I18N_LEFTOVERS") {
        let lines: Vec<String> = leftovers.iter().map(|(t, p)| format!("{t}\t{p}")).collect();
        std::fs::write(path, lines.join("\n")).expect("leftovers file");
    }
    for (text, page) in &leftovers {
        eprintln!("untranslated on {page}: {text}");
    }
    assert!(
        leftovers.is_empty(),
        "{} Japanese texts left on English pages (listed above)",
        leftovers.len()
    );
}

#[tokio::test]
async fn x4_issue15_japanese_stays_for_staff_who_keep_it_and_for_facility_roles() {
    let app = spawn_app_with(|s| s.security.require_totp = false).await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let home = admin.client.get("/").await.text().await.unwrap();
    assert!(home.contains("<html lang=\"ja\">"));
    assert!(home.contains("メニュー"), "Japanese is the default");
    assert!(home.contains("id=\"lang-switch\""), "staff see the switch");
    assert!(home.contains(">English</button>"));
    assert!(
        admin
            .client
            .get("/")
            .await
            .headers()
            .get("x-untranslated")
            .is_none(),
        "a Japanese page never reaches the rewriter"
    );
    // A facility manager has no switch and may not choose English, even by hand.
    let manager = app.login_as(Role::FacilityManager).await;
    let home = manager.client.get("/").await.text().await.unwrap();
    assert!(!home.contains("lang-switch"));
    assert_eq!(choose(&manager.client, "en").await.status(), 403);
    set_language(&app, &manager.login_id, "en").await;
    let home = manager.client.get("/").await.text().await.unwrap();
    assert!(
        home.contains("<html lang=\"ja\">"),
        "a stored 'en' is ignored"
    );
    assert!(home.contains("メニュー"));
    // A value that is no language is refused.
    assert_eq!(choose(&admin.client, "fr").await.status(), 400);
}

#[tokio::test]
async fn x4_issue15_the_choice_of_english_is_audited_and_survives_log_out() {
    let app = spawn_app_with(|s| s.security.require_totp = false).await;
    let admin = app.login_as(Role::SystemOperator).await;
    let res = admin
        .client
        .http
        .post(admin.client.url("/account/language"))
        .header("referer", admin.client.url("/account/sessions"))
        .form(&[
            ("language", "en"),
            ("csrf_token", &admin.client.csrf().await),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/account/sessions", "back to the same page");
    assert_eq!(app.audit_count("account.language_changed").await, 1);
    let page = admin
        .client
        .get("/account/sessions")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains(">Log out<"), "{page}");
    assert!(page.contains("Signed-in devices"));
    assert!(!page.contains("メニュー"));
    assert_eq!(admin.client.post_form("/logout", &[]).await.status(), 303);
    let client = app.client();
    assert_eq!(
        client
            .login(&admin.login_id, &admin.password)
            .await
            .status(),
        303
    );
    let home = client.get("/").await.text().await.unwrap();
    assert!(home.contains("<html lang=\"en\">"), "kept across log-out");
    assert!(home.contains("Dashboard"));
    // Back to Japanese.
    assert_eq!(choose(&client, "ja").await.status(), 303);
    let home = client.get("/").await.text().await.unwrap();
    assert!(home.contains("<html lang=\"ja\">") && home.contains("メニュー"));
    assert_eq!(app.audit_count("account.language_changed").await, 2);
}
