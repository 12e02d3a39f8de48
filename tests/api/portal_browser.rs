//! The portal in a real browser (Chromium through chromedriver): the city follows a content
//! change and a design change to the end; 新着 / 更新 badges; a scheduled item appears at its
//! time; a maintenance window's banner shows during the window only; hostile Markdown stays inert.

use fantoccini::{Client, Locator};
use rainbownet::audit::Actor;
use rainbownet::auth::{Role, totp};
use rainbownet::portal::{self, NewWindow, WindowKind, model};

use crate::browser::*;
use crate::helpers::*;
use crate::portal::{publish, spawn_patient_app};

async fn text_of(b: &Client, css: &str) -> String {
    b.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} on the page"))
        .text()
        .await
        .unwrap()
}

async fn open(b: &Client, app: &TestApp, p: &str) {
    b.goto(&format!("{}{p}", app.address)).await.unwrap();
}

/// The list item of the top page whose link text is `title`.
async fn item(b: &Client, title: &str) -> Option<String> {
    for li in b.find_all(Locator::Css("li.portal-item")).await.unwrap() {
        let html = li.html(false).await.unwrap();
        if html.contains(title) {
            return Some(html);
        }
    }
    None
}

#[tokio::test]
async fn r13_r21_in_a_real_browser_the_city_follows_changes_and_sees_badges_schedule_and_banner() {
    if !browser_available() {
        return;
    }
    let app = spawn_patient_app().await;
    let city = app.login_as(Role::ServiceOperator).await;
    let op = app.login_as(Role::SystemOperator).await;
    let driver = start_driver().await;
    let b = browser(&driver).await;

    // Log in as the city (password, then a fresh TOTP step).
    open(&b, &app, "/login").await;
    fill(&b, "#login_id", &city.login_id).await;
    fill(&b, "#password", &city.password).await;
    submit(&b).await;
    if let Some(secret) = &city.totp_secret {
        app.advance_minutes(1);
        let code = totp::code_at(secret, app.now()).unwrap();
        fill(&b, "#code", &code).await;
        submit(&b).await;
    }
    assert_eq!(path(&b).await, "/");

    // R13.1–R13.3: two requests through the UI.
    let mut ids = Vec::new();
    for (title, text) in [
        ("お問い合わせ先の修正", "電話番号を変更してください。"),
        (
            "トップページの構成変更",
            "障害情報を最上段に置いてください。",
        ),
    ] {
        open(&b, &app, "/portal/requests/new").await;
        fill(&b, "#title", title).await;
        fill(&b, "#body", text).await;
        submit(&b).await;
        let p = path(&b).await;
        assert!(p.starts_with("/portal/requests/"), "{p}");
        assert_eq!(text_of(&b, "#request-state").await, "受付");
        ids.push(p.trim_start_matches("/portal/requests/").to_string());
    }
    let (content, design) = (&ids[0], &ids[1]);
    let post = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let c = &op.client;
        async move {
            let res = c.post_form(&path, &fields).await;
            assert_eq!(res.status(), 303, "{path}");
        }
    };
    post(
        format!("/portal/requests/{content}/classify"),
        vec![("kind", "content")],
    )
    .await;
    app.advance_minutes(30);
    post(format!("/portal/requests/{content}/complete"), vec![]).await;
    post(
        format!("/portal/requests/{design}/classify"),
        vec![("kind", "design")],
    )
    .await;
    post(
        format!("/portal/requests/{design}/messages"),
        vec![("body", "画面案Aと案Bを用意しました。")],
    )
    .await;

    open(&b, &app, &format!("/portal/requests/{content}")).await;
    assert_eq!(text_of(&b, "#request-state").await, "完了");
    assert!(text_of(&b, "#lead-time").await.ends_with("分"));
    open(&b, &app, &format!("/portal/requests/{design}")).await;
    assert_eq!(text_of(&b, "#request-state").await, "協議中");
    assert!(
        b.source()
            .await
            .unwrap()
            .contains("画面案Aと案Bを用意しました。")
    );
    fill(&b, "#message-body", "案Bでお願いします。").await;
    click_and_wait(&b, "#message-button").await;
    assert!(b.source().await.unwrap().contains("案Bでお願いします。"));
    b.find(Locator::Css("#agree-confirm"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_and_wait(&b, "#agree-button").await;
    assert_eq!(text_of(&b, "#request-state").await, "合意済");
    screenshot(&b, "portal-01-design-agreed").await;
    post(format!("/portal/requests/{design}/complete"), vec![]).await;
    b.refresh().await.unwrap();
    assert_eq!(text_of(&b, "#request-state").await, "完了");

    // R13.4: an old item edited now is 更新 with its date; a new one is 新着; a scheduled one
    // appears only at its time.
    let old = publish(&op.client, "notice", "窓口時間のお知らせ", "9時から", &[]).await;
    app.advance_minutes(8 * 24 * 60);
    publish(
        &op.client,
        "training",
        "操作説明会のご案内",
        "12月10日",
        &[],
    )
    .await;
    let res = op
        .client
        .post_form(
            &format!("/portal/manage/{old}"),
            &[
                ("category", "notice"),
                ("title", "窓口時間のお知らせ"),
                ("body", "8時半から"),
                ("base_revision", "1"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let edited_at = app.now().jst();
    let at = model::to_local(app.now().plus_minutes(60));
    publish(
        &op.client,
        "failure",
        "予約した障害情報",
        "復旧済み",
        &[("publish_at", &at)],
    )
    .await;
    let hostile = "<img src=x onerror=\"document.title='pwned'\">\n\n[押す](javascript:document.title='pwned')";
    let bad = publish(&op.client, "notice", "危険な本文", hostile, &[]).await;

    // R21.2/R21.3: a backup window, proposed by its domain and approved by the city.
    let now = app.now();
    let mut tx = app.db().begin().await.unwrap();
    let win = portal::schedule_window(
        &mut tx,
        &NewWindow {
            kind: WindowKind::Backup,
            title: "月次バックアップ",
            starts_at: now.plus_minutes(30),
            ends_at: now.plus_minutes(90),
            services: "全サービス",
            reason: "月次の全体バックアップ",
            source: "backups",
        },
        &Actor::system("backups"),
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    open(&b, &app, "/portal/schedules").await;
    click_and_wait(
        &b,
        &format!("form[action='/portal/schedules/{win}/approve'] button"),
    )
    .await;

    open(&b, &app, "/portal").await;
    let new_item = item(&b, "操作説明会のご案内")
        .await
        .expect("new item listed");
    assert!(new_item.contains("badge-new") && new_item.contains("新着"));
    let updated = item(&b, "窓口時間のお知らせ")
        .await
        .expect("edited item listed");
    assert!(updated.contains("badge-updated") && updated.contains("更新"));
    assert!(updated.contains(&format!("{edited_at} 更新")), "{updated}");
    assert!(
        item(&b, "予約した障害情報").await.is_none(),
        "not before its time"
    );
    assert!(
        b.source().await.unwrap().contains("月次バックアップ"),
        "published in advance"
    );
    assert!(
        b.find(Locator::Css("#site-banner")).await.is_err(),
        "no banner yet"
    );
    screenshot(&b, "portal-02-badges").await;

    open(&b, &app, &format!("/portal/announcements/{bad}")).await;
    let title = b.execute("return document.title", vec![]).await.unwrap();
    assert_ne!(title.as_str(), Some("pwned"));
    let body = text_of(&b, ".markdown").await;
    assert!(body.contains("押す"));
    for link in b.find_all(Locator::Css(".markdown a")).await.unwrap() {
        let href = link.attr("href").await.unwrap().unwrap_or_default();
        assert!(!href.starts_with("javascript:"), "{href}");
    }

    // Into the window (and past the scheduled item's time): banner on every page.
    app.advance_minutes(61);
    for p in ["/", "/portal", "/portal/requests"] {
        open(&b, &app, p).await;
        let banner = text_of(&b, "#site-banner").await;
        assert!(banner.contains("月次バックアップ"), "{p}: {banner}");
    }
    open(&b, &app, "/portal").await;
    let scheduled = item(&b, "予約した障害情報")
        .await
        .expect("appears at its time");
    assert!(scheduled.contains("新着"));
    screenshot(&b, "portal-03-banner").await;

    // After the window: no banner.
    app.advance_minutes(60);
    b.refresh().await.unwrap();
    assert!(
        b.find(Locator::Css("#site-banner")).await.is_err(),
        "banner gone"
    );
    b.close().await.unwrap();
}
