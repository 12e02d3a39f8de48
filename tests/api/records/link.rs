//! A second facility in the consent scope links its own local patient ID to the network
//! patient (地域連携ID), then sends by it (R21.1, X.3).

use rainbownet::auth::Role;
use serde_json::json;
use sqlx::Row;

use super::*;

const NETWORK: &str = "urn:rainbownet:network-patient-id";
const LOCAL: &str = "urn:oid:1.2.392.100495.20.3.51.1";

async fn text(app: &TestApp, sql: &str, bind: i64) -> String {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(bind)
        .fetch_one(app.db().pool())
        .await
        .unwrap()
        .try_get("v")
        .unwrap()
}

async fn network_id(app: &TestApp, patient_id: i64) -> String {
    text(
        app,
        "SELECT network_id AS v FROM patients WHERE id = $1",
        patient_id,
    )
    .await
}

async fn patient_of_local(app: &TestApp, local_id: &str) -> i64 {
    sqlx::query("SELECT patient_id FROM patient_links WHERE local_id = $1")
        .bind(local_id)
        .fetch_one(app.db().pool())
        .await
        .unwrap()
        .try_get("patient_id")
        .unwrap()
}

async fn links_audited(app: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'records.patient_linked'")
        .fetch_one(app.db().pool())
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

fn link_body(network_id: &str, system_code: &str, local_id: &str) -> String {
    json!({"resourceType": "Patient", "identifier": [
        {"system": NETWORK, "value": network_id},
        {"system": format!("{LOCAL}{system_code}"), "value": local_id}
    ]})
    .to_string()
}

/// The referral fixture as facility `code` sends it, for its local patient ID `local_id`.
fn referral_from(code: &str, local_id: &str) -> String {
    fixture("referral_57133-1.json")
        .replace(A, code)
        .replace("\"000123\"", &format!("\"{local_id}\""))
}

/// A second network patient of A (local ID 000999) with the given scope.
async fn second_patient(net: &Net, scope: &[&str]) -> i64 {
    let consent = consent_for(scope).replace("\"000123\"", "\"000999\"");
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent).await.status(),
        201
    );
    patient_of_local(&net.app, "000999").await
}

