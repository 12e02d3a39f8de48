//! The portal: badges, scheduled publication and expiry, safe Markdown, revisions, runbooks,
//! the public log-in section and feed. Change requests and schedules: `portal_requests`.

use rainbownet::auth::Role;
use rainbownet::portal::model;

use crate::helpers::*;

/// Sessions that survive the days the clock is advanced in these tests.
pub(crate) async fn spawn_patient_app() -> TestApp {
    spawn_app_with(|s| {
        s.security.session_idle_minutes = 60 * 24 * 30;
        s.security.session_absolute_hours = 24 * 30;
    })
    .await
}

pub(crate) fn id_from(location: &str) -> String {
    location
        .split('/')
        .find(|s| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty())
        .expect("id in the location")
        .to_string()
}

pub(crate) async fn publish(
    c: &TestClient,
    category: &str,
    title: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut fields = vec![
        ("category", category),
        ("title", title),
        ("body", body),
        ("action", "save"),
    ];
    fields.extend_from_slice(extra);
    let res = c.post_form("/portal/manage", &fields).await;
    assert_eq!(res.status(), 303, "announcement saved");
    id_from(&location(&res))
}

pub(crate) async fn body(c: &TestClient, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

/// The `<li>` of the top page that holds `title`.
fn item_of<'a>(html: &'a str, title: &str) -> Option<&'a str> {
    let at = html.find(title)?;
    let start = html[..at].rfind("<li")?;
    let end = at + html[at..].find("</li>")?;
    Some(&html[start..end])
}

