//! Issue 14, items 2 and 3 (R21.1, X.2): every resource of a posted Bundle is checked against
//! FHIR R4 (datatypes, cardinalities, required elements, REQUIRED value sets, unknown elements
//! and resource types), duplicate JSON keys and foreign media types are refused, references
//! follow FHIR R4 §3.3.1, and `POST /api/fhir/Bundle/$validate` answers without storing.
//! Each refusal is an OperationOutcome in Japanese with the FHIRPath of the fault, and nothing is
//! stored.

use serde_json::{Value, json};

use super::*;

/// A network with facility A's patient registered (consent in force).
async fn registered() -> Net {
    let net = network().await;
    let res = net.send(A, "/api/fhir/Consent", consent_for(&[])).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.expect("body"));
    net
}

/// The referral fixture under another Bundle.identifier (each accepted variant is a new document).
fn referral(id: &str) -> Value {
    let mut b = fixture_json("referral_57133-1.json");
    b["identifier"]["value"] = json!(format!("2310000011^2026^V{id}"));
    b
}

/// The status and the full OperationOutcome of a refusal.
async fn refusal(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(ct.starts_with("application/fhir+json"), "{ct}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    (status, v)
}

/// The status a batch-response gave its entry `i` ("" if none).
fn status_of(v: &Value, i: usize) -> &str {
    v["entry"][i]["response"]["status"]
        .as_str()
        .unwrap_or_default()
}

fn expressions(o: &Value) -> Vec<String> {
    o["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["expression"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn r21_1_issue14_structurally_invalid_bundles_are_refused_with_where_and_nothing_stored() {
    let net = registered().await;
    let before = net.rows().await;
    let base = referral("0");
    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation, u16, &str)> = vec![
        (
            "Composition.status = 12345",
            |b| b["entry"][0]["resource"]["status"] = json!(12345),
            400,
            "Bundle.entry[0].resource.status",
        ),
        (
            "Composition.status outside its value set",
            |b| b["entry"][0]["resource"]["status"] = json!("done"),
            400,
            "Bundle.entry[0].resource.status",
        ),
        (
            "gender = {\"a\":1}",
            |b| b["entry"][1]["resource"]["gender"] = json!({"a": 1}),
            400,
            "Bundle.entry[1].resource.gender",
        ),
        (
            "birthDate 2026-13-45",
            |b| b["entry"][1]["resource"]["birthDate"] = json!("2026-13-45"),
            400,
            "Bundle.entry[1].resource.birthDate",
        ),
        (
            "resourceType NotAResource",
            |b| b["entry"][7]["resource"]["resourceType"] = json!("NotAResource"),
            400,
            "Bundle.entry[7].resource.resourceType",
        ),
        (
            "unknown property",
            |b| b["entry"][1]["resource"]["nickname"] = json!("はなちゃん"),
            400,
            "Bundle.entry[1].resource.nickname",
        ),
        (
            "missing required element (Observation.code)",
            |b| {
                b["entry"][7]["resource"]
                    .as_object_mut()
                    .expect("object")
                    .remove("code");
            },
            400,
            "Bundle.entry[7].resource.code",
        ),
        (
            "wrong cardinality (Patient.name is 0..*)",
            |b| b["entry"][1]["resource"]["name"] = b["entry"][1]["resource"]["name"][0].clone(),
            400,
            "Bundle.entry[1].resource.name",
        ),
        (
            "wrong cardinality (Composition.subject is 0..1)",
            |b| {
                b["entry"][0]["resource"]["subject"] =
                    json!([b["entry"][0]["resource"]["subject"].clone()])
            },
            400,
            "Bundle.entry[0].resource.subject",
        ),
        (
            "Condition.clinicalStatus outside its required value set",
            |b| {
                b["entry"][4]["resource"]["clinicalStatus"] = json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "cured"}]})
            },
            400,
            "Bundle.entry[4].resource.clinicalStatus",
        ),
        (
            "dangling #contained reference",
            |b| {
                b["entry"][8]["resource"]["requester"] = json!({"reference": "#nobody"});
            },
            422,
            "Bundle.entry[8].resource.requester.reference",
        ),
        (
            "Composition.section.entry to a resource not in the Bundle",
            |b| {
                b["entry"][0]["resource"]["section"][2]["entry"][0]["reference"] =
                    json!("urn:uuid:00000000-dead-4000-8000-000000000000")
            },
            422,
            "Bundle.entry[0].resource.section[2].entry[0].reference",
        ),
    ];
    for (what, mutate, status, expression) in cases {
        let mut b = base.clone();
        mutate(&mut b);
        let (s, o) = refusal(net.send(A, "/api/fhir/Bundle", b.to_string()).await).await;
        assert_eq!(s, status, "{what}: {o}");
        assert!(
            expressions(&o).iter().any(|e| e == expression),
            "{what}: expected {expression} in {o}"
        );
        let msg = o["issue"][0]["diagnostics"].as_str().expect("diagnostics");
        assert!(
            msg.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)),
            "{what}: a Japanese message: {msg}"
        );
    }

    // The same key twice in one object: serde_json would keep the last.
    let text = serde_json::to_string_pretty(&base).expect("json");
    let dup = text.replacen(
        "\"gender\": \"female\"",
        "\"gender\": \"female\", \"gender\": \"male\"",
        1,
    );
    assert_ne!(dup, text);
    let (s, o) = refusal(net.send(A, "/api/fhir/Bundle", dup).await).await;
    assert_eq!(s, 400, "duplicate key: {o}");
    assert!(
        o["issue"][0]["diagnostics"]
            .as_str()
            .is_some_and(|m| m.contains("gender") && m.contains("重複")),
        "{o}"
    );

    // Only application/fhir+json and application/json (with parameters) are FHIR JSON.
    for ct in [
        "application/jsonpatch+junk",
        "text/plain",
        "application/fhir+xml",
    ] {
        let res = reqwest::Client::new()
            .post(format!("{}/api/fhir/Bundle", net.app.address))
            .bearer_auth(&net.keys[A])
            .header("content-type", ct)
            .body(base.to_string())
            .send()
            .await
            .expect("send");
        let (s, _) = refusal(res).await;
        assert_eq!(s, 415, "{ct}");
    }
    assert_eq!(net.rows().await, before, "nothing stored by any refusal");

    let res = reqwest::Client::new()
        .post(format!("{}/api/fhir/Bundle", net.app.address))
        .bearer_auth(&net.keys[A])
        .header("content-type", "application/json; charset=utf-8")
        .body(base.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201, "{}", res.text().await.expect("body"));
}

