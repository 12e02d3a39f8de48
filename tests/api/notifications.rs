//! Issue 15 item 3 (X.4): notifications on the site and by mail through the outbox. Mails are
//! read from a REAL SMTP server on loopback (`crate::mail::Sink`); without Python's aiosmtpd the
//! mail tests skip, unless RAINBOWNET_REQUIRE_SMTP is set.

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::requests::service::{Handler, issue, reissue};

use crate::helpers::*;
use crate::mail::{Sink, mail_settings, run_job, smtp_available};

async fn text(c: &TestClient, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

/// Saves the notification settings: a mail address and the kinds wanted by mail.
async fn settings(u: &TestUser, email: &str, kinds_on: &[&str]) {
    let mut fields = vec![("email", email)];
    fields.extend(kinds_on.iter().map(|k| (*k, "1")));
    let res = u.client.post_form("/notifications/settings", &fields).await;
    assert_eq!(res.status(), 303, "settings saved");
}

const ALL_KINDS: &[&str] = &[
    "helpdesk.answered",
    "helpdesk.assigned",
    "request.processed",
    "letter.reissued",
    "account.changed",
];

async fn portal_inquiry(u: &TestUser, subject: &str) -> i64 {
    let res = u
        .client
        .post_form(
            "/support",
            &[
                ("category", "システム利用"),
                ("subject", subject),
                ("content", "ログインできません。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    location(&res).rsplit('/').next().unwrap().parse().unwrap()
}

async fn answer(op: &TestUser, id: i64, content: &str, internal: bool) {
    let mut fields = vec![
        ("method", "Webフォーム"),
        ("status", "回答待ち"),
        ("content", content),
    ];
    if internal {
        fields.push(("internal", "1"));
    }
    let res = op
        .client
        .post_form(&format!("/helpdesk/{id}/responses"), &fields)
        .await;
    assert_eq!(res.status(), 303);
}

async fn unread_line(u: &TestUser) -> String {
    let page = text(&u.client, "/notifications").await;
    let start = page.find("id=\"unread-count\"").expect("unread count");
    page[start..].split('<').next().unwrap().to_string()
}

#[tokio::test]
async fn issue15_x4_a_public_answer_notifies_the_requester_on_the_site_and_by_mail_but_a_memo_does_not()
 {
    if !smtp_available() {
        return;
    }
    let sink = Sink::start(0, &[]);
    let app = spawn_app_with(|s| {
        mail_settings(s, sink.port);
        s.server.public_url = "https://rainbow.example.jp/".into();
    })
    .await;
    let user = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    // Every kind is on until the user turns it off.
    let form = text(&user.client, "/notifications/settings").await;
    assert_eq!(form.matches(" checked>").count(), 5, "{form}");
    settings(&user, "hanako@clinic.example.jp", ALL_KINDS).await;
    let id = portal_inquiry(&user, "ログインできない").await;

    answer(&op, id, "内部: パスワード再発行の手順を確認中", true).await;
    assert!(unread_line(&user).await.contains("未読 0 件"));
    assert_eq!(app.count("mail_outbox").await, 0, "no mail for a memo");

    answer(&op, id, "パスワードを再発行しました。", false).await;
    assert!(unread_line(&user).await.contains("未読 1 件"));
    let list = text(&user.client, "/notifications").await;
    assert!(list.contains(&format!(
        "問い合わせ #{id} にヘルプデスクから回答がありました"
    )));
    assert!(list.contains(&format!("href=\"/support/{id}\"")), "{list}");
    let dash = text(&user.client, "/").await;
    assert!(
        dash.contains("未読の通知"),
        "the unread count on the dashboard"
    );

    run_job(&app).await;
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["to"], serde_json::json!(["hanako@clinic.example.jp"]));
    assert!(m["subject"].as_str().unwrap().contains(&format!(
        "問い合わせ #{id} にヘルプデスクから回答がありました"
    )));
    let body = m["body"].as_str().unwrap();
    assert!(body.contains("パスワードを再発行しました。"), "{body}");
    assert!(
        body.contains(&format!("https://rainbow.example.jp/support/{id}")),
        "the full URL: {body}"
    );

    // Marking read: the count drops; someone else's notification is not found.
    let nid: i64 = sqlx::query_scalar("SELECT id FROM notifications ORDER BY id DESC")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let res = op
        .client
        .post_form(&format!("/notifications/{nid}/read"), &[])
        .await;
    assert_eq!(res.status(), 404, "not the operator's");
    let res = user
        .client
        .post_form(&format!("/notifications/{nid}/read"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(unread_line(&user).await.contains("未読 0 件"));
    assert_eq!(app.audit_count("notification.sent").await, 1);
}

#[tokio::test]
async fn issue15_x4_with_mail_turned_off_the_notification_is_on_the_site_only() {
    let app = spawn_app().await;
    let user = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    // Everything but answers by mail.
    settings(&user, "taro@clinic.example.jp", &ALL_KINDS[1..]).await;
    let form = text(&user.client, "/notifications/settings").await;
    assert_eq!(form.matches(" checked>").count(), 4, "the choice is kept");
    let id = portal_inquiry(&user, "画像が出ない").await;
    answer(&op, id, "復旧しました。", false).await;
    assert!(unread_line(&user).await.contains("未読 1 件"));
    assert_eq!(app.count("mail_outbox").await, 0, "no mail");
    // On again: the next answer is mailed too.
    settings(&user, "taro@clinic.example.jp", ALL_KINDS).await;
    answer(&op, id, "念のためご確認ください。", false).await;
    assert_eq!(app.count("mail_outbox").await, 1);
    // A bad address is refused in Japanese, nothing saved.
    let res = user
        .client
        .post_form("/notifications/settings", &[("email", "taro at clinic")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("メールアドレスの形式"));
}

#[tokio::test]
async fn issue15_x4_a_processed_request_and_a_reissued_letter_are_mailed_to_the_facility_manager() {
    if !smtp_available() {
        return;
    }
    let sink = Sink::start(0, &[]);
    let app = spawn_app_with(|s| mail_settings(s, sink.port)).await;
    let fm = app.login_as(Role::FacilityManager).await;
    settings(&fm, "manager@clinic.example.jp", ALL_KINDS).await;
    let res = fm
        .client
        .post_form(
            "/requests",
            &[
                ("kind", "add"),
                ("name", "清須 花子"),
                ("kana", "きよす はなこ"),
                ("job_type", "看護師"),
                ("contact", "内線 21"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let rid: i64 = sqlx::query_scalar("SELECT id FROM account_requests ORDER BY id DESC")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let h = Handler {
        account_id: None,
        actor: Actor::system("test"),
    };
    let letters = issue(app.db(), &[rid], &h, 14, app.now()).await.unwrap();
    let account_id = app.account_id(&letters[0].login_id).await;
    let reason = rainbownet::accounts::Reason::parse("本人がパスワードを忘れたため").unwrap();
    reissue(app.db(), account_id, &reason, &h, 14, app.now())
        .await
        .unwrap();

    let list = text(&fm.client, "/notifications").await;
    assert!(
        list.contains(&format!("利用者申請 #{rid} を処理しました")),
        "{list}"
    );
    assert!(
        list.contains("清須 花子 さんの封書を再発行しました"),
        "{list}"
    );
    run_job(&app).await;
    let got = sink.messages();
    assert_eq!(got.len(), 2, "{got:?}");
    for m in &got {
        assert_eq!(m["to"], serde_json::json!(["manager@clinic.example.jp"]));
        assert!(
            m["body"]
                .as_str()
                .unwrap()
                .contains("http://127.0.0.1:8080/requests"),
            "{m}"
        );
    }
    assert!(got[1]["subject"].as_str().unwrap().contains("再発行"));
}

#[tokio::test]
async fn issue15_x4_staff_are_notified_when_an_inquiry_is_assigned_to_them() {
    if !smtp_available() {
        return;
    }
    let sink = Sink::start(0, &[]);
    let app = spawn_app_with(|s| mail_settings(s, sink.port)).await;
    let lead = app.login_as(Role::SystemAdmin).await;
    let op = app.login_as(Role::SystemOperator).await;
    let op_id = app.account_id(&op.login_id).await;
    let lead_id = app.account_id(&lead.login_id).await;
    settings(&op, "op@rainbow.example.jp", ALL_KINDS).await;
    settings(&lead, "lead@rainbow.example.jp", ALL_KINDS).await;
    let res = lead
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "電話"),
                ("category", "システム利用"),
                ("requester_name", "西 一郎"),
                ("facility_name", "西クリニック"),
                ("subject", "印刷できない"),
                ("content", "紹介状が印刷できません。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id: i64 = location(&res).rsplit('/').next().unwrap().parse().unwrap();
    // Taking it oneself tells nobody.
    let res = lead
        .client
        .post_form(
            &format!("/helpdesk/{id}/assignment"),
            &[("assignee", &lead_id.to_string()), ("priority", "通常")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("notifications").await, 0);
    let res = lead
        .client
        .post_form(
            &format!("/helpdesk/{id}/assignment"),
            &[("assignee", &op_id.to_string()), ("priority", "高")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let list = text(&op.client, "/notifications").await;
    assert!(
        list.contains(&format!("問い合わせ #{id} の担当になりました")),
        "{list}"
    );
    run_job(&app).await;
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["to"], serde_json::json!(["op@rainbow.example.jp"]));
    assert!(got[0]["body"].as_str().unwrap().contains("優先度 高"));
    assert!(
        got[0]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("http://127.0.0.1:8080/helpdesk/{id}"))
    );
    assert_eq!(app.audit_count("helpdesk.assigned").await, 2);
}