#[tokio::test]
async fn r13_4_a_new_item_is_marked_new_and_an_edited_one_updated_with_its_date() {
    let app = spawn_patient_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let published = app.now().jst();
    let id = publish(
        &op.client,
        "notice",
        "年末年始の窓口",
        "12月29日から休みます。",
        &[],
    )
    .await;
    let page = body(&user.client, "/portal").await;
    let li = item_of(&page, "年末年始の窓口").expect("listed");
    assert!(li.contains("新着"), "{li}");
    assert!(!li.contains("更新"));

    // After the badge period nothing is marked; an edit then marks it 更新 with the date.
    app.advance_minutes(8 * 24 * 60);
    let page = body(&user.client, "/portal").await;
    let li = item_of(&page, "年末年始の窓口").unwrap();
    assert!(!li.contains("新着") && !li.contains("badge"), "{li}");
    let res = op
        .client
        .post_form(
            &format!("/portal/manage/{id}"),
            &[
                ("category", "notice"),
                ("title", "年末年始の窓口"),
                ("body", "12月28日から休みます。"),
                ("base_revision", "1"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&user.client, "/portal").await;
    let li = item_of(&page, "年末年始の窓口").unwrap();
    assert!(li.contains(">更新<"), "{li}");
    assert!(li.contains(&format!("{} 更新", app.now().jst())), "{li}");
    assert!(
        li.contains(&published),
        "an edit keeps the publication time: {li}"
    );
    assert_eq!(app.audit_count("portal.announcement_updated").await, 1);

    // The dashboard shows the latest items with the same badge.
    let dash = body(&user.client, "/").await;
    assert!(dash.contains("dashboard-notices") && dash.contains("年末年始の窓口"));
}

#[tokio::test]
async fn r13_4_new_badge_days_are_configurable() {
    let app = spawn_app_with(|s| {
        s.set_section(
            "portal",
            &rainbownet::portal::PortalSettings { new_badge_days: 1 },
        );
        s.security.session_idle_minutes = 60 * 24 * 30;
        s.security.session_absolute_hours = 24 * 30;
    })
    .await;
    let op = app.login_as(Role::SystemOperator).await;
    publish(&op.client, "training", "操作説明会", "本文", &[]).await;
    app.advance_minutes(2 * 24 * 60);
    let page = body(&op.client, "/portal").await;
    assert!(!item_of(&page, "操作説明会").unwrap().contains("新着"));
}

#[tokio::test]
async fn r13_4_a_scheduled_item_appears_only_at_its_time_and_leaves_at_its_expiry() {
    let app = spawn_patient_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let at = model::to_local(app.now().plus_minutes(120));
    let until = model::to_local(app.now().plus_minutes(240));
    let id = publish(
        &op.client,
        "maintenance",
        "予約掲載のお知らせ",
        "本文",
        &[("publish_at", &at), ("expires_at", &until)],
    )
    .await;
    assert!(
        !body(&user.client, "/portal")
            .await
            .contains("予約掲載のお知らせ")
    );
    let res = user
        .client
        .get(&format!("/portal/announcements/{id}"))
        .await;
    assert_eq!(res.status(), 404, "not visible before its time");
    assert!(
        body(&op.client, "/portal/manage")
            .await
            .contains("公開予約")
    );

    app.advance_minutes(121);
    let page = body(&user.client, "/portal").await;
    assert!(
        item_of(&page, "予約掲載のお知らせ")
            .unwrap()
            .contains("新着")
    );
    let res = user
        .client
        .get(&format!("/portal/announcements/{id}"))
        .await;
    assert_eq!(res.status(), 200);

    app.advance_minutes(120);
    assert!(
        !body(&user.client, "/portal")
            .await
            .contains("予約掲載のお知らせ")
    );
    assert!(
        body(&op.client, "/portal/manage")
            .await
            .contains("掲載終了")
    );
}

#[tokio::test]
async fn r13_4_pinned_items_come_first_then_newest_first() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    publish(
        &op.client,
        "notice",
        "固定のお知らせ",
        "本文",
        &[("pinned", "1")],
    )
    .await;
    app.advance_minutes(1);
    publish(&op.client, "notice", "古いお知らせ", "本文", &[]).await;
    app.advance_minutes(1);
    publish(&op.client, "notice", "新しいお知らせ", "本文", &[]).await;
    let page = body(&op.client, "/portal").await;
    let pos = |t: &str| page.find(t).unwrap();
    assert!(pos("固定のお知らせ") < pos("新しいお知らせ"));
    assert!(pos("新しいお知らせ") < pos("古いお知らせ"));
}

#[tokio::test]
async fn markdown_with_script_event_handlers_and_javascript_links_is_rendered_inert() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let md = "**太字**\n\n<script>alert('x')</script>\n\n<img src=\"/static/app.css\" onerror=\"alert(1)\">\n\n<a href=\"#\" onclick=\"alert(2)\">押す</a>\n\n[危険](javascript:alert(3))";
    // Preview renders the same sanitised HTML without saving.
    let res = op
        .client
        .post_form(
            "/portal/manage",
            &[
                ("category", "notice"),
                ("title", "危険な本文"),
                ("body", md),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    // The form echoes the raw text in its textarea; the rendered preview is what must be inert.
    let start = page.find("id=\"preview\"").expect("preview shown");
    let preview = page[start..start + page[start..].find("</section>").unwrap()].to_string();
    assert!(preview.contains("<strong>太字</strong>"));
    assert_eq!(
        app.count("portal_announcements").await,
        0,
        "preview saves nothing"
    );
    let id = publish(
        &op.client,
        "notice",
        "危険な本文",
        md,
        &[("is_public", "1")],
    )
    .await;
    for html in [
        preview,
        body(&op.client, &format!("/portal/announcements/{id}")).await,
        body(&app.client(), "/login").await,
        body(&app.client(), "/portal/feed.atom").await,
    ] {
        assert!(html.contains("太字"));
        assert!(!html.contains("<script>alert"), "no script element");
        assert!(
            !html.contains("&lt;script"),
            "not even as escaped-then-unescaped text"
        );
        assert!(!html.contains("onerror"), "no event handler");
        assert!(!html.contains("onclick"), "no event handler");
        assert!(!html.contains("javascript:"), "no javascript: link");
    }
}

#[tokio::test]
async fn r13_invalid_announcements_are_refused_next_to_the_field_and_stale_edits_conflict() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let res = op
        .client
        .post_form(
            "/portal/manage",
            &[
                ("category", "notice"),
                ("title", ""),
                ("body", "本文"),
                ("publish_at", "あした"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"title-error\"") && html.contains("件名を入力してください"));
    assert!(html.contains("id=\"publish-error\""));
    let id = publish(&op.client, "notice", "版のテスト", "第1版", &[]).await;
    let save = |rev: &'static str, text: &'static str| {
        let c = &op.client;
        let path = format!("/portal/manage/{id}");
        async move {
            c.post_form(
                &path,
                &[
                    ("category", "notice"),
                    ("title", "版のテスト"),
                    ("body", text),
                    ("base_revision", rev),
                    ("action", "save"),
                ],
            )
            .await
        }
    };
    assert_eq!(save("1", "第2版").await.status(), 303);
    let res = save("1", "古い版からの編集").await;
    assert_eq!(
        res.status(),
        409,
        "a save on a stale revision does not overwrite"
    );
    assert!(res.text().await.unwrap().contains("他の人が保存しました"));
}

#[tokio::test]
async fn revisions_keep_who_and_when_and_a_restore_is_a_new_revision() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = publish(&op.client, "notice", "履歴のテスト", "最初の本文", &[]).await;
    for (rev, text) in [("1", "二番目の本文"), ("2", "三番目の本文")] {
        let res = op
            .client
            .post_form(
                &format!("/portal/manage/{id}"),
                &[
                    ("category", "notice"),
                    ("title", "履歴のテスト"),
                    ("body", text),
                    ("base_revision", rev),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
    let res = op
        .client
        .post_form(
            &format!("/portal/manage/{id}/restore"),
            &[("revision", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&op.client, &format!("/portal/manage/{id}/edit")).await;
    assert!(page.contains("第4版（現在）"));
    assert_eq!(
        page.matches("aria-current").count(),
        1,
        "one current menu entry"
    );
    assert!(page.contains("第1版から復元"));
    assert!(page.contains(&op.login_id), "who edited");
    assert!(
        page.contains(">最初の本文</textarea>"),
        "the restored text is current"
    );
    assert_eq!(app.count("portal_revisions").await, 4);
    assert_eq!(app.audit_count("portal.announcement_restored").await, 1);
}

#[tokio::test]
async fn public_items_alone_reach_the_login_page_and_the_atom_feed() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    publish(
        &op.client,
        "failure",
        "公開の障害情報",
        "復旧しました。",
        &[("is_public", "1")],
    )
    .await;
    publish(&op.client, "notice", "職員向けのお知らせ", "内部", &[]).await;
    let later = model::to_local(app.now().plus_minutes(60));
    publish(
        &op.client,
        "notice",
        "未来の公開お知らせ",
        "まだ",
        &[("is_public", "1"), ("publish_at", &later)],
    )
    .await;
    let anon = app.client();
    let login = body(&anon, "/login").await;
    assert!(login.contains("公開の障害情報"));
    assert!(!login.contains("職員向けのお知らせ") && !login.contains("未来の公開お知らせ"));
    let res = anon.get("/portal/feed.atom").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let feed = res.text().await.unwrap();
    assert!(
        feed.starts_with("<?xml") && feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\"")
    );
    assert!(feed.contains("<title>公開の障害情報</title>"));
    assert!(!feed.contains("職員向けのお知らせ") && !feed.contains("未来の公開お知らせ"));
    assert_eq!(
        anon.get("/portal").await.status(),
        303,
        "the top page needs a log-in"
    );
}

#[tokio::test]
async fn r22_3_runbooks_are_versioned_printable_and_for_system_admins_only() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin
        .client
        .post_form(
            "/portal/runbooks",
            &[("title", "日次確認手順"), ("body", "1. 監視画面を開く")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = id_from(&location(&res));
    let path = format!("/portal/runbooks/{id}");
    let res = admin
        .client
        .post_form(
            &path,
            &[
                ("title", "日次確認手順"),
                ("body", "1. 監視画面を開く\n2. 記録する"),
                ("base_revision", "1"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = admin
        .client
        .post_form(&format!("{path}/restore"), &[("revision", "1")])
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&admin.client, &path).await;
    assert!(page.contains("第3版") && page.contains("第1版から復元"));
    assert!(page.contains("print.css"), "printable");
    assert!(
        page.contains("class=\"panel no-print\""),
        "forms left out of print"
    );
    for role in [
        Role::SystemOperator,
        Role::OpsManager,
        Role::ServiceOperator,
        Role::User,
    ] {
        let other = app.login_as(role).await;
        assert_eq!(other.client.get(&path).await.status(), 403, "{role:?}");
    }
    assert_eq!(app.audit_count("portal.runbook_restored").await, 1);
}

#[tokio::test]
async fn mangled_revision_numbers_get_japanese_messages_not_crashes() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = publish(&op.client, "notice", "壊れた版番号", "本文", &[]).await;
    let res = op
        .client
        .post_form(
            &format!("/portal/manage/{id}"),
            &[
                ("category", "notice"),
                ("title", "壊れた版番号"),
                ("body", "変更"),
                ("base_revision", "abc"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("他の人が保存しました"));
    let res = op
        .client
        .post_form(
            &format!("/portal/manage/{id}/restore"),
            &[("revision", "x")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("復元する版を選んでください")
    );
    let res = op
        .client
        .post_form(
            &format!("/portal/manage/{id}/restore"),
            &[("revision", "99")],
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = op.client.get("/portal/manage/not-a-number/edit").await;
    assert!(res.status().is_client_error());
    assert_eq!(app.count("portal_revisions").await, 1, "nothing changed");
}
