//! Two transactions registering the same new patients in opposite orders (two batches, two
//! instances) must not deadlock (issue 16 item 2): on PostgreSQL the second insert of a
//! patient's link waits for the first, so the intake resolves a transaction's patients in one
//! order (facility, local ID) whatever order they were sent in. Every round both senders get
//! their answers, never a 500. On SQLite and, with TEST_DATABASE_URL, PostgreSQL.

use serde_json::{Value, json};

use super::*;

/// A patient summary for the new patient `local` (with its consent, so that it is registered
/// on arrival) under its own Bundle.identifier `doc`.
fn new_patient_document(local: &str, doc: &str) -> Value {
    let mut v = fixture_json("patient_summary_60591-5.json");
    v["identifier"]["value"] = json!(format!("2310000011^2026^{doc}"));
    v["entry"][1]["resource"]["identifier"][0]["value"] = json!(local);
    let mut consent = fixture_json("consent_all.json");
    consent.as_object_mut().unwrap().remove("contained");
    consent["patient"] = json!({"reference": "urn:uuid:d5a8f5c2-1f0e-4a47-9a5e-5b0d3c0c0001"});
    v["entry"].as_array_mut().unwrap().push(
        json!({"fullUrl": "urn:uuid:6e0c3c1a-0000-4000-8000-00000000c0a2", "resource": consent}),
    );
    v
}

fn batch(docs: Vec<Value>) -> String {
    let entries: Vec<Value> = docs
        .into_iter()
        .map(|d| json!({"resource": d, "request": {"method": "POST", "url": "Bundle"}}))
        .collect();
    json!({"resourceType": "Bundle", "type": "batch", "entry": entries}).to_string()
}

/// The answers of a batch: its HTTP status and each entry's status.
async fn statuses(res: reqwest::Response) -> (u16, Vec<String>) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let entries = v["entry"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["response"]["status"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_else(|| vec![text]);
    (status, entries)
}

#[tokio::test]
async fn x5_issue16_two_batches_registering_the_same_new_patients_in_opposite_orders_both_succeed()
{
    let net = network().await;
    let rounds = 25;
    for r in 0..rounds {
        let locals: Vec<String> = (0..3).map(|k| format!("R{r:03}P{k}")).collect();
        let forward: Vec<Value> = locals
            .iter()
            .enumerate()
            .map(|(k, l)| new_patient_document(l, &format!("F{r:03}{k}")))
            .collect();
        let backward: Vec<Value> = locals
            .iter()
            .enumerate()
            .rev()
            .map(|(k, l)| new_patient_document(l, &format!("B{r:03}{k}")))
            .collect();
        let (one, two) = tokio::join!(
            net.send(A, "/api/fhir", batch(forward)),
            net.send(A, "/api/fhir", batch(backward)),
        );
        for (status, entries) in [statuses(one).await, statuses(two).await] {
            assert_eq!(status, 200, "round {r}: {entries:?}");
            assert!(
                entries.iter().all(|s| s.starts_with("201")),
                "round {r}: every document stored: {entries:?}"
            );
        }
    }
    assert_eq!(net.app.count("patients").await, rounds * 3);
    assert_eq!(net.app.count("documents").await, rounds * 6);
}

#[tokio::test]
async fn x5_issue16_single_documents_for_the_same_new_patients_sent_in_opposite_orders_never_500() {
    let net = network().await;
    let rounds = 10;
    for r in 0..rounds {
        let locals: Vec<String> = (0..4).map(|k| format!("S{r:03}P{k}")).collect();
        let send_all = |prefix: &'static str, reverse: bool| {
            let mut order: Vec<usize> = (0..locals.len()).collect();
            if reverse {
                order.reverse();
            }
            let net = &net;
            let locals = &locals;
            futures_util::future::join_all(order.into_iter().map(move |k| {
                let body = new_patient_document(&locals[k], &format!("{prefix}{r:03}{k}"));
                async move { net.send(A, "/api/fhir/Bundle", body.to_string()).await }
            }))
        };
        let (one, two) = tokio::join!(send_all("G", false), send_all("H", true));
        for res in one.into_iter().chain(two) {
            let status = res.status().as_u16();
            assert_eq!(status, 201, "round {r}: {}", res.text().await.unwrap());
        }
    }
    assert_eq!(net.app.count("patients").await, rounds * 4);
}
