//! X.4 (issue 15, item 7 and defect 4): honest dashboards. Every role's dashboard and menu link
//! only to pages that role can open, no invented duties are listed, and an error page keeps the
//! menu and the log-out button. Also the small things of item 10 that need no browser: the
//! favicon and the log-in page's link to the public feed.

use rainbownet::auth::Role;

use crate::helpers::*;

/// The site-internal pages a page links to with `<a href="…">` (no static files, no anchors).
pub fn page_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<a ") {
        rest = &rest[i + 3..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(href) = attr(tag, "href") {
            let href = href.replace("&amp;", "&");
            if href.starts_with('/') && !href.starts_with("/static/") && !links.contains(&href) {
                links.push(href);
            }
        }
    }
    links
}

#[tokio::test]
async fn x4_issue15_every_link_on_every_roles_dashboard_and_menu_opens_for_that_role() {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    for role in Role::ALL {
        let user = app.login_as(role).await;
        let home = user.client.get("/").await.text().await.unwrap();
        assert!(
            !home.contains("順次追加"),
            "{role:?}: the dashboard lists duties that do not exist yet"
        );
        let links = page_links(&home);
        assert!(
            links.len() > 3,
            "{role:?}: the dashboard has a menu: {links:?}"
        );
        for href in links {
            let status = user.client.get(&href).await.status();
            if status != 200 {
                failures.push(format!("{role:?} {href} → {status}"));
            }
        }
    }
    assert!(failures.is_empty(), "links that do not open: {failures:#?}");
}

#[tokio::test]
async fn x4_issue15_a_role_without_waiting_work_is_told_so_plainly() {
    let app = spawn_app().await;
    for role in [Role::Committee, Role::KeyManager] {
        let user = app.login_as(role).await;
        let home = user.client.get("/").await.text().await.unwrap();
        assert!(
            home.contains("id=\"dashboard-no-work\""),
            "{role:?}: {home}"
        );
        assert!(home.contains("対応を待っている業務は、現在ありません"));
    }
    // A role with cards does not get the message.
    let admin = app.login_as(Role::SystemAdmin).await;
    let home = admin.client.get("/").await.text().await.unwrap();
    assert!(home.contains("class=\"card "), "{home}");
    assert!(!home.contains("dashboard-no-work"));
}

#[tokio::test]
async fn x4_issue15_the_forbidden_page_keeps_the_menu_and_the_log_out_button() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let res = user.client.get("/admin/accounts").await;
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(page.contains("アクセス権限がありません"), "{page}");
    assert!(
        page.contains("class=\"site-nav\""),
        "menu on the 403 page: {page}"
    );
    assert!(
        page.contains("action=\"/logout\""),
        "log-out on the 403 page"
    );
    assert!(
        form_token(&page).is_some(),
        "the log-out form carries its token"
    );
    assert!(page.contains("問い合わせ番号"), "the request id stays");
    // The log-out button of the error page works.
    assert_eq!(form_token(&page).unwrap(), user.client.csrf().await);
    let res = user.client.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    // Without a session the 404 page is the plain one: no menu, no log-out.
    let anon = app.client();
    let res = anon.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    let page = res.text().await.unwrap();
    assert!(page.contains("ページが見つかりません"));
    assert!(!page.contains("action=\"/logout\""));
}

#[tokio::test]
async fn x4_issue15_favicon_is_served_and_the_log_in_page_links_the_public_feed() {
    let app = spawn_app().await;
    let anon = app.client();
    let res = anon.get("/favicon.ico").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/x-icon");
    let icon = res.bytes().await.unwrap();
    assert_eq!(&icon[..4], &[0, 0, 1, 0], "an ICO header");
    assert!(icon.windows(4).any(|w| w == b"\x89PNG"), "with a PNG image");
    let login = anon.get("/login").await.text().await.unwrap();
    assert!(
        login.contains(
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"きよすレインボーネット お知らせ\" href=\"/portal/feed.atom\">"
        ),
        "{login}"
    );
    assert_eq!(anon.get("/portal/feed.atom").await.status(), 200);
    assert!(login.contains("<link rel=\"icon\" href=\"/favicon.ico\""));
}
