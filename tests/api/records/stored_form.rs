//! The stored form of a document (issue 14 item 7, issue 16 item 3): its JSON packed with zstd
//! (`documents.content_zstd`), read back unchanged; documents stored before (text in
//! `documents.content`) read as before; a damaged frame is a 500 OperationOutcome, not a panic.

use serde_json::Value;

use super::*;

async fn stored(net: &Net, id: i64) -> (String, Option<Vec<u8>>, i64) {
    sqlx::query_as("SELECT content, content_zstd, size_bytes FROM documents WHERE id = $1")
        .bind(id)
        .fetch_one(net.app.db().pool())
        .await
        .expect("row")
}

async fn read(net: &Net, id: i64) -> (u16, Value) {
    let res = net.get(B, &format!("/api/fhir/Bundle/{id}")).await;
    (res.status().as_u16(), res.json().await.expect("json"))
}

#[tokio::test]
async fn r21_1_a_document_is_stored_packed_and_read_back_as_sent_old_text_rows_too() {
    let net = network().await;
    let res = net.send(A, "/api/fhir/Consent", consent_for(&[])).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let summary = net.accept(A, fixture("patient_summary_60591-5.json")).await;
    let checkup = net.accept(A, fixture("checkup_report_53576-5.json")).await;

    let (text, frame, size) = stored(&net, summary).await;
    let frame = frame.expect("packed");
    assert_eq!(text, "", "the text is not stored twice");
    assert!(
        (frame.len() as i64) * 2 < size,
        "{} bytes packed of {size}",
        frame.len()
    );
    let json = rainbownet::records::packed::unpack(&frame).expect("unpacks");
    assert_eq!(json.len() as i64, size, "size_bytes is the JSON text's");
    let (status, first) = read(&net, summary).await;
    assert_eq!(status, 200, "{first}");
    let sent = fixture_json("patient_summary_60591-5.json");
    assert_eq!(first["entry"], sent["entry"]);

    // A row as stored before migration 0051 (text, no frame) reads the same.
    sqlx::query("UPDATE documents SET content = $1, content_zstd = NULL WHERE id = $2")
        .bind(&json)
        .bind(summary)
        .execute(net.app.db().pool())
        .await
        .expect("as text");
    assert_eq!(read(&net, summary).await, (200, first.clone()));

    // A damaged frame: the read fails with an OperationOutcome; the other document still reads.
    sqlx::query("UPDATE documents SET content_zstd = $1 WHERE id = $2")
        .bind(vec![0x28u8, 0xb5, 0x2f, 0xfd, 0, 0])
        .bind(checkup)
        .execute(net.app.db().pool())
        .await
        .expect("damage");
    let (status, outcome) = read(&net, checkup).await;
    assert_eq!(status, 500, "{outcome}");
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(read(&net, summary).await, (200, first));
}
