//! Issue 15 item 6 / defect 7 (X.4): no raw detail key, code value, UTC text, API key id or login
//! ID left on the audit log, the access log and the pages that name who acted.

use rainbownet::audit::{self, Actor};
use rainbownet::auth::Role;

use crate::helpers::*;
use crate::logs::{cells, patient_of};

/// Raw detail keys an outside walk found on /audit.
const RAW: &[&str] = &[
    "other_sessions_ended",
    "was_one_time",
    "password_changed",
    "expires_at",
    "apikey:",
    "api_key",
    "T09:48",
];

#[tokio::test]
async fn x4_issue15_audit_details_have_labels_japan_time_and_api_keys_by_name() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    let manager = app.login_as(Role::FacilityManager).await;
    let patient = patient_of(&app, "9900000001").await;
    // An API key issued on the page: its event's target is the key.
    let res = admin
        .client
        .post_form(
            "/admin/api-keys",
            &[("facility_code", "9900000001"), ("label", "電子カルテ連携")],
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let key_id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM api_keys")
        .fetch_one(app.db().pool())
        .await
        .expect("key");
    // The key reads the patient through the API, and an event carries an instant in its details.
    let key_actor = Actor {
        account_id: None,
        login: format!("apikey:{key_id}:9900000001"),
        role: "api_key".into(),
        client_addr: "10.0.0.9".into(),
    };
    let mut tx = app.db().begin().await.expect("tx");
    audit::record(
        &mut tx,
        app.now(),
        &key_actor,
        "records.timeline_read",
        &format!("patient:{patient}"),
        serde_json::json!({"channel": "api", "expires_at": "2026-12-29T09:48:38.723Z"}),
    )
    .await
    .expect("record");
    tx.commit().await.expect("commit");

    let page = page_text(&admin.client, "/audit?per=200").await;
    let texts = cells(&page);
    for t in &texts {
        for raw in RAW {
            assert!(!t.contains(raw), "{raw} shown raw in {t:?}");
        }
    }
    let key = "APIキー「電子カルテ連携」（テスト施設9900000001）";
    assert!(texts.iter().any(|t| t == key), "{key} in {texts:?}");
    // Labels of the password change's details, words for its reason, Japan time.
    assert!(
        page.contains("<dt>一時パスワードだった</dt><dd>はい</dd>"),
        "{page}"
    );
    assert!(page.contains("<dt>ほかのセッションの終了数</dt>"));
    assert!(page.contains("<dt>理由</dt><dd>パスワード変更</dd>"));
    assert!(page.contains("<dt>有効期限</dt><dd>2026-12-29 18:48</dd>"));

    // The facility's access log names the key and says it was the API, not `api_key`.
    let log = page_text(&manager.client, "/records/access-log").await;
    let texts = cells(&log);
    assert!(texts.iter().any(|t| t == key), "{key} in {texts:?}");
    assert!(texts.iter().any(|t| t == "APIキー（外部システム）"));
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("api_key") || t.contains("apikey:"))
    );

    // Who issued the key: the person's name, the login ID only in the title.
    let keys = page_text(&admin.client, "/admin/api-keys").await;
    assert!(keys.contains("（試験 システム管理者）"), "{keys}");
    assert!(keys.contains(&format!("title=\"{}\"", admin.login_id)));
}

/// R15.1 / R17.1, X.4: an incident's correction names the field the way the edit form does
/// (項目 原因), never its code (`cause`), and in English for an administrator who chose it.
#[tokio::test]
async fn x4_r17_1_a_corrected_field_shows_the_form_s_label_on_the_audit_log() {
    let app = spawn_app().await;
    let (admin, id) = crate::incidents::admin_with_incident(&app).await;
    let edit = page_text(&admin.client, &format!("/incidents/{id}/edit")).await;
    let rev = attr(
        &edit[edit.find("name=\"revision\"").expect("revision field")..],
        "value",
    )
    .expect("revision value");
    let mut fields: Vec<(&str, &str)> = crate::incidents::FIELDS.to_vec();
    fields.push(("cause", "disk failure"));
    fields.push(("revision", &rev));
    let res = admin
        .client
        .post_form(&format!("/incidents/{id}"), &fields)
        .await;
    assert_eq!(res.status(), 303);
    let page = page_text(&admin.client, "/audit?action=incident.corrected").await;
    assert!(
        page.contains("項目 原因、新しい値 disk failure"),
        "{}",
        cells(&page).join(" | ")
    );
    assert!(!page.contains("項目 cause"));
    set_language(&app, &admin.login_id, "en").await;
    let page = page_text(&admin.client, "/audit?action=incident.corrected").await;
    assert!(
        page.contains("Field Cause, new value disk failure"),
        "{}",
        cells(&page).join(" | ")
    );
}

/// X.4 (issue 15 item 6): a revoked API key says when and who revoked it, by name as the issuer
/// is, the login ID in the cell's title.
#[tokio::test]
async fn x4_a_revoked_api_key_names_who_revoked_it() {
    let app = spawn_app().await;
    let admin = app.login_as(Role::SystemAdmin).await;
    // The facility manager's log-in registers facility 9900000001.
    app.login_as(Role::FacilityManager).await;
    let res = admin
        .client
        .post_form(
            "/admin/api-keys",
            &[("facility_code", "9900000001"), ("label", "検査連携")],
        )
        .await;
    let status = res.status();
    assert!(status.is_success(), "{}", res.text().await.expect("body"));
    let key_id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM api_keys")
        .fetch_one(app.db().pool())
        .await
        .expect("key");
    let res = admin
        .client
        .post_form(
            &format!("/admin/api-keys/{key_id}/revoke"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = page_text(&admin.client, "/admin/api-keys").await;
    let revoked: Vec<String> = cells(&page)
        .into_iter()
        .filter(|t| t.starts_with("失効（"))
        .collect();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(
        revoked[0].ends_with("、試験 システム管理者）"),
        "{revoked:?}"
    );
    let cell = &page[..page.find(&revoked[0]).expect("cell")];
    let td = &cell[cell.rfind("<td").expect("td")..];
    assert!(
        td.contains(&format!("title=\"{}\"", admin.login_id)),
        "{td}"
    );
}