#[tokio::test]
async fn r21_1_x3_a_second_facility_links_through_the_api_and_sends_by_its_own_id() {
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[B]))
            .await
            .status(),
        201
    );
    let first = net.accept(A, fixture("referral_57133-1.json")).await;
    let patient = patient_of_local(app, "000123").await;
    let nid = network_id(app, patient).await;
    let other = second_patient(&net, &[]).await;
    let b_manager = net.person(Role::FacilityManager, B, "b-manager").await;
    // A reads its document; B's manager does not see that read before B links the patient.
    assert_eq!(
        net.get(A, &format!("/api/fhir/Bundle/{first}"))
            .await
            .status(),
        200
    );
    let log = b_manager
        .get("/records/access-log")
        .await
        .text()
        .await
        .unwrap();
    // A reader is shown as its API key's use and facility (issue 15: no raw ids).
    assert!(!log.contains(&format!("（テスト施設{A}）")), "{log}");

    // Refusals: each an OperationOutcome in Japanese, nothing stored.
    let before = (net.rows().await, links_audited(app).await);
    let refusals = [
        (C, link_body(&nid, C, "C-1"), 403, "同意の範囲"),
        (
            B,
            link_body("KR0000000000", B, "B-777"),
            404,
            "登録されていません",
        ),
        (B, link_body(&nid, A, "000123"), 403, "他の施設の患者ID"),
        (
            B,
            json!({"resourceType": "Patient", "identifier": [
            {"system": format!("{LOCAL}{B}"), "value": "B-777"}]})
            .to_string(),
            422,
            "地域連携ID",
        ),
        (
            B,
            json!({"resourceType": "Consent"}).to_string(),
            422,
            "Patient",
        ),
        (B, "{broken".to_string(), 400, ""),
    ];
    for (code, body, status, msg) in refusals {
        let res = net
            .send(code, "/api/fhir/Patient/$link", body.clone())
            .await;
        let (s, m) = outcome(res).await;
        assert_eq!(s, status, "{body}: {m}");
        assert!(m.contains(msg), "{m}");
        assert_eq!(
            (net.rows().await, links_audited(app).await),
            before,
            "{body}"
        );
    }

    // B links its local ID; a repeat is answered 200 and stores nothing more.
    let res = net
        .send(B, "/api/fhir/Patient/$link", link_body(&nid, B, "B-777"))
        .await;
    let (s, m) = outcome(res).await;
    assert_eq!(s, 201, "{m}");
    assert!(m.contains("連携しました"), "{m}");
    assert_eq!(net.rows().await[2], before.0[2] + 1);
    assert_eq!(links_audited(app).await, 1);
    let res = net
        .send(B, "/api/fhir/Patient/$link", link_body(&nid, B, "B-777"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(links_audited(app).await, 1);

    // The same local ID for another patient, or a second local ID for this one: 409, nothing stored.
    let before = (net.rows().await, links_audited(app).await);
    let other_nid = network_id(app, other).await;
    for body in [
        link_body(&other_nid, B, "B-777"),
        link_body(&nid, B, "B-888"),
    ] {
        let (s, m) = outcome(net.send(B, "/api/fhir/Patient/$link", body).await).await;
        assert_eq!(s, 409, "{m}");
        assert!(m.contains("すでに"), "{m}");
        assert_eq!((net.rows().await, links_audited(app).await), before);
    }

    // B sends by its own ID: the same network patient, B the sender, consent rules unchanged.
    let patients = app.count("patients").await;
    let id = net.accept(B, referral_from(B, "B-777")).await;
    assert_eq!(app.count("patients").await, patients);
    let code = text(
        app,
        "SELECT f.code AS v FROM documents d JOIN facilities f ON f.id = d.facility_id WHERE d.id = $1",
        id,
    )
    .await;
    assert_eq!(code, B);
    let doc_patient = text(
        app,
        "SELECT CAST(patient_id AS TEXT) AS v FROM documents WHERE id = $1",
        id,
    )
    .await;
    assert_eq!(doc_patient, patient.to_string());
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{id}")).await.status(),
        200
    );
    assert_eq!(
        net.get(C, &format!("/api/fhir/Bundle/{id}")).await.status(),
        404
    );
    assert_eq!(
        net.get(C, &format!("/api/fhir/Bundle/{first}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{first}"))
            .await
            .status(),
        200
    );

    // B's facility manager now sees the reads of the patient, A's included.
    let log = b_manager
        .get("/records/access-log")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        log.contains(&format!("（テスト施設{A}）")),
        "A's read: {log}"
    );
    assert!(
        log.contains(&format!("（テスト施設{B}）")),
        "B's read: {log}"
    );
}

