//! Structural check of FHIR R4 JSON resources (pure: no I/O), table-driven.
//!
//! The table `fhir_r4.json` is generated from the official FHIR R4 (4.0.1) StructureDefinitions
//! and value sets by `scripts/gen_fhir_r4_table.py` (its source is named there); it is read once.
//! A resource is walked once and checked as the HL7 validator checks the base specification:
//! - `resourceType` must be one of the R4 resource types;
//! - every property must be an element of its type (else "Unrecognized property"); `_name`
//!   (a primitive's id and extensions) only beside a primitive element;
//! - cardinality: a repeating element is a non-empty array, a single one is not an array;
//!   required elements (min 1) present; one type of a choice element (`value[x]`) at most;
//! - datatypes: boolean, integer (32 bits), positiveInt, unsignedInt, decimal, string (not
//!   empty), code, id, uri/url/canonical, oid, uuid, base64Binary, date / dateTime (partial
//!   dates such as `2020-08` are valid) / instant / time with real calendar days, xhtml
//!   (a `<div>` in the XHTML namespace); objects not empty, no `null` outside primitive arrays;
//! - REQUIRED bindings: a `code` must be in the value set; a Coding or CodeableConcept must carry
//!   a coding (system and code) from it. Value sets the table could not list are not checked.
//!
//! Invariants (FHIRPath constraints) other than these are not evaluated.
//!
//! Which file holds what: this file walks a resource (paths, cardinality, required elements,
//! choices, bindings) and reports the issues; [`super::fhir_table`] reads the R4 definitions;
//! [`super::fhir_datatypes`] checks one primitive value against its datatype.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::fhir_datatypes::primitive;
use super::fhir_table::{Elem, TABLE, Table, Ty};
use super::model::Issue;

/// At most this many issues are reported for one resource.
const MAX_ISSUES: usize = 30;

/// Whether `name` is a FHIR R4 resource type.
pub fn is_resource_type(name: &str) -> bool {
    TABLE.resources.contains_key(name)
}

/// Checks one resource (any R4 type); `root` is the FHIRPath of the resource in the issues
/// (empty: its resourceType).
pub fn validate_resource(v: &Value, root: &str) -> Vec<Issue> {
    let mut w = Walker {
        t: &TABLE,
        path: Vec::with_capacity(16),
        root,
        issues: Vec::new(),
    };
    w.resource(v);
    w.issues
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Idx(usize),
}

struct Walker<'a> {
    t: &'static Table,
    path: Vec<Seg<'a>>,
    root: &'a str,
    issues: Vec<Issue>,
}

