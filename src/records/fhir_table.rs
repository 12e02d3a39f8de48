//! The FHIR R4 definitions [`super::fhir_validate`] checks against, as a table read once from
//! `fhir_r4.json` (generated from the official R4 4.0.1 StructureDefinitions and value sets by
//! `scripts/gen_fhir_r4_table.py`): each type's elements (type, cardinality, REQUIRED value set,
//! choice group), the required elements, the resource types and the value sets' codes.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Prim {
    Base64Binary,
    Boolean,
    Canonical,
    Code,
    Date,
    DateTime,
    Decimal,
    Id,
    Instant,
    Integer,
    Markdown,
    Oid,
    PositiveInt,
    Str,
    Time,
    UnsignedInt,
    Uri,
    Url,
    Uuid,
    Xhtml,
}

impl Prim {
    fn parse(name: &str) -> Option<Prim> {
        Some(match name {
            "base64Binary" => Prim::Base64Binary,
            "boolean" => Prim::Boolean,
            "canonical" => Prim::Canonical,
            "code" => Prim::Code,
            "date" => Prim::Date,
            "dateTime" => Prim::DateTime,
            "decimal" => Prim::Decimal,
            "id" => Prim::Id,
            "instant" => Prim::Instant,
            "integer" => Prim::Integer,
            "markdown" => Prim::Markdown,
            "oid" => Prim::Oid,
            "positiveInt" => Prim::PositiveInt,
            "string" => Prim::Str,
            "time" => Prim::Time,
            "unsignedInt" => Prim::UnsignedInt,
            "uri" => Prim::Uri,
            "url" => Prim::Url,
            "uuid" => Prim::Uuid,
            "xhtml" => Prim::Xhtml,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Prim::Base64Binary => "base64Binary",
            Prim::Boolean => "boolean",
            Prim::Canonical => "canonical",
            Prim::Code => "code",
            Prim::Date => "date",
            Prim::DateTime => "dateTime",
            Prim::Decimal => "decimal",
            Prim::Id => "id",
            Prim::Instant => "instant",
            Prim::Integer => "integer",
            Prim::Markdown => "markdown",
            Prim::Oid => "oid",
            Prim::PositiveInt => "positiveInt",
            Prim::Str => "string",
            Prim::Time => "time",
            Prim::UnsignedInt => "unsignedInt",
            Prim::Uri => "uri",
            Prim::Url => "url",
            Prim::Uuid => "uuid",
            Prim::Xhtml => "xhtml",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Ty {
    Prim(Prim),
    Complex(usize),
    Resource,
}

#[derive(Debug)]
pub(super) struct Elem {
    pub(super) ty: Ty,
    pub(super) many: bool,
    pub(super) valueset: Option<usize>,
    pub(super) choice: Option<Box<str>>,
}

#[derive(Debug, Default)]
pub(super) struct TypeDef {
    pub(super) name: String,
    pub(super) elems: HashMap<Box<str>, Elem>,
    /// Required elements: the property names that satisfy each (one, or a choice's variants).
    pub(super) required: Vec<(Box<str>, Vec<Box<str>>)>,
}

#[derive(Debug)]
pub(super) struct ValueSet {
    pub(super) url: String,
    pub(super) by_system: HashMap<String, HashSet<String>>,
    pub(super) all: HashSet<String>,
}

pub(super) struct Table {
    pub(super) types: Vec<TypeDef>,
    pub(super) resources: HashMap<String, usize>,
    pub(super) valuesets: Vec<ValueSet>,
    pub(super) coding: usize,
    pub(super) codeable: usize,
    /// `Element`: what `_name` may hold beside a primitive (id, extension).
    pub(super) element: usize,
}

/// One element in the table: type, min, repeats (0/1), value set index (-1: none), choice.
type RawElem = (String, u32, u8, i64, String);

#[derive(Deserialize)]
struct RawTable {
    resources: Vec<String>,
    valuesets: Vec<RawValueSet>,
    types: HashMap<String, HashMap<String, RawElem>>,
}

#[derive(Deserialize)]
struct RawValueSet {
    url: String,
    codes: HashMap<String, Vec<String>>,
}

pub(super) static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let raw: RawTable =
        serde_json::from_str(include_str!("fhir_r4.json")).expect("fhir_r4.json is well formed");
    build(raw)
});

fn build(raw: RawTable) -> Table {
    let mut names: Vec<String> = raw.types.keys().cloned().collect();
    names.sort();
    names.push("Element".into());
    let index: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i))
        .collect();
    let ty_of = |name: &str| -> Ty {
        if name == "Resource" {
            Ty::Resource
        } else if let Some(p) = Prim::parse(name) {
            Ty::Prim(p)
        } else {
            Ty::Complex(*index.get(name).expect("a type of the table"))
        }
    };
    let mut types: Vec<TypeDef> = names
        .iter()
        .map(|n| TypeDef {
            name: n.clone(),
            ..TypeDef::default()
        })
        .collect();
    for (name, elems) in &raw.types {
        let td = &mut types[index[name]];
        let mut required: Vec<(Box<str>, Vec<Box<str>>)> = Vec::new();
        for (prop, (ty, min, many, vs, choice)) in elems {
            let choice = (!choice.is_empty()).then(|| choice.clone().into_boxed_str());
            if *min > 0 {
                let key = choice
                    .clone()
                    .unwrap_or_else(|| prop.clone().into_boxed_str());
                match required.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, props)) => props.push(prop.clone().into()),
                    None => required.push((key, vec![prop.clone().into()])),
                }
            }
            td.elems.insert(
                prop.clone().into(),
                Elem {
                    ty: ty_of(ty),
                    many: *many == 1,
                    valueset: usize::try_from(*vs).ok(),
                    choice,
                },
            );
        }
        required.sort();
        td.required = required;
    }
    let element = index["Element"];
    let extension = index["Extension"];
    types[element].elems.insert(
        "id".into(),
        Elem {
            ty: Ty::Prim(Prim::Str),
            many: false,
            valueset: None,
            choice: None,
        },
    );
    types[element].elems.insert(
        "extension".into(),
        Elem {
            ty: Ty::Complex(extension),
            many: true,
            valueset: None,
            choice: None,
        },
    );
    let valuesets = raw
        .valuesets
        .into_iter()
        .map(|v| {
            let by_system: HashMap<String, HashSet<String>> = v
                .codes
                .into_iter()
                .map(|(s, c)| (s, c.into_iter().collect()))
                .collect();
            let all = by_system.values().flatten().cloned().collect();
            ValueSet {
                url: v.url,
                by_system,
                all,
            }
        })
        .collect();
    let resources = raw
        .resources
        .into_iter()
        .map(|r| {
            let i = index[&r];
            (r, i)
        })
        .collect();
    Table {
        types,
        resources,
        valuesets,
        coding: index["Coding"],
        codeable: index["CodeableConcept"],
        element,
    }
}
