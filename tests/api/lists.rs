//! Global search `/search` (issue 15 item 2, X.4): what each role finds and what it must not.

use rainbownet::auth::Role;

use crate::helpers::spawn_app;

#[tokio::test]
async fn staff_search_finds_facilities_and_accounts_and_takes_wildcards_literally() {
    let app = spawn_app().await;
    app.facility("9900000123").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin.client.get("/search?q=9900000123").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(body.contains("search-facilities"), "facility group shown");
    assert!(
        body.contains("テスト施設9900000123"),
        "facility found by code"
    );
    assert!(body.contains("search-accounts"), "account group shown");
    assert!(!body.contains("search-patients"), "staff read no patients");

    let res = admin
        .client
        .get(&format!("/search?q={}", admin.login_id))
        .await;
    let body = res.text().await.expect("body");
    assert!(body.contains(&admin.login_id), "account found by login ID");

    // `%` is not a wildcard: it matches no facility code or name.
    let body = admin
        .client
        .get("/search?q=%25")
        .await
        .text()
        .await
        .expect("body");
    assert!(!body.contains("テスト施設9900000123"), "% taken literally");
    // An odd sort key is ignored, not a 500.
    let res = admin.client.get("/search?q=99&sort=drop;table").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn facility_user_sees_only_patients_and_the_search_is_audited() {
    let app = spawn_app().await;
    app.facility("9900000123").await;
    let user = app.login_as(Role::User).await;
    let before = app.audit_count("records.patients_searched").await;
    let res = user.client.get("/search?q=9900000123").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("search-patients"),
        "patient group for a reader"
    );
    assert!(
        !body.contains("search-facilities"),
        "no facility admin links"
    );
    assert!(!body.contains("search-accounts"), "no account admin links");
    assert!(!body.contains("テスト施設9900000123"));
    assert_eq!(
        app.audit_count("records.patients_searched").await,
        before + 1
    );
}