#[tokio::test]
async fn x3_a_facility_manager_links_a_local_id_from_the_patient_page() {
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    net.accept(A, fixture("referral_57133-1.json")).await;
    let patient = patient_of_local(app, "000123").await;
    let other = second_patient(&net, &[]).await;
    let m = net.person(Role::FacilityManager, B, "b-manager").await;
    let page_url = format!("/records/patients/{patient}");
    let link_url = format!("{page_url}/link");
    let page = m.get(&page_url).await.text().await.unwrap();
    assert!(page.contains("自施設の患者ID を連携"), "{page}");
    assert!(page.contains(&link_url));
    let log = m.get("/records/access-log").await.text().await.unwrap();
    assert!(!log.contains("b-manager"), "not linked yet: {log}");

    // Refusals re-render the form with the message next to the field; nothing stored.
    let before = (net.rows().await, links_audited(app).await);
    let res = m.post_form(&link_url, &[("local_id", "  ")]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("field-error") && body.contains("1〜64 文字"),
        "{body}"
    );
    assert_eq!((net.rows().await, links_audited(app).await), before);

    let res = m.post_form(&link_url, &[("local_id", "B-1")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), page_url);
    assert_eq!(net.rows().await[2], before.0[2] + 1);
    assert_eq!(links_audited(app).await, 1);
    let page = m.get(&page_url).await.text().await.unwrap();
    assert!(page.contains("B-1"), "{page}");
    assert!(
        !page.contains("自施設の患者ID を連携"),
        "form gone once linked"
    );

    let before = (net.rows().await, links_audited(app).await);
    let res = m
        .post_form(
            &format!("/records/patients/{other}/link"),
            &[("local_id", "B-1")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("すでに別の患者に連携"), "{body}");
    assert!(body.contains("value=\"B-1\""), "the value is kept");
    assert_eq!((net.rows().await, links_audited(app).await), before);

    // A patient whose consent leaves B out: not found (as if there were none), nothing stored.
    let res = net
        .send(
            A,
            "/api/fhir/Consent",
            consent_for(&[C]).replace("\"000123\"", "\"000555\""),
        )
        .await;
    assert_eq!(res.status(), 201);
    let hidden = patient_of_local(app, "000555").await;
    let before = (net.rows().await, links_audited(app).await);
    let res = m
        .post_form(
            &format!("/records/patients/{hidden}/link"),
            &[("local_id", "B-2")],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!((net.rows().await, links_audited(app).await), before);

    // B's system sends by its own ID; the document joins the same patient.
    let id = net.accept(B, referral_from(B, "B-1")).await;
    let doc_patient = text(
        app,
        "SELECT CAST(patient_id AS TEXT) AS v FROM documents WHERE id = $1",
        id,
    )
    .await;
    assert_eq!(doc_patient, patient.to_string());
    // B's manager's access log includes the patient now.
    m.get(&page_url).await;
    let log = m.get("/records/access-log").await.text().await.unwrap();
    assert!(log.contains("b-manager"), "{log}");
    assert!(log.contains(&page_url), "{log}");
}

/// A link through the API with the patient's name, birth date and sex: it must agree with the
/// registered patient, or a mistyped network ID would tie B's ID to another person (issue 14
/// item 1, R21.1). Outside the consent nothing is compared (no oracle for an outsider).
#[tokio::test]
async fn r21_1_issue14_a_link_whose_patient_details_differ_is_refused_and_audited() {
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[B]))
            .await
            .status(),
        201
    );
    net.accept(A, fixture("referral_57133-1.json")).await;
    let nid = network_id(app, patient_of_local(app, "000123").await).await;
    let with = |code: &str, local: &str, name: &str, birth: &str, gender: &str| {
        json!({"resourceType": "Patient",
            "identifier": [{"system": NETWORK, "value": nid},
                           {"system": format!("{LOCAL}{code}"), "value": local}],
            "name": [{"use": "official", "text": name}],
            "birthDate": birth, "gender": gender})
        .to_string()
    };
    let mismatches = || async {
        sqlx::query(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'records.patient_mismatch'",
        )
        .fetch_one(app.db().pool())
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap()
    };

    let before = (net.rows().await, links_audited(app).await);
    for (body, field) in [
        (with(B, "B-1", "清須 太郎", "1948-03-12", "female"), "氏名"),
        (
            with(B, "B-1", "清須 花子", "1948-03-13", "female"),
            "生年月日",
        ),
        (with(B, "B-1", "清須 花子", "1948-03-12", "male"), "性別"),
    ] {
        let (s, m) = outcome(net.send(B, "/api/fhir/Patient/$link", body).await).await;
        assert_eq!(s, 422, "{m}");
        assert!(m.contains(field) && m.contains("一致しません"), "{m}");
        assert!(!m.contains("1948-03-12"), "registered values not told: {m}");
        assert_eq!((net.rows().await, links_audited(app).await), before);
    }
    assert_eq!(mismatches().await, 3);

    // C is outside the consent: 403 whatever the details, and nothing compared or audited.
    let (s, m) = outcome(
        net.send(
            C,
            "/api/fhir/Patient/$link",
            with(C, "C-1", "別人 一郎", "1990-01-01", "male"),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403, "{m}");
    assert!(!m.contains("一致しません"), "{m}");
    assert_eq!(mismatches().await, 3);

    // The same person, written with a full-width space, links.
    let (s, m) = outcome(
        net.send(
            B,
            "/api/fhir/Patient/$link",
            with(B, "B-1", "清須　花子", "1948-03-12", "female"),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(links_audited(app).await, 1);
}
