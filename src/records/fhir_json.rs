//! Reading a request body as JSON, refusing what `serde_json::Value` would silently accept: a
//! key repeated in one object (serde_json keeps the last; FHIR JSON allows each property once,
//! and a validator refuses the duplicate). A `batch` body is read in two steps
//! ([`parse_batch`], then [`parse_strict_in`] for each entry's resource), so that the
//! resources become values on the threads that check them. Pure: no I/O.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// Marks the error raised for a repeated key, so that it is told apart from a syntax error.
const DUPLICATE: &str = "\u{1}duplicate key\u{1}";

/// Why a body is not acceptable JSON.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonError {
    Syntax {
        line: usize,
        column: usize,
    },
    Duplicate {
        key: String,
        line: usize,
        column: usize,
    },
}

/// Parses JSON, refusing repeated keys.
pub fn parse_strict(body: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Any(StrictVisitor)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(json_error)
}

/// A `batch` body read in one pass without turning its entries' resources into values: the
/// Bundle without them (read as by [`parse_strict`]), and each entry's resource as its text
/// (`None` for an entry that is not an object or has no `resource`). The whole body's syntax is
/// checked here; repeated keys inside a resource are found by [`parse_strict_in`].
pub fn parse_batch(body: &[u8]) -> Result<(Value, Vec<Option<&RawValue>>), JsonError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Any(Top)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(json_error)
}

/// Parses `part`, a piece of `body` from [`parse_batch`], refusing repeated keys; an error's
/// line and column are where they are in `body`.
pub fn parse_strict_in(body: &[u8], part: &RawValue) -> Result<Value, JsonError> {
    let shift = |line: usize, column: usize| {
        let Some(at) = (part.get().as_ptr() as usize)
            .checked_sub(body.as_ptr() as usize)
            .filter(|at| *at <= body.len())
        else {
            return (line, column);
        };
        let before = &body[..at];
        let base_line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let base_column = at
            - before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |n| n + 1);
        if line == 1 {
            (base_line, base_column + column)
        } else {
            (base_line + line - 1, column)
        }
    };
    parse_strict(part.get().as_bytes()).map_err(|e| match e {
        JsonError::Syntax { line, column } => {
            let (line, column) = shift(line, column);
            JsonError::Syntax { line, column }
        }
        JsonError::Duplicate { key, line, column } => {
            let (line, column) = shift(line, column);
            JsonError::Duplicate { key, line, column }
        }
    })
}

fn json_error(e: serde_json::Error) -> JsonError {
    let (line, column) = (e.line(), e.column());
    let text = e.to_string();
    match text.split(DUPLICATE).nth(1) {
        Some(key) => JsonError::Duplicate {
            key: key.to_string(),
            line,
            column,
        },
        None => JsonError::Syntax { line, column },
    }
}

fn duplicate<E: serde::de::Error>(key: &str) -> E {
    E::custom(format!("{DUPLICATE}{key}{DUPLICATE}"))
}

/// The visits of a value that is read as [`StrictVisitor`] would read it, wrapped by `$wrap`.
macro_rules! strict_scalars {
    ($wrap:expr) => {
        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
            StrictVisitor.visit_bool(b).map($wrap)
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            StrictVisitor.visit_i64(n).map($wrap)
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            StrictVisitor.visit_u64(n).map($wrap)
        }
        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
            StrictVisitor.visit_f64(n).map($wrap)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            StrictVisitor.visit_str(s).map($wrap)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            StrictVisitor.visit_unit().map($wrap)
        }
    };
}

/// A visitor used as a seed: the value read by whatever it turns out to be.
struct Any<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Any<V> {
    type Value = V::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_any(self.0)
    }
}

/// The top of a batch body: `entry` is read by [`Entries`], everything else strictly.
struct Top;

impl<'de> Visitor<'de> for Top {
    type Value = (Value, Vec<Option<&'de RawValue>>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    strict_scalars!(|v| (v, Vec::new()));

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        StrictVisitor.visit_seq(seq).map(|v| (v, Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = Map::new();
        let mut resources = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            if m.contains_key(&k) {
                return Err(duplicate(&k));
            }
            let v = if k == "entry" {
                let (v, r) = map.next_value_seed(Any(Entries))?;
                resources = r;
                v
            } else {
                map.next_value_seed(Any(StrictVisitor))?
            };
            m.insert(k, v);
        }
        Ok((Value::Object(m), resources))
    }
}

/// `Bundle.entry` of a batch: each element read by [`Entry`].
struct Entries;

impl<'de> Visitor<'de> for Entries {
    type Value = (Value, Vec<Option<&'de RawValue>>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    strict_scalars!(|v| (v, Vec::new()));

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut items, mut resources) = (Vec::new(), Vec::new());
        while let Some((v, r)) = seq.next_element_seed(Any(Entry))? {
            items.push(v);
            resources.push(r);
        }
        Ok((Value::Array(items), resources))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        StrictVisitor.visit_map(map).map(|v| (v, Vec::new()))
    }
}

