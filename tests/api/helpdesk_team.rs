//! Issue 15 item 5 (R15.2, X.4): the helpdesk for a team — assignee and priority, the response
//! channel defaulting to how the inquiry came, canned replies inserted without JavaScript,
//! merging duplicates, and the list's search, filters, sorting and paging with counts; defect 9
//! (the list breaking words mid-word).

use rainbownet::auth::Role;

use crate::helpdesk::{last_entry, respond};
use crate::helpers::*;

async fn text(c: &TestClient, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

async fn record(op: &TestUser, channel: &str, facility: &str, subject: &str) -> i64 {
    let res = op
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", channel),
                ("category", "システム利用"),
                ("requester_name", "西 一郎"),
                ("facility_name", facility),
                ("subject", subject),
                ("content", "内容です。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{subject}");
    location(&res).rsplit('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn issue15_r15_2_the_response_method_defaults_to_how_the_inquiry_came() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let phone = record(&op, "電話", "西クリニック", "電話の件").await;
    let mail = record(&op, "メール", "西クリニック", "メールの件").await;
    let res = user
        .client
        .post_form(
            "/support",
            &[
                ("category", "システム利用"),
                ("subject", "ポータルの件"),
                ("content", "質問です。"),
            ],
        )
        .await;
    let portal: i64 = location(&res).rsplit('/').next().unwrap().parse().unwrap();
    for (id, method) in [(phone, "電話"), (mail, "メール"), (portal, "Webフォーム")] {
        let page = text(&op.client, &format!("/helpdesk/{id}")).await;
        assert!(
            page.contains(&format!(
                "<option value=\"{method}\" selected>{method}</option>"
            )),
            "#{id} defaults to {method}"
        );
    }
}

#[tokio::test]
async fn issue15_r15_2_assignee_and_priority_are_kept_and_only_helpdesk_staff_can_be_assigned() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let user = app.login_as(Role::User).await;
    let op_id = app.account_id(&op.login_id).await;
    let user_id = app.account_id(&user.login_id).await;
    let id = record(&op, "電話", "西クリニック", "印刷できない").await;
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/assignment"),
            &[("assignee", &user_id.to_string()), ("priority", "高")],
        )
        .await;
    assert_eq!(res.status(), 400, "a user is not helpdesk staff");
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/assignment"),
            &[("assignee", &op_id.to_string()), ("priority", "緊急")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = text(&op.client, &format!("/helpdesk/{id}")).await;
    assert!(
        page.contains("<dd id=\"inquiry-priority\">緊急</dd>"),
        "{page}"
    );
    assert!(page.contains("<dd id=\"inquiry-assignee\">試験 システム運用者</dd>"));
    assert_eq!(app.audit_count("helpdesk.assigned").await, 1);
}

#[tokio::test]
async fn issue15_r15_2_a_canned_reply_is_inserted_into_the_response_form_by_a_plain_get() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = record(&op, "電話", "西クリニック", "パスワード").await;
    let res = op
        .client
        .post_form(
            "/helpdesk/canned",
            &[
                ("title", "パスワード再発行の案内"),
                ("body", "施設管理者から再発行の申請をしてください。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let cid: i64 = sqlx::query_scalar("SELECT id FROM helpdesk_canned_replies")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let page = text(&op.client, &format!("/helpdesk/{id}")).await;
    assert!(
        page.contains("パスワード再発行の案内"),
        "offered in the select"
    );
    let page = text(&op.client, &format!("/helpdesk/{id}?canned={cid}")).await;
    assert!(
        page.contains(
            "name=\"content\" rows=\"5\">施設管理者から再発行の申請をしてください。</textarea>"
        ),
        "{page}"
    );
    // Retiring asks for confirmation and a reason; then it is no longer offered.
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/canned/{cid}/retire"),
            &[("reason", "手順が変わった")],
        )
        .await;
    assert_eq!(res.status(), 422);
    // The refusal stands in that reply's form, with the reason as typed (X.4).
    let html = res.text().await.unwrap();
    let form = &html[html
        .find(&format!("/helpdesk/canned/{cid}/retire"))
        .expect("form")..];
    let form = &form[..form.find("</form>").expect("form end")];
    assert!(form.contains("確認のチェックを入れてください。"), "{form}");
    assert!(form.contains("value=\"手順が変わった\""), "{form}");
    // A new reply without a title: the body typed stays, the reason in the add form.
    let res = op
        .client
        .post_form(
            "/helpdesk/canned",
            &[("title", ""), ("body", "書きかけの本文")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let form = &html[html.find("action=\"/helpdesk/canned\"").expect("add form")..];
    assert!(form.contains("定型文の題名を入力してください。"), "{form}");
    assert!(form.contains(">書きかけの本文</textarea>"), "{form}");
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/canned/{cid}/retire"),
            &[("reason", "手順が変わった"), ("confirm", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = text(&op.client, &format!("/helpdesk/{id}")).await;
    assert!(!page.contains("パスワード再発行の案内"));
    assert_eq!(app.audit_count("helpdesk.canned_retired").await, 1);
}

#[tokio::test]
async fn issue15_r15_2_a_duplicate_is_merged_with_confirmation_and_reason_and_stays_readable() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let kept = record(&op, "電話", "西クリニック", "画像が出ない").await;
    let dup = record(&op, "メール", "西クリニック", "画像が表示されない").await;
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{dup}/responses"),
            &[
                ("method", "メール"),
                ("status", "対応中"),
                ("content", "重複側の記録"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let into = kept.to_string();
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{dup}/merge"),
            &[("into", &into), ("reason", "同じ障害の問い合わせ")],
        )
        .await;
    assert_eq!(res.status(), 422, "no confirmation");
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{dup}/merge"),
            &[("into", &into), ("confirm", "1")],
        )
        .await;
    assert_eq!(res.status(), 422, "no reason");
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{dup}/merge"),
            &[
                ("into", &into),
                ("reason", "同じ障害の問い合わせ"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = text(&op.client, &format!("/helpdesk/{dup}")).await;
    assert!(page.contains("<dd id=\"inquiry-status\">完了"), "{page}");
    assert!(page.contains(&format!(
        "<a href=\"/helpdesk/{kept}\">問い合わせ #{kept}</a> に統合されました"
    )));
    assert!(page.contains("重複側の記録"), "its messages stay readable");
    let page = text(&op.client, &format!("/helpdesk/{kept}")).await;
    assert!(page.contains(&format!("<a href=\"/helpdesk/{dup}\">#{dup}</a>")));
    assert!(page.contains("同じ障害の問い合わせ"));
    // Twice is refused.
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{dup}/merge"),
            &[("into", &into), ("reason", "再度"), ("confirm", "1")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.audit_count("helpdesk.merged").await, 1);
}

#[tokio::test]
async fn issue15_x4_the_inquiry_list_searches_filters_sorts_and_pages_with_counts() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let op_id = app.account_id(&op.login_id).await;
    for i in 0..52 {
        record(&op, "電話", "東病院", &format!("定期の問い合わせ {i}")).await;
    }
    let special = record(&op, "メール", "西クリニック", "100%_特殊な件").await;
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{special}/assignment"),
            &[("assignee", &op_id.to_string()), ("priority", "緊急")],
        )
        .await;
    assert_eq!(res.status(), 303);

    let page = text(&op.client, "/helpdesk").await;
    assert!(page.contains("全 53 件中 1〜50 件"), "counts");
    assert!(page.contains("rel=\"next\""), "a next page");
    let page2 = text(&op.client, "/helpdesk?page=2").await;
    assert!(page2.contains("全 53 件中 51〜53 件"));
    // Search (LIKE wildcards are literal), by number, and filters.
    let hit = text(&op.client, "/helpdesk?q=100%25_").await;
    assert!(
        hit.contains("全 1 件中 1〜1 件") && hit.contains("100%_特殊な件"),
        "{hit}"
    );
    let none = text(&op.client, "/helpdesk?q=%25_x").await;
    assert!(none.contains("該当する問い合わせはありません"));
    let by_no = text(&op.client, &format!("/helpdesk?q=%23{special}")).await;
    assert!(by_no.contains("100%_特殊な件"));
    let mine = text(&op.client, &format!("/helpdesk?assignee={op_id}")).await;
    assert!(mine.contains("全 1 件中"));
    let unassigned = text(&op.client, "/helpdesk?assignee=none").await;
    assert!(unassigned.contains("全 52 件中"));
    let urgent = text(&op.client, "/helpdesk?priority=%E7%B7%8A%E6%80%A5").await;
    assert!(urgent.contains("全 1 件中"));
    let west = text(
        &op.client,
        "/helpdesk?facility=%E8%A5%BF%E3%82%AF%E3%83%AA%E3%83%8B%E3%83%83%E3%82%AF",
    )
    .await;
    assert!(west.contains("全 1 件中"));
    let done = text(&op.client, "/helpdesk?status=%E5%AE%8C%E4%BA%86").await;
    assert!(done.contains("該当する問い合わせはありません"));
    // Sorting by priority puts 緊急 first, and the filters survive in the sort links.
    let sorted = text(&op.client, "/helpdesk?sort=priority&dir=asc").await;
    let first_row = sorted.split("<tbody>").nth(1).unwrap();
    assert!(
        first_row
            .split("</tr>")
            .next()
            .unwrap()
            .contains("100%_特殊な件")
    );
    // Defect 9: only the free-text columns wrap; headers and short cells never break mid-word.
    assert!(page.contains("<td class=\"wrap\">定期の問い合わせ"));
    let css = text(&op.client, "/static/app.css").await;
    assert!(css.contains(
        ".helpdesk-list th, .helpdesk-list td { white-space: nowrap; word-break: keep-all; }"
    ));
}

/// The inquiry numbers of a list page, in the order shown.
fn row_ids(page: &str) -> Vec<i64> {
    let body = page.split("<tbody>").nth(1).unwrap_or("");
    body.split("<td><a href=\"/helpdesk/")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

/// The sort links of the list's column headers (HTML-unescaped).
fn header_links(page: &str) -> Vec<String> {
    page.split("<th scope=\"col\"><a href=\"")
        .skip(1)
        .map(|s| {
            s.split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&")
                .replace("&#38;", "&")
        })
        .collect()
}

/// The `sort` of a list link.
fn sort_key(link: &str) -> &str {
    link.split(['?', '&'])
        .find_map(|p| p.strip_prefix("sort="))
        .unwrap_or("")
}

#[tokio::test]
async fn issue15_x4_every_sortable_column_header_links_to_a_working_sort_that_changes_the_order() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    // Three inquiries that differ in every sortable column: status and priority set apart.
    let first = record(&op, "電話", "東病院", "一件目").await;
    let second = record(&op, "電話", "東病院", "二件目").await;
    let third = record(&op, "電話", "東病院", "三件目").await;
    for (id, priority) in [(first, "低"), (second, "緊急"), (third, "高")] {
        let res = op
            .client
            .post_form(
                &format!("/helpdesk/{id}/assignment"),
                &[("assignee", ""), ("priority", priority)],
            )
            .await;
        assert_eq!(res.status(), 303, "{priority}");
    }
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{second}/responses"),
            &[
                ("method", "電話"),
                ("status", "対応中"),
                ("content", "確認中です。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);

    let page = text(&op.client, "/helpdesk").await;
    let links = header_links(&page);
    let sorts: Vec<&str> = links.iter().map(|l| sort_key(l)).collect();
    assert_eq!(sorts, ["id", "received", "status", "priority"], "{page}");
    for link in &links {
        // The header link gives one order; the same header on that page gives the reverse.
        let once = text(&op.client, link).await;
        let shown = row_ids(&once);
        assert_eq!(shown.len(), 3, "{link}: {once}");
        let again_link = header_links(&once)
            .into_iter()
            .find(|l| sort_key(l) == sort_key(link))
            .unwrap();
        assert_ne!(
            &again_link, link,
            "the current sort's header flips the direction"
        );
        let again = row_ids(&text(&op.client, &again_link).await);
        let mut reversed = shown.clone();
        reversed.reverse();
        assert_eq!(again, reversed, "{link} then {again_link}");
    }
    // The orders follow the column: priority 緊急 → 高 → 低 ascending, numbers by number.
    let by_priority = row_ids(&text(&op.client, "/helpdesk?sort=priority&dir=asc").await);
    assert_eq!(by_priority, [second, third, first]);
    let by_id = row_ids(&text(&op.client, "/helpdesk?sort=id&dir=asc").await);
    assert_eq!(by_id, [first, second, third]);
    let by_status = row_ids(&text(&op.client, "/helpdesk?sort=status&dir=asc").await);
    assert_ne!(
        by_status, by_id,
        "対応中 is not ordered among 受付 by number"
    );
}

/// R15.2, X.4: a refused response shows its error beside the response form (where the user
/// typed), not above the attachment form further up; a refused correction beside its own form.
#[tokio::test]
async fn r15_2_a_refused_response_shows_its_error_beside_the_response_form() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = record(&op, "電話", "西クリニック", "応答の件").await;
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/responses"),
            &[("method", "電話"), ("status", "完了"), ("content", " ")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    let at = |needle: &str| {
        page.find(needle)
            .unwrap_or_else(|| panic!("{needle} in {page}"))
    };
    let error = at("対応内容を入力してください。");
    assert!(page.contains("id=\"response-error\""));
    assert!(
        error > at("/attachments?csrf_token"),
        "not at the attachments"
    );
    assert!(error > at("対応を記録する</h2>"));
    assert!(error < at("/responses?csrf_token"), "just before the form");
    assert!(!page.contains("id=\"attachment-error\""));

    let res = op
        .client
        .post_form(&format!("/helpdesk/{id}/corrections"), &[("content", " ")])
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    let error = page.find("訂正内容を入力してください。").expect("error");
    assert!(
        error > page.find("/corrections\"").expect("form"),
        "in the correction form"
    );
    assert!(!page.contains("id=\"response-error\""));
}

/// R15.2: a refused correction (an entry number that is not a number, or not one of this
/// inquiry's entries) comes back beside the correction form with what was typed — not an error
/// page that loses it — and stores nothing; a valid one is recorded.
#[tokio::test]
async fn r15_2_a_refused_correction_keeps_what_was_typed_beside_its_form() {
    let app = spawn_app().await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = record(&op, "電話", "西クリニック", "訂正の件").await;
    let entries = app.count("helpdesk_entries").await;
    for (number, message) in [
        ("abc", "「記録 #12」の 12 のように数字で入力してください。"),
        ("999999", "訂正する記録が見つかりません。"),
    ] {
        let res = op
            .client
            .post_form(
                &format!("/helpdesk/{id}/corrections"),
                &[
                    ("corrects", number),
                    ("content", "折り返し先は 052-000-0000 でした"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{number}");
        let page = res.text().await.unwrap();
        let error = page
            .find(message)
            .unwrap_or_else(|| panic!("{message} in {page}"));
        let form = page.find("/corrections\"").expect("the correction form");
        assert!(
            error > form,
            "{number}: the error is in the correction form"
        );
        assert!(page.contains("id=\"correction-error\""));
        assert!(
            page.contains(&format!(
                "name=\"corrects\" inputmode=\"numeric\" value=\"{number}\""
            )),
            "{number}: the number typed is kept"
        );
        let kept = page
            .find(">折り返し先は 052-000-0000 でした</textarea>")
            .expect("the text typed is kept");
        assert!(kept > form, "in the correction form, not the response form");
        assert_eq!(
            app.count("helpdesk_entries").await,
            entries,
            "nothing stored"
        );
    }
    respond(&op, id, "対応中", "折り返しました").await;
    let first = last_entry(&app, id).await;
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/corrections"),
            &[
                ("corrects", &format!("#{first}")),
                ("content", "折り返し先の訂正"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("helpdesk_entries").await, entries + 2);
}
