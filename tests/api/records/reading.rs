//! Reading: consent scope (API and UI), audited reads, access log, retention and purge.

use rainbownet::auth::Role;
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn x3_a_facility_outside_the_consent_scope_gets_the_404_of_a_missing_document() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[B]))
            .await
            .status(),
        201
    );
    let id = net.accept(A, fixture("referral_57133-1.json")).await;
    let path = format!("/api/fhir/Bundle/{id}");
    assert_eq!(net.get(A, &path).await.status(), 200, "the sender");
    assert_eq!(net.get(B, &path).await.status(), 200, "a facility in scope");
    let (s, msg) = outcome(net.get(C, &path).await).await;
    assert_eq!(
        s, 404,
        "a facility outside the scope: as if there were no such document"
    );
    assert_eq!(msg, format!("Bundle/{id} はありません。"));
    let found: Value = net
        .get(C, "/api/fhir/Bundle?patient=000123")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 0, "search leaves out what C may not read");

    // The same in the UI.
    let b_user = net.person(Role::User, B, "b-user").await;
    let c_user = net.person(Role::User, C, "c-user").await;
    let page = format!("/records/documents/{id}");
    let res = b_user.get(&page).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    for text in [
        "診療情報提供書",
        "紹介目的",
        "精査と加療をお願いいたします",
        "清須 花子",
        "キヨス ハナコ",
        "心電図.pdf",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    assert_eq!(c_user.get(&page).await.status(), 404);
    let res = b_user
        .get(&format!("/records/documents/{id}/attachments/1"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-1.4"));
    assert_eq!(
        c_user
            .get(&format!("/records/documents/{id}/attachments/1"))
            .await
            .status(),
        404
    );

    // Withdrawal: only the sender still reads.
    let mut w = fixture_json("consent_all.json");
    w["status"] = json!("inactive");
    assert_eq!(
        net.send(A, "/api/fhir/Consent", w.to_string())
            .await
            .status(),
        200
    );
    assert_eq!(net.get(B, &path).await.status(), 404);
    assert_eq!(net.get(A, &path).await.status(), 200);
    assert_eq!(b_user.get(&page).await.status(), 404);
    assert!(net.app.audit_count("access.denied").await >= 4);
}

#[tokio::test]
async fn x2_every_read_is_in_the_audit_chain_and_the_facility_manager_sees_it() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let id = net.accept(A, fixture("referral_57133-1.json")).await;
    let b_user = net.person(Role::User, B, "b-reader").await;
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{id}")).await.status(),
        200
    );
    assert_eq!(
        b_user
            .get(&format!("/records/documents/{id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        b_user
            .get(&format!("/records/documents/{id}/attachments/1"))
            .await
            .status(),
        200
    );
    let patients = b_user.get("/records").await.text().await.unwrap();
    assert!(patients.contains("清須 花子"));
    assert_eq!(net.app.audit_count("records.patients_listed").await, 1);
    let patient_id: i64 =
        sqlx::query_scalar::<_, i64>("SELECT patient_id FROM documents WHERE id = $1")
            .bind(id)
            .fetch_one(net.app.db().pool())
            .await
            .unwrap();
    assert_eq!(
        b_user
            .get(&format!("/records/patients/{patient_id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        net.app.audit_count("records.document_read").await,
        2,
        "API and UI"
    );
    assert_eq!(net.app.audit_count("records.attachment_read").await, 1);
    assert_eq!(net.app.audit_count("records.timeline_read").await, 1);
    let scan = b_user
        .get(&format!("/records/patients/{patient_id}/consent/scan"))
        .await;
    assert_eq!(scan.status(), 200);
    assert_eq!(scan.headers()["content-type"], "image/png");
    assert!(scan.bytes().await.unwrap().starts_with(b"\x89PNG"));
    assert_eq!(net.app.audit_count("records.consent_scan_read").await, 1);
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'records.document_read' ORDER BY id",
    )
    .fetch_all(net.app.db().pool())
    .await
    .unwrap();
    assert!(
        details[0].contains("\"channel\":\"api\"") && details[1].contains("\"channel\":\"ui\""),
        "{details:?}"
    );
    let out = net.app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A's facility manager sees who read A's patient.
    let manager = net.person(Role::FacilityManager, A, "a-manager").await;
    let log = manager
        .get("/records/access-log")
        .await
        .text()
        .await
        .unwrap();
    assert!(log.contains("b-reader"), "the UI reader");
    assert!(
        log.contains("APIキー「"),
        "the API reader, by its key's name"
    );
    assert!(log.contains("添付ファイルの取得"));
    // C's manager has no patients of A in their log.
    let other = net.person(Role::FacilityManager, C, "c-manager").await;
    assert!(
        !other
            .get("/records/access-log")
            .await
            .text()
            .await
            .unwrap()
            .contains("b-reader")
    );
}

#[tokio::test]
async fn r22_1_expired_documents_are_listed_daily_and_purged_only_by_an_administrator() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let old = net.accept(A, fixture("referral_57133-1.json")).await;
    net.app.advance_minutes(200 * 24 * 60);
    let recent = net.accept(A, fixture("patient_summary_60591-5.json")).await;
    net.app.advance_minutes(170 * 24 * 60);
    // The daily job lists the expired document and deletes nothing.
    let msg = rainbownet::records::review_expired(&net.app.state, net.app.now())
        .await
        .unwrap();
    assert!(msg.contains("1 件"), "{msg}");
    assert_eq!(net.app.count("documents").await, 2);
    let admin = net.app.login_as(Role::SystemAdmin).await;
    let page = admin
        .client
        .get("/admin/records/retention")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("<td>{old}</td>")) && !page.contains(&format!("<td>{recent}</td>"))
    );
    let res = admin
        .client
        .post_form("/admin/records/purge", &[("ids", &old.to_string())])
        .await;
    assert_eq!(res.status(), 422, "not confirmed");
    assert_eq!(net.app.count("documents").await, 2);
    // The recent one is not expired: it survives even if named.
    let ids = format!("{old},{recent}");
    let res = admin
        .client
        .post_form("/admin/records/purge", &[("ids", &ids), ("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(net.app.count("documents").await, 1);
    assert_eq!(net.app.count("document_tombstones").await, 1);
    let (hash, by): (String, String) = sqlx::query_as(
        "SELECT content_hash, purged_by FROM document_tombstones WHERE document_id = $1",
    )
    .bind(old)
    .fetch_one(net.app.db().pool())
    .await
    .unwrap();
    assert_eq!(hash.len(), 64);
    assert!(by.starts_with("t-systemadmin"), "{by}");
    assert_eq!(
        walk(&net.app.dir.path().join("blobs")).len(),
        1,
        "the PDF is gone, the consent scan stays"
    );
    assert_eq!(net.app.audit_count("records.purged").await, 1);
    assert_eq!(
        net.get(A, &format!("/api/fhir/Bundle/{old}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn x3_a_facility_manager_registers_a_patient_with_consent_and_records_withdrawal() {
    let net = network().await;
    let m = net.person(Role::FacilityManager, A, "a-admin").await;
    let res = m.post_form("/records/patients", &[("local_id", "")]).await;
    assert_eq!(res.status(), 422);
    let res = m
        .post_form(
            "/records/patients",
            &[
                ("local_id", "000123"),
                ("name", "清須 花子"),
                ("kana", "キヨス ハナコ"),
                ("birth_date", "1948-03-12"),
                ("gender", "female"),
                ("signed_on", "2026-04-01"),
                ("scope", "listed"),
                ("facilities", B),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let patient = location(&res);
    // The facility system can now send without a Consent of its own.
    let id = net.accept(A, fixture("referral_57133-1.json")).await;
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{id}")).await.status(),
        200
    );
    assert_eq!(
        net.get(C, &format!("/api/fhir/Bundle/{id}")).await.status(),
        404
    );
    let res = m
        .post_form(&format!("{patient}/consent/withdraw"), &[])
        .await;
    assert_eq!(res.status(), 400, "not confirmed");
    let res = m
        .post_form(
            &format!("{patient}/consent/withdraw"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{id}")).await.status(),
        404
    );
    let (s, _) = outcome(
        net.send(
            A,
            "/api/fhir/Bundle",
            fixture("discharge_summary_18842-5.json"),
        )
        .await,
    )
    .await;
    assert_eq!(s, 422, "no new documents after withdrawal");
}

#[tokio::test]
async fn x3_narrative_is_sanitised_and_collections_are_shown_in_japanese() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let mut b = fixture_json("referral_57133-1.json");
    b["entry"][0]["resource"]["section"][1]["text"]["div"] = json!(
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p style=\"color:red\" onclick=\"steal()\">精査のお願い</p><script>alert('x')</script><img src=\"x\" onerror=\"steal()\"></div>"
    );
    let referral = net.accept(A, b.to_string()).await;
    let collection = net.accept(A, fixture("collection_clins.json")).await;
    let user = net.person(Role::User, B, "b-nurse").await;
    let html = user
        .get(&format!("/records/documents/{referral}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("精査のお願い"));
    for bad in ["<script>alert", "onclick=", "onerror=", "color:red"] {
        assert!(!html.contains(bad), "{bad} survived sanitising");
    }
    let html = user
        .get(&format!("/records/documents/{collection}"))
        .await
        .text()
        .await
        .unwrap();
    for text in [
        "傷病名",
        "高血圧症",
        "アレルギー",
        "造影剤（ヨード）",
        "検査結果",
        "142 mg/dL",
        "処方",
        "アムロジピン錠5mg",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
}

/// The patient list (`/records`, `repo::visible_patients`, rewritten for a prefecture's size in
/// issue 16): a facility sees the patients it holds a local ID for or that a consent in force
/// covers, and no others; a withdrawal takes the patient off a covered facility's list.
#[tokio::test]
async fn x3_the_patient_list_shows_linked_and_consented_patients_only() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[B]))
            .await
            .status(),
        201
    );
    let a_user = net.person(Role::User, A, "a-list").await;
    let b_user = net.person(Role::User, B, "b-list").await;
    let c_user = net.person(Role::User, C, "c-list").await;
    async fn list(u: &TestClient) -> String {
        u.get("/records").await.text().await.expect("page")
    }
    assert!(
        list(&a_user).await.contains("清須 花子"),
        "linked (the sender)"
    );
    assert!(
        list(&b_user).await.contains("清須 花子"),
        "listed in the consent"
    );
    assert!(
        !list(&c_user).await.contains("清須 花子"),
        "neither linked nor in the scope"
    );
    let mut w = fixture_json("consent_all.json");
    w["status"] = json!("inactive");
    assert_eq!(
        net.send(A, "/api/fhir/Consent", w.to_string())
            .await
            .status(),
        200
    );
    assert!(
        !list(&b_user).await.contains("清須 花子"),
        "consent withdrawn"
    );
    assert!(
        list(&a_user).await.contains("清須 花子"),
        "the sender still holds its local ID"
    );
}

/// Issue 15, defect 6: the registration form does not guess the sex (a wrong one would make every
/// later document a patient mismatch, R21.1), speaks of no API path to a clinic manager, types its
/// text inputs; the API-key page says when no key exists.
#[tokio::test]
async fn x4_issue15_r21_1_the_patient_form_has_no_default_sex_and_no_api_path() {
    let net = network().await;
    let m = net.person(Role::FacilityManager, A, "a-admin").await;
    let form = m.get("/records/patients/new").await.text().await.unwrap();
    assert!(form.contains(r#"<option value="" selected>選んでください</option>"#));
    assert!(
        !form.contains("/api/fhir"),
        "no API path for a clinic manager"
    );
    let untyped: Vec<&str> = form
        .split("<input")
        .skip(1)
        .map(|t| &t[..t.find('>').unwrap_or(t.len())])
        .filter(|t| !t.contains("type="))
        .collect();
    assert!(
        untyped.is_empty(),
        "every input says its type (text inputs are styled by type): {untyped:?}"
    );
    let fields = [
        ("local_id", "000124"),
        ("name", "清須 太郎"),
        ("kana", "キヨス タロウ"),
        ("birth_date", "1950-05-05"),
        ("signed_on", "2026-04-01"),
        ("scope", "all"),
    ];
    let res = m.post_form("/records/patients", &fields).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("性別を選んでください。"));
    let mut with_sex = fields.to_vec();
    with_sex.push(("gender", "male"));
    let res = m.post_form("/records/patients", &with_sex).await;
    assert_eq!(res.status(), 303);

    let fresh = spawn_app().await;
    let admin = fresh.login_as(Role::SystemAdmin).await;
    let keys = admin
        .client
        .get("/admin/api-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(keys.contains("発行済みの API キーはありません。"));
}