/// One entry of a batch: its `resource` kept as text, the rest read strictly.
struct Entry;

impl<'de> Visitor<'de> for Entry {
    type Value = (Value, Option<&'de RawValue>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    strict_scalars!(|v| (v, None));

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        StrictVisitor.visit_seq(seq).map(|v| (v, None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = Map::new();
        let mut resource = None;
        while let Some(k) = map.next_key::<String>()? {
            if m.contains_key(&k) || (k == "resource" && resource.is_some()) {
                return Err(duplicate(&k));
            }
            if k == "resource" {
                resource = Some(map.next_value::<&'de RawValue>()?);
            } else {
                let v = map.next_value_seed(Any(StrictVisitor))?;
                m.insert(k, v);
            }
        }
        Ok((Value::Object(m), resource))
    }
}

/// Reads a JSON value as `serde_json::Value` does, refusing a key repeated in one object.
struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Value, E> {
        Number::from_f64(n)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Any(StrictVisitor).deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Any(StrictVisitor))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            // One walk of the map per key: the entry both tells a repeat and takes the value.
            match m.entry(k) {
                serde_json::map::Entry::Occupied(o) => return Err(duplicate(o.key())),
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(map.next_value_seed(Any(StrictVisitor))?);
                }
            }
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_with_where_they_are() {
        let e =
            parse_strict(b"{\"a\": 1,\n \"b\": {\"gender\": \"male\", \"gender\": \"female\"}}")
                .expect_err("duplicate");
        match e {
            JsonError::Duplicate { key, line, .. } => {
                assert_eq!(key, "gender");
                assert_eq!(line, 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_strict(b"{\"a\": "),
            Err(JsonError::Syntax { .. })
        ));
        assert!(matches!(
            parse_strict(b"{\"a\": 1} x"),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn r21_1_a_batch_is_read_as_its_envelope_and_each_resource_as_text() {
        let body = br#"{"resourceType": "Bundle", "type": "batch", "entry": [
            {"resource": {"resourceType": "Bundle", "id": "a", "n": [1, 2.5, null]}, "request": {"method": "POST"}},
            {"request": {"method": "POST"}},
            7,
            {"fullUrl": "x", "resource": {"resourceType": "Patient"}}]}"#;
        let (envelope, resources) = parse_batch(body).expect("valid");
        let mut whole = parse_strict(body).expect("valid");
        let mut taken = Vec::new();
        for e in whole["entry"].as_array_mut().expect("entries") {
            taken.push(e.as_object_mut().and_then(|o| o.remove("resource")));
        }
        assert_eq!(
            envelope, whole,
            "the envelope is the body without the resources"
        );
        assert_eq!(resources.len(), 4);
        for (raw, value) in resources.iter().zip(&taken) {
            let read = raw.map(|r| parse_strict_in(body, r).expect("resource"));
            assert_eq!(read.as_ref(), value.as_ref());
        }
    }

    #[test]
    fn r21_1_a_repeated_key_in_a_batch_resource_is_found_where_it_is_in_the_body() {
        for body in [
            &b"{\"entry\": [{\"resource\": {\"a\": 1, \"a\": 2}}]}"[..],
            &b"{\"type\": \"batch\",\n \"entry\": [\n  {\"request\": {},\n   \"resource\": {\"b\": {\n \"gender\": 1, \"gender\": 2}}}]}"[..],
        ] {
            let whole = parse_strict(body).expect_err("duplicate");
            let (_, resources) = parse_batch(body).expect("the envelope itself is fine");
            let part = resources[0].expect("resource");
            assert_eq!(parse_strict_in(body, part).expect_err("duplicate"), whole);
        }
        for body in [
            &b"{\"entry\": [{\"resource\": {}, \"resource\": {}}]}"[..],
            &b"{\"entry\": [], \"entry\": []}"[..],
            &b"{\"entry\": [{\"request\": {\"m\": 1, \"m\": 2}}]}"[..],
        ] {
            assert!(matches!(
                parse_batch(body),
                Err(JsonError::Duplicate { .. })
            ));
        }
        assert!(matches!(
            parse_batch(b"{\"entry\": [{\"resource\": {\"a\": }}]}"),
            Err(JsonError::Syntax { .. })
        ));
    }

    #[test]
    fn the_same_value_as_serde_json() {
        let body = br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let strict = parse_strict(body).expect("valid");
        let plain: Value = serde_json::from_slice(body).expect("valid");
        assert_eq!(strict, plain);
    }
}
