//! R12.1, R12.5 (issue 15 defects 1, 2, 3, 11) — the credential letters: a letter is made once
//! and a lost one means a new password (reissue with confirmation and a reason), the built-in
//! font and the printing date, processing that redirects to a one-time download, and the CLI
//! that registers facilities and issues a letter. The request helpers are in `requests.rs`.

use rainbownet::auth::Role;

use crate::helpers::*;
use crate::requests::*;

#[tokio::test]
async fn r12_1_a_letter_is_made_once_and_a_lost_one_means_a_new_password() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    request_add(&fm, "清須 花子", "きよす はなこ").await;
    let ids = received_ids(&app).await;
    let first = credentials_in(&pdf_text(&issue(&op, &ids).await.bytes().await.unwrap()));
    // Replaying the same form does not print the password again.
    let again = issue(&op, &ids).await;
    assert_eq!(again.status(), 422);
    assert!(again.text().await.unwrap().contains("すでに処理済"));

    let id: i64 = app.account_id(&first[0].0).await;
    let res = op
        .client
        .post_form(
            &format!("/admin/accounts/{id}/reissue"),
            &[("reason", "封書の紛失（施設から電話）"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let ready = op.client.get(&location(&res)).await.text().await.unwrap();
    let res = op.client.get(&download_link(&ready)).await;
    assert_eq!(res.status(), 200);
    let text = pdf_text(&res.bytes().await.unwrap());
    assert!(text.contains("再発行"));
    let second = credentials_in(&text);
    assert_eq!(second[0].0, first[0].0, "same user ID");
    assert_ne!(second[0].1, first[0].1, "new password");
    assert_eq!(
        app.client().login(&first[0].0, &first[0].1).await.status(),
        401,
        "old password is dead"
    );
    assert_eq!(
        app.client()
            .login(&second[0].0, &second[0].1)
            .await
            .status(),
        303
    );
    assert_eq!(app.audit_count("account.password_reset").await, 1);
}

#[tokio::test]
async fn r12_1_the_cli_registers_facilities_and_issues_a_letter_without_printing_the_password() {
    let app = spawn_app().await;
    let out = app.cli(&[
        "facility",
        "add",
        "--code",
        "2310000007",
        "--name",
        "清須薬局",
        "--kind",
        "薬局",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = app.cli(&[
        "facility",
        "add",
        "--code",
        "2310000008",
        "--name",
        "x",
        "--kind",
        "城",
    ]);
    assert!(!out.status.success());
    let letter = app.dir.path().join("letter.pdf");
    let out = app.cli(&[
        "account",
        "issue",
        "--facility",
        "2310000007",
        "--name",
        "薬 剤子",
        "--kana",
        "くすり ざいこ",
        "--job-type",
        "薬剤師",
        "--letter",
        letter.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let text = pdf_text(&std::fs::read(&letter).unwrap());
    let creds = credentials_in(&text);
    assert_eq!(creds.len(), 1);
    assert!(stdout.contains(&creds[0].0), "prints the user ID");
    assert!(!stdout.contains(&creds[0].1), "never the password");
    assert!(text.contains("清須薬局"));
    assert_eq!(
        app.client().login(&creds[0].0, &creds[0].1).await.status(),
        303
    );
}

fn pdf_info(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("letters.pdf");
    std::fs::write(&path, bytes).expect("write pdf");
    let out = std::process::Command::new("pdfinfo")
        .args(["-isodates"])
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Issue 15, defect 11: with no `[pdf] font_path` the letter is set in the IPAex Gothic built
/// into the binary (no font file is read at all, so a machine without Japanese fonts prints),
/// the PDF carries the day it was printed rather than 1970 (defect 3), and the file is named in
/// Japan time.
#[tokio::test]
async fn r12_1_issue15_letters_print_with_the_built_in_font_dated_the_day_of_printing() {
    let app = spawn_app_with(|s| s.pdf.font_path = None).await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    assert_eq!(
        request_add(&fm, "清須 花子", "きよす はなこ")
            .await
            .status(),
        303
    );
    let res = issue(&op, &received_ids(&app).await).await;
    assert_eq!(res.status(), 200);
    let jst = app
        .now()
        .as_jiff()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").expect("tz"));
    let disposition = res
        .headers()
        .get("content-disposition")
        .expect("disposition")
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        disposition.contains(&format!("letters-{}", jst.strftime("%Y%m%d-%H"))),
        "named in Japan time: {disposition}"
    );
    let pdf = res.bytes().await.expect("pdf");
    assert!(pdf_text(&pdf).contains("利用者IDと初期パスワードのお知らせ"));
    let fonts = pdf_fonts(&pdf);
    assert!(
        fonts.contains("IPAexGothic") && fonts.contains("yes yes yes"),
        "the built-in font, embedded as a subset: {fonts}"
    );
    let info = pdf_info(&pdf);
    let utc_day = app.now().as_jiff().strftime("%Y-%m-%d").to_string();
    let created = info
        .lines()
        .find_map(|l| l.strip_prefix("CreationDate:"))
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    assert!(
        created.starts_with(&utc_day),
        "created {created}, printed {utc_day}: {info}"
    );
}

/// A configured font file that is missing is a clear Japanese message, and nothing is issued
/// (the request stays 受付): the built-in font is used only when none is configured.
#[tokio::test]
async fn r12_1_issue15_a_missing_configured_font_refuses_clearly_and_issues_nothing() {
    let app = spawn_app_with(|s| {
        s.pdf.font_path = Some("/nonexistent/rainbownet-font.ttf".into());
    })
    .await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    request_add(&fm, "清須 花子", "きよす はなこ").await;
    let ids = received_ids(&app).await;
    assert_eq!(ids.len(), 1);
    let res = issue(&op, &ids).await;
    assert_eq!(res.status(), 503);
    let page = res.text().await.expect("page");
    assert!(
        page.contains("封書のフォントが見つからないため発行できません"),
        "{page}"
    );
    assert_eq!(
        received_ids(&app).await,
        ids,
        "still waiting, nothing issued"
    );
}

/// Defect 1 of issue 15: 封書を再発行 acted on one click. Now the list links to a confirmation
/// page, and a POST without a reason or without the check box changes nothing; the reason is
/// kept in the audit event.
#[tokio::test]
async fn x4_issue15_reissue_asks_for_confirmation_and_a_reason() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    request_add(&fm, "清須 花子", "きよす はなこ").await;
    let first = credentials_in(&pdf_text(
        &issue(&op, &received_ids(&app).await)
            .await
            .bytes()
            .await
            .unwrap(),
    ));
    let id: i64 = app.account_id(&first[0].0).await;
    let list = op.client.get("/admin/accounts").await.text().await.unwrap();
    assert!(
        list.contains(&format!("href=\"/admin/accounts/{id}/reissue\"")),
        "the list links to the confirmation page"
    );
    assert!(!list.contains(&format!("action=\"/admin/accounts/{id}/reissue\"")));
    let confirm = op
        .client
        .get(&format!("/admin/accounts/{id}/reissue"))
        .await;
    assert_eq!(confirm.status(), 200);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("清須 花子") && confirm.contains("name=\"reason\""));
    assert!(confirm.contains("name=\"confirm\""));

    let path = format!("/admin/accounts/{id}/reissue");
    for fields in [
        vec![],
        vec![("confirm", "yes")],
        vec![("reason", "紛失"), ("confirm", "")],
    ] {
        let res = op.client.post_form(&path, &fields).await;
        assert_eq!(res.status(), 422, "{fields:?}");
        assert!(res.text().await.unwrap().contains("reissue-error"));
    }
    assert_eq!(app.audit_count("account.password_reset").await, 0);
    assert_eq!(
        app.client().login(&first[0].0, &first[0].1).await.status(),
        303,
        "the password still works"
    );

    let res = op
        .client
        .post_form(&path, &[("reason", "封書の紛失"), ("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.audit_count("account.password_reset").await, 1);
    let details: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'account.letter_issued' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    assert!(details.contains("封書の紛失"), "{details}");
}

/// Defect 2 of issue 15: after 印刷 the browser got the PDF and the list stayed stale. Now
/// processing redirects (303) to the current list with a one-time download link; the processed
/// request no longer offers its check box, and no processing button shows on 処理済.
#[tokio::test]
async fn x4_issue15_processing_redirects_to_a_current_list_with_a_one_time_download() {
    let app = spawn_app().await;
    let fm = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    request_add(&fm, "清須 花子", "きよす はなこ").await;
    let ids = received_ids(&app).await;
    let res = post_issue(&op, &ids).await;
    assert_eq!(res.status(), 303, "a redirect, not the PDF");
    let list = op.client.get(&location(&res)).await.text().await.unwrap();
    assert!(
        !list.contains(&format!("id=\"pick-{}\"", ids[0])),
        "the processed request is no longer offered"
    );
    let link = download_link(&list);
    // While it waits, the database holds neither the token nor the PDF in clear (issue 16: the
    // row is shared by every instance, and goes into backups).
    let token = link.split("t=").nth(1).unwrap().split('&').next().unwrap();
    let (hash, sealed): (String, String) =
        sqlx::query_as("SELECT token_hash, sealed FROM letter_handoffs")
            .fetch_one(app.db().pool())
            .await
            .unwrap();
    assert!(!hash.contains(token) && !sealed.contains(token));
    let body = sealed.split('.').nth(1).expect("nonce.ciphertext");
    let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, body)
        .expect("base64url");
    assert!(
        raw.len() > 1000 && !raw.windows(4).any(|w| w == b"%PDF"),
        "the PDF is stored sealed"
    );
    let pdf = op.client.get(&link).await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(
        pdf.headers().get("content-type").unwrap(),
        "application/pdf"
    );
    assert_eq!(
        credentials_in(&pdf_text(&pdf.bytes().await.unwrap())).len(),
        1
    );
    assert_eq!(op.client.get(&link).await.status(), 410, "once only");
    let other = app.login_as(Role::SystemAdmin).await;
    assert_eq!(other.client.get(&link).await.status(), 410);

    let processed = op
        .client
        .get("/admin/requests?state=processed")
        .await
        .text()
        .await
        .unwrap();
    assert!(processed.contains("清須 花子"));
    assert!(
        !processed.contains("id=\"issue\"") && !processed.contains("/admin/requests/issue"),
        "no processing button on 処理済"
    );
}
