//! References inside a Bundle (FHIR R4 §2.36.4.1 "Resolving references in Bundles" and §3.3.1
//! "Document Content"); pure: no I/O.
//!
//! - The Composition of a `document` Bundle: its subject, encounter, author, attester.party,
//!   custodian, event.detail and, in every section (nested sections too), author, focus and
//!   entry SHALL resolve inside the Bundle: by `fullUrl` (absolute references), against the
//!   service base of a RESTful `fullUrl` (relative `Type/id`), or to the entry whose resource has
//!   that type and id.
//! - Other references may point outside the Bundle (a GP, a service provider known elsewhere):
//!   they are not refused.
//! - `#id` references point at a resource contained in the same resource (`#` alone: the
//!   container itself); a dangling one is refused.
//! - A document Bundle carried as an entry (a split prescription) resolves its own Composition's
//!   references inside itself, not against the outer Bundle.

use serde_json::Value;

use super::model::Issue;

/// One entry of a Bundle: its fullUrl and resource.
pub type Entry<'a> = (Option<&'a str>, &'a Value);

fn issue(expression: String, msg: String) -> Issue {
    Issue {
        severity: "error",
        code: "invalid",
        diagnostics: format!("{expression}: {msg}"),
        expression,
    }
}

/// Checks the references of a Bundle (document or collection); `root` is its FHIRPath.
pub fn check_bundle(bundle: &Value, root: &str) -> Vec<Issue> {
    let mut out = Vec::new();
    bundle_refs(bundle, root, &mut out);
    out
}

fn bundle_refs(bundle: &Value, root: &str, out: &mut Vec<Issue>) {
    let Some(items) = bundle.get("entry").and_then(Value::as_array) else {
        return;
    };
    let entries: Vec<Entry> = items
        .iter()
        .filter_map(|e| {
            let r = e.get("resource").filter(|r| r.is_object())?;
            Some((e.get("fullUrl").and_then(Value::as_str), r))
        })
        .collect();
    for (i, e) in items.iter().enumerate() {
        let Some(r) = e.get("resource").filter(|r| r.is_object()) else {
            continue;
        };
        let path = format!("{root}.entry[{i}].resource");
        resource_refs(r, &path, out);
    }
    if bundle.get("type").and_then(Value::as_str) != Some("document") {
        return;
    }
    let Some((full_url, comp)) = entries.first().copied() else {
        return;
    };
    if comp.get("resourceType").and_then(Value::as_str) != Some("Composition") {
        return;
    }
    let mut refs = Vec::new();
    let base = format!("{root}.entry[0].resource");
    for single in ["subject", "encounter", "custodian"] {
        push_ref(comp.get(single), &format!("{base}.{single}"), &mut refs);
    }
    each(comp, "author", &base, &mut |v, p| {
        push_ref(Some(v), &p, &mut refs)
    });
    each(comp, "attester", &base, &mut |a, p| {
        push_ref(a.get("party"), &format!("{p}.party"), &mut refs);
    });
    each(comp, "event", &base, &mut |ev, p| {
        each(ev, "detail", &p, &mut |d, p| {
            push_ref(Some(d), &p, &mut refs)
        });
    });
    section_refs(comp, &base, &mut refs);
    for (reference, path) in refs {
        if reference.starts_with('#') {
            // Checked with the Composition's contained resources above.
            continue;
        }
        if resolve(&entries, full_url, reference).is_none() {
            out.push(issue(
                path,
                format!(
                    "Composition の参照「{reference}」が Bundle 内で解決できません（文書の Composition が参照するリソースは Bundle に含める必要があります: FHIR R4 §3.3.1）。"
                ),
            ));
        }
    }
}

/// `name` of `v` (one or many), each with its FHIRPath.
fn each<'a>(v: &'a Value, name: &str, path: &str, f: &mut dyn FnMut(&'a Value, String)) {
    match v.get(name) {
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                f(item, format!("{path}.{name}[{i}]"));
            }
        }
        Some(item) => f(item, format!("{path}.{name}")),
        None => {}
    }
}

