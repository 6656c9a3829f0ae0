//! The compiled validator graph and the validation algorithm, following the reference
//! `@atproto/lexicon` rule for rule (see the notes on each function).

use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

use crate::data_model;
use crate::error::{Failure, LengthUnit, Reason};
use crate::format;
use crate::schema::{LexInteger, StringFormat};

/// Index of a node in the catalog's arena.
pub(crate) type NodeId = usize;

/// One compiled schema.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Object(ObjectNode),
    /// Query parameters: like an object, but with the reference's params rules.
    Params(ObjectNode),
    Array {
        items: NodeId,
        min: Option<i64>,
        max: Option<i64>,
    },
    String(Box<StringRules>),
    Integer(IntegerRules),
    Boolean {
        const_value: Option<bool>,
    },
    Bytes {
        min: Option<f64>,
        max: Option<f64>,
    },
    CidLink,
    Blob,
    Unknown,
    Ref {
        target: NodeId,
    },
    Union {
        members: Vec<UnionMember>,
        closed: bool,
    },
    /// Tokens, records, queries, … reached through a reference.
    Unsupported {
        name: String,
        kind: &'static str,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct ObjectNode {
    pub(crate) properties: Vec<Property>,
}

#[derive(Debug, Clone)]
pub(crate) struct Property {
    pub(crate) name: String,
    pub(crate) node: NodeId,
    pub(crate) required: bool,
    pub(crate) nullable: bool,
    /// A primitive with a `default`: absent counts as the default, which is not checked.
    pub(crate) has_default: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct UnionMember {
    pub(crate) nsid: String,
    pub(crate) name: String,
    pub(crate) target: NodeId,
}

#[derive(Debug, Clone)]
pub(crate) struct StringRules {
    pub(crate) format: Option<StringFormat>,
    pub(crate) const_value: Option<String>,
    pub(crate) enum_values: Option<Vec<String>>,
    pub(crate) min_length: Option<i64>,
    pub(crate) max_length: Option<i64>,
    pub(crate) min_graphemes: Option<i64>,
    pub(crate) max_graphemes: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct IntegerRules {
    const_value: Option<i64>,
    enum_values: Option<Vec<i64>>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

impl From<&LexInteger> for IntegerRules {
    fn from(i: &LexInteger) -> IntegerRules {
        IntegerRules {
            const_value: i.const_value,
            enum_values: i.enum_values.clone(),
            minimum: i.minimum,
            maximum: i.maximum,
        }
    }
}

type Outcome = Result<(), Failure>;

fn wrong_type(expected: &'static str) -> Failure {
    Failure::new(Reason::WrongType { expected })
}

/// JavaScript's `typeof v === 'object' && v !== null`: arrays count, which the reference
/// relies on when it checks objects.
pub(crate) fn is_object_like(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
}

/// Property lookup as JavaScript sees it; arrays have no named properties here.
fn property<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    value.as_object().and_then(|map| map.get(name))
}

/// `object()` of the reference: object-like, then each declared property in order.
pub(crate) fn validate_object(nodes: &[Node], node: NodeId, value: &Value) -> Outcome {
    if !is_object_like(value) {
        return Err(wrong_type("an object"));
    }
    let Some(Node::Object(object)) = nodes.get(node) else {
        // The reference only walks `properties`; other definitions have none.
        return Ok(());
    };
    for prop in &object.properties {
        let field = property(value, &prop.name);
        match field {
            Some(Value::Null) if prop.nullable => continue,
            None if prop.has_default => continue,
            None if prop.required => {
                return Err(Failure::new(Reason::Required).under_key(&prop.name));
            }
            None => continue,
            Some(field) => validate_one_of(nodes, prop.node, field, false)
                .map_err(|f| f.under_key(&prop.name))?,
        }
    }
    Ok(())
}

/// `params()` of the reference: a missing or non-object value counts as `{}`, parameters
/// are primitives or arrays of primitives.
pub(crate) fn validate_params(nodes: &[Node], node: NodeId, value: &Value) -> Outcome {
    let Some(Node::Params(params)) = nodes.get(node) else {
        return Ok(());
    };
    for prop in &params.properties {
        let field = property(value, &prop.name);
        match field {
            None if prop.required && !prop.has_default => {
                return Err(Failure::new(Reason::Required).under_key(&prop.name));
            }
            None => continue,
            Some(field) => {
                validate(nodes, prop.node, field).map_err(|f| f.under_key(&prop.name))?
            }
        }
    }
    Ok(())
}

/// XRPC bodies and messages: `validateOneOf(…, mustBeObj = true)`.
pub(crate) fn validate_body(nodes: &[Node], node: NodeId, value: &Value) -> Outcome {
    validate_one_of(nodes, node, value, true)
}

/// `validateOneOf()` of the reference: resolves refs and unions, then validates.
fn validate_one_of(nodes: &[Node], node: NodeId, value: &Value, must_be_object: bool) -> Outcome {
    let concrete = match nodes.get(node) {
        Some(Node::Union { members, closed }) => {
            let Some(type_name) = union_type(value) else {
                return Err(Failure::new(Reason::MissingType));
            };
            match union_member(members, type_name)? {
                Some(target) => target,
                None if *closed => {
                    return Err(Failure::new(Reason::UnknownType {
                        found: type_name.to_owned(),
                    })
                    .under_key("$type"));
                }
                None => return Ok(()),
            }
        }
        Some(Node::Ref { target }) => *target,
        _ => node,
    };
    if must_be_object {
        validate_object(nodes, concrete, value)
    } else {
        validate(nodes, concrete, value)
    }
}

/// The `$type` of a union value: an object with a string `$type`. A typed blob is not a
/// candidate because the reference has already turned it into a `BlobRef`.
fn union_type(value: &Value) -> Option<&str> {
    let map = value.as_object()?;
    let type_name = map.get("$type")?.as_str()?;
    if data_model::is_typed_blob(map) {
        return None;
    }
    Some(type_name)
}

/// Finds the member a `$type` names; `nsid` and `nsid#main` are the same definition.
fn union_member(members: &[UnionMember], type_name: &str) -> Result<Option<NodeId>, Failure> {
    let malformed = || {
        Failure::new(Reason::MalformedType {
            found: type_name.to_owned(),
        })
        .under_key("$type")
    };
    if type_name.split('#').count() > 2 {
        return Err(malformed());
    }
    let (nsid, name) = match type_name.strip_prefix("lex:") {
        Some(rest) => rest.split_once('#').unwrap_or((rest, "main")),
        None => {
            if type_name.starts_with('#') {
                // A fragment without a document cannot be resolved.
                return Err(malformed());
            }
            type_name.split_once('#').unwrap_or((type_name, "main"))
        }
    };
    Ok(members
        .iter()
        .find(|m| m.nsid == nsid && m.name == name)
        .map(|m| m.target))
}

/// `validate()` of the reference: dispatch on the concrete schema.
fn validate(nodes: &[Node], node: NodeId, value: &Value) -> Outcome {
    match nodes.get(node) {
        Some(Node::Object(_)) => validate_object(nodes, node, value),
        Some(Node::Array { items, min, max }) => {
            let Some(elements) = value.as_array() else {
                return Err(wrong_type("an array"));
            };
            let len = elements.len() as i64;
            if let Some(max) = *max {
                if len > max {
                    return Err(Failure::new(Reason::TooLong {
                        max,
                        unit: LengthUnit::Elements,
                    }));
                }
            }
            if let Some(min) = *min {
                if len < min {
                    return Err(Failure::new(Reason::TooShort {
                        min,
                        unit: LengthUnit::Elements,
                    }));
                }
            }
            for (i, element) in elements.iter().enumerate() {
                validate_one_of(nodes, *items, element, false).map_err(|f| f.under_index(i))?;
            }
            Ok(())
        }
        Some(Node::String(rules)) => validate_string(rules, value),
        Some(Node::Integer(rules)) => validate_integer(rules, value),
        Some(Node::Boolean { const_value }) => {
            let Some(b) = value.as_bool() else {
                return Err(wrong_type("a boolean"));
            };
            match const_value {
                Some(c) if *c != b => Err(Failure::new(Reason::NotConst {
                    expected: c.to_string(),
                })),
                _ => Ok(()),
            }
        }
        Some(Node::Bytes { min, max }) => {
            let Some(len) = data_model::bytes_len(value) else {
                return Err(wrong_type("a byte array ({\"$bytes\": base64})"));
            };
            let len_f = len as f64;
            if let Some(max) = *max {
                if len_f > max {
                    return Err(Failure::new(Reason::TooLong {
                        max: max as i64,
                        unit: LengthUnit::Bytes,
                    }));
                }
            }
            if let Some(min) = *min {
                if len_f < min {
                    return Err(Failure::new(Reason::TooShort {
                        min: min as i64,
                        unit: LengthUnit::Bytes,
                    }));
                }
            }
            Ok(())
        }
        Some(Node::CidLink) => match data_model::cid_link(value) {
            Some(_) => Ok(()),
            None => Err(wrong_type("a CID link ({\"$link\": cid})")),
        },
        Some(Node::Blob) => match data_model::is_blob_ref(value) {
            true => Ok(()),
            false => Err(wrong_type("a blob ref")),
        },
        Some(Node::Unknown) => match is_object_like(value) {
            true => Ok(()),
            false => Err(wrong_type("an object")),
        },
        Some(Node::Unsupported { name, kind }) => {
            Err(Failure::new(Reason::UnsupportedDefinition {
                name: name.clone(),
                kind,
            }))
        }
        Some(Node::Ref { .. } | Node::Union { .. } | Node::Params(_)) | None => {
            Err(Failure::new(Reason::UnsupportedDefinition {
                name: format!("node {node}"),
                kind: "reference",
            }))
        }
    }
}

/// JavaScript `Number.isInteger` on a JSON number, as the `f64` JavaScript would hold.
fn js_integer(value: &Value) -> Option<f64> {
    let number = value.as_number()?;
    if let Some(i) = number.as_i64() {
        return Some(i as f64);
    }
    if let Some(u) = number.as_u64() {
        return Some(u as f64);
    }
    let f = number.as_f64()?;
    (f.is_finite() && f.fract() == 0.0).then_some(f)
}

fn validate_integer(rules: &IntegerRules, value: &Value) -> Outcome {
    let Some(n) = js_integer(value) else {
        return Err(wrong_type("an integer"));
    };
    if let Some(c) = rules.const_value {
        if n != c as f64 {
            return Err(Failure::new(Reason::NotConst {
                expected: c.to_string(),
            }));
        }
    }
    if let Some(allowed) = &rules.enum_values {
        if !allowed.iter().any(|a| *a as f64 == n) {
            return Err(Failure::new(Reason::NotInEnum {
                allowed: allowed.iter().map(i64::to_string).collect(),
            }));
        }
    }
    if let Some(max) = rules.maximum {
        if n > max as f64 {
            return Err(Failure::new(Reason::TooLarge { max }));
        }
    }
    if let Some(min) = rules.minimum {
        if n < min as f64 {
            return Err(Failure::new(Reason::TooSmall { min }));
        }
    }
    Ok(())
}

fn validate_string(rules: &StringRules, value: &Value) -> Outcome {
    let Some(s) = value.as_str() else {
        return Err(wrong_type("a string"));
    };
    if let Some(c) = &rules.const_value {
        if s != c {
            return Err(Failure::new(Reason::NotConst {
                expected: Value::String(c.clone()).to_string(),
            }));
        }
    }
    if let Some(allowed) = &rules.enum_values {
        if !allowed.iter().any(|a| a == s) {
            return Err(Failure::new(Reason::NotInEnum {
                allowed: allowed
                    .iter()
                    .map(|a| Value::String(a.clone()).to_string())
                    .collect(),
            }));
        }
    }
    // Lengths are UTF-8 bytes; `str::len` is exactly that.
    let bytes = s.len() as i64;
    if let Some(max) = rules.max_length {
        if bytes > max {
            return Err(Failure::new(Reason::TooLong {
                max,
                unit: LengthUnit::Bytes,
            }));
        }
    }
    if let Some(min) = rules.min_length {
        if bytes < min {
            return Err(Failure::new(Reason::TooShort {
                min,
                unit: LengthUnit::Bytes,
            }));
        }
    }
    if rules.max_graphemes.is_some() || rules.min_graphemes.is_some() {
        // A string never has more graphemes than UTF-8 bytes, so short strings skip the
        // segmentation when only a maximum is set.
        let needs_count =
            rules.min_graphemes.is_some() || rules.max_graphemes.is_some_and(|max| bytes > max);
        if needs_count {
            let graphemes = s.graphemes(true).count() as i64;
            if let Some(max) = rules.max_graphemes {
                if graphemes > max {
                    return Err(Failure::new(Reason::TooLong {
                        max,
                        unit: LengthUnit::Graphemes,
                    }));
                }
            }
            if let Some(min) = rules.min_graphemes {
                if graphemes < min {
                    return Err(Failure::new(Reason::TooShort {
                        min,
                        unit: LengthUnit::Graphemes,
                    }));
                }
            }
        }
    }
    if let Some(f) = rules.format {
        if !format::is_valid(f, s) {
            return Err(Failure::new(Reason::InvalidFormat(f)));
        }
    }
    Ok(())
}
