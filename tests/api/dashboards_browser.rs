//! X.4 (issue 15, item 10 and defect 9) in a real browser: every role's main pages at 390 px and
//! at 1280 px on the demo network. The page never scrolls sideways (wide tables scroll inside
//! their own box), the words of the header and the menu never break inside (ログアウ/ト), and on
//! a narrow screen the menu folds into one row. Screenshots go to target/screenshots/x4-mobile.

use fantoccini::Client;
use rainbownet::auth::Role;

use crate::browser::{browser, browser_available, log_in, path, start_driver};
use crate::dashboards::page_links;
use crate::helpers::*;

const MEASURE: &str = r#"
const split = [];
for (const el of document.querySelectorAll(
    '.brand-name, .brand-sub, .who > *, .site-nav summary, .site-nav a, .nav-group')) {
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let t = walk.nextNode(); t; t = walk.nextNode()) {
    if (!t.textContent.trim()) continue;
    const r = document.createRange();
    r.selectNodeContents(t);
    const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
    if (tops.size > 1) split.push(t.textContent.trim());
  }
}
// What sticks out of the page (not inside a box that scrolls or clips), for the failure message.
const wide = [];
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.right <= window.innerWidth + 0.5) continue;
  let p = el.parentElement, boxed = false;
  for (; p; p = p.parentElement) {
    if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) { boxed = true; break; }
  }
  if (!boxed && wide.length < 4) {
    wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).trim().replace(/ +/g, '.') : ''));
  }
}
const nav = document.querySelector('.site-nav');
const link = document.querySelector('.site-nav a');
return {
  over: document.documentElement.scrollWidth - window.innerWidth,
  inner: window.innerWidth,
  split: split,
  wide: wide,
  nav_height: nav ? nav.getBoundingClientRect().height : 0,
  menu_shown: link ? link.getBoundingClientRect().height > 0 : false,
};
"#;

async fn measure(b: &Client) -> serde_json::Value {
    b.execute(MEASURE, vec![]).await.expect("measure script")
}

#[tokio::test]
async fn x4_issue15_every_roles_pages_fit_390_and_1280_px_without_broken_words() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    rainbownet::demo::prepare(app.db(), app.now())
        .await
        .expect("demo network");
    rainbownet::demo::prepare_network(&app.state, app.now())
        .await
        .expect("demo documents");
    let driver = start_driver().await;
    let b = browser(&driver).await;
    let shots =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/x4-mobile");
    std::fs::create_dir_all(&shots).unwrap();
    let mut failures = Vec::new();
    for role in Role::ALL {
        let user = app.login_as(role).await;
        let home = user.client.get("/").await.text().await.unwrap();
        let mut pages = vec!["/".to_string()];
        pages.extend(page_links(&home).into_iter().filter(|h| h != "/"));
        b.delete_all_cookies().await.unwrap();
        b.set_window_size(1280, 900).await.unwrap();
        log_in(&b, &app, &user).await;
        assert_eq!(path(&b).await, "/", "{role:?} logged in in the browser");
        for (width, height) in [(390u32, 844u32), (1280, 900)] {
            b.set_window_size(width, height).await.unwrap();
            for (i, page) in pages.iter().enumerate() {
                b.goto(&format!("{}{page}", app.address)).await.unwrap();
                let m = measure(&b).await;
                if i < 3 {
                    let png = b.screenshot().await.unwrap();
                    let name = format!("{}-{width}-{i}.png", role.key());
                    std::fs::write(shots.join(name), png).unwrap();
                }
                let at = format!("{role:?} {page} at {width} px");
                if m["over"].as_f64().unwrap() > 0.0 {
                    failures.push(format!(
                        "{at}: scrolls sideways by {} px ({})",
                        m["over"], m["wide"]
                    ));
                }
                if !m["split"].as_array().unwrap().is_empty() {
                    failures.push(format!("{at}: words broken inside: {}", m["split"]));
                }
                if width == 390 && m["nav_height"].as_f64().unwrap() > 60.0 {
                    failures.push(format!("{at}: the menu takes {} px", m["nav_height"]));
                }
                if width == 1280 && m["menu_shown"] != true {
                    failures.push(format!("{at}: the menu is hidden on a wide screen"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
