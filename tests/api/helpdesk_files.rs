//! Issue 15 item 5 (R15.1): files attached to a helpdesk inquiry by the requester and the
//! staff — checked by their first bytes, at most 10 MB, downloaded as attachments under their
//! name with an audit event, hidden from anyone else (and a memo's file from the requester),
//! and kept by the records' purge.

use rainbownet::auth::Role;

use crate::helpers::*;
use crate::multipart::{self, Part, blob_pdfs, referral};
use crate::records::walk;

const PDF: &[u8] = b"%PDF-1.4\n% the error screen\n";

/// Uploads `bytes` as `name` to `{base}/{id}/attachments` (`internal`: the staff's memo box).
pub(crate) async fn upload(
    client: &TestClient,
    path: &str,
    name: &str,
    bytes: &[u8],
    internal: bool,
) -> reqwest::Response {
    let mut parts = Vec::new();
    if internal {
        parts.push(Part::Text("internal", "yes"));
    }
    parts.push(Part::File {
        field: "file",
        name,
        content_type: "application/octet-stream",
        bytes,
    });
    multipart::send(client, path, &parts).await
}

async fn ask(user: &TestUser) -> i64 {
    let res = user
        .client
        .post_form(
            "/support",
            &[
                ("category", "システム利用"),
                ("subject", "画面にエラー"),
                ("content", "エラーの画面を添付します。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    location(&res).rsplit('/').next().unwrap().parse().unwrap()
}

/// The `/…/attachments/N` links of a page.
fn file_links(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.contains("/attachments/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn r15_1_requester_and_staff_attach_files_that_only_those_who_see_the_inquiry_download() {
    let app = spawn_app().await;
    let alice = app.login_as(Role::User).await;
    let other = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = ask(&alice).await;
    let mine = format!("/support/{id}/attachments");
    let staff = format!("/helpdesk/{id}/attachments");

    // The requester attaches a PDF; the staff a text file for them and a memo's screenshot.
    assert_eq!(
        upload(&alice.client, &mine, "エラー画面.pdf", PDF, false)
            .await
            .status(),
        303
    );
    assert_eq!(
        upload(
            &op.client,
            &staff,
            "手順.txt",
            "手順です\n".as_bytes(),
            false
        )
        .await
        .status(),
        303
    );
    let png = b"\x89PNG\r\n\x1a\n internal screenshot";
    assert_eq!(
        upload(&op.client, &staff, "memo.png", png, true)
            .await
            .status(),
        303
    );
    assert_eq!(app.audit_count("helpdesk.attachment_added").await, 3);

    // Listed with their sizes; the memo's file on the staff page only.
    let page = alice
        .client
        .get(&format!("/support/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("エラー画面.pdf") && page.contains("手順.txt"),
        "{page}"
    );
    assert!(page.contains(&format!("（{} B）", PDF.len())), "{page}");
    assert!(
        !page.contains("memo.png"),
        "the memo's file is not shown: {page}"
    );
    let links = file_links(&page);
    assert_eq!(links.len(), 2, "{links:?}");
    let staff_page = op
        .client
        .get(&format!("/helpdesk/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(staff_page.contains("memo.png") && staff_page.contains("（内部メモ）"));
    let staff_links = file_links(&staff_page);
    assert_eq!(staff_links.len(), 3);

    // The requester downloads: an attachment under its name, never sniffed, audited.
    let res = alice.client.get(&links[0]).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert!(
        cd.contains("filename*=UTF-8''%E3%82%A8%E3%83%A9%E3%83%BC%E7%94%BB%E9%9D%A2.pdf"),
        "{cd}"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);
    assert_eq!(app.audit_count("helpdesk.attachment_read").await, 1);
    // The staff download every file, the memo's too.
    for l in &staff_links {
        assert_eq!(op.client.get(l).await.status(), 200, "{l}");
    }

    // The memo's file is not the requester's, even by its number.
    let memo_n = staff_links
        .last()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let res = alice.client.get(&format!("{mine}/{memo_n}")).await;
    assert_eq!(res.status(), 404);
    // Another facility's user sees nothing of it and may not attach to it.
    let n = links[0].rsplit('/').next().unwrap();
    assert_eq!(other.client.get(&format!("{mine}/{n}")).await.status(), 404);
    assert_eq!(
        upload(&other.client, &mine, "x.pdf", PDF, false)
            .await
            .status(),
        404
    );
    // Nor the requester on the staff's path.
    assert_eq!(
        alice.client.get(&format!("{staff}/{n}")).await.status(),
        403
    );
    assert_eq!(app.count("helpdesk_attachments").await, 3);
    assert_eq!(app.audit_count("helpdesk.attachment_read").await, 4);
}

#[tokio::test]
async fn r15_1_too_large_empty_or_other_files_are_refused_with_the_page_kept() {
    let app = spawn_app().await;
    let alice = app.login_as(Role::User).await;
    let id = ask(&alice).await;
    let mine = format!("/support/{id}/attachments");
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(11 * 1024 * 1024, b'x');
    for (name, bytes, why) in [
        (
            "big.pdf",
            big.as_slice(),
            "ファイルが大きすぎます（合わせて 10 MB まで）",
        ),
        ("empty.pdf", b"".as_slice(), "空のファイルは添付できません"),
        (
            "page.html",
            b"<script>alert(1)</script>".as_slice(),
            "添付できるのは PDF",
        ),
        (
            "fake.pdf",
            b"MZ\x90\x00 not a pdf".as_slice(),
            "添付できるのは PDF",
        ),
    ] {
        let res = upload(&alice.client, &mine, name, bytes, false).await;
        assert_eq!(res.status(), 422, "{name}");
        let page = res.text().await.unwrap();
        assert!(page.contains(why), "{name}: {page}");
        // The inquiry's page with its forms, not a bare error.
        assert!(
            page.contains(&format!("action=\"/support/{id}/attachments")),
            "{name}"
        );
    }
    assert_eq!(app.count("helpdesk_attachments").await, 0);
    assert_eq!(app.audit_count("helpdesk.attachment_added").await, 0);
}

#[tokio::test]
async fn r15_1_the_records_purge_keeps_a_blob_a_helpdesk_file_refers_to() {
    let (net, doc) = referral().await;
    let app = &net.app;
    // The document's PDF is also attached to an inquiry (the same blob).
    let pdfs = blob_pdfs(app);
    let alice = app.login_as(Role::User).await;
    let id = ask(&alice).await;
    for pdf in &pdfs {
        let res = upload(
            &alice.client,
            &format!("/support/{id}/attachments"),
            "紹介状.pdf",
            pdf,
            false,
        )
        .await;
        assert_eq!(res.status(), 303);
    }
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
    assert_eq!(
        walk(&app.dir.path().join("blobs")).len(),
        before,
        "no blob was removed"
    );
    let op = app.login_as(Role::SystemOperator).await;
    let page = op
        .client
        .get(&format!("/helpdesk/{id}"))
        .await
        .text()
        .await
        .unwrap();
    for l in file_links(&page) {
        let res = op.client.get(&l).await;
        assert_eq!(res.status(), 200);
        assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));
    }
}
