//! X.4 (issue 15 item 9): the administrator's API key form. The facility is typed as its code
//! or its exact name with the active facilities offered as a `<datalist>` (as on
//! `/admin/accounts/new`); an unknown facility is refused in Japanese with the form kept; the
//! list shows keys by facility, use and prefix, not by their raw database id.

use crate::helpers::*;
use rainbownet::auth::Role;

#[tokio::test]
async fn x4_issue15_api_key_form_offers_the_facilities_and_resolves_a_name() {
    let app = spawn_app().await;
    let code = app.facility("2310000077").await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let page = admin
        .client
        .get("/admin/api-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<datalist id=\"facility-list\">"), "{page}");
    assert!(
        page.contains(&format!(
            "<option value=\"{code}\">テスト施設{code}</option>"
        )),
        "{page}"
    );

    // Unknown: 422, a Japanese message, the typed text and use kept, no key.
    let res = admin
        .client
        .post_form(
            "/admin/api-keys",
            &[
                ("facility_code", "どこにもない病院"),
                ("label", "電子カルテ連携"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("施設「どこにもない病院」は登録されていないか"),
        "{body}"
    );
    assert!(body.contains("value=\"どこにもない病院\""), "{body}");
    assert!(body.contains("value=\"電子カルテ連携\""), "{body}");
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(keys, 0);

    // By its exact name: the key is issued to that facility.
    let name = format!("テスト施設{code}");
    let res = admin
        .client
        .post_form(
            "/admin/api-keys",
            &[
                ("facility_code", name.as_str()),
                ("label", "電子カルテ連携"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("新しい API キーを発行しました"), "{body}");
    assert!(
        body.contains(&format!("<td>{name}（{code}）</td>")),
        "{body}"
    );
    assert!(
        !body.contains("<th scope=\"col\">ID</th>"),
        "no raw id column"
    );
}
