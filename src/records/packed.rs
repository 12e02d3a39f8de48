//! The stored form of a document's JSON (issue 14 item 7, issue 16 item 3): one zstd frame,
//! written when the Bundle is parsed (on the request's thread, or on every core for a batch) so
//! that the database's single writer only copies bytes. A 2–4 KB Bundle packs to ~1–1.5 KB:
//! SQLite keeps the row in one page (no overflow pages, a third of the write-ahead log) and
//! PostgreSQL keeps it under its TOAST threshold (no pglz of its own). `content_hash` and
//! `size_bytes` stay those of the JSON text, so retries and the audit trail do not change.
//!
//! Compressors are kept per thread: a zstd context costs more to set up than a document to
//! compress.

use std::cell::RefCell;

/// zstd's default level: on the benchmark's Bundles it compresses as fast as level 1
/// (~10 µs a document) and a little smaller.
const LEVEL: i32 = 3;

/// A document larger than this when unpacked is refused as damaged (intake bodies are far
/// smaller; the bound keeps a corrupted frame header from allocating without limit).
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
}

/// Packs a document's JSON text (an error only when memory runs out).
pub fn pack(json: &str) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let mut c = match slot.take() {
            Some(c) => c,
            None => zstd::bulk::Compressor::new(LEVEL)?,
        };
        let frame = c.compress(json.as_bytes());
        *slot = Some(c);
        frame
    })
}

/// A stored frame that does not unpack to UTF-8 JSON text.
#[derive(Debug, thiserror::Error)]
#[error("stored document cannot be unpacked: {0}")]
pub struct Damaged(String);

/// Unpacks a stored frame into the document's JSON text.
pub fn unpack(frame: &[u8]) -> Result<String, Damaged> {
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_UNPACKED => n as usize,
        Ok(Some(n)) => return Err(Damaged(format!("{n} bytes declared"))),
        Ok(None) | Err(_) => return Err(Damaged("no frame header with a size".into())),
    };
    let bytes = zstd::bulk::decompress(frame, size).map_err(|e| Damaged(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Damaged(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_1_a_packed_document_unpacks_to_the_same_text_and_is_smaller() {
        let json = serde_json::json!({
            "resourceType": "Bundle", "type": "document",
            "entry": (0..40).map(|i| serde_json::json!({"fullUrl": format!("urn:uuid:{i}"),
                "resource": {"resourceType": "Observation", "status": "final",
                             "code": {"text": "血圧（収縮期）"}}})).collect::<Vec<_>>()
        })
        .to_string();
        let frame = pack(&json).expect("packs");
        assert!(
            frame.len() * 2 < json.len(),
            "{} of {}",
            frame.len(),
            json.len()
        );
        assert_eq!(unpack(&frame).expect("unpacks"), json);
        assert_eq!(unpack(&pack("").expect("packs")).expect("unpacks"), "");
    }

    #[test]
    fn r21_1_a_damaged_frame_is_an_error_not_a_panic() {
        let frame = pack("{\"resourceType\":\"Bundle\"}").expect("packs");
        assert!(unpack(&frame[..frame.len() - 2]).is_err());
        assert!(unpack(b"not zstd").is_err());
        assert!(unpack(&[]).is_err());
    }
}
