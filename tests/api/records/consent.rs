//! Consent authority (X.3): a consent shares one facility's documents and belongs to whoever
//! recorded it — that facility, or staff acting on a signed paper form with its scan. Another
//! facility's attempt to widen, narrow or withdraw it is refused (403) and audited, and changes
//! nothing; the effective scope and the history are on the patient page and in the API.

use rainbownet::auth::Role;
use serde_json::{Value, json};
use sqlx::Row;

use super::*;

const LOCAL: &str = "urn:oid:1.2.392.100495.20.3.51.1";
const NETWORK: &str = "urn:rainbownet:network-patient-id";
const PDF: &[u8] = b"%PDF-1.4\n% signed consent form\n";

/// A's consent (patient 000123) sharing A's documents with the listed facilities.
fn consent_of_a(codes: &[&str]) -> String {
    consent_for(codes)
}

/// A Consent sent by facility `code` for its local patient ID `local_id`, with the given scope,
/// naming `custodian` as its organization (None: no organization).
fn consent_from(
    code: &str,
    local_id: &str,
    scope: &[&str],
    custodian: Option<&str>,
    active: bool,
) -> String {
    let mut c: Value = serde_json::from_str(&consent_for(scope)).unwrap();
    c["contained"][0]["identifier"] =
        json!([{"system": format!("{LOCAL}{code}"), "value": local_id}]);
    match custodian {
        Some(org) => c["organization"] = json!([{"identifier": {"value": org}}]),
        None => {
            c.as_object_mut().unwrap().remove("organization");
        }
    }
    if !active {
        c["status"] = json!("inactive");
    }
    c.to_string()
}

/// A document Bundle with a Consent entry naming `custodian` as its organization.
fn with_consent(bundle: &str, custodian: &str) -> String {
    let mut b: Value = serde_json::from_str(bundle).unwrap();
    let patient = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Patient")
        .and_then(|e| e["fullUrl"].as_str())
        .unwrap()
        .to_string();
    let mut consent = fixture_json("consent_all.json");
    consent.as_object_mut().unwrap().remove("contained");
    consent["patient"] = json!({"reference": patient});
    consent["organization"] = json!([{"identifier": {"value": custodian}}]);
    b["entry"].as_array_mut().unwrap().push(
        json!({"fullUrl": "urn:uuid:6e0c3c1a-0000-4000-8000-0000000c0a5e", "resource": consent}),
    );
    b.to_string()
}

fn referral_from(code: &str, local_id: &str) -> String {
    fixture("referral_57133-1.json")
        .replace(A, code)
        .replace("\"000123\"", &format!("\"{local_id}\""))
}

async fn patient_of(app: &TestApp, local_id: &str) -> (i64, String) {
    let r = sqlx::query(
        "SELECT p.id, p.network_id FROM patient_links l JOIN patients p ON p.id = l.patient_id
         WHERE l.local_id = $1",
    )
    .bind(local_id)
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    (r.try_get("id").unwrap(), r.try_get("network_id").unwrap())
}

async fn link_b(net: &Net, network_id: &str) {
    let body = json!({"resourceType": "Patient", "identifier": [
        {"system": NETWORK, "value": network_id},
        {"system": format!("{LOCAL}{B}"), "value": "B-777"}]});
    let res = net
        .send(B, "/api/fhir/Patient/$link", body.to_string())
        .await;
    assert_eq!(res.status(), 201);
}

/// A consent as the API shows it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    id: String,
    /// The facility whose documents it shares.
    org: String,
    in_force: bool,
    owner: String,
    change: String,
    readers: Vec<String>,
}