#[tokio::test]
async fn r21_1_issue14_valid_r4_variants_are_accepted() {
    let net = registered().await;
    // A partial dateTime is valid FHIR: a month, or a year.
    let mut b = referral("1");
    b["entry"][0]["resource"]["date"] = json!("2020-08");
    b["entry"][7]["resource"]["effectiveDateTime"] = json!("2020-08");
    b["entry"][4]["resource"]["onsetDateTime"] = json!("2020");
    let id = net.accept(A, b.to_string()).await.to_string();
    // (Bundle search has no `date` since issue 14's FHIR search: the stored document date is
    // checked directly, and the document is found by its id.)
    let doc_date: String = sqlx::query_scalar("SELECT doc_date FROM documents WHERE id = $1")
        .bind(id.parse::<i64>().expect("id"))
        .fetch_one(net.app.db().pool())
        .await
        .expect("document");
    assert_eq!(
        doc_date, "2020-08-01",
        "dated from the first day of its month"
    );
    let res = net
        .get(A, &format!("/api/fhir/Bundle?patient=000123&_id={id}"))
        .await;
    let found: Value = res.json().await.expect("json");
    assert!(
        found["entry"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["resource"]["id"] == id.as_str())),
        "{found}"
    );

    // References outside the Bundle are allowed where FHIR allows them: a GP, the service
    // provider of an Encounter (itself in the Bundle, as the Composition's encounter), a
    // performer.
    let mut b = referral("2");
    b["entry"][1]["resource"]["generalPractitioner"] =
        json!([{"reference": "Practitioner/gp-elsewhere"}]);
    b["entry"][7]["resource"]["performer"] =
        json!([{"reference": "https://lab.example.jp/fhir/Organization/77"}]);
    b["entry"][0]["resource"]["encounter"] =
        json!({"reference": "urn:uuid:e0000001-0000-4000-8000-000000000001"});
    b["entry"].as_array_mut().expect("entries").push(json!({
        "fullUrl": "urn:uuid:e0000001-0000-4000-8000-000000000001",
        "resource": {"resourceType": "Encounter", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"},
            "serviceProvider": {"reference": "Organization/1319999999"}}}));
    // A contained resource, referenced from its container; primitive extensions (`_name`).
    b["entry"][8]["resource"]["contained"] = json!([{"resourceType": "Practitioner", "id": "rx-dr",
        "name": [{"text": "清須 太郎"}]}]);
    b["entry"][8]["resource"]["requester"] = json!({"reference": "#rx-dr"});
    b["entry"][1]["resource"]["_birthDate"] = json!({"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
        "valueDateTime": "1948-03-12T08:30:00+09:00"}]});
    net.accept(A, b.to_string()).await;

    // A collection whose Observation's performer and Condition's asserter are outside.
    let mut c = fixture_json("collection_clins.json");
    c["identifier"]["value"] = json!("2310000011^2026^V3");
    c["entry"][3]["resource"]["performer"] = json!([{"reference": "Organization/outside"}]);
    c["entry"][1]["resource"]["asserter"] = json!({"reference": "Practitioner/outside"});
    net.accept(A, c.to_string()).await;
}

