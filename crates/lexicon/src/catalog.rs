//! The catalog: a registry of lexicon documents, compiled once into a graph of validators.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{CatalogError, Reason, ValidationError};
use crate::format;
use crate::schema::{
    BodySchema, DefKey, FieldType, LexObject, LexRefUnion, LexString, LexXrpcBody,
    LexXrpcParameters, LexiconDoc, UserType,
};
use crate::validation::{self, Node, NodeId, ObjectNode, Property, StringRules, UnionMember};

include!(concat!(env!("OUT_DIR"), "/embedded_documents.rs"));

/// What the catalog knows about one named definition.
#[derive(Debug, Clone)]
struct DefEntry {
    /// How a `ref` or union member pointing here validates.
    node: NodeId,
    /// The object to check for `validate_object`: a record's body or an object itself.
    object: Option<NodeId>,
    /// Definition type, for error messages.
    kind: &'static str,
    /// Compiled XRPC parts of queries, procedures and subscriptions.
    xrpc: XrpcEntry,
}

#[derive(Debug, Clone, Default)]
struct XrpcEntry {
    params: Option<NodeId>,
    input: Option<NodeId>,
    output: Option<NodeId>,
    message: Option<NodeId>,
}

/// A registry of lexicon documents with compiled validators.
#[derive(Debug, Clone)]
pub struct Catalog {
    docs: BTreeMap<String, LexiconDoc>,
    defs: HashMap<String, HashMap<String, DefEntry>>,
    nodes: Vec<Node>,
}

impl Catalog {
    /// The catalog of every lexicon embedded at compile time (`lexicons/` plus
    /// `com.atproto.repo.strongRef`), built on first use.
    pub fn embedded() -> Result<&'static Catalog, CatalogError> {
        static EMBEDDED: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| Catalog::from_json_documents(EMBEDDED_DOCUMENTS.iter().copied()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Names and JSON texts of the embedded documents.
    pub fn embedded_documents() -> &'static [(&'static str, &'static str)] {
        EMBEDDED_DOCUMENTS
    }

    /// Parses `(source name, JSON text)` pairs and builds a catalog.
    pub fn from_json_documents<'a>(
        documents: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalog, CatalogError> {
        let mut docs = Vec::new();
        for (name, text) in documents {
            let doc: LexiconDoc =
                serde_json::from_str(text).map_err(|err| CatalogError::Parse {
                    source_name: name.to_owned(),
                    message: err.to_string(),
                })?;
            docs.push(doc);
        }
        Catalog::new(docs)
    }

    /// Checks the documents and compiles them.
    pub fn new(documents: Vec<LexiconDoc>) -> Result<Catalog, CatalogError> {
        let mut docs = BTreeMap::new();
        for doc in documents {
            check_document(&doc)?;
            if docs.contains_key(&doc.id) {
                return Err(CatalogError::Duplicate { nsid: doc.id });
            }
            docs.insert(doc.id.clone(), doc);
        }
        let mut compiler = Compiler {
            nodes: Vec::new(),
            defs: HashMap::new(),
        };
        // Every definition gets its node first so references can point anywhere,
        // including at definitions compiled later or at themselves.
        for doc in docs.values() {
            for (name, def) in &doc.defs {
                let node = compiler.push(Node::Unknown);
                let object = match def {
                    UserType::Record(_) => Some(compiler.push(Node::Unknown)),
                    UserType::Object(_) => Some(node),
                    _ => None,
                };
                compiler.defs.entry(doc.id.clone()).or_default().insert(
                    name.clone(),
                    DefEntry {
                        node,
                        object,
                        kind: def.type_name(),
                        xrpc: XrpcEntry::default(),
                    },
                );
            }
        }
        for doc in docs.values() {
            for (name, def) in &doc.defs {
                compiler.compile_def(&doc.id, name, def)?;
            }
        }
        Ok(Catalog {
            docs,
            defs: compiler.defs,
            nodes: compiler.nodes,
        })
    }

    /// The documents, by NSID.
    pub fn documents(&self) -> impl Iterator<Item = &LexiconDoc> {
        self.docs.values()
    }

    /// One document by NSID.
    pub fn document(&self, nsid: &str) -> Option<&LexiconDoc> {
        self.docs.get(nsid)
    }

