//! The lexicon v1 document model (the JSON schema language of atproto), as serde types.
//!
//! Unknown keys are ignored, as the reference implementation does; maps keep the order
//! they were written in because it decides which error is reported first and the order
//! of generated fields.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// One lexicon document: an NSID and its named definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexiconDoc {
    /// Lexicon language version; only `1` exists.
    pub lexicon: u32,
    /// The document's NSID.
    pub id: String,
    /// Optional revision number of the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<f64>,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Definitions by name; `main` is the one the bare NSID refers to.
    pub defs: IndexMap<String, UserType>,
}

/// A named top-level definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum UserType {
    /// A record type stored in repositories.
    Record(LexRecord),
    /// An XRPC query (HTTP GET).
    Query(LexXrpcQuery),
    /// An XRPC procedure (HTTP POST).
    Procedure(LexXrpcProcedure),
    /// An XRPC event stream.
    Subscription(LexXrpcSubscription),
    /// An OAuth permission set; kept opaque.
    PermissionSet(LexPermissionSet),
    /// A named constant with no data.
    Token(LexToken),
    /// An object type.
    Object(LexObject),
    /// An array type.
    Array(LexArray),
    /// A boolean.
    Boolean(LexBoolean),
    /// An integer.
    Integer(LexInteger),
    /// A string.
    String(LexString),
    /// Raw bytes (`{"$bytes": base64}` in JSON).
    Bytes(LexBytes),
    /// A CID link (`{"$link": cid}` in JSON).
    CidLink(LexCidLink),
    /// A blob reference.
    Blob(LexBlob),
    /// Any object.
    Unknown(LexUnknown),
}

impl UserType {
    /// The definition's `type` name as written in lexicon JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            UserType::Record(_) => "record",
            UserType::Query(_) => "query",
            UserType::Procedure(_) => "procedure",
            UserType::Subscription(_) => "subscription",
            UserType::PermissionSet(_) => "permission-set",
            UserType::Token(_) => "token",
            UserType::Object(_) => "object",
            UserType::Array(_) => "array",
            UserType::Boolean(_) => "boolean",
            UserType::Integer(_) => "integer",
            UserType::String(_) => "string",
            UserType::Bytes(_) => "bytes",
            UserType::CidLink(_) => "cid-link",
            UserType::Blob(_) => "blob",
            UserType::Unknown(_) => "unknown",
        }
    }

    /// The description, whatever the kind of definition.
    pub fn description(&self) -> Option<&str> {
        match self {
            UserType::Record(d) => d.description.as_deref(),
            UserType::Query(d) => d.description.as_deref(),
            UserType::Procedure(d) => d.description.as_deref(),
            UserType::Subscription(d) => d.description.as_deref(),
            UserType::PermissionSet(d) => d.description.as_deref(),
            UserType::Token(d) => d.description.as_deref(),
            UserType::Object(d) => d.description.as_deref(),
            UserType::Array(d) => d.description.as_deref(),
            UserType::Boolean(d) => d.description.as_deref(),
            UserType::Integer(d) => d.description.as_deref(),
            UserType::String(d) => d.description.as_deref(),
            UserType::Bytes(d) => d.description.as_deref(),
            UserType::CidLink(d) => d.description.as_deref(),
            UserType::Blob(d) => d.description.as_deref(),
            UserType::Unknown(d) => d.description.as_deref(),
        }
    }
}

/// A field type: what may appear as an object property or array item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FieldType {
    /// An array (not allowed as an array's items).
    Array(LexArray),
    /// A boolean.
    Boolean(LexBoolean),
    /// An integer.
    Integer(LexInteger),
    /// A string.
    String(LexString),
    /// Any object.
    Unknown(LexUnknown),
    /// Raw bytes.
    Bytes(LexBytes),
    /// A CID link.
    CidLink(LexCidLink),
    /// A reference to another definition.
    Ref(LexRef),
    /// A union of references, discriminated by `$type`.
    Union(LexRefUnion),
    /// A blob reference.
    Blob(LexBlob),
}