/// A document Bundle carried inside a document (a split prescription): its Composition's
/// references resolve inside it.
fn prescription(patient_url: &str) -> Value {
    json!({"resourceType": "Bundle", "type": "document",
    "identifier": {"system": "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier",
                   "value": "2310000011^2026^RX0001"},
    "timestamp": "2026-11-20T10:05:00+09:00",
    "entry": [
        {"fullUrl": "urn:uuid:f1000001-0000-4000-8000-000000000001",
         "resource": {"resourceType": "Composition", "status": "final",
            "type": {"coding": [{"system": "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes", "code": "57833-6", "display": "処方箋"}]},
            "subject": {"reference": patient_url},
            "date": "2026-11-20T10:05:00+09:00",
            "author": [{"reference": "urn:uuid:f1000001-0000-4000-8000-000000000003"}],
            "title": "処方箋",
            "section": [{"title": "処方指示", "entry": [{"reference": "urn:uuid:f1000001-0000-4000-8000-000000000004"}]}]}},
        {"fullUrl": "urn:uuid:f1000001-0000-4000-8000-000000000002",
         "resource": {"resourceType": "Patient", "name": [{"text": "清須 花子"}], "gender": "female", "birthDate": "1948-03-12"}},
        {"fullUrl": "urn:uuid:f1000001-0000-4000-8000-000000000003",
         "resource": {"resourceType": "Organization", "name": "きよす内科クリニック"}},
        {"fullUrl": "urn:uuid:f1000001-0000-4000-8000-000000000004",
         "resource": {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"text": "メトホルミン塩酸塩錠250mg"},
            "subject": {"reference": patient_url}}}
    ]})
}

#[tokio::test]
async fn r21_1_issue14_a_nested_document_bundle_resolves_inside_itself() {
    let net = registered().await;
    let with_inner = |inner: Value, id: &str| {
        let mut b = referral(id);
        b["entry"][0]["resource"]["section"][0]["entry"] =
            json!([{"reference": "urn:uuid:f1000001-0000-4000-8000-000000000000"}]);
        b["entry"].as_array_mut().expect("entries").push(json!({
            "fullUrl": "urn:uuid:f1000001-0000-4000-8000-000000000000", "resource": inner}));
        b
    };
    let ok = with_inner(
        prescription("urn:uuid:f1000001-0000-4000-8000-000000000002"),
        "4",
    );
    net.accept(A, ok.to_string()).await;

    // The inner Composition's subject names the OUTER Bundle's Patient: not in its own Bundle.
    let before = net.rows().await;
    let bad = with_inner(
        prescription("urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"),
        "5",
    );
    let (s, o) = refusal(net.send(A, "/api/fhir/Bundle", bad.to_string()).await).await;
    assert_eq!(s, 422, "{o}");
    assert!(
        expressions(&o)
            .iter()
            .any(|e| e == "Bundle.entry[10].resource.entry[0].resource.subject.reference"),
        "{o}"
    );
    assert_eq!(net.rows().await, before);
}

