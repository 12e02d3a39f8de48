//! Reading a request body as JSON, refusing what `serde_json::Value` would silently accept: a
//! key repeated in one object (serde_json keeps the last; FHIR JSON allows each property once,
//! and a validator refuses the duplicate). Pure: no I/O.

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
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
    let v = Strict
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    v.map_err(|e| {
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
    })
}

struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

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
        Strict.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Strict)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            // One walk of the map per key: the entry both tells a repeat and takes the value.
            match m.entry(k) {
                serde_json::map::Entry::Occupied(o) => {
                    return Err(A::Error::custom(format!(
                        "{DUPLICATE}{}{DUPLICATE}",
                        o.key()
                    )));
                }
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(map.next_value_seed(Strict)?);
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
    fn the_same_value_as_serde_json() {
        let body = br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let strict = parse_strict(body).expect("valid");
        let plain: Value = serde_json::from_slice(body).expect("valid");
        assert_eq!(strict, plain);
    }
}