    fn entry(&self, reference: &str) -> Result<&DefEntry, ValidationError> {
        let unknown = || {
            ValidationError::at_root(Reason::UnknownDefinition {
                name: reference.to_owned(),
            })
        };
        // Borrowed parsing: this runs once per validated record.
        let bare = reference.strip_prefix("lex:").unwrap_or(reference);
        let (nsid, name) = bare.split_once('#').unwrap_or((bare, "main"));
        if nsid.is_empty() || name.contains('#') {
            return Err(unknown());
        }
        self.defs
            .get(nsid)
            .and_then(|defs| defs.get(name))
            .ok_or_else(unknown)
    }

    /// Validates an untrusted record against the record lexicon `nsid`, including that its
    /// own `$type` names that lexicon.
    pub fn validate_record(&self, nsid: &str, value: &Value) -> Result<(), ValidationError> {
        let Some(map) = value.as_object() else {
            return Err(ValidationError::at_root(Reason::WrongType {
                expected: "an object",
            }));
        };
        let record_type = map.get("$type").and_then(Value::as_str);
        fn strip(s: &str) -> &str {
            s.strip_prefix("lex:").unwrap_or(s)
        }
        // The reference compares both sides in `lex:` URI form and throws on a `$type`
        // with two fragments, so `lex:`-prefixed types pass and `a#b#c` never does.
        let type_ok =
            record_type.is_some_and(|t| t.split('#').count() <= 2 && strip(t) == strip(nsid));
        if !type_ok {
            return Err(ValidationError {
                path: "$.$type".to_owned(),
                reason: Reason::RecordType {
                    expected: nsid.to_owned(),
                    found: record_type.map(str::to_owned),
                },
            });
        }
        let entry = self.entry(nsid)?;
        match (entry.kind, entry.object) {
            ("record", Some(object)) => {
                validation::validate_object(&self.nodes, object, value).map_err(|f| f.into_error())
            }
            (kind, _) => Err(ValidationError::at_root(Reason::UnsupportedDefinition {
                name: nsid.to_owned(),
                kind,
            })),
        }
    }

    /// Validates a value against an object definition (`nsid#name`, or a record's body
    /// when `reference` names a record), e.g. a view inside an XRPC response.
    pub fn validate_object(&self, reference: &str, value: &Value) -> Result<(), ValidationError> {
        let entry = self.entry(reference)?;
        let Some(object) = entry.object else {
            return Err(ValidationError::at_root(Reason::UnsupportedDefinition {
                name: reference.to_owned(),
                kind: entry.kind,
            }));
        };
        if !validation::is_object_like(value) {
            return Err(ValidationError::at_root(Reason::WrongType {
                expected: "an object",
            }));
        }
        validation::validate_object(&self.nodes, object, value).map_err(|f| f.into_error())
    }

    fn xrpc_part(
        &self,
        nsid: &str,
        part: fn(&XrpcEntry) -> Option<NodeId>,
        allowed: &[&str],
    ) -> Result<Option<NodeId>, ValidationError> {
        let entry = self.entry(nsid)?;
        if !allowed.contains(&entry.kind) {
            return Err(ValidationError::at_root(Reason::UnsupportedDefinition {
                name: nsid.to_owned(),
                kind: entry.kind,
            }));
        }
        Ok(part(&entry.xrpc))
    }

    /// Validates decoded query parameters (a JSON object of already-typed values) of a
    /// query, procedure or subscription.
    pub fn validate_params(&self, nsid: &str, params: &Value) -> Result<(), ValidationError> {
        match self.xrpc_part(nsid, |x| x.params, &["query", "procedure", "subscription"])? {
            Some(node) => {
                validation::validate_params(&self.nodes, node, params).map_err(|f| f.into_error())
            }
            None => Ok(()),
        }
    }

    /// Validates the JSON input body of a procedure.
    pub fn validate_input(&self, nsid: &str, body: &Value) -> Result<(), ValidationError> {
        match self.xrpc_part(nsid, |x| x.input, &["procedure"])? {
            Some(node) => {
                validation::validate_body(&self.nodes, node, body).map_err(|f| f.into_error())
            }
            None => Ok(()),
        }
    }

    /// Validates the JSON output body of a query or procedure.
    pub fn validate_output(&self, nsid: &str, body: &Value) -> Result<(), ValidationError> {
        match self.xrpc_part(nsid, |x| x.output, &["query", "procedure"])? {
            Some(node) => {
                validation::validate_body(&self.nodes, node, body).map_err(|f| f.into_error())
            }
            None => Ok(()),
        }
    }

