//! Errors: why a value does not match its lexicon, and why a set of lexicons is unusable.

use std::fmt;

use crate::schema::StringFormat;

/// What a length limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// UTF-8 bytes of a string, or bytes of a byte array.
    Bytes,
    /// Extended grapheme clusters of a string.
    Graphemes,
    /// Elements of an array.
    Elements,
}

impl fmt::Display for LengthUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LengthUnit::Bytes => "bytes",
            LengthUnit::Graphemes => "graphemes",
            LengthUnit::Elements => "elements",
        })
    }
}

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// A required property is missing.
    Required,
    /// The value has the wrong JSON type (`expected` names the lexicon type).
    WrongType {
        /// What was expected, e.g. "an object", "an integer".
        expected: &'static str,
    },
    /// The value differs from the schema's `const`.
    NotConst {
        /// The constant, as JSON.
        expected: String,
    },
    /// The value is not one of the schema's `enum` values.
    NotInEnum {
        /// The allowed values, as JSON.
        allowed: Vec<String>,
    },
    /// A string, byte array or array is too long.
    TooLong {
        /// The limit.
        max: i64,
        /// What is counted.
        unit: LengthUnit,
    },
    /// A string, byte array or array is too short.
    TooShort {
        /// The limit.
        min: i64,
        /// What is counted.
        unit: LengthUnit,
    },
    /// An integer is above the schema's `maximum`.
    TooLarge {
        /// The limit.
        max: i64,
    },
    /// An integer is below the schema's `minimum`.
    TooSmall {
        /// The limit.
        min: i64,
    },
    /// A string does not follow its format.
    InvalidFormat(StringFormat),
    /// A union member lacks a string `$type`.
    MissingType,
    /// A closed union got a `$type` that is not one of its members.
    UnknownType {
        /// The `$type` found.
        found: String,
    },
    /// A `$type` is not a well-formed reference (e.g. two `#`, or a bare `#name`).
    MalformedType {
        /// The `$type` found.
        found: String,
    },
    /// A record's own `$type` is missing, not a string, or not the record's NSID.
    RecordType {
        /// The NSID the record is validated against.
        expected: String,
        /// The `$type` found, when it is a string.
        found: Option<String>,
    },
    /// The definition named by the caller does not exist.
    UnknownDefinition {
        /// The requested definition.
        name: String,
    },
    /// The definition exists but cannot validate this kind of value.
    UnsupportedDefinition {
        /// The requested definition or the one reached.
        name: String,
        /// Its type, e.g. `token`.
        kind: &'static str,
    },
    /// The value passed validation but does not fit the generated Rust type.
    Deserialize(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Required => f.write_str("required"),
            Reason::WrongType { expected } => write!(f, "must be {expected}"),
            Reason::NotConst { expected } => write!(f, "must be {expected}"),
            Reason::NotInEnum { allowed } => write!(f, "must be one of ({})", allowed.join("|")),
            Reason::TooLong { max, unit } => write!(f, "longer than {max} {unit}"),
            Reason::TooShort { min, unit } => write!(f, "shorter than {min} {unit}"),
            Reason::TooLarge { max } => write!(f, "greater than {max}"),
            Reason::TooSmall { min } => write!(f, "less than {min}"),
            Reason::InvalidFormat(format) => {
                let article = match format {
                    StringFormat::AtUri | StringFormat::AtIdentifier | StringFormat::Nsid => "an",
                    _ => "a",
                };
                write!(f, "must be {article} {}", format.name())
            }
            Reason::MissingType => f.write_str("must be an object with a string $type"),
            Reason::UnknownType { found } => write!(f, "unknown $type {found:?}"),
            Reason::MalformedType { found } => write!(f, "malformed $type {found:?}"),
            Reason::RecordType {
                expected,
                found: Some(found),
            } => write!(f, "$type must be {expected:?}, got {found:?}"),
            Reason::RecordType {
                expected,
                found: None,
            } => write!(f, "$type must be the string {expected:?}"),
            Reason::UnknownDefinition { name } => write!(f, "no lexicon definition {name:?}"),
            Reason::UnsupportedDefinition { name, kind } => {
                write!(
                    f,
                    "{name:?} is a {kind} definition, which cannot validate a value"
                )
            }
            Reason::Deserialize(message) => write!(f, "does not fit the generated type: {message}"),
        }
    }
}

/// A value that does not match its lexicon: where (`$.subject.uri`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ValidationError {
    /// JSONPath-style location of the offending value, `$` for the value itself.
    pub path: String,
    /// What is wrong with it.
    pub reason: Reason,
}

impl ValidationError {
    /// An error about the value as a whole.
    pub fn at_root(reason: Reason) -> ValidationError {
        ValidationError {
            path: "$".to_owned(),
            reason,
        }
    }
}

/// One step of a path, collected innermost-first while an error propagates.
#[derive(Debug, Clone)]
pub(crate) enum PathSegment {
    Key(String),
    Index(usize),
}

/// An error on its way up: the path is built only when validation fails.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    reversed_path: Vec<PathSegment>,
    reason: Reason,
}

impl Failure {
    pub(crate) fn new(reason: Reason) -> Failure {
        Failure {
            reversed_path: Vec::new(),
            reason,
        }
    }

    pub(crate) fn under_key(mut self, key: &str) -> Failure {
        self.reversed_path.push(PathSegment::Key(key.to_owned()));
        self
    }

    pub(crate) fn under_index(mut self, index: usize) -> Failure {
        self.reversed_path.push(PathSegment::Index(index));
        self
    }

    pub(crate) fn into_error(self) -> ValidationError {
        let mut path = String::from("$");
        for segment in self.reversed_path.iter().rev() {
            match segment {
                PathSegment::Index(i) => {
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                }
                PathSegment::Key(key)
                    if !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') =>
                {
                    path.push('.');
                    path.push_str(key);
                }
                PathSegment::Key(key) => {
                    path.push('[');
                    path.push_str(&serde_json::Value::String(key.clone()).to_string());
                    path.push(']');
                }
            }
        }
        ValidationError {
            path,
            reason: self.reason,
        }
    }
}

/// Why a set of lexicon documents cannot form a catalog.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A document is not valid lexicon JSON.
    #[error("{source_name}: not a lexicon document: {message}")]
    Parse {
        /// Where the document came from.
        source_name: String,
        /// The parser's message.
        message: String,
    },
    /// A document breaks a rule of the lexicon language.
    #[error("{nsid}: {message}")]
    Invalid {
        /// The document's NSID.
        nsid: String,
        /// What is wrong.
        message: String,
    },
    /// Two documents share an NSID.
    #[error("{nsid}: defined twice")]
    Duplicate {
        /// The NSID.
        nsid: String,
    },
    /// A `ref` or union member names a definition that does not exist.
    #[error("{nsid}: reference {reference:?} does not resolve")]
    UnresolvedRef {
        /// The document holding the reference.
        nsid: String,
        /// The reference as written.
        reference: String,
    },
}