fn push_ref<'a>(r: Option<&'a Value>, path: &str, out: &mut Vec<(&'a str, String)>) {
    if let Some(s) = r.and_then(|r| r.get("reference")).and_then(Value::as_str) {
        out.push((s, format!("{path}.reference")));
    }
}

fn section_refs<'a>(v: &'a Value, path: &str, out: &mut Vec<(&'a str, String)>) {
    each(v, "section", path, &mut |s, p| {
        each(s, "author", &p, &mut |a, p| push_ref(Some(a), &p, out));
        push_ref(s.get("focus"), &format!("{p}.focus"), out);
        each(s, "entry", &p, &mut |e, p| push_ref(Some(e), &p, out));
        section_refs(s, &p, out);
    });
}

/// The `#id` references of a resource (and of its contained resources) must name one of its
/// contained resources; a Bundle inside is checked as a Bundle of its own.
fn resource_refs(r: &Value, path: &str, out: &mut Vec<Issue>) {
    if r.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
        bundle_refs(r, path, out);
        return;
    }
    let contained: Vec<&str> = r
        .get("contained")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|c| c.get("id").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut p = path.to_string();
    local_refs(r, &contained, &mut p, out, true);
}

fn local_refs(v: &Value, ids: &[&str], path: &mut String, out: &mut Vec<Issue>, top: bool) {
    match v {
        Value::Object(map) => {
            if !top && map.contains_key("resourceType") && !path.ends_with(']') {
                // A resource held by an element (Parameters.parameter.resource …): its own scope.
                resource_refs(v, path, out);
                return;
            }
            for (k, item) in map {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match (k.as_str(), item) {
                    ("reference", Value::String(s)) if s.starts_with('#') => {
                        let id = &s[1..];
                        if !id.is_empty() && !ids.contains(&id) {
                            out.push(issue(
                                path.clone(),
                                format!(
                                    "参照「{s}」に対応する contained のリソース（id「{id}」）がありません。"
                                ),
                            ));
                        }
                    }
                    _ => local_refs(item, ids, path, out, false),
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                local_refs(item, ids, path, out, false);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The resource a reference (written in the entry whose fullUrl is `from`) points at: by
/// fullUrl, by a RESTful fullUrl's service base, or by resource type and id.
pub fn resolve<'a>(
    entries: &[Entry<'a>],
    from: Option<&str>,
    reference: &str,
) -> Option<&'a Value> {
    let unversioned = reference.split("/_history/").next().unwrap_or(reference);
    if let Some((_, r)) = entries
        .iter()
        .find(|(u, _)| *u == Some(reference) || *u == Some(unversioned))
    {
        return Some(r);
    }
    let (ty, id) = unversioned.rsplit_once('/')?;
    let relative = !ty.contains(':') && !ty.contains('/');
    if relative {
        // §2.36.4.1: against the service base of the referring entry's RESTful fullUrl.
        if let Some(base) = from.and_then(service_base) {
            let absolute = format!("{base}{unversioned}");
            if let Some((_, r)) = entries.iter().find(|(u, _)| *u == Some(absolute.as_str())) {
                return Some(r);
            }
        }
        return entries
            .iter()
            .find(|(u, r)| {
                (r.get("resourceType").and_then(Value::as_str) == Some(ty)
                    && r.get("id").and_then(Value::as_str) == Some(id))
                    || u.is_some_and(|u| u.ends_with(&format!("/{ty}/{id}")))
            })
            .map(|(_, r)| *r);
    }
    None
}

/// `http://example.org/fhir/` of `http://example.org/fhir/Patient/23`.
fn service_base(full_url: &str) -> Option<&str> {
    if !(full_url.starts_with("http://") || full_url.starts_with("https://")) {
        return None;
    }
    let no_history = full_url.split("/_history/").next()?;
    let mut parts = no_history.rsplitn(3, '/');
    let _id = parts.next()?;
    let ty = parts.next()?;
    let rest = parts.next()?;
    ty.starts_with(|c: char| c.is_ascii_uppercase())
        .then(|| &full_url[..rest.len() + 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(entries: Vec<Value>) -> Value {
        json!({"resourceType": "Bundle", "type": "document", "entry": entries})
    }

    fn comp(extra: Value) -> Value {
        let mut c = json!({"resourceType": "Composition", "subject": {"reference": "urn:uuid:p"},
            "author": [{"reference": "urn:uuid:o"}]});
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        json!({"fullUrl": "urn:uuid:c", "resource": c})
    }

    fn others() -> Vec<Value> {
        vec![
            json!({"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient",
                "generalPractitioner": [{"reference": "Practitioner/elsewhere"}]}}),
            json!({"fullUrl": "urn:uuid:o", "resource": {"resourceType": "Organization"}}),
        ]
    }

    #[test]
    fn composition_references_must_resolve_and_others_may_point_outside() {
        let mut e = vec![comp(json!({}))];
        e.extend(others());
        assert!(check_bundle(&document(e.clone()), "Bundle").is_empty());
        let mut bad = vec![comp(
            json!({"section": [{"section": [{"entry": [{"reference": "urn:uuid:gone"}]}]}]}),
        )];
        bad.extend(others());
        let issues = check_bundle(&document(bad), "Bundle");
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(
            issues[0].expression,
            "Bundle.entry[0].resource.section[0].section[0].entry[0].reference"
        );
    }

    #[test]
    fn contained_references_must_name_a_contained_resource() {
        let mut e = vec![comp(json!({}))];
        e.extend(others());
        e.push(
            json!({"fullUrl": "urn:uuid:m", "resource": {"resourceType": "MedicationRequest",
            "contained": [{"resourceType": "Medication", "id": "med"}],
            "medicationReference": {"reference": "#med"}, "subject": {"reference": "#"}}}),
        );
        assert!(check_bundle(&document(e.clone()), "Bundle").is_empty());
        e[3]["resource"]["medicationReference"]["reference"] = json!("#nothing");
        let issues = check_bundle(&document(e), "Bundle");
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].diagnostics.contains("#nothing"));
    }

    #[test]
    fn a_nested_document_resolves_inside_itself() {
        let mut inner = vec![
            json!({"fullUrl": "urn:uuid:c", "resource": {"resourceType": "Composition",
            "subject": {"reference": "urn:uuid:p2"}, "author": [{"reference": "urn:uuid:o"}]}}),
        ];
        inner.push(json!({"fullUrl": "urn:uuid:p2", "resource": {"resourceType": "Patient"}}));
        inner.push(json!({"fullUrl": "urn:uuid:o", "resource": {"resourceType": "Organization"}}));
        let mut outer = vec![comp(
            json!({"section": [{"entry": [{"reference": "urn:uuid:rx"}]}]}),
        )];
        outer.extend(others());
        outer.push(json!({"fullUrl": "urn:uuid:rx", "resource": document(inner.clone())}));
        assert!(check_bundle(&document(outer.clone()), "Bundle").is_empty());
        // The inner Composition cannot lean on the outer Bundle's entries.
        inner.remove(1);
        outer[3]["resource"] = document(inner);
        let issues = check_bundle(&document(outer), "Bundle");
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(
            issues[0].expression,
            "Bundle.entry[3].resource.entry[0].resource.subject.reference"
        );
    }

    #[test]
    fn relative_references_resolve_against_a_restful_base() {
        let entries: Vec<Entry> = vec![];
        assert!(resolve(&entries, None, "Patient/1").is_none());
        assert_eq!(
            service_base("http://example.org/fhir/Patient/23"),
            Some("http://example.org/fhir/")
        );
        assert_eq!(service_base("urn:uuid:1"), None);
        let p = json!({"resourceType": "Patient"});
        let entries: Vec<Entry> = vec![(Some("http://example.org/fhir/Patient/23"), &p)];
        assert!(
            resolve(
                &entries,
                Some("http://example.org/fhir/Composition/1"),
                "Patient/23"
            )
            .is_some()
        );
    }
}