impl FieldType {
    /// The field's `type` name as written in lexicon JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldType::Array(_) => "array",
            FieldType::Boolean(_) => "boolean",
            FieldType::Integer(_) => "integer",
            FieldType::String(_) => "string",
            FieldType::Unknown(_) => "unknown",
            FieldType::Bytes(_) => "bytes",
            FieldType::CidLink(_) => "cid-link",
            FieldType::Ref(_) => "ref",
            FieldType::Union(_) => "union",
            FieldType::Blob(_) => "blob",
        }
    }

    /// The description, whatever the kind of field.
    pub fn description(&self) -> Option<&str> {
        match self {
            FieldType::Array(d) => d.description.as_deref(),
            FieldType::Boolean(d) => d.description.as_deref(),
            FieldType::Integer(d) => d.description.as_deref(),
            FieldType::String(d) => d.description.as_deref(),
            FieldType::Unknown(d) => d.description.as_deref(),
            FieldType::Bytes(d) => d.description.as_deref(),
            FieldType::CidLink(d) => d.description.as_deref(),
            FieldType::Ref(d) => d.description.as_deref(),
            FieldType::Union(d) => d.description.as_deref(),
            FieldType::Blob(d) => d.description.as_deref(),
        }
    }
}

/// A record definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexRecord {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Record key type: `tid`, `nsid`, `any`, `literal:<value>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The record's shape.
    pub record: LexObject,
}

/// An object definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexObject {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Property names that must be present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    /// Property names whose value may be `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<Vec<String>>,
    /// Properties in declaration order.
    #[serde(default)]
    pub properties: IndexMap<String, FieldType>,
}

impl LexObject {
    /// Whether `name` is listed in `required`.
    pub fn is_required(&self, name: &str) -> bool {
        self.required.iter().flatten().any(|r| r == name)
    }

    /// Whether `name` is listed in `nullable`.
    pub fn is_nullable(&self, name: &str) -> bool {
        self.nullable.iter().flatten().any(|r| r == name)
    }
}

/// An array definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexArray {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The type of every element.
    pub items: Box<FieldType>,
    /// Minimum number of elements.
    #[serde(default, rename = "minLength", skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i64>,
    /// Maximum number of elements.
    #[serde(default, rename = "maxLength", skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
}

/// A boolean definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexBoolean {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Value used when the property is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// The only allowed value.
    #[serde(default, rename = "const", skip_serializing_if = "Option::is_none")]
    pub const_value: Option<bool>,
}

/// An integer definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexInteger {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Value used when the property is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<i64>,
    /// Smallest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    /// Largest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    /// The allowed values.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<i64>>,
    /// The only allowed value.
    #[serde(default, rename = "const", skip_serializing_if = "Option::is_none")]
    pub const_value: Option<i64>,
}

/// A string format known to lexicon v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StringFormat {
    /// An RFC 3339 / ISO 8601 datetime.
    Datetime,
    /// A generic URI.
    Uri,
    /// An `at://` URI.
    AtUri,
    /// A DID.
    Did,
    /// A handle (domain name).
    Handle,
    /// A DID or a handle.
    AtIdentifier,
    /// A namespaced identifier.
    Nsid,
    /// A CID in string form.
    Cid,
    /// A BCP 47 language tag.
    Language,
    /// A timestamp identifier.
    Tid,
    /// A record key.
    RecordKey,
}

impl StringFormat {
    /// The format's name as written in lexicon JSON.
    pub fn name(self) -> &'static str {
        match self {
            StringFormat::Datetime => "datetime",
            StringFormat::Uri => "uri",
            StringFormat::AtUri => "at-uri",
            StringFormat::Did => "did",
            StringFormat::Handle => "handle",
            StringFormat::AtIdentifier => "at-identifier",
            StringFormat::Nsid => "nsid",
            StringFormat::Cid => "cid",
            StringFormat::Language => "language",
            StringFormat::Tid => "tid",
            StringFormat::RecordKey => "record-key",
        }
    }
}

/// A string definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexString {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Syntax the string must follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<StringFormat>,
    /// Value used when the property is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Minimum length in UTF-8 bytes.
    #[serde(default, rename = "minLength", skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i64>,
    /// Maximum length in UTF-8 bytes.
    #[serde(default, rename = "maxLength", skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    /// Minimum length in extended grapheme clusters.
    #[serde(
        default,
        rename = "minGraphemes",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_graphemes: Option<i64>,
    /// Maximum length in extended grapheme clusters.
    #[serde(
        default,
        rename = "maxGraphemes",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_graphemes: Option<i64>,
    /// The allowed values.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<String>>,
    /// The only allowed value.
    #[serde(default, rename = "const", skip_serializing_if = "Option::is_none")]
    pub const_value: Option<String>,
    /// Suggested values; not enforced.
    #[serde(
        default,
        rename = "knownValues",
        skip_serializing_if = "Option::is_none"
    )]
    pub known_values: Option<Vec<String>>,
}

