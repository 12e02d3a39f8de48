//! Lists paged, searched and sorted in SQL (X.4, issue 15 item 2), continued from `lists.rs`:
//! the operators' request list `/admin/requests` the portal change requests and schedules.

use rainbownet::auth::Role;

use crate::helpers::{TestApp, spawn_app};
use crate::lists::{page_text, seed_requests};

#[tokio::test]
async fn x4_operator_request_list_is_paged_searched_sorted_and_keeps_the_state_tab() {
    let app = spawn_app().await;
    seed_requests(&app).await;
    let op = app.login_as(Role::SystemOperator).await;

    // Every facility's requests: 12 + 1; waiting first, newest first, ten a page.
    let first = page_text(&op, "/admin/requests?per=10").await;
    assert!(
        first.contains("全 13 件中 1〜10 件"),
        "count over all facilities"
    );
    assert!(first.contains("申請者99") && first.contains("申請者11"));
    assert!(
        !first.contains("申請者12"),
        "rejected ones come after the waiting ones"
    );
    assert!(first.contains("rel=\"next\""));
    let second = page_text(&op, "/admin/requests?per=10&page=2").await;
    assert!(second.contains("全 13 件中 11〜13 件"));
    assert!(second.contains("申請者12") && second.contains("申請者04"));

    // Search by kana, by person name; % is literal.
    let by_kana = page_text(
        &op,
        "/admin/requests?q=%E3%81%97%E3%82%93%E3%81%9B%E3%81%8407",
    )
    .await;
    assert!(by_kana.contains("全 1 件中 1〜1 件") && by_kana.contains("申請者07"));
    let literal = page_text(&op, "/admin/requests?q=%25").await;
    assert!(literal.contains("全 0 件") && literal.contains("該当する申請はありません"));

    // The state tab with paging and search kept in the links; the issue form only there.
    let received = page_text(&op, "/admin/requests?state=received&per=10").await;
    assert!(received.contains("全 10 件中 1〜10 件"));
    let sort = received.find("sort=facility").expect("a sort link");
    let start = received[..sort].rfind("href=").expect("its href");
    let link = received[start..].split('>').next().unwrap_or_default();
    assert!(
        link.contains("state=received"),
        "the tab kept in the sort links: {link}"
    );
    assert!(received.contains("id=\"issue-form\""));
    let rejected = page_text(&op, "/admin/requests?state=rejected").await;
    assert!(rejected.contains("全 3 件中 1〜3 件") && !rejected.contains("申請者05"));
    assert!(
        !rejected.contains("id=\"issue-form\""),
        "no processing on the rejected tab"
    );
    let odd_state = page_text(&op, "/admin/requests?state=drop;table").await;
    assert!(odd_state.contains("全 13 件中"));

    // A whitelisted sort; an unknown one falls back, not a 500.
    let by_state = page_text(&op, "/admin/requests?sort=state&dir=desc&per=10").await;
    assert!(by_state.contains("全 13 件中 1〜10 件"));
    assert!(by_state.contains("申請者12") && by_state.contains("申請者04"));
    assert!(
        !by_state.contains("申請者03"),
        "rejected before received (descending): 3 rejected + the 7 newest received"
    );
    let odd = page_text(&op, "/admin/requests?per=10&sort=drop;table&dir=sideways").await;
    assert!(odd.contains("申請者99") && !odd.contains("申請者12"));

    // A facility manager never reaches the operators' list.
    let fm = app.login_as(Role::FacilityManager).await;
    let res = fm.client.get("/admin/requests").await;
    assert!(res.status().is_client_error(), "{}", res.status());
}

/// Twelve portal change requests 変更依頼01..12 by 依頼者01..12 (body 本文01..12), in order.
async fn seed_change_requests(app: &TestApp) {
    let at = app.now().to_db();
    for n in 1..=12 {
        sqlx::query(
            "INSERT INTO portal_change_requests (title, body, state, requested_by_login,
                requested_by_name, requested_at)
             VALUES ($1, $2, 'submitted', 'city', $3, $4)",
        )
        .bind(format!("変更依頼{n:02}"))
        .bind(format!("本文{n:02}"))
        .bind(format!("依頼者{n:02}"))
        .bind(&at)
        .execute(app.db().pool())
        .await
        .expect("change request");
    }
}

