//! Right patient (issue 14, R21.1, X.3): the Bundle's Patient is compared with the patient
//! registered for the sender's local ID; a difference is refused (or, in review mode, held
//! until the sending facility's manager resolves it); the document page shows the patient as
//! sent; Japanese labels and attachment file names.

use rainbownet::auth::Role;
use rainbownet::records::RecordsSettings;
use rainbownet::records::model::PatientMismatch;
use serde_json::{Value, json};
use sqlx::Row;

use super::*;

/// The Patient resource of a Bundle.
fn patient_of(b: &mut Value) -> &mut Value {
    b["entry"]
        .as_array_mut()
        .expect("entries")
        .iter_mut()
        .map(|e| &mut e["resource"])
        .find(|r| r["resourceType"] == "Patient")
        .expect("a Patient")
}

/// The referral fixture under a new Bundle.identifier, its Patient changed by `f`.
fn referral(ident: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut b = fixture_json("referral_57133-1.json");
    b["identifier"]["value"] = json!(format!("{A}^2026^{ident}"));
    f(patient_of(&mut b));
    b.to_string()
}

fn set_names(p: &mut Value, kanji: &str, kana: Option<&str>) {
    p["name"][0]["text"] = json!(kanji);
    match kana {
        Some(k) => p["name"][1]["text"] = json!(k),
        None => {
            let names = p["name"].as_array_mut().expect("names");
            names.truncate(1);
        }
    }
}

/// A registers 清須 花子 (local ID 000123) with a consent covering every facility, and sends
/// one referral.
async fn registered(net: &Net) -> i64 {
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    net.accept(A, fixture("referral_57133-1.json")).await
}

async fn review_net() -> Net {
    network_with(|s| {
        s.set_section(
            "records",
            &RecordsSettings {
                patient_mismatch: PatientMismatch::Review,
                ..RecordsSettings::default()
            },
        )
    })
    .await
}

async fn review_of(net: &Net, document_id: i64) -> i64 {
    sqlx::query("SELECT id FROM document_reviews WHERE document_id = $1")
        .bind(document_id)
        .fetch_one(net.app.db().pool())
        .await
        .expect("review")
        .try_get("id")
        .expect("id")
}

/// A change made to a Bundle's Patient.
type Change = Box<dyn FnOnce(&mut Value)>;

async fn first_issue(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let v: Value = res.json().await.expect("json");
    (status, v["issue"][0].clone())
}

#[tokio::test]
async fn r21_1_issue14_a_document_whose_patient_differs_in_name_birth_date_or_sex_is_refused_and_nothing_stored()
 {
    let net = network().await;
    registered(&net).await;
    let before = net.rows().await;
    let cases: [(&str, Change, &str); 4] = [
        (
            "NAME",
            Box::new(|p| p["name"][0]["text"] = json!("清須 太郎")),
            "氏名",
        ),
        (
            "BIRTH",
            Box::new(|p| p["birthDate"] = json!("1948-03-13")),
            "生年月日",
        ),
        ("SEX", Box::new(|p| p["gender"] = json!("male")), "性別"),
        (
            "KANA",
            Box::new(|p| p["name"][1]["text"] = json!("キヨス タロウ")),
            "フリガナ",
        ),
    ];
    for (ident, change, field) in cases {
        let res = net
            .send(A, "/api/fhir/Bundle", referral(ident, change))
            .await;
        assert!(
            res.headers()["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("application/fhir+json")
        );
        let (status, issue) = first_issue(res).await;
        assert_eq!(status, 422, "{ident}: {issue}");
        assert_eq!(issue["code"], "business-rule");
        let msg = issue["diagnostics"].as_str().expect("diagnostics");
        assert!(msg.contains(field), "{ident}: {msg}");
        assert!(msg.contains("000123") && msg.contains("何も保存されていません"));
        // Only the field names, never the registered values.
        for registered in ["清須 花子", "キヨス ハナコ", "1948-03-12", "female"] {
            assert!(
                !msg.contains(registered),
                "{ident} leaks {registered}: {msg}"
            );
        }
    }
    assert_eq!(net.rows().await, before, "nothing stored");
    assert_eq!(net.app.audit_count("records.patient_mismatch").await, 4);

    // A Bundle without a birth date cannot be confirmed either.
    let res = net
        .send(
            A,
            "/api/fhir/Bundle",
            referral("NOBIRTH", |p| {
                p.as_object_mut().expect("patient").remove("birthDate");
            }),
        )
        .await;
    assert_eq!(first_issue(res).await.0, 422);

    // The same in a batch: the mismatched entry fails alone.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": serde_json::from_str::<Value>(&referral("B1", |_| {})).expect("json"),
         "request": {"method": "POST", "url": "Bundle"}},
        {"resource": serde_json::from_str::<Value>(&referral("B2", |p| p["gender"] = json!("male"))).expect("json"),
         "request": {"method": "POST", "url": "Bundle"}}
    ]});
    let v: Value = net
        .send(A, "/api/fhir", batch.to_string())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(
        v["entry"][1]["response"]["status"],
        "422 Unprocessable Entity"
    );
    assert_eq!(
        v["entry"][1]["response"]["outcome"]["issue"][0]["code"],
        "business-rule"
    );
    assert_eq!(net.app.count("documents").await, before[0] + 1);
    assert_eq!(net.app.audit_count("records.patient_mismatch").await, 6);
}