#[tokio::test]
async fn r21_1_issue14_validate_operation_answers_without_storing_or_auditing() {
    let net = registered().await;
    let before = net.rows().await;
    let audit_before = net.app.count("audit_events").await;

    let res = net
        .send(A, "/api/fhir/Bundle/$validate", referral("6").to_string())
        .await;
    let (s, o) = refusal(res).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["issue"][0]["severity"], "information", "{o}");

    // The same, wrapped in Parameters as the FHIR operation allows.
    let params = json!({"resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": referral("6")}]});
    let (s, o) = refusal(
        net.send(A, "/api/fhir/Bundle/$validate", params.to_string())
            .await,
    )
    .await;
    assert_eq!(s, 200, "{o}");

    let mut bad = referral("7");
    bad["entry"][1]["resource"]["birthDate"] = json!("2026-13-45");
    bad["entry"][0]["resource"]["status"] = json!(12345);
    let (s, o) = refusal(
        net.send(A, "/api/fhir/Bundle/$validate", bad.to_string())
            .await,
    )
    .await;
    assert_eq!(s, 400, "{o}");
    let found = expressions(&o);
    for e in [
        "Bundle.entry[0].resource.status",
        "Bundle.entry[1].resource.birthDate",
    ] {
        assert!(found.iter().any(|f| f == e), "every issue, {e}: {o}");
    }
    assert!(
        o["issue"]
            .as_array()
            .is_some_and(|i| i.iter().all(|i| i["severity"] == "error")),
        "{o}"
    );

    // Without an API key: refused like the other API routes.
    let res = reqwest::Client::new()
        .post(format!("{}/api/fhir/Bundle/$validate", net.app.address))
        .header("content-type", "application/fhir+json")
        .body(referral("6").to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);

    assert_eq!(net.rows().await, before, "nothing stored");
    assert_eq!(
        net.app.count("audit_events").await,
        audit_before,
        "a validation reads and changes nothing: no audit event"
    );
}

#[tokio::test]
async fn r21_1_issue14_batch_entries_and_consents_are_validated_too() {
    let net = registered().await;
    let before = net.rows().await;
    let mut bad = referral("8");
    bad["entry"][1]["resource"]["gender"] = json!("woman");
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": referral("9"), "request": {"method": "POST", "url": "Bundle"}},
        {"resource": bad, "request": {"method": "POST", "url": "Bundle"}}]});
    let res = net.send(A, "/api/fhir", batch.to_string()).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["entry"][0]["response"]["status"], "201 Created", "{v}");
    assert!(status_of(&v, 1).starts_with("400"), "{v}");
    assert_eq!(
        v["entry"][1]["response"]["outcome"]["issue"][0]["expression"][0],
        "Bundle.entry[1].resource.gender",
        "{v}"
    );
    let after = net.rows().await;
    assert_eq!(after[0], before[0] + 1, "only the valid entry is stored");

    // A Consent with an unknown element is refused before anything is recorded.
    let mut c: Value = serde_json::from_str(&consent_for(&[])).expect("json");
    c["signedBy"] = json!("清須 花子");
    let (s, o) = refusal(net.send(A, "/api/fhir/Consent", c.to_string()).await).await;
    assert_eq!(s, 400, "{o}");
    assert_eq!(o["issue"][0]["expression"][0], "Consent.signedBy", "{o}");
    assert_eq!(net.rows().await, after);
}