#[tokio::test]
async fn x4_portal_change_requests_are_paged_searched_and_sorted() {
    let app = spawn_app().await;
    seed_change_requests(&app).await;
    let op = app.login_as(Role::SystemOperator).await;

    // Newest first (same time: the higher id), ten a page.
    let first = page_text(&op, "/portal/requests?per=10").await;
    assert!(
        first.contains("全 12 件中 1〜10 件"),
        "the count, not a cap"
    );
    assert!(first.contains("変更依頼12") && first.contains("変更依頼03"));
    assert!(!first.contains("変更依頼02") && first.contains("rel=\"next\""));
    let second = page_text(&op, "/portal/requests?per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件") && second.contains("変更依頼01"));

    // Search by body and by requester; % literal.
    let by_body = page_text(&op, "/portal/requests?q=%E6%9C%AC%E6%96%8707").await;
    assert!(by_body.contains("全 1 件中 1〜1 件") && by_body.contains("変更依頼07"));
    let by_name = page_text(&op, "/portal/requests?q=%E4%BE%9D%E9%A0%BC%E8%80%8511").await;
    assert!(by_name.contains("全 1 件中 1〜1 件") && by_name.contains("変更依頼11"));
    let literal = page_text(&op, "/portal/requests?q=%25").await;
    assert!(literal.contains("全 0 件") && literal.contains("該当する依頼はありません"));

    // A whitelisted sort; an unknown one falls back, not a 500.
    let by_title = page_text(&op, "/portal/requests?per=10&sort=title&dir=asc").await;
    assert!(by_title.contains("変更依頼01") && !by_title.contains("変更依頼12"));
    let odd = page_text(&op, "/portal/requests?per=10&sort=drop;table&dir=up").await;
    assert!(odd.contains("変更依頼12") && !odd.contains("変更依頼02"));
}

/// Twelve proposed windows 保守作業01..12 (reason 理由01..12), all at the same time (the id orders them).
async fn seed_windows(app: &TestApp) {
    for n in 1..=12i64 {
        let start = app.now().to_db();
        sqlx::query(
            "INSERT INTO portal_schedules (kind, title, starts_at, ends_at, services, reason,
                state, source, created_by, created_at)
             VALUES ('maintenance', $1, $2, $2, '全サービス', $3, 'proposed', 'portal', 'op', $2)",
        )
        .bind(format!("保守作業{n:02}"))
        .bind(&start)
        .bind(format!("理由{n:02}"))
        .execute(app.db().pool())
        .await
        .expect("window");
    }
}

#[tokio::test]
async fn x4_portal_schedules_are_paged_searched_and_sorted() {
    let app = spawn_app().await;
    seed_windows(&app).await;
    let op = app.login_as(Role::SystemOperator).await;

    // Latest start first (same start: the higher id), ten a page.
    let first = page_text(&op, "/portal/schedules?per=10").await;
    assert!(
        first.contains("全 12 件中 1〜10 件"),
        "the count, not a cap"
    );
    assert!(first.contains("保守作業12") && first.contains("保守作業03"));
    assert!(!first.contains("保守作業02") && first.contains("rel=\"next\""));
    let second = page_text(&op, "/portal/schedules?per=10&page=2").await;
    assert!(second.contains("全 12 件中 11〜12 件") && second.contains("保守作業01"));

    // Search by reason; % literal.
    let by_reason = page_text(&op, "/portal/schedules?q=%E7%90%86%E7%94%B107").await;
    assert!(by_reason.contains("全 1 件中 1〜1 件") && by_reason.contains("保守作業07"));
    let literal = page_text(&op, "/portal/schedules?q=%25").await;
    assert!(literal.contains("全 0 件") && literal.contains("該当する予定はありません"));

    // A whitelisted sort; an unknown one falls back, not a 500.
    let by_title = page_text(&op, "/portal/schedules?per=10&sort=title&dir=asc").await;
    assert!(by_title.contains("保守作業01") && !by_title.contains("保守作業12"));
    let odd = page_text(&op, "/portal/schedules?per=10&sort=drop;table").await;
    assert!(odd.contains("保守作業12") && !odd.contains("保守作業02"));
}