/// The consents the API shows facility `code` for a patient.
async fn api_consents(net: &Net, code: &str, patient: &str) -> Vec<Seen> {
    let res = net
        .get(code, &format!("/api/fhir/Consent?patient={patient}"))
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "searchset");
    let ext = |r: &Value, name: &str| -> Value {
        r["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == format!("urn:rainbownet:consent:{name}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let r = &e["resource"];
            assert_eq!(r["resourceType"], "Consent");
            let in_force = ext(r, "in-force")["valueBoolean"].as_bool().unwrap();
            assert_eq!(r["status"], if in_force { "active" } else { "inactive" });
            Seen {
                id: r["id"].as_str().unwrap().to_string(),
                org: r["organization"][0]["identifier"]["value"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                in_force,
                owner: ext(r, "owner")["valueCode"].as_str().unwrap().to_string(),
                change: ext(r, "change")["valueCode"].as_str().unwrap().to_string(),
                readers: r["provision"]["actor"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                x["reference"]["identifier"]["value"]
                                    .as_str()
                                    .unwrap()
                                    .to_string()
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Who may read A's first document and what the API says is in force: compared before and after
/// each refused attempt.
async fn scope_now(net: &Net, doc: i64) -> (Vec<u16>, Vec<Seen>) {
    let mut reads = Vec::new();
    for code in [A, B, C] {
        reads.push(
            net.get(code, &format!("/api/fhir/Bundle/{doc}"))
                .await
                .status()
                .as_u16(),
        );
    }
    (reads, api_consents(net, A, "000123").await)
}

#[tokio::test]
async fn x3_a_second_facility_cannot_widen_narrow_or_withdraw_the_first_facilitys_consent_through_the_api()
 {
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_of_a(&[B, C]))
            .await
            .status(),
        201
    );
    let doc = net.accept(A, fixture("referral_57133-1.json")).await;
    let (_, nid) = patient_of(app, "000123").await;
    link_b(&net, &nid).await;
    let before = scope_now(&net, doc).await;
    assert_eq!(
        before.0,
        vec![200, 200, 200],
        "A, B and C read A's document"
    );
    let a = &before.1[0];
    assert_eq!(before.1.len(), 1);
    assert_eq!(
        (
            a.org.as_str(),
            a.in_force,
            a.owner.as_str(),
            a.change.as_str()
        ),
        (A, true, "facility", "granted")
    );
    assert_eq!(a.readers, vec![B.to_string(), C.to_string()]);

    // B's attempts on A's consent: widen to all, narrow to B only, withdraw (naming A, or — as
    // the old API took it — "the patient's consent" while B has none of its own).
    let attempts = [
        ("widen", consent_from(B, "B-777", &[], Some(A), true)),
        ("narrow", consent_from(B, "B-777", &[B], Some(A), true)),
        ("withdraw", consent_from(B, "B-777", &[], Some(A), false)),
        ("withdraw", consent_from(B, "B-777", &[], None, false)),
    ];
    let rows = net.rows().await;
    for (n, (what, body)) in attempts.into_iter().enumerate() {
        let (status, message) = outcome(net.send(B, "/api/fhir/Consent", body).await).await;
        assert_eq!(status, 403, "{what}: {message}");
        assert!(message.contains("他の施設"), "{what}: {message}");
        assert_eq!(net.rows().await, rows, "{what}: nothing stored");
        assert_eq!(
            app.audit_count("records.consent_refused").await,
            n as i64 + 1,
            "{what}: the refusal is audited"
        );
        assert_eq!(
            scope_now(&net, doc).await,
            before,
            "{what}: scope unchanged"
        );
    }
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = 'records.consent_refused' ORDER BY id",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    assert!(
        details[3].contains("\"attempt\":\"withdrawn\""),
        "{details:?}"
    );
    assert!(
        details[3].contains(&format!("\"consent_facility\":\"{A}\"")),
        "{details:?}"
    );

    // The same through a document Bundle that carries a Consent naming A.
    let res = net
        .send(
            B,
            "/api/fhir/Bundle",
            with_consent(&referral_from(B, "B-777"), A),
        )
        .await;
    let (status, message) = outcome(res).await;
    assert_eq!(status, 403, "{message}");
    assert!(message.contains("他の施設の同意"), "{message}");
    assert_eq!(net.rows().await, rows);
    assert_eq!(app.audit_count("records.consent_refused").await, 5);
    assert_eq!(scope_now(&net, doc).await, before);

    // B's own consent, for B's own documents: A's consent is unchanged.
    let b_doc = net.accept(B, referral_from(B, "B-777")).await;
    let b_path = format!("/api/fhir/Bundle/{b_doc}");
    assert_eq!(
        net.get(A, &b_path).await.status(),
        404,
        "no consent of B yet: outside the scope reads like missing"
    );
    let (s, m) = outcome(
        net.send(
            B,
            "/api/fhir/Consent",
            consent_from(B, "B-777", &[A], None, true),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{m}");
    assert!(m.contains("他の施設が記録した同意は変わりません"), "{m}");
    assert_eq!(net.get(A, &b_path).await.status(), 200);
    assert_eq!(net.get(C, &b_path).await.status(), 404);
    assert_eq!(scope_now(&net, doc).await.0, before.0);
    let seen = api_consents(&net, B, "B-777").await;
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (
            seen[1].org.as_str(),
            seen[1].in_force,
            seen[1].owner.as_str(),
            seen[1].change.as_str()
        ),
        (B, true, "facility", "granted")
    );
    // B withdraws its own: A's consent stays in force.
    let (s, m) = outcome(
        net.send(
            B,
            "/api/fhir/Consent",
            consent_from(B, "B-777", &[], None, false),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(net.get(A, &b_path).await.status(), 404);
    assert_eq!(scope_now(&net, doc).await.0, before.0);

    // The owner narrows, widens and withdraws its consent.
    let path = format!("/api/fhir/Bundle/{doc}");
    let narrow = consent_from(A, "000123", &[B], Some(A), true);
    let (s, m) = outcome(net.send(A, "/api/fhir/Consent", narrow).await).await;
    assert_eq!(s, 201, "{m}");
    assert!(m.contains("範囲の縮小"), "{m}");
    assert_eq!(net.get(C, &path).await.status(), 404);
    assert_eq!(net.get(B, &path).await.status(), 200);
    let (s, m) = outcome(net.send(A, "/api/fhir/Consent", consent_of_a(&[])).await).await;
    assert_eq!(s, 201, "{m}");
    assert!(m.contains("範囲の拡大"), "{m}");
    assert_eq!(net.get(C, &path).await.status(), 200);
    let changes: Vec<String> = api_consents(&net, A, "000123")
        .await
        .into_iter()
        .filter(|c| c.org == A)
        .map(|c| c.change)
        .collect();
    assert_eq!(changes, vec!["granted", "narrowed", "widened"]);
    let (s, _) = outcome(
        net.send(
            A,
            "/api/fhir/Consent",
            consent_from(A, "000123", &[], None, false),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(net.get(B, &path).await.status(), 404);
    assert_eq!(net.get(A, &path).await.status(), 200);

    // Only the in-force ones with status=active; C, which may no longer see the patient, gets
    // an empty list, and its refused read is audited.
    let v: Value = net
        .get(A, "/api/fhir/Consent?patient=000123&status=active")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 0, "A's withdrawn, B's withdrawn");
    let denied = app.audit_count("access.denied").await;
    let v: Value = net
        .get(C, &format!("/api/fhir/Consent?patient={nid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 0);
    assert_eq!(app.audit_count("access.denied").await, denied + 1);
    assert!(app.audit_count("records.consents_read").await >= 5);
    let (s, _) = outcome(net.get(A, "/api/fhir/Consent").await).await;
    assert_eq!(s, 400, "patient is required");
}

#[tokio::test]
async fn x3_a_second_facility_cannot_change_the_first_facilitys_consent_from_the_patient_page() {
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_of_a(&[B, C]))
            .await
            .status(),
        201
    );
    let doc = net.accept(A, fixture("referral_57133-1.json")).await;
    let (patient, nid) = patient_of(app, "000123").await;
    link_b(&net, &nid).await;
    let before = scope_now(&net, doc).await;
    let b = net.person(Role::FacilityManager, B, "b-manager").await;
    let page_url = format!("/records/patients/{patient}");

    // The patient page shows the effective scope and the history, printable.
    let page = b.get(&page_url).await.text().await.unwrap();
    for text in [
        "同意と閲覧できる範囲",
        "同意の履歴",
        &format!("テスト施設{A}（{A}）"),
        &format!("テスト施設{B}（{B}）、テスト施設{C}（{C}）"),
        "連携システム（API キー",
        "同意書（署名日 2026-04-01）スキャンあり",
        "<table class=\"table\">",
        "自施設の同意を記録・変更",
    ] {
        assert!(page.contains(text), "{text} missing: {page}");
    }
    assert!(
        !page.contains("自施設の同意の撤回を記録する"),
        "B has no consent of its own to withdraw"
    );
    assert!(page.contains(&format!("name=\"facility\" value=\"{B}\"")));

    // B's manager names A's consent: widen, narrow, withdraw; or withdraws without naming one.
    let consent_url = format!("{page_url}/consent");
    let withdraw_url = format!("{page_url}/consent/withdraw");
    type Attempt<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let attempts: [Attempt; 4] = [
        (
            "widen",
            &consent_url,
            vec![
                ("facility", A),
                ("signed_on", "2026-05-01"),
                ("scope", "all"),
            ],
        ),
        (
            "narrow",
            &consent_url,
            vec![
                ("facility", A),
                ("signed_on", "2026-05-01"),
                ("scope", "listed"),
                ("facilities", B),
            ],
        ),
        (
            "withdraw",
            &withdraw_url,
            vec![("facility", A), ("confirm", "yes")],
        ),
        ("withdraw", &withdraw_url, vec![("confirm", "yes")]),
    ];
    let rows = net.rows().await;
    for (n, (what, url, fields)) in attempts.into_iter().enumerate() {
        let res = b.post_form(url, &fields).await;
        assert_eq!(res.status(), 403, "{what}");
        let body = res.text().await.unwrap();
        assert!(body.contains("他の施設"), "{what}: {body}");
        assert_eq!(net.rows().await, rows, "{what}");
        assert_eq!(
            app.audit_count("records.consent_refused").await,
            n as i64 + 1,
            "{what}"
        );
        assert_eq!(scope_now(&net, doc).await, before, "{what}");
    }

    // B records its own consent from the page; A's is untouched.
    let res = b
        .post_form(
            &consent_url,
            &[
                ("facility", B),
                ("signed_on", "2026-05-01"),
                ("scope", "listed"),
                ("facilities", A),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(scope_now(&net, doc).await.0, before.0);
    let page = b.get(&page_url).await.text().await.unwrap();
    assert!(
        page.contains("自施設の同意は変わりません")
            || page.contains("他の施設が記録した同意は変わりません"),
        "{page}"
    );
    assert!(
        page.contains("自施設の同意の撤回を記録する"),
        "now B may withdraw its own"
    );
    assert!(page.contains("b-manager"), "the recorder is named: {page}");
    // A bad form is shown again with the message (422), nothing stored.
    let rows = net.rows().await;
    let res = b
        .post_form(&consent_url, &[("facility", B), ("scope", "all")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("署名日"));
    assert_eq!(net.rows().await, rows);

    // A's manager (the owner) narrows A's consent from the page.
    let a = net.person(Role::FacilityManager, A, "a-manager").await;
    let res = a
        .post_form(
            &consent_url,
            &[
                ("facility", A),
                ("signed_on", "2026-06-01"),
                ("scope", "listed"),
                ("facilities", B),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let path = format!("/api/fhir/Bundle/{doc}");
    assert_eq!(net.get(C, &path).await.status(), 404);
    assert_eq!(net.get(B, &path).await.status(), 200);
    let page = a.get(&page_url).await.text().await.unwrap();
    assert!(page.contains("範囲の縮小"), "{page}");
    assert!(page.contains("a-manager"), "{page}");
    let res = a
        .post_form(&withdraw_url, &[("facility", A), ("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(net.get(B, &path).await.status(), 404);
    let page = a.get(&page_url).await.text().await.unwrap();
    assert!(page.contains("撤回（"), "{page}");
}

/// Posts the staff's paper form (multipart, CSRF token in the query).
async fn paper(
    staff: &TestUser,
    fields: &[(&str, &str)],
    scan: Option<(&str, &[u8])>,
) -> reqwest::Response {
    let scan =
        scan.map(|(ct, bytes)| (format!("; filename=\"form\"\r\nContent-Type: {ct}"), bytes));
    paper_with(staff, fields, scan.as_ref().map(|(h, b)| (h.as_str(), *b))).await
}

/// [`paper`] with the scan part's headers after its name as given (`; filename=…\r\nContent-Type: …`).
async fn paper_with(
    staff: &TestUser,
    fields: &[(&str, &str)],
    scan: Option<(&str, &[u8])>,
) -> reqwest::Response {
    let token = staff.client.csrf().await;
    let boundary = "rnBOUNDARYconsent7MA4YWxk";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .into_bytes(),
        );
    }
    if let Some((headers, bytes)) = scan {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"scan\"{headers}\r\n\r\n"
            )
            .into_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").into_bytes());
    staff
        .client
        .http
        .post(
            staff
                .client
                .url(&format!("/admin/records/consents?csrf_token={token}")),
        )
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn x3_staff_record_a_paper_consent_only_with_the_scan_of_the_signed_form() {
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_of_a(&[]))
            .await
            .status(),
        201
    );
    let doc = net.accept(A, fixture("referral_57133-1.json")).await;
    let path = format!("/api/fhir/Bundle/{doc}");
    let (patient, nid) = patient_of(app, "000123").await;
    let staff = app.login_as(Role::SystemOperator).await;
    let page = staff
        .client
        .get(&format!("/admin/records/consents?patient={nid}"))
        .await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("清須 花子") && page.contains("同意の履歴"),
        "{page}"
    );
    assert_eq!(app.audit_count("records.consents_read").await, 1);
    // The scope's facilities are checkboxes (as on the facility's own form), none ticked yet.
    for code in [A, B, C] {
        assert!(
            page.contains(&format!(
                r#"type="checkbox" name="facilities" value="{code}">"#
            )),
            "{page}"
        );
    }

    // Without a scan, or with a file that is not a scan: refused, nothing stored.
    let grant = [
        ("patient", nid.as_str()),
        ("facility", A),
        ("action", "grant"),
        ("signed_on", "2026-07-01"),
        ("scope", "listed"),
        ("facilities", B),
    ];
    let rows = net.rows().await;
    let res = paper(&staff, &grant, None).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("スキャン") && body.contains("必要"), "{body}");
    assert!(
        body.contains(&format!(r#"name="facilities" value="{B}" checked"#)),
        "the refused form keeps the ticked facility: {body}"
    );
    let res = paper(&staff, &grant, Some(("text/html", b"<script>x</script>"))).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("PDF・PNG・JPEG・TIFF"));
    assert_eq!(net.rows().await, rows);
    assert_eq!(app.audit_count("records.consent_recorded").await, 1);

    // With the scan: recorded, owned by staff, in force for A's documents.
    let res = paper(&staff, &grant, Some(("application/pdf", PDF))).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/admin/records/consents?patient={nid}")
    );
    assert_eq!(net.get(C, &path).await.status(), 404, "narrowed to B");
    assert_eq!(net.get(B, &path).await.status(), 200);
    let seen = api_consents(&net, A, "000123").await;
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (
            seen[1].org.as_str(),
            seen[1].in_force,
            seen[1].owner.as_str(),
            seen[1].change.as_str()
        ),
        (A, true, "staff", "narrowed")
    );
    assert_eq!(seen[1].readers, vec![B.to_string()]);

    // Shown in the history on A's patient page, with the scan.
    let a_user = net.person(Role::User, A, "a-user").await;
    let page = a_user
        .get(&format!("/records/patients/{patient}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("運用担当者（紙の同意書）"), "{page}");
    assert!(page.contains(&staff.login_id), "the staff user is named");
    let scan_url = format!("/records/patients/{patient}/consents/{}/scan", seen[1].id);
    assert!(page.contains(&scan_url), "{page}");
    let scan = a_user.get(&scan_url).await;
    assert_eq!(scan.status(), 200);
    assert_eq!(scan.headers()["content-type"], "application/pdf");
    assert_eq!(scan.bytes().await.unwrap().as_ref(), PDF);

    // The facility cannot change a consent staff hold (audited), even for its own documents.
    let refused = app.audit_count("records.consent_refused").await;
    let (s, m) = outcome(net.send(A, "/api/fhir/Consent", consent_of_a(&[])).await).await;
    assert_eq!(s, 403, "{m}");
    assert!(m.contains("運用担当者"), "{m}");
    assert_eq!(
        app.audit_count("records.consent_refused").await,
        refused + 1
    );
    assert_eq!(net.get(C, &path).await.status(), 404, "unchanged");

    // Staff withdraw on a signed withdrawal form (scan required too).
    let withdraw = [
        ("patient", nid.as_str()),
        ("facility", A),
        ("action", "withdraw"),
    ];
    assert_eq!(paper(&staff, &withdraw, None).await.status(), 422);
    assert_eq!(net.get(B, &path).await.status(), 200);
    let res = paper(&staff, &withdraw, Some(("application/pdf", PDF))).await;
    assert_eq!(res.status(), 303);
    assert_eq!(net.get(B, &path).await.status(), 404);
    let page = staff
        .client
        .get(&format!("/admin/records/consents?patient={nid}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("撤回の書面（スキャンあり）"), "{page}");
    // A may not re-grant what staff withdrew.
    let (s, _) = outcome(net.send(A, "/api/fhir/Consent", consent_of_a(&[])).await).await;
    assert_eq!(s, 403);
    assert_eq!(net.get(B, &path).await.status(), 404);
    let out = app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn x3_consents_recorded_before_the_change_belong_to_the_facility_in_their_row() {
    // Rows as the old "newest wins" rule left them: A's consent (every facility), then B's
    // (C only), which under the old rule replaced A's for all the patient's documents.
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_of_a(&[]))
            .await
            .status(),
        201
    );
    let a_doc = net.accept(A, fixture("referral_57133-1.json")).await;
    let (patient, nid) = patient_of(app, "000123").await;
    link_b(&net, &nid).await;
    let b_doc = net.accept(B, referral_from(B, "B-777")).await;
    let facility = |code: &'static str| async move {
        sqlx::query_scalar::<_, i64>("SELECT id FROM facilities WHERE code = $1")
            .bind(code)
            .fetch_one(app.db().pool())
            .await
            .unwrap()
    };
    let (b, c) = (facility(B).await, facility(C).await);
    app.advance_minutes(1);
    let later = app.now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO consents (patient_id, facility_id, signed_on, scope, recorded_at, recorded_by)
         VALUES ($1, $2, '2026-05-01', 'listed', $3, 'apikey:9:old') RETURNING id",
    )
    .bind(patient)
    .bind(b)
    .bind(later)
    .fetch_one(app.db().pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO consent_facilities (consent_id, facility_id) VALUES ($1, $2)")
        .bind(id)
        .bind(c)
        .execute(app.db().pool())
        .await
        .unwrap();

    // The migration's updates, on this data.
    let backend = if app.database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let sql = std::fs::read_to_string(format!(
        "{}/migrations/{backend}/0011_consent_authority.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let sql: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for stmt in sql
        .split(';')
        .filter(|s| s.trim_start().starts_with("UPDATE"))
    {
        sqlx::query(sqlx::AssertSqlSafe(stmt.to_string()))
            .execute(app.db().pool())
            .await
            .unwrap();
    }

    // A's consent was replaced under the old rule: it does not come back into force.
    let seen = api_consents(&net, B, "B-777").await;
    let kinds: Vec<(String, bool, String)> = seen
        .iter()
        .map(|s| (s.org.clone(), s.in_force, s.owner.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (A.to_string(), false, "facility".to_string()),
            (B.to_string(), true, "facility".to_string())
        ]
    );
    let row = sqlx::query("SELECT withdrawn_at, withdrawn_kind FROM consents WHERE id = $1")
        .bind(seen[0].id.parse::<i64>().unwrap())
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<String, _>("withdrawn_kind").unwrap(),
        "superseded"
    );
    assert_eq!(
        row.try_get::<String, _>("withdrawn_at").unwrap(),
        later.to_db()
    );
    // Nobody reads more than before: A's document only by A; B's (owned by B now) by C too.
    let a_path = format!("/api/fhir/Bundle/{a_doc}");
    let b_path = format!("/api/fhir/Bundle/{b_doc}");
    assert_eq!(net.get(A, &a_path).await.status(), 200);
    assert_eq!(net.get(B, &a_path).await.status(), 404);
    assert_eq!(net.get(C, &a_path).await.status(), 404);
    assert_eq!(net.get(C, &b_path).await.status(), 200);
    assert_eq!(net.get(A, &b_path).await.status(), 404);
    // The owner of each is the facility in its row: A records afresh, B cannot touch A's.
    let (s, m) = outcome(net.send(A, "/api/fhir/Consent", consent_of_a(&[B])).await).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(net.get(B, &a_path).await.status(), 200);
    let (s, _) = outcome(
        net.send(
            B,
            "/api/fhir/Consent",
            consent_from(B, "B-777", &[], Some(A), true),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn x3_a_scan_sent_without_a_file_name_is_taken_by_its_type_and_one_sent_as_text_is_refused_beside_the_form()
 {
    let net = network().await;
    let app = &net.app;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_of_a(&[]))
            .await
            .status(),
        201
    );
    let doc = net.accept(A, fixture("referral_57133-1.json")).await;
    let (patient, nid) = patient_of(app, "000123").await;
    let staff = app.login_as(Role::SystemOperator).await;
    let grant = [
        ("patient", nid.as_str()),
        ("facility", A),
        ("action", "grant"),
        ("signed_on", "2026-07-01"),
        ("scope", "listed"),
        ("facilities", B),
    ];
    // No file name and no type: the part is text, not the scan. Refused with why, input kept.
    let rows = net.rows().await;
    let res = paper_with(&staff, &grant, Some(("", PDF))).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("同意書のスキャンがファイルとして届きませんでした。"),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#"name="facilities" value="{B}" checked"#)),
        "the refused form keeps the ticked facility: {body}"
    );
    assert_eq!(net.rows().await, rows, "nothing stored");

    // No file name but a declared type: the scan is taken, as a named file would be.
    let res = paper_with(
        &staff,
        &grant,
        Some(("\r\nContent-Type: application/pdf", PDF)),
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let seen = api_consents(&net, A, "000123").await;
    assert_eq!(seen.len(), 2);
    let a_user = net.person(Role::User, A, "a-user").await;
    let scan = a_user
        .get(&format!(
            "/records/patients/{patient}/consents/{}/scan",
            seen[1].id
        ))
        .await;
    assert_eq!(scan.status(), 200);
    assert_eq!(scan.bytes().await.unwrap().as_ref(), PDF);
    assert_eq!(
        net.get(B, &format!("/api/fhir/Bundle/{doc}"))
            .await
            .status(),
        200
    );
}
