//! Issue 15 item 5 (R15.1): files sent with a reply — a staff response, an internal memo, the
//! requester's reply — up to 10 MB, shown under their reply; a memo's files are the staff's; a
//! refused file saves nothing and brings the form back with the typed text; the records' purge
//! keeps a blob that only a reply's file refers to.

use rainbownet::auth::Role;

use crate::helpers::*;
use crate::multipart::{self, Part, blob_pdfs, referral};
use crate::records::walk;

const PDF: &[u8] = b"%PDF-1.4\n% the procedure\n";

/// Posts a multipart form to `path`: the text fields first, then the files as `files` (the
/// order of the page's inputs).
async fn send(
    client: &TestClient,
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> reqwest::Response {
    let mut parts: Vec<Part> = fields.iter().map(|(k, v)| Part::Text(k, v)).collect();
    parts.extend(files.iter().map(|(name, bytes)| Part::File {
        field: "files",
        name,
        content_type: "application/octet-stream",
        bytes,
    }));
    multipart::send(client, path, &parts).await
}

async fn ask(user: &TestUser) -> i64 {
    let res = user
        .client
        .post_form(
            "/support",
            &[
                ("category", "システム利用"),
                ("subject", "紹介状が送れない"),
                ("content", "送信でエラーになります。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    location(&res).rsplit('/').next().unwrap().parse().unwrap()
}

async fn page(user: &TestUser, path: &str) -> String {
    user.client.get(path).await.text().await.unwrap()
}

/// The download link of the file `name` on a page.
fn link_of(page: &str, name: &str) -> Option<String> {
    page.split("<a href=\"")
        .skip(1)
        .find(|s| s.contains(&format!(">{name}</a>")))
        .and_then(|s| s.split('"').next())
        .map(str::to_string)
}

/// Whether the file `name` is listed inside the reply whose text is `content`.
fn under_reply(page: &str, content: &str, name: &str) -> bool {
    page.find(content).is_some_and(|at| {
        let rest = &page[at..];
        let end = rest.find("</li>").unwrap_or(rest.len());
        rest[..end].contains(&format!(">{name}</a>"))
    })
}

/// A PDF of `size` bytes.
fn pdf_of(size: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.7\n".to_vec();
    b.resize(size, b'x');
    b
}

#[tokio::test]
async fn r15_1_a_reply_carries_files_shown_under_it_and_a_memos_files_stay_with_the_staff() {
    let app = spawn_app().await;
    let alice = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = ask(&alice).await;
    let respond = format!("/helpdesk/{id}/responses");

    // The staff answer with a procedure and keep a screenshot in an internal memo.
    let answer = [
        ("method", "Webフォーム"),
        ("status", "回答待ち"),
        ("content", "手順書を添付します。"),
    ];
    let res = send(&op.client, &respond, &answer, &[("手順書.pdf", PDF)]).await;
    assert_eq!(res.status(), 303);
    let memo = [
        ("method", "対応記録"),
        ("status", "回答待ち"),
        ("content", "調査メモ：ログの画面"),
        ("internal", "1"),
    ];
    let png: &[u8] = b"\x89PNG\r\n\x1a\n log screenshot";
    let res = send(&op.client, &respond, &memo, &[("log.png", png)]).await;
    assert_eq!(res.status(), 303);
    // The requester replies with a 5 MB PDF (above the old 2 MB limit).
    let big = pdf_of(5 * 1024 * 1024);
    let reply = [("content", "画面の記録を送ります。")];
    let path = format!("/support/{id}/reply");
    let res = send(&alice.client, &path, &reply, &[("記録.pdf", &big)]).await;
    assert_eq!(res.status(), 303);

    // Each file row names its reply; each upload is audited with it.
    let rows: Vec<(Option<i64>, i64)> = sqlx::query_as(
        "SELECT entry_id, public FROM helpdesk_attachments WHERE inquiry_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|(e, _)| e.is_some()), "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 0, 1]);
    assert_eq!(app.audit_count("helpdesk.attachment_added").await, 3);
    assert_eq!(app.audit_count("helpdesk.response_added").await, 2);
    assert_eq!(app.audit_count("helpdesk.requester_added").await, 1);

    // The requester sees the answer's file under the answer, and not the memo's.
    let mine = page(&alice, &format!("/support/{id}")).await;
    assert!(
        under_reply(&mine, "手順書を添付します。", "手順書.pdf"),
        "{mine}"
    );
    assert!(
        under_reply(&mine, "画面の記録を送ります。", "記録.pdf"),
        "{mine}"
    );
    assert!(mine.contains("5.0 MB"), "{mine}");
    assert!(!mine.contains("log.png"), "{mine}");
    let procedure = link_of(&mine, "手順書.pdf").expect("link");
    let res = alice.client.get(&procedure).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);
    let own = link_of(&mine, "記録.pdf").expect("link");
    let res = alice.client.get(&own).await;
    assert_eq!(res.bytes().await.unwrap().len(), big.len());

    // The staff see all three, the memo's file under the memo, marked as such.
    let staff = page(&op, &format!("/helpdesk/{id}")).await;
    assert!(
        under_reply(&staff, "調査メモ：ログの画面", "log.png"),
        "{staff}"
    );
    assert!(under_reply(&staff, "手順書を添付します。", "手順書.pdf"));
    let memo_link = link_of(&staff, "log.png").expect("memo link");
    assert_eq!(op.client.get(&memo_link).await.status(), 200);
    // The memo's file is 404 for the requester, even by its number.
    let n = memo_link.rsplit('/').next().unwrap();
    let res = alice
        .client
        .get(&format!("/support/{id}/attachments/{n}"))
        .await;
    assert_eq!(res.status(), 404);

    // Another facility's user: the files and the reply form are not found.
    let stranger = app.login_as(Role::User).await;
    app.facility("9900000002").await;
    sqlx::query(
        "UPDATE accounts SET facility_id = (SELECT id FROM facilities WHERE code = '9900000002')
         WHERE login_id = $1",
    )
    .bind(&stranger.login_id)
    .execute(app.db().pool())
    .await
    .unwrap();
    let p_n = procedure.rsplit('/').next().unwrap();
    let res = stranger
        .client
        .get(&format!("/support/{id}/attachments/{p_n}"))
        .await;
    assert_eq!(res.status(), 404);
    let res = send(&stranger.client, &path, &reply, &[("x.pdf", PDF)]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.count("helpdesk_attachments").await, 3);
    // Reads: alice's two, the staff's memo download.
    assert_eq!(app.audit_count("helpdesk.attachment_read").await, 3);
}

#[tokio::test]
async fn r15_1_a_reply_whose_file_is_refused_is_not_saved_and_its_text_comes_back() {
    let app = spawn_app().await;
    let alice = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = ask(&alice).await;
    let entries = app.count("helpdesk_entries").await;

    // 11 MB: refused on the inquiry's page, in Japanese, the text kept.
    let huge = pdf_of(11 * 1024 * 1024);
    let path = format!("/support/{id}/reply");
    let reply = [("content", "大きな資料を送ります。")];
    let res = send(&alice.client, &path, &reply, &[("大きな資料.pdf", &huge)]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("ファイルが大きすぎます（合わせて 10 MB まで）"),
        "{body}"
    );
    assert!(
        body.contains(">大きな資料を送ります。</textarea>"),
        "{body}"
    );

    // A file of another type on a staff response: refused, the response's text kept.
    let respond = format!("/helpdesk/{id}/responses");
    let answer = [
        ("method", "メール"),
        ("status", "対応中"),
        ("content", "確認しました。"),
    ];
    let html: &[u8] = b"<script>alert(1)</script>";
    let res = send(&op.client, &respond, &answer, &[("page.html", html)]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("「page.html」は添付できません"), "{body}");
    assert!(body.contains(">確認しました。</textarea>"), "{body}");
    // And a too-large one on an internal memo: it comes back still a memo, as chosen.
    let memo = [
        ("method", "電話"),
        ("status", "回答待ち"),
        ("content", "確認しました。"),
        ("internal", "1"),
    ];
    let res = send(&op.client, &respond, &memo, &[("big.pdf", &huge)]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("ファイルが大きすぎます"), "{body}");
    assert!(body.contains(">確認しました。</textarea>"), "{body}");
    assert!(
        body.contains("name=\"internal\" value=\"1\" checked"),
        "{body}"
    );
    assert!(
        body.contains("<option value=\"回答待ち\" selected>"),
        "{body}"
    );
    assert!(body.contains("<option value=\"電話\" selected>"), "{body}");

    // Nothing was saved: no reply, no file, no event.
    assert_eq!(app.count("helpdesk_entries").await, entries);
    assert_eq!(app.count("helpdesk_attachments").await, 0);
    assert_eq!(app.audit_count("helpdesk.attachment_added").await, 0);
    assert_eq!(app.audit_count("helpdesk.requester_added").await, 0);
    assert_eq!(app.audit_count("helpdesk.response_added").await, 0);

    // A reply without files is still a plain reply (the form's file input left empty).
    let empty: &[u8] = b"";
    let res = send(&alice.client, &path, &reply, &[("", empty)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("helpdesk_attachments").await, 0);
    assert_eq!(app.audit_count("helpdesk.requester_added").await, 1);
}

#[tokio::test]
async fn r15_1_the_records_purge_keeps_a_blob_only_a_replys_file_refers_to() {
    let (net, doc) = referral().await;
    let app = &net.app;
    let pdfs = blob_pdfs(app);
    // The same PDF goes with a reply (not attached to the inquiry itself).
    let alice = app.login_as(Role::User).await;
    let id = ask(&alice).await;
    let files: Vec<(&str, &[u8])> = pdfs.iter().map(|p| ("紹介状.pdf", p.as_slice())).collect();
    let path = format!("/support/{id}/reply");
    let res = send(&alice.client, &path, &[("content", "紹介状です。")], &files).await;
    assert_eq!(res.status(), 303);
    let before = walk(&app.dir.path().join("blobs")).len();
    app.advance_minutes(370 * 24 * 60);
    let admin = app.login_as(Role::SystemAdmin).await;
    let res = admin
        .client
        .post_form(
            "/admin/records/purge",
            &[("ids", &doc.to_string()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("documents").await, 0, "the document was purged");
    assert_eq!(walk(&app.dir.path().join("blobs")).len(), before);
    // (the requester's session ended in the year that passed: the staff look)
    let op = app.login_as(Role::SystemOperator).await;
    let staff = page(&op, &format!("/helpdesk/{id}")).await;
    assert!(under_reply(&staff, "紹介状です。", "紹介状.pdf"), "{staff}");
    let link = link_of(&staff, "紹介状.pdf").expect("link");
    let res = op.client.get(&link).await;
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));
}

#[tokio::test]
async fn r15_1_a_body_beyond_the_servers_upload_limit_gets_the_japanese_413_page() {
    // `server.max_upload_bytes` bounds what is read at all (16 MiB by default; 1 MiB here).
    let app = spawn_app_with(|s| s.server.max_upload_bytes = 1024 * 1024).await;
    let alice = app.login_as(Role::User).await;
    let id = ask(&alice).await;
    let big = pdf_of(2 * 1024 * 1024);
    let path = format!("/support/{id}/reply");
    let res = send(
        &alice.client,
        &path,
        &[("content", "資料")],
        &[("a.pdf", &big)],
    )
    .await;
    assert_eq!(res.status(), 413);
    let body = res.text().await.unwrap();
    assert!(body.contains("送信内容が大きすぎます"), "{body}");
    assert!(
        body.contains("<html"),
        "a page, not axum's plain text: {body}"
    );
    assert_eq!(app.audit_count("helpdesk.requester_added").await, 0);
}
