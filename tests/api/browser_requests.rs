//! R12.1, R12.2, R12.5 in a real browser: a facility manager requests two users; an operator
//! processes them and gets the letters; a user logs in with the letter's password and must change
//! it; a delete request ends that user's live session.

use fantoccini::Locator;
use rainbownet::auth::Role;

use crate::browser::*;
use crate::helpers::*;
use crate::requests::{credentials_in, pdf_text};

#[tokio::test]
async fn r12_in_a_real_browser_requests_become_letters_and_a_delete_ends_the_session() {
    if !browser_available() {
        return;
    }
    let app = spawn_app().await;
    let (fm_id, fm_otp) = app
        .create_account(Role::FacilityManager, "browser-fm")
        .await;
    let op = app.login_as(Role::SystemOperator).await;
    let driver = start_driver().await;
    let b = browser(&driver).await;

    // The facility manager logs in and asks for two users.
    b.goto(&format!("{}/login", app.address)).await.unwrap();
    fill(&b, "#login_id", &fm_id).await;
    fill(&b, "#password", &fm_otp).await;
    submit(&b).await;
    fill(&b, "#current_password", &fm_otp).await;
    fill(&b, "#new_password", "Facility2026mgr").await;
    fill(&b, "#confirm_password", "Facility2026mgr").await;
    submit(&b).await;
    for (name, kana) in [
        ("清須 花子", "きよす はなこ"),
        ("春日 一郎", "かすが いちろう"),
    ] {
        b.goto(&format!("{}/requests", app.address)).await.unwrap();
        click_and_wait(&b, "#new-add").await;
        fill(&b, "#name", name).await;
        fill(&b, "#kana", kana).await;
        b.find(Locator::Css("#job_type option[value='看護師']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        submit(&b).await;
        assert_eq!(path(&b).await, "/requests");
        assert!(b.source().await.unwrap().contains("を受け付けました"));
    }
    screenshot(&b, "10-facility-requests").await;

    // The operator processes both and gets one PDF with two letters.
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM account_requests ORDER BY id")
        .fetch_all(app.db().pool())
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    let token = op.client.csrf().await;
    let body = format!("csrf_token={token}&ids={}&ids={}", ids[0], ids[1]);
    let res = op
        .client
        .http
        .post(op.client.url("/admin/requests/issue"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let list = op.client.get(&location(&res)).await.text().await.unwrap();
    let at = list.find("/admin/requests/letters/pdf?t=").expect("link");
    let link = list[at..].split('"').next().unwrap().to_string();
    let res = op.client.get(&link).await;
    assert_eq!(res.status(), 200);
    let pdf = res.bytes().await.unwrap();
    let creds = credentials_in(&pdf_text(&pdf));
    assert_eq!(creds.len(), 2);
    std::fs::create_dir_all(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"),
    )
    .unwrap();
    std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/letters.pdf"),
        &pdf,
    )
    .unwrap();

    // The first user logs in with the letter's password and must change it.
    click_and_wait(&b, ".who form[action=\"/logout\"] button[type=submit]").await;
    fill(&b, "#login_id", &creds[0].0).await;
    fill(&b, "#password", &creds[0].1).await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/account/password");
    fill(&b, "#current_password", &creds[0].1).await;
    fill(&b, "#new_password", "Hanako2026nurse").await;
    fill(&b, "#confirm_password", "Hanako2026nurse").await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/");

    // A delete request for that user, processed by the operator, ends the live session.
    let fm = app.client();
    fm.login(&fm_id, "Facility2026mgr").await;
    let user_id: i64 = app.account_id(&creds[0].0).await;
    assert_eq!(
        fm.post_form(
            "/requests",
            &[
                ("kind", "delete"),
                ("target", &user_id.to_string()),
                ("reason", "異動")
            ]
        )
        .await
        .status(),
        303
    );
    let del: i64 = sqlx::query_scalar("SELECT MAX(id) FROM account_requests")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(
        op.client
            .post_form(&format!("/admin/requests/{del}/delete"), &[])
            .await
            .status(),
        303
    );
    b.goto(&format!("{}/", app.address)).await.unwrap();
    assert_eq!(path(&b).await, "/login", "the user's browser is logged out");
    fill(&b, "#login_id", &creds[0].0).await;
    fill(&b, "#password", "Hanako2026nurse").await;
    submit(&b).await;
    assert_eq!(path(&b).await, "/login", "and cannot log in again");
    b.close().await.unwrap();
}
