//! Shared parts of the file tests: a multipart form posted as a browser posts it (the CSRF
//! token in the query), and a network holding one accepted referral whose PDF is in the blob
//! store (the records' purge tests file that same blob somewhere else and check it survives).

use crate::helpers::*;
use crate::records::{A, Net, consent_for, fixture, network, walk};

/// One part of a multipart form, in the order of the page's inputs.
pub(crate) enum Part<'a> {
    Text(&'a str, &'a str),
    File {
        field: &'a str,
        name: &'a str,
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

/// Posts `parts` as `multipart/form-data` to `path`, the CSRF token in the query.
pub(crate) async fn send(client: &TestClient, path: &str, parts: &[Part<'_>]) -> reqwest::Response {
    let token = client.csrf().await;
    let b = "rnTESTboundary7MA4YWxk";
    let mut body = Vec::new();
    for part in parts {
        match part {
            Part::Text(k, v) => body.extend(
                format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .into_bytes(),
            ),
            Part::File {
                field,
                name,
                content_type,
                bytes,
            } => {
                body.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n").into_bytes());
                body.extend_from_slice(bytes);
                body.extend(b"\r\n");
            }
        }
    }
    body.extend(format!("--{b}--\r\n").into_bytes());
    client
        .http
        .post(client.url(&format!("{path}?csrf_token={token}")))
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .expect("send")
}

/// A network where facility A has consented and sent a referral (its document id); the
/// referral's PDF is in the blob store.
pub(crate) async fn referral() -> (Net, i64) {
    let net = network().await;
    assert_eq!(
        net.send(A, "/api/fhir/Consent", consent_for(&[]))
            .await
            .status(),
        201
    );
    let doc = net.accept(A, fixture("referral_57133-1.json")).await;
    (net, doc)
}

/// The PDFs in the app's blob store.
pub(crate) fn blob_pdfs(app: &TestApp) -> Vec<Vec<u8>> {
    let pdfs: Vec<Vec<u8>> = walk(&app.dir.path().join("blobs"))
        .iter()
        .map(|b| std::fs::read(b).expect("blob"))
        .filter(|b| b.starts_with(b"%PDF-"))
        .collect();
    assert!(!pdfs.is_empty(), "the referral carries a PDF");
    pdfs
}
