//! Attachments inside FHIR JSON (`data` beside a `contentType`: Binary, DocumentReference
//! content, Consent.sourceAttachment …). They are taken out into the blob store on intake and
//! replaced by a primitive extension holding their SHA-256; [`rehydrate`] puts them back.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::model::Rejection;

/// The extension that stands in the stored JSON for an attachment's `data`.
pub const BLOB_EXTENSION: &str = "https://kiyosu-rainbow.jp/fhir/StructureDefinition/blob-sha256";

#[derive(Clone, Debug)]
pub struct Attachment {
    pub hash: String,
    pub content_type: String,
    pub title: String,
    pub bytes: Vec<u8>,
}

fn invalid(msg: impl Into<String>) -> Rejection {
    Rejection::new(422, "invalid", msg)
}

/// Takes every attachment (`data` beside a `contentType`) out of the JSON.
pub fn extract_attachments(v: &mut Value, out: &mut Vec<Attachment>) -> Result<(), Rejection> {
    match v {
        Value::Object(map) => {
            if let (Some(Value::String(data)), Some(Value::String(ct))) =
                (map.get("data"), map.get("contentType"))
            {
                let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    cleaned.as_bytes(),
                )
                .map_err(|_| invalid("添付ファイルの data が base64 として読めません。"))?;
                let hash = hex::encode(Sha256::digest(&bytes));
                let title = map
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("添付ファイル")
                    .chars()
                    .take(200)
                    .collect();
                out.push(Attachment {
                    hash: hash.clone(),
                    content_type: ct.chars().take(100).collect(),
                    title,
                    bytes,
                });
                map.remove("data");
                map.insert(
                    "_data".into(),
                    json!({"extension": [{"url": BLOB_EXTENSION, "valueString": hash}]}),
                );
                return Ok(());
            }
            for (_, v) in map.iter_mut() {
                extract_attachments(v, out)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| extract_attachments(v, out)),
        _ => Ok(()),
    }
}

/// The blob hashes a stored JSON refers to, in document order.
pub fn blob_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(h) = blob_ref(map) {
                out.push(h);
                return;
            }
            map.values().for_each(|v| blob_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| blob_refs(v, out)),
        _ => {}
    }
}

fn blob_ref(map: &Map<String, Value>) -> Option<String> {
    let ext = map.get("_data")?.get("extension")?.as_array()?;
    ext.iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(BLOB_EXTENSION))
        .and_then(|e| e.get("valueString")?.as_str())
        .map(str::to_string)
}

/// Puts attachments back (base64) from `load`, so a reader gets what was sent.
pub fn rehydrate(v: &mut Value, load: &mut dyn FnMut(&str) -> Option<Vec<u8>>) {
    match v {
        Value::Object(map) => {
            if let Some(h) = blob_ref(map) {
                if let Some(bytes) = load(&h) {
                    map.remove("_data");
                    map.insert(
                        "data".into(),
                        Value::String(base64::Engine::encode(
                            &base64::engine::general_purpose::STANDARD,
                            bytes,
                        )),
                    );
                }
                return;
            }
            map.values_mut().for_each(|v| rehydrate(v, load));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rehydrate(v, load)),
        _ => {}
    }
}
