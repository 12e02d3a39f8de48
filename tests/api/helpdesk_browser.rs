//! R15.1–R15.3 in a real browser: a user asks at night and is told when the helpdesk opens; an
//! operator answers on Monday (with a file sent along); the clock shows only business time.

use fantoccini::Locator;
use rainbownet::auth::{Role, totp};

use crate::browser::*;
use crate::helpdesk::{jst, spawn_helpdesk_app};

#[tokio::test]
async fn r15_1_r15_3_in_a_real_browser_a_night_inquiry_is_answered_on_monday() {
    if !browser_available() {
        return;
    }
    // Friday 22:00 in Tokyo.
    let app = spawn_helpdesk_app("2026-11-27T22:00:00+09:00").await;
    let user = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    let driver = start_driver().await;
    let b = browser(&driver).await;

    b.goto(&format!("{}/login", app.address)).await.unwrap();
    fill(&b, "#login_id", &user.login_id).await;
    fill(&b, "#password", &user.password).await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/");
    b.goto(&format!("{}/support/new", app.address))
        .await
        .unwrap();
    let notice = b
        .find(Locator::Css("#closed-notice"))
        .await
        .expect("the closed notice")
        .text()
        .await
        .unwrap();
    assert!(notice.contains("営業時間外"), "{notice}");
    assert!(notice.contains("2026年11月30日（月）9:00"), "{notice}");
    screenshot(&b, "helpdesk-01-night-form").await;
    b.find(Locator::Css("#category"))
        .await
        .unwrap()
        .select_by_value("システム利用")
        .await
        .unwrap();
    fill(&b, "#subject", "夜間にログインできない").await;
    fill(&b, "#content", "パスワードを忘れました。").await;
    click_and_wait(&b, "#submit-inquiry").await;
    let here = path(&b).await;
    assert!(here.starts_with("/support/"), "{here}");
    let id = here.trim_start_matches("/support/").to_string();
    let body = b.source().await.unwrap();
    assert!(
        body.contains("次の営業開始 2026年11月30日（月）9:00"),
        "flash"
    );
    click_and_wait(&b, ".who form[action=\"/logout\"] button[type=submit]").await;

    // Monday 10:00 the operator logs in (with TOTP) and answers.
    app.clock.set(jst("2026-11-30T10:00:00+09:00"));
    fill(&b, "#login_id", &op.login_id).await;
    fill(&b, "#password", &op.password).await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/login/totp");
    let secret = op.totp_secret.clone().expect("staff enrolled TOTP");
    fill(&b, "#code", &totp::code_at(&secret, app.now()).unwrap()).await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/");
    assert!(b.source().await.unwrap().contains("ヘルプデスクの未完了"));
    b.goto(&format!("{}/helpdesk/{id}", app.address))
        .await
        .unwrap();
    b.find(Locator::Css("#status"))
        .await
        .unwrap()
        .select_by_value("回答待ち")
        .await
        .unwrap();
    fill(&b, "#response-content", "再発行の手続きを案内しました。").await;
    // The answer carries the procedure as a file, in the same submit (issue 15 item 5).
    let procedure = app.dir.path().join("procedure.pdf");
    std::fs::write(&procedure, b"%PDF-1.4\n% the procedure\n").unwrap();
    b.find(Locator::Css("#response-files"))
        .await
        .unwrap()
        .send_keys(procedure.to_str().unwrap())
        .await
        .unwrap();
    click_and_wait(&b, "#respond").await;
    let answered = b.source().await.unwrap();
    assert!(
        answered.contains(">procedure.pdf</a>"),
        "the file under the answer"
    );
    let first = b
        .find(Locator::Css("#clock-first"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first, "1時間", "the night and the weekend are not counted");
    let status = b
        .find(Locator::Css("#inquiry-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status, "回答待ち");
    screenshot(&b, "helpdesk-02-answered").await;

    // A day of waiting does not count.
    app.clock.set(jst("2026-12-01T10:00:00+09:00"));
    b.refresh().await.unwrap();
    let resolution = b
        .find(Locator::Css("#clock-resolution"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(resolution, "1時間");
    b.close().await.unwrap();
}
