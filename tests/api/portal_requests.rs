//! Change requests from the city (R13.1–R13.3) and the published schedule with its banner
//! (R21.2, R21.3, R10.1), through the HTTP interface.

use rainbownet::audit::Actor;
use rainbownet::auth::Role;
use rainbownet::portal::{self, NewWindow, WindowKind, model};

use crate::helpers::*;
use crate::portal::{body, id_from, spawn_patient_app};

async fn state_of(c: &TestClient, id: &str) -> String {
    let html = body(c, &format!("/portal/requests/{id}")).await;
    let at = html.find("id=\"request-state\">").unwrap() + "id=\"request-state\">".len();
    html[at..at + html[at..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn r13_1_r13_3_a_content_change_is_classified_done_and_its_lead_time_recorded() {
    let app = spawn_patient_app().await;
    let city = app.login_as(Role::ServiceOperator).await;
    let op = app.login_as(Role::SystemOperator).await;
    let res = city
        .client
        .post_form(
            "/portal/requests",
            &[
                ("title", "電話番号の修正"),
                ("body", "ヘルプデスクの番号を更新してください。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = id_from(&location(&res));
    assert_eq!(state_of(&city.client, &id).await, "受付");
    let res = op
        .client
        .post_form(
            &format!("/portal/requests/{id}/classify"),
            &[("kind", "content")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(state_of(&op.client, &id).await, "対応中");
    // The city cannot complete; the operator can.
    let res = city
        .client
        .post_form(&format!("/portal/requests/{id}/complete"), &[])
        .await;
    assert_eq!(res.status(), 403);
    app.advance_minutes(95);
    let res = op
        .client
        .post_form(
            &format!("/portal/requests/{id}/complete"),
            &[("note", "掲載しました")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&city.client, &format!("/portal/requests/{id}")).await;
    assert!(page.contains("id=\"request-state\">完了"));
    assert!(
        page.contains("<span id=\"lead-time\">1時間35分</span>"),
        "time from request to publication"
    );
    assert_eq!(app.count("portal_change_request_events").await, 3);
    assert_eq!(app.audit_count("portal.change_requested").await, 1);
    assert_eq!(
        app.audit_count("portal.change_request_in_progress").await,
        1
    );
    assert_eq!(app.audit_count("portal.change_request_done").await, 1);
    assert!(
        body(&city.client, "/portal/requests")
            .await
            .contains("1時間35分")
    );
}

#[tokio::test]
async fn r13_2_a_design_change_is_discussed_with_the_city_until_agreed_then_done() {
    let app = spawn_app().await;
    let city = app.login_as(Role::ServiceOperator).await;
    let op = app.login_as(Role::SystemOperator).await;
    let res = city
        .client
        .post_form(
            "/portal/requests",
            &[
                ("title", "トップページの構成変更"),
                ("body", "障害情報を最上段に。"),
            ],
        )
        .await;
    let id = id_from(&location(&res));
    let res = op
        .client
        .post_form(
            &format!("/portal/requests/{id}/classify"),
            &[("kind", "design")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(state_of(&city.client, &id).await, "協議中");
    // Not completable before the city agrees.
    let res = op
        .client
        .post_form(&format!("/portal/requests/{id}/complete"), &[])
        .await;
    assert_eq!(res.status(), 409);
    for (who, text) in [
        (&op, "画面案を添付します。"),
        (&city, "案Bでお願いします。"),
    ] {
        let res = who
            .client
            .post_form(
                &format!("/portal/requests/{id}/messages"),
                &[("body", text)],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
    let res = op
        .client
        .post_form(&format!("/portal/requests/{id}/messages"), &[])
        .await;
    assert_eq!(res.status(), 422, "an empty message is refused");
    let res = op
        .client
        .post_form(&format!("/portal/requests/{id}/agree"), &[])
        .await;
    assert_eq!(res.status(), 403, "only the city agrees");
    let res = city
        .client
        .post_form(
            &format!("/portal/requests/{id}/agree"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(state_of(&op.client, &id).await, "合意済");
    let res = op
        .client
        .post_form(&format!("/portal/requests/{id}/complete"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&city.client, &format!("/portal/requests/{id}")).await;
    assert!(page.contains("id=\"request-state\">完了"));
    assert!(page.contains("案Bでお願いします。") && page.contains("画面案を添付します。"));
    assert!(page.contains("協議中 → 合意済") && page.contains("合意済 → 完了"));
    assert_eq!(app.count("portal_change_request_events").await, 4);
    assert_eq!(app.audit_count("portal.change_request_message").await, 2);
    assert_eq!(app.audit_count("portal.change_request_agreed").await, 1);
}

#[tokio::test]
async fn r21_2_r21_3_an_approved_window_is_published_in_advance_and_bannered_during_it() {
    let app = spawn_patient_app().await;
    let city = app.login_as(Role::ServiceOperator).await;
    let user = app.login_as(Role::User).await;
    // Another domain (backups) proposes the window through the public function.
    let now = app.now();
    let mut tx = app.db().begin().await.unwrap();
    let id = portal::schedule_window(
        &mut tx,
        &NewWindow {
            kind: WindowKind::Backup,
            title: "月次バックアップ",
            starts_at: now.plus_minutes(60),
            ends_at: now.plus_minutes(180),
            services: "診療情報の送信・閲覧",
            reason: "月次の全体バックアップ",
            source: "backups",
        },
        &Actor::system("backups"),
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(
        !body(&user.client, "/portal")
            .await
            .contains("月次バックアップ"),
        "not before approval"
    );
    let res = city
        .client
        .post_form(&format!("/portal/schedules/{id}/approve"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("portal.window_approved").await, 1);
    let page = body(&user.client, "/portal").await;
    assert!(page.contains("月次バックアップ"), "published in advance");
    assert!(
        !page.contains("id=\"site-banner\""),
        "no banner before the window"
    );

    app.advance_minutes(61);
    for path in ["/", "/portal", "/account/password"] {
        let page = body(&user.client, path).await;
        assert!(page.contains("id=\"site-banner\""), "banner on {path}");
        assert!(page.contains("月次バックアップ") && page.contains("診療情報の送信・閲覧"));
    }
    assert!(
        body(&app.client(), "/login")
            .await
            .contains("id=\"site-banner\"")
    );
    let res = user.client.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text().await.unwrap().contains("id=\"site-banner\""),
        "error pages too"
    );
    let res = user.client.get("/admin/accounts").await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text().await.unwrap().contains("id=\"site-banner\""),
        "error pages too"
    );

    app.advance_minutes(120);
    assert!(!body(&user.client, "/").await.contains("id=\"site-banner\""));
    assert!(
        !body(&user.client, "/portal")
            .await
            .contains("月次バックアップ")
    );
}

#[tokio::test]
async fn r10_1_operators_propose_windows_in_the_ui_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let s = model::to_local(app.now().plus_minutes(60 * 24));
    let e = model::to_local(app.now().plus_minutes(60 * 48));
    let res = op
        .client
        .post_form(
            "/portal/schedules",
            &[
                ("kind", "power_inspection"),
                ("title", "電源設備点検"),
                ("starts_at", &e),
                ("ends_at", &s),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("終了日時は開始日時より後")
    );
    let res = op
        .client
        .post_form(
            "/portal/schedules",
            &[
                ("kind", "power_inspection"),
                ("title", "電源設備点検"),
                ("starts_at", &s),
                ("ends_at", &e),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = body(&op.client, "/portal/schedules").await;
    assert!(page.contains("電源設備点検") && page.contains("提案中"));
    assert_eq!(app.audit_count("portal.window_proposed").await, 1);
}

/// Defect 8 of issue 15: "設計内容に合意する" stood above the discussion thread and acted on one
/// click. Now it follows the thread and refuses without its check box.
#[tokio::test]
async fn x4_issue15_agreeing_follows_the_thread_and_needs_its_check_box() {
    let app = spawn_app().await;
    let city = app.login_as(Role::ServiceOperator).await;
    let op = app.login_as(Role::SystemOperator).await;
    let res = city
        .client
        .post_form(
            "/portal/requests",
            &[
                ("title", "トップページの構成変更"),
                ("body", "障害情報を最上段に。"),
            ],
        )
        .await;
    let id = id_from(&location(&res));
    op.client
        .post_form(
            &format!("/portal/requests/{id}/classify"),
            &[("kind", "design")],
        )
        .await;
    let page = body(&city.client, &format!("/portal/requests/{id}")).await;
    let thread = page.find("<h2>協議</h2>").expect("thread");
    let agree = page.find("id=\"agree-button\"").expect("agree button");
    assert!(thread < agree, "the agreement comes after the thread");
    assert!(page.contains("name=\"confirm\""));
    let res = city
        .client
        .post_form(&format!("/portal/requests/{id}/agree"), &[])
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(state_of(&op.client, &id).await, "協議中");
    assert_eq!(app.audit_count("portal.change_request_agreed").await, 0);
}
