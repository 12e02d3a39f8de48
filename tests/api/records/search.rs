//! FHIR search on Bundle per R4 (R21.1, X.2, X.3; issue 14): OR by commas, AND by repetition,
//! systems honoured, Bundle.type, date prefixes, chains, keyset paging with a real total, unknown
//! parameters refused (or ignored when lenient) without reading anything, only returned documents
//! audited, the consent scope in results and totals; the CapabilityStatement; every error under
//! /api/fhir an OperationOutcome.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::*;

const ID_SYSTEM: &str = "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier";
const DOC_TYPES: &str = "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes";
const LOCAL_A: &str = "urn:oid:1.2.392.100495.20.3.51.12310000011";
const LOCAL_B: &str = "urn:oid:1.2.392.100495.20.3.51.12310000022";
const NETWORK: &str = "urn:rainbownet:network-patient-id";

const FIXTURES: [&str; 5] = [
    "referral_57133-1.json",          // document 2026-11-20T10:15+09:00  R00001
    "discharge_summary_18842-5.json", // document 2026-11-21T16:00+09:00  D00001
    "checkup_report_53576-5.json",    // document 2026-06-10T09:00+09:00  K00001
    "patient_summary_60591-5.json",   // document 2026-11-22T11:00+09:00  S00001
    "collection_clins.json",          // collection 2026-11-23T08:30+09:00 X00001
];

/// A network where A's patient 000123 consented for `scope` and A sent the five fixtures
/// (a minute apart); their ids in FIXTURES order.
async fn five(scope: &[&str]) -> (Net, Vec<i64>) {
    let net = network().await;
    let res = net.send(A, "/api/fhir/Consent", consent_for(scope)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.expect("body"));
    let mut ids = Vec::new();
    for f in FIXTURES {
        ids.push(net.accept(A, fixture(f)).await);
        net.app.advance_minutes(1);
    }
    (net, ids)
}

async fn search(net: &Net, facility: &str, query: &str) -> Value {
    let res = net
        .get(facility, &format!("/api/fhir/Bundle?{query}"))
        .await;
    let status = res.status();
    let v: Value = res.json().await.expect("json");
    assert_eq!(status, 200, "{query}: {v}");
    assert_eq!(v["resourceType"], "Bundle");
    assert_eq!(v["type"], "searchset");
    v
}

