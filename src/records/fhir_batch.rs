//! The entries of a `batch` Bundle (`POST /api/fhir`, `$validate`): its envelope checked with
//! the resources taken out, then each entry on its own (one bad entry does not refuse the others).

use serde_json::Value;
use serde_json::value::RawValue;

use super::fhir::{invalid, json_rejection, parse_json, resource_type, str_at, too_many, validate};
use super::fhir_json::parse_batch;
use super::model::Rejection;

/// Entries of a `batch` Bundle: each one's resource, or why it cannot be read.
pub fn batch_entries(
    mut bundle: Value,
    max_entries: usize,
) -> Result<Vec<Result<Value, Rejection>>, Rejection> {
    // The envelope is checked without the entries' resources; each of those is checked on
    // its own (one bad entry does not refuse the others).
    let resources: Vec<Option<Value>> = bundle
        .get_mut("entry")
        .and_then(Value::as_array_mut)
        .map(|entries| {
            entries
                .iter_mut()
                .map(|e| e.as_object_mut().and_then(|e| e.remove("resource")))
                .collect()
        })
        .unwrap_or_default();
    entries_of(bundle, resources, max_entries, Value::is_object)
}

/// The entries of a `batch` body, each resource still its text (see
/// [`super::fhir_json::parse_batch`]): read with [`parse_json_in`] where the entry is checked.
pub fn batch_texts(
    body: &[u8],
    max_entries: usize,
) -> Result<Vec<Result<&RawValue, Rejection>>, Rejection> {
    if !body.trim_ascii_start().starts_with(b"{") {
        // Not an object: the answer a single resource gets.
        return Err(parse_json(body)
            .err()
            .unwrap_or_else(|| invalid("batch を送信してください。")));
    }
    let (envelope, resources) = parse_batch(body).map_err(json_rejection)?;
    entries_of(envelope, resources, max_entries, |r| {
        r.get().starts_with('{')
    })
}

/// The checks of a batch's envelope (`bundle` without its entries' resources) and of each
/// entry, whose resource is `resources[i]`.
fn entries_of<R>(
    bundle: Value,
    resources: Vec<Option<R>>,
    max_entries: usize,
    is_object: impl Fn(&R) -> bool,
) -> Result<Vec<Result<R, Rejection>>, Rejection> {
    if resource_type(&bundle) != Some("Bundle") {
        return Err(invalid("resourceType が Bundle ではありません。"));
    }
    if bundle.get("type").and_then(Value::as_str) != Some("batch") {
        return Err(invalid(
            "POST /api/fhir には Bundle.type が batch の Bundle を送信してください。",
        ));
    }
    // Without this the envelope check below would name the entry an empty object (its
    // resource is taken out), which does not tell the sender what is missing.
    if let Some(i) = bundle
        .get("entry")
        .and_then(Value::as_array)
        .and_then(|es| {
            es.iter()
                .position(|e| e.as_object().is_some_and(|o| !o.contains_key("request")))
        })
    {
        return Err(Rejection::new(
            400,
            "required",
            format!(
                "Bundle.entry[{i}] に request がありません。batch の各 entry には request（method: POST、url: Bundle）が必要です（FHIR bdl-3）。"
            ),
        ));
    }
    validate(&bundle)?;
    let Some(Value::Array(entries)) = bundle.get("entry") else {
        return Err(invalid("Bundle.entry がありません。"));
    };
    if entries.len() > max_entries {
        return Err(too_many("batch", entries.len(), max_entries));
    }
    let mut resources = resources.into_iter();
    Ok(entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let resource = resources.next().flatten();
            let method = str_at(e, &["request", "method"]).unwrap_or("POST");
            if method != "POST" {
                return Err(invalid(format!(
                    "entry[{i}] の request.method は POST のみ受け付けます。"
                )));
            }
            match resource {
                Some(r) if is_object(&r) => Ok(r),
                _ => Err(invalid(format!("entry[{i}] に resource がありません。"))),
            }
        })
        .collect())
}
