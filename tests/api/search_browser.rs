//! X.4 (issue 15, "find and page", and item 10) in a real browser, on the demo network: the search
//! boxes of the administration lists work as a person uses them — type into the box, press Enter,
//! see only the matching rows and their count. At 390 px the page itself never scrolls sideways;
//! the filtered table scrolls inside its own box. The box is styled like the other inputs.

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use rainbownet::auth::Role;

use crate::browser::{
    SIDEWAYS, browser, browser_available, log_in, path, screenshot, start_driver,
};
use crate::helpers::*;

/// Types `text` into the search box `css`, presses Enter and waits for the result page.
async fn search_with_enter(b: &Client, css: &str, text: &str) {
    let old_root = b.find(Locator::Css("html")).await.unwrap();
    let input = b
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} on the page"));
    input.clear().await.unwrap();
    input
        .send_keys(&format!("{text}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    for _ in 0..200 {
        if old_root.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("Enter in {css} loaded no new page");
}

/// The rows of a table, each as its visible text.
async fn rows(b: &Client, table: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tr in b
        .find_all(Locator::Css(&format!("{table} tbody tr")))
        .await
        .unwrap()
    {
        out.push(tr.text().await.unwrap());
    }
    out
}

async fn summary(b: &Client) -> String {
    b.find(Locator::Css(".pager-summary"))
        .await
        .expect("the count above the list")
        .text()
        .await
        .unwrap()
}

/// How far the page scrolls sideways, and whether the table sits in a box that scrolls.
async fn fits(b: &Client, table: &str) -> (i64, bool) {
    let script = format!(
        "const t = document.querySelector(arguments[0]);
         const box = t.closest('.table-wrap');
         return [{SIDEWAYS}, !!box && getComputedStyle(box).overflowX === 'auto'];"
    );
    let v = b
        .execute(&script, vec![serde_json::json!(table)])
        .await
        .unwrap();
    (v[0].as_i64().unwrap(), v[1].as_bool().unwrap())
}

#[tokio::test]
async fn x4_issue15_search_boxes_filter_on_enter_and_fit_390_px() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    rainbownet::demo::prepare(app.db(), app.now())
        .await
        .expect("demo network");
    let admin = app.login_as(Role::SystemAdmin).await;
    let driver = start_driver().await;
    let b = browser(&driver).await;
    b.set_window_size(390, 844).await.unwrap();
    log_in(&b, &app, &admin).await;
    assert_eq!(path(&b).await, "/");

    // Accounts: two of the demo's eight accounts (and the tester's own) start with "demo-op".
    b.goto(&format!("{}/admin/accounts", app.address))
        .await
        .unwrap();
    let all = rows(&b, "#accounts").await;
    assert!(all.len() >= 9, "every account before the search: {all:?}");
    search_with_enter(&b, "#accounts-q", "demo-op").await;
    assert!(path(&b).await.contains("q=demo-op"), "{}", path(&b).await);
    let found = rows(&b, "#accounts").await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().any(|r| r.contains("demo-opsmgr")), "{found:?}");
    assert!(
        found.iter().any(|r| r.contains("demo-operator")),
        "{found:?}"
    );
    assert!(summary(&b).await.starts_with("全 2 件"));
    let value = b
        .find(Locator::Css("#accounts-q"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("demo-op"), "the box keeps the words");
    // The box looks like the other inputs, not the browser's bare 21 px box (defect 6).
    let look = b
        .execute(
            "const s = getComputedStyle(document.querySelector('#accounts-q'));
             return [parseFloat(s.paddingTop), parseFloat(s.borderTopWidth),
                     document.querySelector('#accounts-q').getBoundingClientRect().height];",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        look[0].as_f64().unwrap() >= 4.0 && look[2].as_f64().unwrap() >= 30.0,
        "the search box is styled: padding, height {look}"
    );
    screenshot(&b, "x4-search-accounts-390").await;
    let (over, boxed) = fits(&b, "#accounts").await;
    assert!(over <= 0, "/admin/accounts scrolls sideways by {over} px");
    assert!(boxed, "the account table scrolls inside its own box");

    // A search that finds nothing says so, with a count of 0.
    search_with_enter(&b, "#accounts-q", "存在しない人").await;
    assert!(rows(&b, "#accounts").await.is_empty());
    assert_eq!(summary(&b).await, "全 0 件");
    assert!(
        b.source()
            .await
            .unwrap()
            .contains("該当するアカウントはありません")
    );

    // Facilities: the demo has three; one is a clinic called あおば.
    b.goto(&format!("{}/admin/facilities", app.address))
        .await
        .unwrap();
    assert_eq!(rows(&b, "#facilities").await.len(), 3);
    search_with_enter(&b, "#facilities-q", "あおば").await;
    let found = rows(&b, "#facilities").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("あおば内科クリニック"), "{found:?}");
    assert!(summary(&b).await.starts_with("全 1 件"));
    let (over, boxed) = fits(&b, "#facilities").await;
    assert!(over <= 0, "/admin/facilities scrolls sideways by {over} px");
    assert!(boxed, "the facility table scrolls inside its own box");

    // Requests to process: the demo's two paper requests; one is for 春日 一郎.
    b.goto(&format!("{}/admin/requests", app.address))
        .await
        .unwrap();
    let all = rows(&b, "#admin-requests").await;
    assert_eq!(all.len(), 2, "{all:?}");
    search_with_enter(&b, "#admin-requests-q", "春日").await;
    let found = rows(&b, "#admin-requests").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("春日 一郎"), "{found:?}");
    assert!(summary(&b).await.starts_with("全 1 件"));
    screenshot(&b, "x4-search-requests-390").await;
    let (over, boxed) = fits(&b, "#admin-requests").await;
    assert!(over <= 0, "/admin/requests scrolls sideways by {over} px");
    assert!(boxed, "the request table scrolls inside its own box");
    b.close().await.unwrap();
}