    /// Validates one message of a subscription.
    pub fn validate_message(&self, nsid: &str, message: &Value) -> Result<(), ValidationError> {
        match self.xrpc_part(nsid, |x| x.message, &["subscription"])? {
            Some(node) => {
                validation::validate_body(&self.nodes, node, message).map_err(|f| f.into_error())
            }
            None => Ok(()),
        }
    }
}

/// Rules of the lexicon language that serde's shape checks do not cover.
fn check_document(doc: &LexiconDoc) -> Result<(), CatalogError> {
    let invalid = |message: String| CatalogError::Invalid {
        nsid: doc.id.clone(),
        message,
    };
    if doc.lexicon != 1 {
        return Err(invalid(format!(
            "unsupported lexicon version {}",
            doc.lexicon
        )));
    }
    if !format::is_valid_nsid(&doc.id) {
        return Err(invalid("id is not a valid NSID".to_owned()));
    }
    for (name, def) in &doc.defs {
        let primary = matches!(
            def,
            UserType::Record(_)
                | UserType::Query(_)
                | UserType::Procedure(_)
                | UserType::Subscription(_)
                | UserType::PermissionSet(_)
        );
        if primary && name != "main" {
            return Err(invalid(format!(
                "#{name}: records, permission sets, queries, procedures and subscriptions must be the main definition"
            )));
        }
        let context = format!("#{name}");
        match def {
            UserType::Record(r) => check_object(&r.record, &context).map_err(invalid)?,
            UserType::Object(o) => check_object(o, &context).map_err(invalid)?,
            UserType::Array(a) => check_array_items(&a.items, &context).map_err(invalid)?,
            UserType::Query(q) => {
                check_params(q.parameters.as_ref(), &context).map_err(invalid)?;
                check_body(q.output.as_ref(), &context).map_err(invalid)?;
            }
            UserType::Procedure(p) => {
                check_params(p.parameters.as_ref(), &context).map_err(invalid)?;
                check_body(p.input.as_ref(), &context).map_err(invalid)?;
                check_body(p.output.as_ref(), &context).map_err(invalid)?;
            }
            UserType::Subscription(s) => {
                check_params(s.parameters.as_ref(), &context).map_err(invalid)?
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_required(
    required: Option<&Vec<String>>,
    has: impl Fn(&str) -> bool,
    context: &str,
) -> Result<(), String> {
    for name in required.into_iter().flatten() {
        if !has(name) {
            return Err(format!("{context}: required field {name:?} not defined"));
        }
    }
    Ok(())
}

fn check_object(object: &LexObject, context: &str) -> Result<(), String> {
    check_required(
        object.required.as_ref(),
        |n| object.properties.contains_key(n),
        context,
    )?;
    for (name, field) in &object.properties {
        if let FieldType::Array(array) = field {
            check_array_items(&array.items, &format!("{context}.{name}"))?;
        }
    }
    Ok(())
}

fn check_array_items(items: &FieldType, context: &str) -> Result<(), String> {
    match items {
        FieldType::Array(_) => Err(format!("{context}: arrays of arrays are not allowed")),
        _ => Ok(()),
    }
}

fn check_params(params: Option<&LexXrpcParameters>, context: &str) -> Result<(), String> {
    let Some(params) = params else {
        return Ok(());
    };
    check_required(
        params.required.as_ref(),
        |n| params.properties.contains_key(n),
        context,
    )?;
    for (name, field) in &params.properties {
        let primitive = |f: &FieldType| {
            matches!(
                f,
                FieldType::Boolean(_)
                    | FieldType::Integer(_)
                    | FieldType::String(_)
                    | FieldType::Unknown(_)
            )
        };
        let ok = match field {
            FieldType::Array(array) => primitive(&array.items),
            other => primitive(other),
        };
        if !ok {
            return Err(format!(
                "{context}: parameter {name:?} must be a primitive or an array of primitives"
            ));
        }
    }
    Ok(())
}

fn check_body(body: Option<&LexXrpcBody>, context: &str) -> Result<(), String> {
    match body.and_then(|b| b.schema.as_ref()) {
        Some(BodySchema::Object(object)) => check_object(object, context),
        _ => Ok(()),
    }
}

struct Compiler {
    nodes: Vec<Node>,
    defs: HashMap<String, HashMap<String, DefEntry>>,
}

impl Compiler {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn lookup(&self, key: &DefKey) -> Option<&DefEntry> {
        self.defs
            .get(&key.nsid)
            .and_then(|defs| defs.get(&key.name))
    }

    fn resolve(&self, nsid: &str, reference: &str) -> Result<NodeId, CatalogError> {
        DefKey::resolve(reference, nsid)
            .and_then(|key| self.lookup(&key).map(|entry| entry.node))
            .ok_or_else(|| CatalogError::UnresolvedRef {
                nsid: nsid.to_owned(),
                reference: reference.to_owned(),
            })
    }

    fn compile_def(&mut self, nsid: &str, name: &str, def: &UserType) -> Result<(), CatalogError> {
        let key = DefKey {
            nsid: nsid.to_owned(),
            name: name.to_owned(),
        };
        let Some(entry) = self.lookup(&key).cloned() else {
            return Ok(());
        };
        let display = key.to_string();
        let unsupported = |kind: &'static str| Node::Unsupported {
            name: display.clone(),
            kind,
        };
        let mut xrpc = XrpcEntry::default();
        let node = match def {
            UserType::Record(record) => {
                if let Some(object) = entry.object {
                    self.nodes[object] = self.object(nsid, &record.record)?;
                }
                // Reached through a ref or union, a record cannot validate a value.
                unsupported("record")
            }
            UserType::Query(query) => {
                xrpc.params = self.params(nsid, query.parameters.as_ref())?;
                xrpc.output = self.body(nsid, query.output.as_ref())?;
                unsupported("query")
            }
            UserType::Procedure(procedure) => {
                xrpc.params = self.params(nsid, procedure.parameters.as_ref())?;
                xrpc.input = self.body(nsid, procedure.input.as_ref())?;
                xrpc.output = self.body(nsid, procedure.output.as_ref())?;
                unsupported("procedure")
            }
            UserType::Subscription(subscription) => {
                xrpc.params = self.params(nsid, subscription.parameters.as_ref())?;
                let union = self.union(nsid, &subscription.message.schema)?;
                xrpc.message = Some(self.push(union));
                unsupported("subscription")
            }
            UserType::PermissionSet(_) => unsupported("permission-set"),
            UserType::Token(_) => unsupported("token"),
            UserType::Object(object) => self.object(nsid, object)?,
            UserType::Array(array) => {
                let items = self.field(nsid, &array.items)?;
                Node::Array {
                    items,
                    min: array.min_length,
                    max: array.max_length,
                }
            }
            UserType::Boolean(b) => Node::Boolean {
                const_value: b.const_value,
            },
            UserType::Integer(i) => Node::Integer(validation::IntegerRules::from(i)),
            UserType::String(s) => Node::String(Box::new(string_rules(s))),
            UserType::Bytes(b) => Node::Bytes {
                min: b.min_length,
                max: b.max_length,
            },
            UserType::CidLink(_) => Node::CidLink,
            UserType::Blob(_) => Node::Blob,
            UserType::Unknown(_) => Node::Unknown,
        };
        self.nodes[entry.node] = node;
        if let Some(slot) = self.defs.get_mut(nsid).and_then(|defs| defs.get_mut(name)) {
            slot.xrpc = xrpc;
        }
        Ok(())
    }

    fn object(&mut self, nsid: &str, object: &LexObject) -> Result<Node, CatalogError> {
        let mut properties = Vec::with_capacity(object.properties.len());
        for (name, field) in &object.properties {
            let has_default = has_default(field);
            let node = self.field(nsid, field)?;
            properties.push(Property {
                name: name.clone(),
                node,
                required: object.is_required(name),
                nullable: object.is_nullable(name),
                has_default,
            });
        }
        Ok(Node::Object(ObjectNode { properties }))
    }

    fn union(&mut self, nsid: &str, union: &LexRefUnion) -> Result<Node, CatalogError> {
        let mut members = Vec::with_capacity(union.refs.len());
        for reference in &union.refs {
            let key =
                DefKey::resolve(reference, nsid).ok_or_else(|| CatalogError::UnresolvedRef {
                    nsid: nsid.to_owned(),
                    reference: reference.clone(),
                })?;
            let target = self.resolve(nsid, reference)?;
            members.push(UnionMember {
                nsid: key.nsid,
                name: key.name,
                target,
            });
        }
        Ok(Node::Union {
            members,
            closed: union.closed.unwrap_or(false),
        })
    }

    fn field(&mut self, nsid: &str, field: &FieldType) -> Result<NodeId, CatalogError> {
        let node = match field {
            FieldType::Array(array) => {
                let items = self.field(nsid, &array.items)?;
                Node::Array {
                    items,
                    min: array.min_length,
                    max: array.max_length,
                }
            }
            FieldType::Boolean(b) => Node::Boolean {
                const_value: b.const_value,
            },
            FieldType::Integer(i) => Node::Integer(validation::IntegerRules::from(i)),
            FieldType::String(s) => Node::String(Box::new(string_rules(s))),
            FieldType::Unknown(_) => Node::Unknown,
            FieldType::Bytes(b) => Node::Bytes {
                min: b.min_length,
                max: b.max_length,
            },
            FieldType::CidLink(_) => Node::CidLink,
            FieldType::Blob(_) => Node::Blob,
            FieldType::Ref(r) => Node::Ref {
                target: self.resolve(nsid, &r.target)?,
            },
            FieldType::Union(u) => self.union(nsid, u)?,
        };
        Ok(self.push(node))
    }

    fn params(
        &mut self,
        nsid: &str,
        params: Option<&LexXrpcParameters>,
    ) -> Result<Option<NodeId>, CatalogError> {
        let Some(params) = params else {
            return Ok(None);
        };
        let mut properties = Vec::with_capacity(params.properties.len());
        for (name, field) in &params.properties {
            let node = self.field(nsid, field)?;
            properties.push(Property {
                name: name.clone(),
                node,
                required: params.is_required(name),
                nullable: false,
                has_default: has_default(field),
            });
        }
        Ok(Some(self.push(Node::Params(ObjectNode { properties }))))
    }

    fn body(
        &mut self,
        nsid: &str,
        body: Option<&LexXrpcBody>,
    ) -> Result<Option<NodeId>, CatalogError> {
        let Some(schema) = body.and_then(|b| b.schema.as_ref()) else {
            return Ok(None);
        };
        let node = match schema {
            BodySchema::Ref(r) => Node::Ref {
                target: self.resolve(nsid, &r.target)?,
            },
            BodySchema::Union(u) => self.union(nsid, u)?,
            BodySchema::Object(o) => self.object(nsid, o)?,
        };
        Ok(Some(self.push(node)))
    }
}

/// A primitive with a `default`: when absent, the reference substitutes the default
/// without checking it.
fn has_default(field: &FieldType) -> bool {
    match field {
        FieldType::Boolean(b) => b.default.is_some(),
        FieldType::Integer(i) => i.default.is_some(),
        FieldType::String(s) => s.default.is_some(),
        _ => false,
    }
}

fn string_rules(s: &LexString) -> StringRules {
    StringRules {
        format: s.format,
        const_value: s.const_value.clone(),
        enum_values: s.enum_values.clone(),
        min_length: s.min_length,
        max_length: s.max_length,
        min_graphemes: s.min_graphemes,
        max_graphemes: s.max_graphemes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_builds() {
        let catalog = match Catalog::embedded() {
            Ok(c) => c,
            Err(err) => panic!("embedded catalog: {err}"),
        };
        assert!(catalog.document("com.atproto.repo.strongRef").is_some());
    }

    #[test]
    fn rejects_unresolved_refs_and_misplaced_records() {
        let doc = r##"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"object","properties":{"x":{"type":"ref","ref":"#missing"}}}}}"##;
        assert!(matches!(
            Catalog::from_json_documents([("t", doc)]),
            Err(CatalogError::UnresolvedRef { .. })
        ));
        let doc = r#"{"lexicon":1,"id":"a.b.c","defs":{"other":{"type":"record","record":{"type":"object","properties":{}}}}}"#;
        assert!(matches!(
            Catalog::from_json_documents([("t", doc)]),
            Err(CatalogError::Invalid { .. })
        ));
        let doc = r#"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"object","required":["y"],"properties":{}}}}"#;
        assert!(matches!(
            Catalog::from_json_documents([("t", doc)]),
            Err(CatalogError::Invalid { .. })
        ));
    }
}
