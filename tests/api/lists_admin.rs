//! The administrators' lists (issue 15 item 2, X.4): `/admin/accounts` searched by login ID,
//! name or facility, filtered by role and state, sorted and paged with a count; the row
//! actions stay on the rows.

use rainbownet::auth::Role;

use crate::helpers::{TestApp, TestUser, spawn_app};

async fn page_text(user: &TestUser, path: &str) -> String {
    let res = user.client.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("body")
}

/// Twelve facility users acct-01..acct-12 of the test facility 9900000001.
async fn seed_accounts(app: &TestApp) {
    for n in 1..=12 {
        app.create_account(Role::User, &format!("acct-{n:02}"))
            .await;
    }
}

#[tokio::test]
async fn x4_account_list_is_paged_searched_filtered_and_sorted() {
    let app = spawn_app().await;
    seed_accounts(&app).await;
    let admin = app.login_as(Role::SystemAdmin).await;

    let first = page_text(&admin, "/admin/accounts?role=user&per=10").await;
    assert!(first.contains("全 12 件中 1〜10 件"), "count of the role");
    assert!(first.contains("acct-01") && first.contains("acct-10"));
    assert!(!first.contains("acct-11"), "page 1 stops at 10");
    assert!(
        !first.contains(&admin.login_id),
        "the role filter leaves the administrator out"
    );
    assert!(
        first.contains("role=user&#38;sort=role&#38;dir=asc&#38;per=10&#38;page=2"),
        "the next link keeps the filter"
    );

    let second = page_text(&admin, "/admin/accounts?role=user&per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件"));
    assert!(second.contains("acct-11") && second.contains("acct-12"));
    assert!(!second.contains("acct-01"));

    // Search by login ID, name and facility narrows the list; % is not a wildcard.
    let by_login = page_text(&admin, "/admin/accounts?q=ACCT-0").await;
    assert!(by_login.contains("全 9 件中 1〜9 件"), "acct-01..acct-09");
    let by_name = page_text(
        &admin,
        "/admin/accounts?q=%E3%82%B7%E3%82%B9%E3%83%86%E3%83%A0%E7%AE%A1%E7%90%86%E8%80%85",
    )
    .await;
    assert!(by_name.contains("全 1 件中 1〜1 件") && by_name.contains(&admin.login_id));
    let by_facility = page_text(&admin, "/admin/accounts?q=9900000001&per=50").await;
    assert!(by_facility.contains("全 12 件中 1〜12 件"));
    let none = page_text(&admin, "/admin/accounts?q=%25").await;
    assert!(none.contains("全 0 件") && none.contains("該当するアカウントはありません"));

    // A whitelisted sort reverses; an unknown key or filter value is ignored, not a 500.
    let desc = page_text(
        &admin,
        "/admin/accounts?role=user&per=10&sort=login_id&dir=desc",
    )
    .await;
    assert!(desc.contains("acct-12") && !desc.contains("acct-01"));
    let odd = page_text(
        &admin,
        "/admin/accounts?role=user&per=10&sort=drop;table&dir=sideways&state=odd",
    )
    .await;
    assert!(odd.contains("全 12 件中 1〜10 件") && odd.contains("acct-01"));
    let any_role = page_text(&admin, "/admin/accounts?role=nobody").await;
    assert!(
        any_role.contains(&admin.login_id) && any_role.contains("acct-01"),
        "an unknown role shows every role"
    );
}

#[tokio::test]
async fn x4_account_state_filter_keeps_the_row_actions() {
    let app = spawn_app().await;
    seed_accounts(&app).await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let at = app.now().to_db();
    sqlx::query("UPDATE accounts SET disabled_at = $1 WHERE login_id = 'acct-05'")
        .bind(&at)
        .execute(app.db().pool())
        .await
        .expect("disable");
    sqlx::query(
        "UPDATE accounts SET locked_at = $1, locked_until = '2999-01-01T00:00:00.000Z'
          WHERE login_id = 'acct-06'",
    )
    .bind(&at)
    .execute(app.db().pool())
    .await
    .expect("lock");
    let locked_id = app.account_id("acct-06").await;

    let disabled = page_text(&admin, "/admin/accounts?state=disabled").await;
    assert!(disabled.contains("全 1 件中 1〜1 件") && disabled.contains("acct-05"));
    let locked = page_text(&admin, "/admin/accounts?state=locked").await;
    assert!(locked.contains("全 1 件中 1〜1 件") && locked.contains("acct-06"));
    assert!(
        locked.contains(&format!("/admin/accounts/{locked_id}/unlock")),
        "the unlock button stays on the row"
    );
    assert!(locked.contains(&format!("/admin/accounts/{locked_id}/reissue")));
    let active = page_text(&admin, "/admin/accounts?state=active&role=user").await;
    assert!(active.contains("全 10 件中 1〜10 件"));
    assert!(!active.contains("acct-05") && !active.contains("acct-06"));

    // Unlocking from the filtered list still works and the account leaves the locked filter.
    let res = admin
        .client
        .post_form(&format!("/admin/accounts/{locked_id}/unlock"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let after = page_text(&admin, "/admin/accounts?state=locked").await;
    assert!(after.contains("全 0 件"));
}

#[tokio::test]
async fn x4_facility_list_is_paged_searched_and_sorted() {
    let app = spawn_app().await;
    for n in 1..=12 {
        app.facility(&format!("99000005{n:02}")).await;
    }
    let admin = app.login_as(Role::SystemAdmin).await;

    let all = page_text(&admin, "/admin/facilities?q=99000005&per=10").await;
    assert!(all.contains("全 12 件中 1〜10 件"), "count of the matches");
    assert!(all.contains("テスト施設9900000501") && all.contains("テスト施設9900000510"));
    assert!(!all.contains("テスト施設9900000511"), "page 1 stops at 10");
    assert!(all.contains("rel=\"next\""));
    let second = page_text(&admin, "/admin/facilities?q=99000005&per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件"));
    assert!(second.contains("テスト施設9900000512") && !second.contains("テスト施設9900000501"));

    let one = page_text(&admin, "/admin/facilities?q=%E6%96%BD%E8%A8%AD9900000503").await;
    assert!(one.contains("全 1 件中 1〜1 件"), "by name");
    let none = page_text(&admin, "/admin/facilities?q=%25").await;
    assert!(none.contains("全 0 件") && none.contains("該当する施設はありません"));

    let desc = page_text(
        &admin,
        "/admin/facilities?q=99000005&per=10&sort=code&dir=desc",
    )
    .await;
    assert!(desc.contains("テスト施設9900000512") && !desc.contains("テスト施設9900000501"));
    let odd = page_text(
        &admin,
        "/admin/facilities?q=99000005&per=10&sort=drop;table",
    )
    .await;
    assert!(
        odd.contains("全 12 件中 1〜10 件"),
        "an unknown sort is ignored"
    );
}