/// A bytes definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexBytes {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Minimum length in bytes.
    #[serde(default, rename = "minLength", skip_serializing_if = "Option::is_none")]
    pub min_length: Option<f64>,
    /// Maximum length in bytes.
    #[serde(default, rename = "maxLength", skip_serializing_if = "Option::is_none")]
    pub max_length: Option<f64>,
}

/// A CID link definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexCidLink {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A blob definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexBlob {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Accepted MIME types (not enforced by record validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Vec<String>>,
    /// Maximum size in bytes (not enforced by record validation).
    #[serde(default, rename = "maxSize", skip_serializing_if = "Option::is_none")]
    pub max_size: Option<f64>,
}

/// An `unknown` definition: any object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexUnknown {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A token definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexToken {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A reference to one definition: `#local`, `nsid` or `nsid#name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexRef {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The referenced definition.
    #[serde(rename = "ref")]
    pub target: String,
}

/// A union of references, discriminated by the value's `$type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexRefUnion {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The member definitions.
    pub refs: Vec<String>,
    /// Whether `$type`s other than `refs` are rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
}

/// An OAuth permission set; its permissions are kept as raw JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexPermissionSet {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The permissions, unparsed.
    #[serde(default)]
    pub permissions: Vec<serde_json::Value>,
}

/// Query parameters of an XRPC method.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LexXrpcParameters {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parameter names that must be present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    /// Parameters in declaration order (primitives or arrays of primitives).
    #[serde(default)]
    pub properties: IndexMap<String, FieldType>,
}

impl LexXrpcParameters {
    /// Whether `name` is listed in `required`.
    pub fn is_required(&self, name: &str) -> bool {
        self.required.iter().flatten().any(|r| r == name)
    }
}

/// The schema of an XRPC body: a ref, a union or an inline object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum BodySchema {
    /// A reference to an object definition.
    Ref(LexRef),
    /// A union of object definitions.
    Union(LexRefUnion),
    /// An inline object.
    Object(LexObject),
}

/// An XRPC request or response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexXrpcBody {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MIME type of the body.
    pub encoding: String,
    /// Shape of a JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<BodySchema>,
}

/// A named XRPC error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexXrpcError {
    /// Error name as sent in the response's `error` field.
    pub name: String,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An XRPC query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexXrpcQuery {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Query-string parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<LexXrpcParameters>,
    /// Response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<LexXrpcBody>,
    /// Errors the method may return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<LexXrpcError>>,
}

/// An XRPC procedure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexXrpcProcedure {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Query-string parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<LexXrpcParameters>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<LexXrpcBody>,
    /// Response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<LexXrpcBody>,
    /// Errors the method may return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<LexXrpcError>>,
}

/// The message schema of a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexSubscriptionMessage {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The union of message types.
    pub schema: LexRefUnion,
}

/// An XRPC subscription (event stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexXrpcSubscription {
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Query-string parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<LexXrpcParameters>,
    /// Messages sent on the stream.
    pub message: LexSubscriptionMessage,
    /// Errors the stream may return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<LexXrpcError>>,
}

/// A reference resolved to the document and definition it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefKey {
    /// NSID of the document.
    pub nsid: String,
    /// Name of the definition (`main` when the reference had no fragment).
    pub name: String,
}

impl DefKey {
    /// Resolves `reference` (`#name`, `nsid`, `nsid#name`, optionally `lex:`-prefixed) as
    /// written inside the document `base_nsid`; `None` when it is malformed.
    pub fn resolve(reference: &str, base_nsid: &str) -> Option<DefKey> {
        let reference = reference.strip_prefix("lex:").unwrap_or(reference);
        let mut parts = reference.split('#');
        let nsid = parts.next()?;
        let name = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let nsid = if nsid.is_empty() {
            // A bare `#name` only means something inside a document.
            name?;
            base_nsid
        } else {
            nsid
        };
        Some(DefKey {
            nsid: nsid.to_owned(),
            name: name.unwrap_or("main").to_owned(),
        })
    }
}

impl std::fmt::Display for DefKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name == "main" {
            f.write_str(&self.nsid)
        } else {
            write!(f, "{}#{}", self.nsid, self.name)
        }
    }
}