/// A batch's resources are read on the threads that check them (`fhir_json::parse_batch`): a
/// key repeated inside one entry's resource refuses that entry, with where it is in the body.
#[tokio::test]
async fn r21_1_issue14_a_repeated_key_in_one_batch_entry_refuses_that_entry_only() {
    let net = registered().await;
    let before = net.rows().await;
    let twice =
        referral("rk2")
            .to_string()
            .replacen("\"gender\":", "\"gender\":\"male\",\"gender\":", 1);
    assert!(twice.contains("\"gender\":\"male\",\"gender\":"), "{twice}");
    let entry = |r: &str| {
        format!(r#"{{"resource": {r}, "request": {{"method": "POST", "url": "Bundle"}}}}"#)
    };
    let body = format!(
        "{{\"resourceType\": \"Bundle\", \"type\": \"batch\", \"entry\": [{},\n{},\n{}]}}",
        entry(&referral("rk1").to_string()),
        entry(&twice),
        entry(&referral("rk3").to_string()),
    );
    // `$validate` reads the batch as intake does: the one entry's issue, not the whole body's.
    let (s, o) = refusal(
        net.send(A, "/api/fhir/Bundle/$validate", body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 400, "{o}");
    assert_eq!(o["issue"].as_array().map(Vec::len), Some(1), "{o}");
    assert_eq!(
        o["issue"][0]["expression"][0], "Bundle.entry[1].resource",
        "{o}"
    );
    let said = o["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    assert!(said.contains("gender") && said.contains("重複"), "{said}");

    let res = net.send(A, "/api/fhir", body).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["entry"][0]["response"]["status"], "201 Created", "{v}");
    assert_eq!(v["entry"][2]["response"]["status"], "201 Created", "{v}");
    assert!(status_of(&v, 1).starts_with("400"), "{v}");
    let said = v["entry"][1]["response"]["outcome"]["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or_default();
    assert!(
        said.contains("gender") && said.contains("重複") && said.contains("（2 行"),
        "the key and its line in the body: {said}"
    );
    assert_eq!(
        net.rows().await[0],
        before[0] + 2,
        "the two other entries are stored"
    );

    // An entry without `request` (bdl-3): the batch is refused, saying what is missing.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": referral("rk4"), "request": {"method": "POST", "url": "Bundle"}},
        {"resource": referral("rk5")}]});
    let before = net.rows().await;
    for path in ["/api/fhir", "/api/fhir/Bundle/$validate"] {
        let (s, o) = refusal(net.send(A, path, batch.to_string()).await).await;
        assert_eq!(s, 400, "{path}: {o}");
        let said = o["issue"][0]["diagnostics"].as_str().unwrap_or_default();
        assert!(
            said.contains("entry[1]") && said.contains("request") && said.contains("bdl-3"),
            "{path}: {said}"
        );
    }
    assert_eq!(net.rows().await, before, "nothing stored");
}

#[tokio::test]
async fn r21_1_issue14_bundle_invariants_bdl7_fullurl_unique_and_bdl10_document_timestamp() {
    let net = registered().await;
    let before = net.rows().await;
    // bdl-7: two entries with one fullUrl (and no versionId to tell them apart).
    let mut b = referral("bdl7");
    let first = b["entry"][1]["fullUrl"].clone();
    b["entry"][2]["fullUrl"] = first;
    let (s, o) = refusal(net.send(A, "/api/fhir/Bundle", b.to_string()).await).await;
    assert_eq!(s, 422, "{o}");
    assert!(o.to_string().contains("bdl-7"), "{o}");
    // bdl-10: a document without its timestamp.
    let mut b = referral("bdl10");
    b.as_object_mut().expect("object").remove("timestamp");
    let (s, o) = refusal(net.send(A, "/api/fhir/Bundle", b.to_string()).await).await;
    assert_eq!(s, 422, "{o}");
    assert!(o.to_string().contains("bdl-10"), "{o}");
    assert_eq!(net.rows().await, before, "nothing stored");
    // bdl-9 (identifier) and bdl-11 (first entry a Composition) are refused as before.
    let mut b = referral("bdl9");
    b.as_object_mut().expect("object").remove("identifier");
    assert_eq!(
        refusal(net.send(A, "/api/fhir/Bundle", b.to_string()).await)
            .await
            .0,
        422
    );
    let mut b = referral("bdl11");
    b["entry"].as_array_mut().expect("entries").swap(0, 1);
    assert_eq!(
        refusal(net.send(A, "/api/fhir/Bundle", b.to_string()).await)
            .await
            .0,
        422
    );
    assert_eq!(net.rows().await, before, "nothing stored");
}