#[tokio::test]
async fn r21_1_issue14_a_matching_patient_written_with_full_width_spaces_or_hiragana_kana_is_accepted()
 {
    let net = network().await;
    registered(&net).await;
    let variants: [(&str, &str, Option<&str>); 4] = [
        ("W1", "清須　花子", Some("きよす　はなこ")),
        ("W2", "清須花子", Some("ｷﾖｽ ﾊﾅｺ")),
        ("W3", " 清須  花子 ", Some("キヨス　ハナコ")),
        ("W4", "清須 花子", None),
    ];
    for (ident, kanji, kana) in variants {
        let res = net
            .send(
                A,
                "/api/fhir/Bundle",
                referral(ident, |p| set_names(p, kanji, kana)),
            )
            .await;
        assert_eq!(
            res.status(),
            201,
            "{ident}: {}",
            res.text().await.expect("body")
        );
    }
    assert_eq!(net.app.count("patients").await, 1);
    assert_eq!(net.app.audit_count("records.patient_mismatch").await, 0);
}

#[tokio::test]
async fn r21_1_issue14_two_unrelated_patients_sent_under_one_local_id_are_not_merged() {
    let net = network().await;
    let first = registered(&net).await;
    let other = |p: &mut Value| {
        set_names(p, "名古屋 一郎", Some("ナゴヤ イチロウ"));
        p["birthDate"] = json!("1960-01-01");
        p["gender"] = json!("male");
    };
    let (status, issue) = first_issue(
        net.send(A, "/api/fhir/Bundle", referral("OTHER", other))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    let msg = issue["diagnostics"].as_str().expect("diagnostics");
    assert!(msg.contains("氏名・フリガナ・生年月日・性別"), "{msg}");
    let found: Value = net
        .get(A, "/api/fhir/Bundle?patient=000123")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(found["total"], 1);
    assert_eq!(found["entry"][0]["resource"]["id"], first.to_string());

    // Two new patients under one new local ID in one batch: the first registers, the second
    // is refused — one patient, not a merge of two.
    let new = |ident: &str, f: &dyn Fn(&mut Value)| {
        let mut b = fixture_json("patient_summary_60591-5.json");
        b["identifier"]["value"] = json!(format!("{A}^2026^{ident}"));
        let p = patient_of(&mut b);
        p["identifier"][0]["value"] = json!("777777");
        f(p);
        let mut consent = fixture_json("consent_all.json");
        consent
            .as_object_mut()
            .expect("consent")
            .remove("contained");
        consent["patient"] = json!({"reference": "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"});
        b["entry"].as_array_mut().expect("entries").push(
            json!({"fullUrl": "urn:uuid:6e0c3c1a-0000-4000-8000-00000000c0a2", "resource": consent}),
        );
        json!({"resource": b, "request": {"method": "POST", "url": "Bundle"}})
    };
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        new("N1", &|_| {}), new("N2", &other)]});
    let v: Value = net
        .send(A, "/api/fhir", batch.to_string())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["entry"][0]["response"]["status"], "201 Created", "{v}");
    assert!(
        v["entry"][1]["response"]["status"]
            .as_str()
            .expect("status")
            .starts_with("422"),
        "{v}"
    );
    assert_eq!(net.app.count("patients").await, 2);

    // A Consent whose contained Patient contradicts the registration is refused too.
    let consents = net.app.count("consents").await;
    let mut c = fixture_json("consent_all.json");
    c["contained"][0]["birthDate"] = json!("1950-01-01");
    let (status, issue) = first_issue(net.send(A, "/api/fhir/Consent", c.to_string()).await).await;
    assert_eq!(status, 422);
    assert!(
        issue["diagnostics"]
            .as_str()
            .expect("diagnostics")
            .contains("生年月日")
    );
    assert_eq!(net.app.count("consents").await, consents);
}