impl<'a> Walker<'a> {
    fn expression(&self, extra: Option<&str>) -> String {
        let mut s = String::with_capacity(64);
        s.push_str(self.root);
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                Seg::Idx(n) => {
                    s.push('[');
                    s.push_str(&n.to_string());
                    s.push(']');
                }
            }
        }
        if let Some(e) = extra {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(e);
        }
        s
    }

    fn issue(&mut self, code: &'static str, extra: Option<&str>, msg: String) {
        if self.issues.len() >= MAX_ISSUES {
            return;
        }
        let expression = self.expression(extra);
        self.issues.push(Issue {
            severity: "error",
            code,
            diagnostics: format!("{expression}: {msg}"),
            expression,
        });
    }

    fn full(&self) -> bool {
        self.issues.len() >= MAX_ISSUES
    }

    fn resource(&mut self, v: &'a Value) {
        let Value::Object(map) = v else {
            self.issue(
                "structure",
                None,
                "リソースは JSON オブジェクトで指定してください。".into(),
            );
            return;
        };
        match map.get("resourceType") {
            Some(Value::String(rt)) => match self.t.resources.get(rt.as_str()) {
                Some(&ti) => {
                    // The outermost resource's path starts with its type (Bundle.entry[0]…).
                    let top = self.path.is_empty() && self.root.is_empty();
                    if top {
                        self.path.push(Seg::Key(rt));
                    }
                    self.object(ti, map, true);
                    if top {
                        self.path.pop();
                    }
                }
                None => self.issue(
                    "structure",
                    Some("resourceType"),
                    format!("「{rt}」は FHIR R4 のリソース型ではありません。"),
                ),
            },
            _ => self.issue(
                "structure",
                None,
                "resourceType（リソース型）がありません。".into(),
            ),
        }
    }

    fn object(&mut self, ti: usize, map: &'a Map<String, Value>, is_resource: bool) {
        let t = self.t;
        let td = &t.types[ti];
        if map.is_empty() {
            self.issue(
                "structure",
                None,
                "空のオブジェクトは使えません（値か子要素が必要です）。".into(),
            );
            return;
        }
        let mut choices: Vec<&str> = Vec::new();
        for (k, v) in map {
            if self.full() {
                return;
            }
            if is_resource && k == "resourceType" {
                continue;
            }
            if let Some(base) = k.strip_prefix('_') {
                match td.elems.get(base) {
                    Some(e) if matches!(e.ty, Ty::Prim(_)) => {
                        if let Some(c) = e.choice.as_deref()
                            && !map.contains_key(base)
                        {
                            self.choice_seen(&mut choices, c, k);
                        }
                        self.path.push(Seg::Key(k));
                        self.shadow(e, v);
                        self.path.pop();
                    }
                    _ => self.unknown(k, &td.name),
                }
                continue;
            }
            let Some(e) = td.elems.get(k.as_str()) else {
                self.unknown(k, &td.name);
                continue;
            };
            if let Some(c) = e.choice.as_deref() {
                self.choice_seen(&mut choices, c, k);
            }
            self.path.push(Seg::Key(k));
            if e.many {
                match v {
                    Value::Array(items) if items.is_empty() => self.issue(
                        "structure",
                        None,
                        "空の配列は使えません（要素がなければ省略してください）。".into(),
                    ),
                    Value::Array(items) => {
                        let shadow = if matches!(e.ty, Ty::Prim(_)) {
                            map.get(&format!("_{k}")).and_then(Value::as_array)
                        } else {
                            None
                        };
                        for (i, item) in items.iter().enumerate() {
                            self.path.push(Seg::Idx(i));
                            if item.is_null() {
                                let has_shadow = matches!(e.ty, Ty::Prim(_))
                                    && shadow.and_then(|s| s.get(i)).is_some_and(|s| !s.is_null());
                                if !has_shadow {
                                    self.issue("structure", None, "null は使えません。".into());
                                }
                            } else {
                                self.value(e, item);
                            }
                            self.path.pop();
                        }
                    }
                    _ => self.issue(
                        "structure",
                        None,
                        format!(
                            "繰り返し要素です。配列（[...]）で指定してください（{}）。",
                            type_label(t, e.ty)
                        ),
                    ),
                }
            } else {
                match v {
                    Value::Array(_) => self.issue(
                        "structure",
                        None,
                        "この要素は 1 つまでです（最大 1）。配列にはできません。".into(),
                    ),
                    Value::Null => self.issue("structure", None, "null は使えません。".into()),
                    _ => self.value(e, v),
                }
            }
            self.path.pop();
        }
        for (key, props) in &td.required {
            let present = props.iter().any(|p| {
                map.contains_key(p.as_ref())
                    || (matches!(td.elems.get(p.as_ref()).map(|e| e.ty), Some(Ty::Prim(_)))
                        && map.contains_key(&format!("_{p}")))
            });
            if !present {
                let name = if props.len() > 1 {
                    format!("{key}[x]")
                } else {
                    key.to_string()
                };
                self.issue(
                    "required",
                    Some(&name),
                    format!("必須の要素「{name}」がありません（最小 1）。"),
                );
            }
        }
    }

    fn choice_seen(&mut self, seen: &mut Vec<&'a str>, base: &'a str, k: &str) {
        if seen.contains(&base) {
            self.issue(
                "structure",
                Some(k),
                format!(
                    "{base}[x] は 1 つの型だけで指定してください（複数の型が指定されています）。"
                ),
            );
        } else {
            seen.push(base);
        }
    }

    fn unknown(&mut self, k: &str, type_name: &str) {
        self.issue(
            "structure",
            Some(k),
            format!("「{k}」は {type_name} に定義されていない要素です（Unrecognized property）。"),
        );
    }

    /// `_name`: the id and extensions of a primitive (an array of them, or null, for a
    /// repeating one).
    fn shadow(&mut self, e: &Elem, v: &'a Value) {
        let element = self.t.element;
        match (e.many, v) {
            (true, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Seg::Idx(i));
                    match item {
                        Value::Null => {}
                        Value::Object(m) => self.object(element, m, false),
                        _ => self.issue(
                            "structure",
                            None,
                            "プリミティブの拡張はオブジェクト（id, extension）で指定してください。"
                                .into(),
                        ),
                    }
                    self.path.pop();
                }
            }
            (false, Value::Object(m)) => self.object(element, m, false),
            _ => self.issue(
                "structure",
                None,
                if e.many {
                    "繰り返し要素の拡張は配列で指定してください。".into()
                } else {
                    "プリミティブの拡張はオブジェクト（id, extension）で指定してください。".into()
                },
            ),
        }
    }

    fn value(&mut self, e: &Elem, v: &'a Value) {
        match e.ty {
            Ty::Resource => self.resource(v),
            Ty::Prim(p) => {
                if let Err(why) = primitive(p, v) {
                    self.issue("value", None, why);
                    return;
                }
                if let (Some(vs), Value::String(code)) = (e.valueset, v) {
                    let vs = &self.t.valuesets[vs];
                    if !vs.all.contains(code.as_str()) {
                        self.issue(
                            "code-invalid",
                            None,
                            format!(
                                "「{code}」は必須の値セット {} のコードではありません。使えるコード: {}。",
                                vs.url,
                                sample(&vs.all)
                            ),
                        );
                    }
                }
            }
            Ty::Complex(ti) => {
                let Value::Object(map) = v else {
                    self.issue(
                        "structure",
                        None,
                        format!(
                            "{} はオブジェクト（{{...}}）で指定してください。",
                            self.t.types[ti].name
                        ),
                    );
                    return;
                };
                self.object(ti, map, false);
                if let Some(vs) = e.valueset {
                    self.binding(ti, vs, map);
                }
            }
        }
    }

    /// A REQUIRED binding on a Coding or CodeableConcept: one coding must be in the value set.
    fn binding(&mut self, ti: usize, vs: usize, map: &Map<String, Value>) {
        let t = self.t;
        if ti != t.coding && ti != t.codeable {
            return;
        }
        let vs = &t.valuesets[vs];
        let in_set = |c: &Map<String, Value>| {
            let system = c.get("system").and_then(Value::as_str);
            let code = c.get("code").and_then(Value::as_str);
            match (system, code) {
                (Some(s), Some(code)) => vs
                    .by_system
                    .get(s)
                    .is_some_and(|codes| codes.contains(code)),
                _ => false,
            }
        };
        let ok = if ti == t.coding {
            in_set(map)
        } else {
            map.get("coding")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().filter_map(Value::as_object).any(in_set))
        };
        if !ok {
            self.issue(
                "code-invalid",
                None,
                format!(
                    "必須の値セット {} のコーディング（system と code）がありません。使えるコード: {}（system {}）。",
                    vs.url,
                    sample(&vs.all),
                    vs.by_system.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}

fn type_label(t: &Table, ty: Ty) -> String {
    match ty {
        Ty::Prim(p) => p.name().into(),
        Ty::Complex(i) => t.types[i].name.clone(),
        Ty::Resource => "Resource".into(),
    }
}

/// Some codes of a value set, for the message.
fn sample(codes: &HashSet<String>) -> String {
    let mut v: Vec<&str> = codes.iter().map(String::as_str).collect();
    v.sort_unstable();
    let more = v.len() > 12;
    v.truncate(12);
    let mut s = v.join(", ");
    if more {
        s.push_str(" …");
    }
    s
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(v: Value) -> Vec<String> {
        validate_resource(&v, "")
            .into_iter()
            .map(|i| i.diagnostics)
            .collect()
    }

    #[test]
    fn a_patient_with_wrong_types_unknown_elements_and_codes_is_reported() {
        let e = errors(json!({"resourceType": "Patient", "gender": {"a": 1},
            "birthDate": "2026-13-45", "nickname": "x", "active": "yes",
            "name": {"family": "清須"}}));
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e.iter().any(|m| m.contains("Patient.gender")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("Patient.birthDate")), "{e:?}");
        assert!(
            e.iter().any(|m| m.contains("Unrecognized property")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("Patient.name") && m.contains("配列")),
            "{e:?}"
        );
        let e = errors(json!({"resourceType": "Patient", "gender": "woman"}));
        assert!(e[0].contains("administrative-gender"), "{e:?}");
        assert!(errors(json!({"resourceType": "Patient", "gender": "female",
            "birthDate": "1950-04", "_birthDate": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]},
            "name": [{"given": ["花子", null], "_given": [null, {"extension": [{"url": "http://example.org/x", "valueBoolean": true}]}]}]}))
            .is_empty());
    }

    #[test]
    fn required_elements_bindings_and_choices_are_checked() {
        let e = errors(json!({"resourceType": "Observation", "status": "final"}));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("Observation.code"), "{e:?}");
        let e = errors(
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "valueString": "a", "valueBoolean": true}),
        );
        assert!(e[0].contains("value[x]"), "{e:?}");
        let e = errors(
            json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "gone"}]}}),
        );
        assert!(e[0].contains("condition-clinical"), "{e:?}");
        assert!(errors(json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}}))
            .is_empty());
        let e = errors(json!({"resourceType": "NotAResource"}));
        assert!(e[0].contains("NotAResource"), "{e:?}");
    }

    #[test]
    fn contained_and_nested_resources_are_checked_with_their_path() {
        let e = validate_resource(
            &json!({"resourceType": "Bundle", "type": "collection", "entry": [
                {"resource": {"resourceType": "Patient"}},
                {"resource": {"resourceType": "Consent", "status": "active", "scope": {"text": "x"},
                    "category": [{"text": "x"}], "contained": [{"resourceType": "Patient", "birthDate": "x"}]}}]}),
            "",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(
            e[0].expression,
            "Bundle.entry[1].resource.contained[0].birthDate"
        );
    }

    #[test]
    fn the_jp_clins_fixtures_are_valid_r4() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fhir");
        let mut n = 0;
        for f in std::fs::read_dir(dir).expect("fixtures") {
            let path = f.expect("entry").path();
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            let e = errors(v);
            assert!(e.is_empty(), "{}: {e:#?}", path.display());
            n += 1;
        }
        assert!(n >= 6);
    }

    /// `cargo test --lib fhir_validate -- --ignored --nocapture`: how many documents a second
    /// one core checks (the intake benchmark needs ≥ 4,000 documents/s in all).
    #[test]
    #[ignore]
    fn throughput() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fhir/referral_57133-1.json"
        );
        let body = std::fs::read(path).expect("read");
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert!(errors(v.clone()).is_empty());
        let n = 5_000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(validate_resource(&v, "").is_empty());
        }
        let check = t.elapsed();
        let t = std::time::Instant::now();
        for _ in 0..n {
            let _ = crate::records::fhir_json::parse_strict(&body).expect("json");
        }
        let strict = t.elapsed();
        let t = std::time::Instant::now();
        for _ in 0..n {
            let _: Value = serde_json::from_slice(&body).expect("json");
        }
        let plain = t.elapsed();
        println!(
            "{} bytes: validate {:.0}/s, strict parse {:.0}/s, serde_json parse {:.0}/s",
            body.len(),
            n as f64 / check.as_secs_f64(),
            n as f64 / strict.as_secs_f64(),
            n as f64 / plain.as_secs_f64()
        );
    }
}