fn ids_of(v: &Value) -> Vec<i64> {
    v["entry"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter(|e| e["search"]["mode"] == "match")
                .map(|e| {
                    e["resource"]["id"]
                        .as_str()
                        .expect("id")
                        .parse()
                        .expect("number")
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn total(net: &Net, facility: &str, query: &str) -> i64 {
    let v = search(net, facility, query).await;
    assert_eq!(
        v["total"].as_i64().expect("total") as usize,
        ids_of(&v).len(),
        "{query}: everything fits on one page here"
    );
    v["total"].as_i64().expect("total")
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn link(v: &Value, relation: &str) -> Option<String> {
    v["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
        .map(str::to_string)
}

/// The path and query of a link (links carry the configured public URL).
fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).expect("absolute link");
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

#[tokio::test]
async fn r21_1_commas_are_or_and_a_repeated_parameter_is_and() {
    let (net, ids) = five(&[]).await;
    let r = enc(&format!("{ID_SYSTEM}|2310000011^2026^R00001"));
    let d = enc(&format!("{ID_SYSTEM}|2310000011^2026^D00001"));
    let v = search(&net, A, &format!("identifier={r},{d}")).await;
    assert_eq!(v["total"], 2, "comma: R OR D: {v}");
    let mut found = ids_of(&v);
    found.sort();
    assert_eq!(found, vec![ids[0], ids[1]]);
    assert_eq!(
        total(&net, A, &format!("identifier={r}&identifier={d}")).await,
        0,
        "repeated: R AND D"
    );
    assert_eq!(total(&net, A, "type=document,collection").await, 5);
    assert_eq!(total(&net, A, "type=document&type=collection").await, 0);
    assert_eq!(
        total(&net, A, "type=document&timestamp=ge2026-11-21").await,
        2,
        "AND across parameters"
    );
}

#[tokio::test]
async fn r21_1_identifier_and_patient_systems_are_honoured() {
    let (net, ids) = five(&[]).await;
    let q = |s: &str| format!("identifier={}", enc(s));
    assert_eq!(
        total(&net, A, &q(&format!("{ID_SYSTEM}|2310000011^2026^R00001"))).await,
        1
    );
    assert_eq!(
        total(
            &net,
            A,
            &q("http://example.org/other|2310000011^2026^R00001")
        )
        .await,
        0,
        "a wrong system finds nothing"
    );
    assert_eq!(
        total(&net, A, &q("|2310000011^2026^R00001")).await,
        0,
        "|value: no system"
    );
    assert_eq!(total(&net, A, &q(&format!("{ID_SYSTEM}|"))).await, 5);
    assert_eq!(total(&net, A, &q("2310000011^2026^R00001")).await, 1);

    let network_id: String = sqlx::query_scalar("SELECT network_id FROM patients")
        .fetch_one(net.app.db().pool())
        .await
        .expect("patient");
    let p = |s: &str| format!("patient={}", enc(s));
    assert_eq!(total(&net, A, &p(&format!("{LOCAL_A}|000123"))).await, 5);
    assert_eq!(
        total(&net, A, &p(&format!("{LOCAL_B}|000123"))).await,
        0,
        "B's local-ID system: B has no patient 000123"
    );
    assert_eq!(total(&net, A, &p("http://example.org|000123")).await, 0);
    assert_eq!(
        total(&net, A, &p(&format!("{NETWORK}|{network_id}"))).await,
        5
    );
    assert_eq!(total(&net, A, &p(&format!("{NETWORK}|000123"))).await, 0);
    assert_eq!(total(&net, A, &p("000123")).await, 5, "a bare own local ID");
    assert_eq!(
        total(&net, A, &p(&network_id)).await,
        5,
        "a bare network ID"
    );
    assert_eq!(
        total(&net, B, &p(&format!("{LOCAL_A}|000123"))).await,
        5,
        "B names the patient by A's local ID, with the system saying so"
    );
    assert_eq!(
        total(&net, B, &p("000123")).await,
        0,
        "not B's own local ID"
    );
    let v = search(&net, A, &format!("_id={},{}", ids[2], ids[4])).await;
    assert_eq!(v["total"], 2);
}

#[tokio::test]
async fn r21_1_type_is_bundle_type_and_composition_type_is_the_chain() {
    let (net, ids) = five(&[]).await;
    assert_eq!(total(&net, A, "type=document").await, 4);
    let v = search(&net, A, "type=collection").await;
    assert_eq!(ids_of(&v), vec![ids[4]]);
    assert_eq!(
        total(
            &net,
            A,
            &format!("type={}", enc("http://hl7.org/fhir/bundle-type|collection"))
        )
        .await,
        1
    );
    assert_eq!(
        total(&net, A, "type=57133-1").await,
        0,
        "type is not Composition.type"
    );
    let v = search(&net, A, "composition.type=57133-1").await;
    assert_eq!(ids_of(&v), vec![ids[0]]);
    let v = search(
        &net,
        A,
        &format!("composition.type={}", enc(&format!("{DOC_TYPES}|18842-5"))),
    )
    .await;
    assert_eq!(ids_of(&v), vec![ids[1]]);
    assert_eq!(
        total(
            &net,
            A,
            &format!("composition.type={}", enc("http://loinc.org|18842-5"))
        )
        .await,
        0,
        "the coding's system is honoured"
    );
    assert_eq!(total(&net, A, "composition.type=57133-1,53576-5").await, 2);
    assert_eq!(
        total(
            &net,
            A,
            &format!(
                "composition.subject.identifier={}",
                enc(&format!("{LOCAL_A}|000123"))
            )
        )
        .await,
        4,
        "the documents' Composition.subject, resolved in the Bundle"
    );
    let v = search(
        &net,
        A,
        &format!(
            "composition={}",
            enc("urn:uuid:c0000000-0000-4000-8000-000000000001")
        ),
    )
    .await;
    assert_eq!(ids_of(&v), vec![ids[0]]);
    assert_eq!(
        total(
            &net,
            A,
            &format!(
                "composition.subject={}",
                enc("urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001")
            )
        )
        .await,
        4
    );
}

#[tokio::test]
async fn r21_1_timestamp_takes_fhir_prefixes_and_partial_dates() {
    let (net, ids) = five(&[]).await;
    let cases: &[(&str, &[usize])] = &[
        ("2026", &[0, 1, 2, 3, 4]),
        ("2026-11", &[0, 1, 3, 4]),
        ("2026-11-20", &[0]),
        ("eq2026-11-21", &[1]),
        ("ne2026-11", &[2]),
        ("ge2026-11-21", &[1, 3, 4]),
        ("gt2026-11-21", &[3, 4]),
        ("sa2026-11-21", &[3, 4]),
        ("le2026-11-21", &[0, 1, 2]),
        ("lt2026-11-21", &[0, 2]),
        ("eb2026-11-20", &[2]),
        ("2026-11-20T10:15", &[0]),
        ("2026-11-20T10:15:00%2B09:00", &[0]),
        ("2026-11-20T01:15:00Z", &[0]),
        ("2026-11-20T10:15:01%2B09:00", &[]),
        ("ge2026-11-21T16:00:00%2B09:00", &[1, 3, 4]),
        ("gt2026-11-21T16:00:00%2B09:00", &[3, 4]),
        ("2026-11-22T11:00", &[3]),
    ];
    for (value, expected) in cases {
        let v = search(&net, A, &format!("timestamp={value}")).await;
        let mut got = ids_of(&v);
        got.sort();
        let want: Vec<i64> = expected.iter().map(|i| ids[*i]).collect();
        assert_eq!(got, want, "timestamp={value}");
    }
    assert_eq!(
        total(&net, A, "timestamp=ge2026-11-21&timestamp=lt2026-11-23").await,
        2,
        "a range by repetition"
    );
    assert_eq!(total(&net, A, "timestamp=2026-06,2026-11-23").await, 2);
    let (s, msg) = outcome(net.get(A, "/api/fhir/Bundle?timestamp=ge2026-13-01").await).await;
    assert_eq!(s, 400);
    assert!(msg.contains("日付"), "{msg}");
    assert_eq!(
        total(&net, A, "_lastUpdated=ge2000-01-01").await,
        5,
        "_lastUpdated is when the network stored them"
    );
}

#[tokio::test]
async fn r21_1_sort_by_timestamp_last_updated_or_id() {
    let (net, ids) = five(&[]).await;
    let order = |v: &Value| ids_of(v);
    assert_eq!(
        order(&search(&net, A, "").await),
        vec![ids[4], ids[3], ids[1], ids[0], ids[2]],
        "newest Bundle.timestamp first by default"
    );
    assert_eq!(
        order(&search(&net, A, "_sort=timestamp").await),
        vec![ids[2], ids[0], ids[1], ids[3], ids[4]]
    );
    assert_eq!(
        order(&search(&net, A, "_sort=-_lastUpdated").await),
        vec![ids[4], ids[3], ids[2], ids[1], ids[0]],
        "last stored first"
    );
    let mut asc = ids.clone();
    asc.sort();
    assert_eq!(order(&search(&net, A, "_sort=_id").await), asc);
    let (s, _) = outcome(net.get(A, "/api/fhir/Bundle?_sort=title").await).await;
    assert_eq!(s, 400);
}

/// Walks a search by its next links; returns the ids in order and the totals seen.
async fn walk_next(net: &Net, first: &str) -> (Vec<i64>, Vec<i64>, Value) {
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    let mut path = first.to_string();
    loop {
        let res = net.get(A, &path).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.expect("json");
        totals.push(v["total"].as_i64().expect("total"));
        seen.extend(ids_of(&v));
        match link(&v, "next") {
            Some(next) => path = path_of(&next),
            None => return (seen, totals, v),
        }
    }
}

#[tokio::test]
async fn r21_1_count_gives_the_real_total_and_next_links_walk_all_230_documents_once() {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let base = fixture_json("referral_57133-1.json");
    // 230 documents in batches of 46, three to a minute (equal timestamps: the id breaks ties).
    for chunk in 0..5 {
        let entries: Vec<Value> = (0..46)
            .map(|k| {
                let i = chunk * 46 + k;
                let mut b = base.clone();
                b["identifier"]["value"] = json!(format!("2310000011^2026^P{i:05}"));
                b["timestamp"] = json!(format!(
                    "2026-10-{:02}T{:02}:{:02}:00+09:00",
                    1 + i / 3 / 60 / 24,
                    (i / 3 / 60) % 24,
                    (i / 3) % 60
                ));
                json!({"resource": b, "request": {"method": "POST", "url": "Bundle"}})
            })
            .collect();
        let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": entries});
        let res = net.send(A, "/api/fhir", batch.to_string()).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.expect("body"));
    }
    assert_eq!(net.app.count("documents").await, 230);
    let stored: HashSet<i64> = sqlx::query_scalar("SELECT id FROM documents")
        .fetch_all(net.app.db().pool())
        .await
        .expect("ids")
        .into_iter()
        .collect();

    // _count=2: the real total, a next link, and only the 2 returned documents audited.
    let reads = net.app.audit_count("records.document_read").await;
    let v = search(&net, A, "_count=2").await;
    assert_eq!(v["total"], 230, "the total of all matches, not of the page");
    assert_eq!(ids_of(&v).len(), 2);
    assert!(link(&v, "next").is_some(), "{v}");
    assert!(
        link(&v, "previous").is_none(),
        "the first page has no previous"
    );
    assert_eq!(
        net.app.audit_count("records.document_read").await,
        reads + 2,
        "only the returned documents are audited as read"
    );

    // Every document exactly once through next links, past 100, in -timestamp order.
    let (seen, totals, last) = walk_next(&net, "/api/fhir/Bundle?_count=7").await;
    assert_eq!(seen.len(), 230, "nothing lost or repeated");
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), stored);
    assert!(totals.iter().all(|t| *t == 230));
    assert!(link(&last, "next").is_none());
    // The same walk backwards from the last page through previous links.
    let mut back = ids_of(&last);
    let mut page = last;
    while let Some(prev) = link(&page, "previous") {
        page = net
            .get(A, &path_of(&prev))
            .await
            .json()
            .await
            .expect("json");
        let mut ids = ids_of(&page);
        ids.extend(back);
        back = ids;
    }
    assert_eq!(back, seen, "previous links give the same pages back");

    // Ascending by _id with 100 a page: three pages.
    let (seen, _, _) = walk_next(&net, "/api/fhir/Bundle?_count=100&_sort=_id").await;
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 230);

    // A document arriving during a walk neither shifts nor repeats what follows.
    let first = search(&net, A, "_count=50").await;
    let mut b = base.clone();
    b["identifier"]["value"] = json!("2310000011^2026^NEW");
    b["timestamp"] = json!("2026-12-01T00:00:00+09:00");
    net.accept(A, b.to_string()).await;
    let (rest, _, _) = walk_next(&net, &path_of(&link(&first, "next").expect("next"))).await;
    let mut all = ids_of(&first);
    all.extend(rest);
    assert_eq!(all.len(), 230);
    assert_eq!(all.iter().copied().collect::<HashSet<_>>(), stored);
}

#[tokio::test]
async fn x2_an_unknown_parameter_is_a_400_operation_outcome_and_nothing_is_read() {
    let (net, _) = five(&[]).await;
    let reads = net.app.audit_count("records.document_read").await;
    for q in [
        "identifierx=1",
        "date=ge2026-11-01",
        "identifier:exact=a",
        "composition.title=x",
        "_include=Bundle:composition",
        "_summary=true",
    ] {
        let (s, msg) = outcome(net.get(A, &format!("/api/fhir/Bundle?{q}")).await).await;
        assert_eq!(s, 400, "{q}: {msg}");
    }
    assert_eq!(
        net.app.audit_count("records.document_read").await,
        reads,
        "a refused search reads and audits nothing"
    );
    // Prefer: handling=lenient: ignored, left out of the self link, and said so.
    let res = reqwest::Client::new()
        .get(format!(
            "{}/api/fhir/Bundle?date=ge2026-11-01&type=collection",
            net.app.address
        ))
        .bearer_auth(&net.keys[A])
        .header("prefer", "handling=lenient")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["total"], 1, "{v}");
    let own = link(&v, "self").expect("self");
    assert!(
        own.contains("type=collection") && !own.contains("date"),
        "{own}"
    );
    let outcome_entry = v["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("an outcome entry");
    assert_eq!(
        outcome_entry["resource"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(outcome_entry["resource"]["issue"][0]["severity"], "warning");
    assert!(
        outcome_entry["resource"]["issue"][0]["diagnostics"]
            .as_str()
            .expect("text")
            .contains("date")
    );
}

#[tokio::test]
async fn x2_only_the_documents_returned_are_audited_as_read() {
    let (net, _) = five(&[]).await;
    let reads = net.app.audit_count("records.document_read").await;
    let v = search(&net, A, "_count=2").await;
    assert_eq!(v["total"], 5);
    assert_eq!(
        net.app.audit_count("records.document_read").await,
        reads + 2
    );
    let v = search(&net, A, "_summary=count").await;
    assert_eq!(v["total"], 5);
    assert!(v.get("entry").is_none(), "{v}");
    let v = search(&net, A, "_count=0").await;
    assert_eq!(v["total"], 5);
    assert_eq!(
        net.app.audit_count("records.document_read").await,
        reads + 2,
        "a count reads no document"
    );
    let v = search(&net, A, "_total=none&_count=1").await;
    assert!(v.get("total").is_none());
}

#[tokio::test]
async fn x3_search_results_and_totals_keep_to_the_consent_scope() {
    let (net, _) = five(&[B]).await;
    assert_eq!(total(&net, A, "").await, 5, "the sender");
    assert_eq!(total(&net, B, "").await, 5, "in scope");
    let denied = net.app.audit_count("access.denied").await;
    let reads = net.app.audit_count("records.document_read").await;
    let v = search(&net, C, "").await;
    assert_eq!(v["total"], 0, "outside the scope: not even counted");
    assert!(ids_of(&v).is_empty());
    let v = search(
        &net,
        C,
        &format!("patient={}", enc(&format!("{LOCAL_A}|000123"))),
    )
    .await;
    assert_eq!(v["total"], 0);
    assert_eq!(
        net.app.audit_count("access.denied").await,
        denied + 1,
        "naming a patient C may not see is a refused read"
    );
    assert_eq!(net.app.audit_count("records.document_read").await, reads);
    // Withdrawn: only the sender counts them.
    let mut w = fixture_json("consent_all.json");
    w["status"] = json!("inactive");
    assert_eq!(
        net.send(A, "/api/fhir/Consent", w.to_string())
            .await
            .status(),
        200
    );
    assert_eq!(total(&net, B, "").await, 0);
    assert_eq!(total(&net, A, "").await, 5);
}

#[tokio::test]
async fn r21_1_the_capability_statement_lists_what_is_supported() {
    let net = network().await;
    // Public, as FHIR servers serve it: no key needed.
    let res = reqwest::Client::new()
        .get(format!("{}/api/fhir/metadata", net.app.address))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("application/fhir+json")
    );
    let cs: Value = res.json().await.expect("json");
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["status"], "active");
    assert_eq!(cs["kind"], "instance");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert!(
        cs["format"]
            .as_array()
            .expect("format")
            .contains(&json!("json"))
    );
    let rest = &cs["rest"][0];
    assert_eq!(rest["mode"], "server");
    assert_eq!(rest["interaction"][0]["code"], "batch");
    let resource = |t: &str| {
        rest["resource"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["type"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("{t} missing"))
    };
    let bundle = resource("Bundle");
    let codes: Vec<&str> = bundle["interaction"]
        .as_array()
        .expect("interactions")
        .iter()
        .filter_map(|i| i["code"].as_str())
        .collect();
    assert_eq!(codes, ["create", "read", "search-type"]);
    let params: Vec<(String, String)> = bundle["searchParam"]
        .as_array()
        .expect("params")
        .iter()
        .map(|p| {
            assert!(p["documentation"].is_string(), "{p}");
            (
                p["name"].as_str().expect("name").to_string(),
                p["type"].as_str().expect("type").to_string(),
            )
        })
        .collect();
    for (name, kind) in [
        ("identifier", "token"),
        ("type", "token"),
        ("timestamp", "date"),
        ("composition", "reference"),
        ("composition.type", "token"),
        ("composition.subject", "reference"),
        ("patient", "token"),
        ("_lastUpdated", "date"),
    ] {
        assert!(
            params.contains(&(name.to_string(), kind.to_string())),
            "{name} ({kind}) missing: {params:?}"
        );
    }
    assert_eq!(bundle["operation"][0]["name"], "validate");
    let consent = resource("Consent");
    assert_eq!(consent["interaction"].as_array().expect("i").len(), 2);
    assert_eq!(resource("Patient")["operation"][0]["name"], "link");
    // Every parameter listed is accepted by the search.
    for (name, _) in &params {
        let value = match name.as_str() {
            "timestamp" | "_lastUpdated" => "2026",
            _ => "x",
        };
        let res = net
            .get(A, &format!("/api/fhir/Bundle?{name}={value}"))
            .await;
        assert_eq!(res.status(), 200, "{name}");
    }
}

#[tokio::test]
async fn x2_every_error_under_api_fhir_is_an_operation_outcome() {
    let net = network().await;
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", net.app.address);

    let (s, msg) = outcome(net.get(A, "/api/fhir/Nope").await).await;
    assert_eq!(s, 404, "an unknown path");
    assert!(msg.contains("/api/fhir/Nope"), "{msg}");
    let (s, _) = outcome(net.get(A, "/api/fhir/Bundle/123/_history").await).await;
    assert_eq!(s, 404);
    let (s, _) = outcome(net.get(A, "/api/fhir/Bundle/999999").await).await;
    assert_eq!(s, 404, "a missing document");

    let res = client
        .delete(url("/api/fhir/Bundle"))
        .bearer_auth(&net.keys[A])
        .send()
        .await
        .expect("send");
    let allow = res.headers()["allow"].to_str().expect("allow").to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let (s, msg) = outcome(res).await;
    assert_eq!(s, 405, "a wrong method");
    assert!(msg.contains("DELETE"), "{msg}");
    let (s, _) = outcome(
        client
            .post(url("/api/fhir/metadata"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 405);

    let res = client
        .get(url("/api/fhir/Bundle"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let (s, _) = outcome(res).await;
    assert_eq!(s, 401, "no key");

    let (s, _) = outcome(
        client
            .get(url("/api/fhir/Bundle"))
            .bearer_auth(&net.keys[A])
            .header("accept", "application/fhir+xml")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 406, "XML is not served");
    let (s, _) = outcome(net.get(A, "/api/fhir/Bundle?_format=xml").await).await;
    assert_eq!(s, 406);
    let (s, _) = outcome(
        client
            .post(url("/api/fhir/Bundle"))
            .bearer_auth(&net.keys[A])
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 415);

    // Pages keep their Japanese HTML 404.
    let res = client.get(url("/no-such-page")).send().await.expect("send");
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
}

type KeyRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[tokio::test]
async fn r21_1_the_search_values_written_at_intake_equal_the_migrations_sql_definition() {
    let (net, _) = five(&[]).await;
    // Edge cases the intake may accept (those it refuses are simply not compared).
    let base = fixture_json("referral_57133-1.json");
    for (n, ts) in [
        "2026-11-20T10:15",
        "2026-11-20",
        "2026-11-20T10:15:00.123456Z",
        "2026-11-20T10:15:00-05:00",
        "2026-11",
    ]
    .iter()
    .enumerate()
    {
        let mut b = base.clone();
        b["identifier"]["value"] = json!(format!("2310000011^2026^E{n}"));
        b["timestamp"] = json!(ts);
        b["entry"][0]["resource"]["id"] = json!(format!("comp-{n}"));
        net.send(A, "/api/fhir/Bundle", b.to_string()).await;
    }
    let pool = net.app.db().pool();
    // The migration's SQL reads documents as they were stored before migration 0051 (text in
    // `content`); the intake now stores them packed, so they are put back as text first.
    let packed: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT id, content_zstd FROM documents WHERE content_zstd IS NOT NULL")
            .fetch_all(pool)
            .await
            .expect("packed");
    assert!(packed.len() >= 5);
    for (id, frame) in packed {
        let text = rainbownet::records::packed::unpack(&frame).expect("unpack");
        sqlx::query("UPDATE documents SET content = $1, content_zstd = NULL WHERE id = $2")
            .bind(text)
            .bind(id)
            .execute(pool)
            .await
            .expect("as text");
    }
    let cols =
        "document_id, bundle_timestamp, composition_id, composition_url, composition_subject";
    let stored: Vec<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols} FROM document_search ORDER BY document_id"
    )))
    .fetch_all(pool)
    .await
    .expect("stored");
    let derived: Vec<KeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols} FROM document_search_source ORDER BY document_id"
    )))
    .fetch_all(pool)
    .await
    .expect("derived");
    assert!(stored.len() >= 5);
    assert_eq!(stored, derived);
    let tokens = |table: &'static str| async move {
        sqlx::query_as::<_, (i64, String, String, String)>(sqlx::AssertSqlSafe(format!(
            "SELECT document_id, param, system, code FROM {table}
             ORDER BY document_id, param, system, code"
        )))
        .fetch_all(pool)
        .await
        .expect("tokens")
    };
    let t = tokens("document_tokens").await;
    assert!(t.len() >= 9, "{t:?}");
    assert_eq!(t, tokens("document_tokens_source").await);
}