#[tokio::test]
async fn r21_1_x3_issue14_in_review_mode_a_held_document_is_read_by_nobody_until_its_facility_manager_accepts_it()
 {
    let net = review_net().await;
    let first = registered(&net).await;
    let res = net
        .send(
            A,
            "/api/fhir/Bundle",
            referral("HELD", |p| p["name"][0]["text"] = json!("清須 花代")),
        )
        .await;
    assert_eq!(res.status(), 202);
    let id: i64 = location(&res)
        .rsplit('/')
        .next()
        .expect("id")
        .parse()
        .expect("id");
    let (_, issue) = first_issue(res).await;
    assert_eq!(issue["severity"], "warning");
    assert!(issue["diagnostics"].as_str().expect("d").contains("氏名"));
    assert_eq!(net.app.audit_count("records.document_held").await, 1);

    // Held: nobody reads it, API or UI, sender or a facility in the consent scope.
    let api = format!("/api/fhir/Bundle/{id}");
    assert_eq!(net.get(A, &api).await.status(), 404);
    assert_eq!(net.get(B, &api).await.status(), 404);
    let found: Value = net
        .get(A, "/api/fhir/Bundle?patient=000123")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(found["total"], 1, "search leaves the held document out");
    assert_eq!(found["entry"][0]["resource"]["id"], first.to_string());
    let a_manager = net.person(Role::FacilityManager, A, "a-manager").await;
    let b_manager = net.person(Role::FacilityManager, B, "b-manager").await;
    let b_user = net.person(Role::User, B, "b-user").await;
    let page = format!("/records/documents/{id}");
    assert_eq!(a_manager.get(&page).await.status(), 404);
    assert_eq!(b_user.get(&page).await.status(), 404);
    assert_eq!(
        a_manager
            .get(&format!("{page}/attachments/1"))
            .await
            .status(),
        404
    );

    // The sending facility's manager sees it in the queue (and on the dashboard).
    let review = review_of(&net, id).await;
    let list = a_manager.get("/records/review").await;
    assert_eq!(list.status(), 200);
    let html = list.text().await.expect("html");
    assert!(
        html.contains(&format!("/records/review/{review}")),
        "{html}"
    );
    assert!(html.contains("清須 花代"));
    let dash = a_manager.get("/").await.text().await.expect("html");
    assert!(dash.contains("患者照合の確認待ち"), "dashboard card");
    // The patient page tells the sending facility that a document waits (it is not listed),
    // the manager with a link to the queue; another facility is told nothing.
    let patient: i64 = sqlx::query("SELECT patient_id FROM documents WHERE id = $1")
        .bind(id)
        .fetch_one(net.app.db().pool())
        .await
        .expect("document")
        .try_get("patient_id")
        .expect("patient");
    let timeline = format!("/records/patients/{patient}");
    let html = a_manager.get(&timeline).await.text().await.expect("html");
    assert!(
        html.contains("文書 1 件が、患者情報の不一致のため確認待ち"),
        "{html}"
    );
    assert!(html.contains("href=\"/records/review\""));
    assert!(
        !html.contains(&format!("/records/documents/{id}\"")),
        "not listed"
    );
    let a_user = net.person(Role::User, A, "a-user").await;
    let html = a_user.get(&timeline).await.text().await.expect("html");
    assert!(html.contains("確認待ちです") && !html.contains("確認待ちの文書を開く"));
    let html = b_user.get(&timeline).await.text().await.expect("html");
    assert!(!html.contains("確認待ち"), "{html}");
    let detail = a_manager
        .get(&format!("/records/review/{review}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(detail.contains("清須 花代") && detail.contains("清須 花子"));
    assert!(detail.contains("不一致"));

    // Another facility's manager cannot see or resolve it: 404, audited.
    let denied = net.app.audit_count("access.denied").await;
    let b_list = b_manager
        .get("/records/review")
        .await
        .text()
        .await
        .expect("html");
    assert!(!b_list.contains(&format!("/records/review/{review}")));
    assert_eq!(
        b_manager
            .get(&format!("/records/review/{review}"))
            .await
            .status(),
        404
    );
    let res = b_manager
        .post_form(
            &format!("/records/review/{review}/accept"),
            &[("confirm", "yes"), ("reason", "同一人物")],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(net.app.audit_count("access.denied").await, denied + 2);

    // A confirmation and a reason are required.
    let accept = format!("/records/review/{review}/accept");
    let res = a_manager
        .post_form(&accept, &[("confirm", "yes"), ("reason", "  ")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("理由を入力してください")
    );
    let res = a_manager
        .post_form(&accept, &[("reason", "旧姓の表記")])
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(net.get(A, &api).await.status(), 404, "still held");
    assert_eq!(net.app.audit_count("records.review_accepted").await, 0);

    let res = a_manager
        .post_form(
            &accept,
            &[
                ("confirm", "yes"),
                ("reason", "電話で本人確認。花代は入力誤り"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(net.app.audit_count("records.review_accepted").await, 1);
    assert_eq!(net.get(A, &api).await.status(), 200);
    assert_eq!(net.get(B, &api).await.status(), 200, "a facility in scope");
    let html = b_user.get(&page).await.text().await.expect("html");
    assert!(html.contains("送信された患者情報が、登録されている患者と一致しません"));
    assert!(html.contains("清須 花代") && html.contains("電話で本人確認"));
    // Resolved once only.
    let res = a_manager
        .post_form(&accept, &[("confirm", "yes"), ("reason", "再度")])
        .await;
    assert_eq!(res.status(), 409);
    let html = a_manager.get(&timeline).await.text().await.expect("html");
    assert!(!html.contains("確認待ちです"), "notice gone once resolved");
    assert!(
        html.contains(&format!("/records/documents/{id}\"")),
        "now listed"
    );
}

/// What the API answers for a patient who differs is what its descriptions promise: the
/// OpenAPI document and the CapabilityStatement name the 202 (held) and the 422 (refused).
#[tokio::test]
async fn r21_1_issue14_the_api_descriptions_name_the_held_and_refused_answers() {
    let net = review_net().await;
    let get = |path: &'static str| {
        let url = format!("{}{path}", net.app.address);
        async move {
            reqwest::get(url)
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let api = get("/api/openapi.json").await;
    let create = &api["paths"]["/api/fhir/Bundle"]["post"]["responses"];
    assert!(
        create["202"]["description"]
            .as_str()
            .expect("202")
            .contains("確認待ち")
    );
    assert!(
        create["422"]["description"]
            .as_str()
            .expect("422")
            .contains("生年月日")
    );
    let link = &api["paths"]["/api/fhir/Patient/$link"]["post"]["responses"];
    assert!(
        link["422"]["description"]
            .as_str()
            .expect("422")
            .contains("生年月日")
    );
    let batch = api["paths"]["/api/fhir"]["post"]["responses"]["200"]["description"]
        .as_str()
        .expect("batch");
    assert!(batch.contains("202"));
    let cap = get("/api/fhir/metadata").await;
    let text = cap.to_string();
    assert!(
        text.contains("202") && text.contains("422 business-rule"),
        "{text}"
    );

    // And the server does answer so.
    registered(&net).await;
    let res = net
        .send(
            A,
            "/api/fhir/Bundle",
            referral("DESC", |p| p["birthDate"] = json!("1948-03-13")),
        )
        .await;
    assert_eq!(res.status(), 202);
}

#[tokio::test]
async fn r21_1_x3_issue14_in_review_mode_a_rejected_document_is_never_read_and_can_be_resent_corrected()
 {
    let net = review_net().await;
    registered(&net).await;
    let wrong = referral("REJ", |p| p["birthDate"] = json!("1984-03-12"));
    let res = net.send(A, "/api/fhir/Bundle", wrong.clone()).await;
    assert_eq!(res.status(), 202);
    let id: i64 = location(&res)
        .rsplit('/')
        .next()
        .expect("id")
        .parse()
        .expect("id");
    let review = review_of(&net, id).await;
    let a_manager = net.person(Role::FacilityManager, A, "a-manager").await;
    let reject = format!("/records/review/{review}/reject");
    let res = a_manager.post_form(&reject, &[("confirm", "yes")]).await;
    assert_eq!(res.status(), 422, "a reason is required");
    let res = a_manager
        .post_form(
            &reject,
            &[("confirm", "yes"), ("reason", "別の患者の検査結果")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(net.app.audit_count("records.review_rejected").await, 1);
    assert_eq!(
        net.get(A, &format!("/api/fhir/Bundle/{id}")).await.status(),
        404
    );
    assert_eq!(
        a_manager
            .get(&format!("/records/documents/{id}"))
            .await
            .status(),
        404
    );
    let list = a_manager
        .get("/records/review")
        .await
        .text()
        .await
        .expect("html");
    assert!(list.contains("別の患者の検査結果"), "kept as rejected");
    // The corrected document is accepted under the same Bundle.identifier.
    let fixed = referral("REJ", |_| {});
    let res = net.send(A, "/api/fhir/Bundle", fixed).await;
    assert_eq!(res.status(), 201);
    // A Consent cannot wait in a queue: refused even in review mode.
    let mut c = fixture_json("consent_all.json");
    c["contained"][0]["gender"] = json!("male");
    assert_eq!(
        net.send(A, "/api/fhir/Consent", c.to_string())
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn r21_1_issue14_the_document_page_shows_the_patient_as_sent_beside_the_registered_one() {
    let net = network().await;
    registered(&net).await;
    let id = net
        .accept(
            A,
            referral("SENT", |p| {
                set_names(p, "清須　花子", Some("きよす　はなこ"))
            }),
        )
        .await;
    let user = net.person(Role::User, A, "a-user").await;
    let html = user
        .get(&format!("/records/documents/{id}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains("送信された患者情報"));
    assert!(html.contains("きよす　はなこ"), "the kana as sent");
    assert!(html.contains("キヨス ハナコ"), "the registered kana");
    assert!(html.contains("送信元の患者ID: 000123"));
    assert!(!html.contains("不一致"), "equal after normalisation");
}

#[tokio::test]
async fn r21_1_issue14_resource_types_are_labelled_in_japanese_and_attachments_download_by_title() {
    let net = network().await;
    registered(&net).await;
    let mut b = fixture_json("collection_clins.json");
    b["identifier"]["value"] = json!(format!("{A}^2026^LABELS"));
    let patient = "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001";
    let letter = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "紹介状の本文".as_bytes(),
    );
    for (n, r) in [
        json!({"resourceType": "Coverage", "status": "active", "type": {"text": "協会けんぽ"},
               "beneficiary": {"reference": patient}, "payor": [{"display": "全国健康保険協会"}]}),
        json!({"resourceType": "CarePlan", "status": "active", "intent": "plan",
               "subject": {"reference": patient}, "description": "食事療法と運動療法"}),
        json!({"resourceType": "Communication", "status": "completed",
               "subject": {"reference": patient},
               "payload": [{"contentString": "次回受診時に HbA1c を再検"}]}),
        json!({"resourceType": "DocumentReference", "status": "current",
               "subject": {"reference": patient},
               "content": [{"attachment": {"contentType": "text/plain", "title": "紹介状",
                                           "data": letter}}]}),
    ]
    .into_iter()
    .enumerate()
    {
        b["entry"].as_array_mut().expect("entries").push(json!({
            "fullUrl": format!("urn:uuid:e1000005-0000-4000-8000-00000000000{n}"),
            "resource": r}));
    }
    let id = net.accept(A, b.to_string()).await;
    let user = net.person(Role::User, A, "a-user").await;
    let html = user
        .get(&format!("/records/documents/{id}"))
        .await
        .text()
        .await
        .expect("html");
    for label in ["保険・公費", "診療計画", "連絡・申し送り", "添付文書"] {
        assert!(html.contains(label), "{label} missing");
    }
    for english in [">Coverage<", ">CarePlan<", ">Communication<"] {
        assert!(!html.contains(english), "{english} shown in English");
    }
    let res = user
        .get(&format!("/records/documents/{id}/attachments/1"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        format!(
            "attachment; filename=\"document-{id}-1.txt\"; filename*=UTF-8''%E7%B4%B9%E4%BB%8B%E7%8A%B6.txt"
        )
    );
    assert_eq!(res.text().await.expect("text"), "紹介状の本文");
}

#[tokio::test]
async fn r21_1_issue14_an_empty_kana_is_not_shown_as_empty_brackets() {
    let net = network().await;
    let mut b = fixture_json("collection_clins.json");
    b["identifier"]["value"] = json!(format!("{A}^2026^NOKANA"));
    set_names(patient_of(&mut b), "清須 花子", None);
    let mut consent = fixture_json("consent_all.json");
    consent
        .as_object_mut()
        .expect("consent")
        .remove("contained");
    consent["patient"] = json!({"reference": "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"});
    b["entry"].as_array_mut().expect("entries").push(
        json!({"fullUrl": "urn:uuid:6e0c3c1a-0000-4000-8000-00000000c0a2", "resource": consent}),
    );
    let id = net.accept(A, b.to_string()).await;
    let user = net.person(Role::User, A, "a-user").await;
    let html = user
        .get(&format!("/records/documents/{id}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains("清須 花子"));
    assert!(!html.contains("（）"), "empty kana shown as （）");
    assert!(html.contains("照合の対象外"), "kana not compared");
}

#[tokio::test]
async fn r21_1_x4_issue14_the_fields_that_differ_translate_into_english_on_the_review_pages() {
    let net = review_net().await;
    registered(&net).await;
    let res = net
        .send(
            A,
            "/api/fhir/Bundle",
            referral("EN", |p| {
                p["name"][0]["text"] = json!("清須 花代");
                p["birthDate"] = json!("1948-03-13");
            }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let id: i64 = location(&res)
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("id");
    // The API's answer stays Japanese.
    let v: Value = res.json().await.expect("json");
    let msg = v["issue"][0]["diagnostics"].as_str().expect("diagnostics");
    assert!(msg.contains("氏名・生年月日"), "{msg}");

    // The pages as the English rewriter turns them (the one an English session goes through).
    let review = review_of(&net, id).await;
    let manager = net.person(Role::FacilityManager, A, "a-manager").await;
    for path in [
        "/records/review".to_string(),
        format!("/records/review/{review}"),
    ] {
        let html = manager.get(&path).await.text().await.expect("html");
        assert!(html.contains("氏名・生年月日"), "{path}: the Japanese page");
        let catalogue = rainbownet::i18n::catalogue();
        let en = rainbownet::i18n::translate_html(&html, catalogue)
            .expect("translated")
            .html;
        assert!(
            en.contains("Name, Date of birth"),
            "{path}: the fields in English"
        );
        assert!(
            !en.contains("氏名・生年月日"),
            "{path}: the fields left in Japanese"
        );
    }
}
