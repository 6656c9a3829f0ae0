//! Turns lexicon documents into one Rust module tree of serde types.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use greenlight_lexicon::schema::{
    BodySchema, DefKey, FieldType, LexObject, LexRefUnion, LexXrpcBody, LexXrpcParameters,
    LexiconDoc, UserType,
};
use proc_macro2::TokenStream;
use quote::quote;

use crate::naming::{pascal_case, screaming_snake_case, snake_case, type_ident, value_ident};
use crate::GenError;

/// Where the generated module lives inside the lexicon crate.
const ROOT_PATH: &str = "crate::generated";

/// What a definition becomes in Rust.
#[derive(Debug, Clone)]
enum DefItem {
    /// A named type in the document's module.
    Type { module: Vec<String>, name: String },
    /// A token: a string constant.
    Token,
    /// Queries, procedures, subscriptions and permission sets have no type of their own.
    None,
}

pub(crate) struct Generator<'a> {
    docs: BTreeMap<&'a str, &'a LexiconDoc>,
    items: HashMap<DefKey, DefItem>,
    /// Definitions each definition contains by value (not behind a `Vec`), for boxing
    /// recursive types.
    contains: HashMap<DefKey, BTreeSet<DefKey>>,
}

/// Items being emitted into one module, with the names already taken.
struct ModuleItems {
    path: Vec<String>,
    nsid: String,
    tokens: Vec<TokenStream>,
    names: HashSet<String>,
}

impl ModuleItems {
    fn claim(&mut self, name: &str) -> Result<(), GenError> {
        // Generated code names these prelude types unqualified.
        let reserved = ["String", "Option", "Vec", "Box", "Some", "None"];
        if !reserved.contains(&name) && self.names.insert(name.to_owned()) {
            Ok(())
        } else {
            Err(GenError::NameClash {
                nsid: self.nsid.clone(),
                name: name.to_owned(),
            })
        }
    }
}

fn doc_attrs(text: &str) -> TokenStream {
    let lines: Vec<String> = text.lines().map(|l| format!(" {}", l.trim_end())).collect();
    quote! { #( #[doc = #lines] )* }
}

fn module_path(nsid: &str) -> Vec<String> {
    nsid.split('.').map(snake_case).collect()
}

/// The `$type` of a definition, and the spellings the reference also accepts for it.
fn type_names(key: &DefKey) -> (String, Vec<String>) {
    if key.name == "main" {
        let canonical = key.nsid.clone();
        let aliases = vec![
            format!("{}#main", key.nsid),
            format!("lex:{}", key.nsid),
            format!("lex:{}#main", key.nsid),
        ];
        (canonical, aliases)
    } else {
        let canonical = format!("{}#{}", key.nsid, key.name);
        let aliases = vec![format!("lex:{canonical}")];
        (canonical, aliases)
    }
}

impl<'a> Generator<'a> {
    pub(crate) fn new(docs: &'a [LexiconDoc]) -> Result<Generator<'a>, GenError> {
        let mut map = BTreeMap::new();
        for doc in docs {
            if map.insert(doc.id.as_str(), doc).is_some() {
                return Err(GenError::Duplicate(doc.id.clone()));
            }
        }
        let mut items = HashMap::new();
        for doc in map.values() {
            let module = module_path(&doc.id);
            let last = doc.id.rsplit('.').next().unwrap_or(&doc.id);
            for (name, def) in &doc.defs {
                let key = DefKey {
                    nsid: doc.id.clone(),
                    name: name.clone(),
                };
                let type_name = if name == "main" {
                    pascal_case(last)
                } else {
                    pascal_case(name)
                };
                let item = match def {
                    UserType::Token(_) => DefItem::Token,
                    UserType::Query(_)
                    | UserType::Procedure(_)
                    | UserType::Subscription(_)
                    | UserType::PermissionSet(_) => DefItem::None,
                    _ => DefItem::Type {
                        module: module.clone(),
                        name: type_name,
                    },
                };
                items.insert(key, item);
            }
        }
        let mut generator = Generator {
            docs: map,
            items,
            contains: HashMap::new(),
        };
        generator.contains = generator.containment()?;
        Ok(generator)
    }

    fn resolve(&self, nsid: &str, reference: &str) -> Result<(DefKey, &DefItem), GenError> {
        DefKey::resolve(reference, nsid)
            .and_then(|key| self.items.get(&key).map(|item| (key, item)))
            .ok_or_else(|| GenError::UnresolvedRef {
                nsid: nsid.to_owned(),
                reference: reference.to_owned(),
            })
    }

    fn containment(&self) -> Result<HashMap<DefKey, BTreeSet<DefKey>>, GenError> {
        let mut contains = HashMap::new();
        for doc in self.docs.values() {
            for (name, def) in &doc.defs {
                let object = match def {
                    UserType::Object(o) => o,
                    UserType::Record(r) => &r.record,
                    _ => continue,
                };
                let mut direct = BTreeSet::new();
                for field in object.properties.values() {
                    let refs: Vec<&String> = match field {
                        FieldType::Ref(r) => vec![&r.target],
                        FieldType::Union(u) => u.refs.iter().collect(),
                        _ => Vec::new(),
                    };
                    for reference in refs {
                        direct.insert(self.resolve(&doc.id, reference)?.0);
                    }
                }
                let key = DefKey {
                    nsid: doc.id.clone(),
                    name: name.clone(),
                };
                contains.insert(key, direct);
            }
        }
        Ok(contains)
    }

    /// Whether `from` contains `to` by value, directly or through other definitions.
    fn reaches(&self, from: &DefKey, to: &DefKey) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![from.clone()];
        while let Some(key) = stack.pop() {
            if &key == to {
                return true;
            }
            if seen.insert(key.clone()) {
                if let Some(next) = self.contains.get(&key) {
                    stack.extend(next.iter().cloned());
                }
            }
        }
        false
    }

    /// Rust path of a definition's type as seen from `module`.
    fn type_path(&self, module: &[String], item: &DefItem) -> TokenStream {
        match item {
            DefItem::Type {
                module: target,
                name,
            } => {
                let ident = type_ident(name);
                if target.as_slice() == module {
                    quote! { #ident }
                } else {
                    let path = format!("{ROOT_PATH}::{}::{name}", target.join("::"));
                    syn::parse_str::<syn::Path>(&path)
                        .map(|p| quote! { #p })
                        .unwrap_or_else(|_| quote! { #ident })
                }
            }
            // A ref to a token carries the token's name as a string.
            DefItem::Token | DefItem::None => quote! { String },
        }
    }

    pub(crate) fn generate(&self) -> Result<String, GenError> {
        let mut tree = ModuleTree::default();
        let mut record_nsids = Vec::new();
        for doc in self.docs.values() {
            let items = self.document(doc)?;
            if matches!(doc.defs.get("main"), Some(UserType::Record(_))) {
                record_nsids.push(doc.id.clone());
            }
            tree.insert(&module_path(&doc.id), doc_description(doc), items);
        }
        let modules = tree.emit(&[]);
        let file = quote! {
            #![doc = " Types generated from the lexicon documents by `greenlight-lexgen`."]
            #![doc = ""]
            #![doc = " Do not edit: change `lexicons/` and run `cargo run -p greenlight-lexgen`."]

            /// NSIDs of every record type.
            pub const RECORD_NSIDS: &[&str] = &[ #( #record_nsids ),* ];

            #modules
        };
        let parsed: syn::File =
            syn::parse2(file).map_err(|err| GenError::Syntax(err.to_string()))?;
        Ok(prettyplease::unparse(&parsed))
    }

    fn document(&self, doc: &LexiconDoc) -> Result<Vec<TokenStream>, GenError> {
        let mut module = ModuleItems {
            path: module_path(&doc.id),
            nsid: doc.id.clone(),
            tokens: Vec::new(),
            names: HashSet::new(),
        };
        let nsid = &doc.id;
        // The module itself carries the document's description.
        let nsid_doc = doc_attrs(&format!("The NSID of this document, `{nsid}`."));
        module.tokens.push(quote! {
            #nsid_doc
            pub const NSID: &str = #nsid;
        });
        module.claim("NSID")?;
        for (name, def) in &doc.defs {
            let key = DefKey {
                nsid: nsid.clone(),
                name: name.clone(),
            };
            self.definition(&mut module, &key, def)?;
        }
        Ok(module.tokens)
    }

    fn definition(
        &self,
        module: &mut ModuleItems,
        key: &DefKey,
        def: &UserType,
    ) -> Result<(), GenError> {
        let item = self.items.get(key).cloned().unwrap_or(DefItem::None);
        let type_name = match &item {
            DefItem::Type { name, .. } => name.clone(),
            _ => String::new(),
        };
        let description = def.description().map(str::to_owned);
        match def {
            UserType::Record(record) => {
                let text = description
                    .or_else(|| record.record.description.clone())
                    .unwrap_or_else(|| format!("A `{}` record.", key.nsid));
                self.object_struct(module, key, &type_name, &record.record, &text)?;
                let ident = type_ident(&type_name);
                module.tokens.push(quote! {
                    impl crate::LexiconRecord for #ident {
                        const NSID: &'static str = NSID;
                    }
                });
            }
            UserType::Object(object) => {
                let text = description.unwrap_or_else(|| format!("The `{key}` object."));
                self.object_struct(module, key, &type_name, object, &text)?;
            }
            UserType::Token(_) => {
                let const_name = if key.name == "main" {
                    "TOKEN".to_owned()
                } else {
                    screaming_snake_case(&key.name)
                };
                module.claim(&const_name)?;
                let ident = value_ident(&const_name);
                let value = type_names(key).0;
                let docs =
                    doc_attrs(&description.unwrap_or_else(|| format!("The `{value}` token.")));
                module.tokens.push(quote! {
                    #docs
                    pub const #ident: &str = #value;
                });
            }
            UserType::Query(query) => {
                self.params(module, key, query.parameters.as_ref())?;
                self.body(module, key, "Output", query.output.as_ref())?;
            }
            UserType::Procedure(procedure) => {
                self.params(module, key, procedure.parameters.as_ref())?;
                self.body(module, key, "Input", procedure.input.as_ref())?;
                self.body(module, key, "Output", procedure.output.as_ref())?;
            }
            UserType::Subscription(subscription) => {
                self.params(module, key, subscription.parameters.as_ref())?;
                let docs = subscription
                    .message
                    .description
                    .clone()
                    .unwrap_or_else(|| "A message of the stream.".to_owned());
                self.union_enum(module, key, "Message", &subscription.message.schema, &docs)?;
            }
            UserType::PermissionSet(_) => {}
            UserType::Array(_)
            | UserType::Boolean(_)
            | UserType::Integer(_)
            | UserType::String(_)
            | UserType::Bytes(_)
            | UserType::CidLink(_)
            | UserType::Blob(_)
            | UserType::Unknown(_) => {
                let field = match def {
                    UserType::Array(a) => FieldType::Array(a.clone()),
                    UserType::Boolean(b) => FieldType::Boolean(b.clone()),
                    UserType::Integer(i) => FieldType::Integer(i.clone()),
                    UserType::String(s) => FieldType::String(s.clone()),
                    UserType::Bytes(b) => FieldType::Bytes(b.clone()),
                    UserType::CidLink(c) => FieldType::CidLink(c.clone()),
                    UserType::Blob(b) => FieldType::Blob(b.clone()),
                    _ => FieldType::Unknown(Default::default()),
                };
                module.claim(&type_name)?;
                let ty = self.field_type(module, key, &type_name, "", &field)?;
                let ident = type_ident(&type_name);
                let docs = doc_attrs(&description.unwrap_or_else(|| format!("The `{key}` type.")));
                module.tokens.push(quote! {
                    #docs
                    pub type #ident = #ty;
                });
            }
        }
        Ok(())
    }

    fn object_struct(
        &self,
        module: &mut ModuleItems,
        owner: &DefKey,
        name: &str,
        object: &LexObject,
        description: &str,
    ) -> Result<(), GenError> {
        module.claim(name)?;
        // Inline unions are emitted while fields are typed; the struct goes before them.
        let position = module.tokens.len();
        let mut fields = Vec::new();
        for (prop, field) in &object.properties {
            let has_default = match field {
                FieldType::Boolean(b) => b.default.is_some(),
                FieldType::Integer(i) => i.default.is_some(),
                FieldType::String(s) => s.default.is_some(),
                _ => false,
            };
            let required = object.is_required(prop) && !has_default;
            let nullable = object.is_nullable(prop);
            let ty = self.field_type(module, owner, name, prop, field)?;
            fields.push(struct_field(
                prop,
                field.description(),
                ty,
                required,
                nullable,
            ));
        }
        let ident = type_ident(name);
        let docs = doc_attrs(description);
        module.tokens.insert(
            position,
            quote! {
                #docs
                #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
                pub struct #ident {
                    #( #fields )*
                }
            },
        );
        Ok(())
    }

    fn params(
        &self,
        module: &mut ModuleItems,
        owner: &DefKey,
        params: Option<&LexXrpcParameters>,
    ) -> Result<(), GenError> {
        let Some(params) = params else {
            return Ok(());
        };
        let object = LexObject {
            description: params.description.clone(),
            required: params.required.clone(),
            nullable: None,
            properties: params.properties.clone(),
        };
        let text = params
            .description
            .clone()
            .unwrap_or_else(|| format!("Query parameters of `{}`.", owner.nsid));
        self.object_struct(module, owner, "Params", &object, &text)
    }

    fn body(
        &self,
        module: &mut ModuleItems,
        owner: &DefKey,
        name: &str,
        body: Option<&LexXrpcBody>,
    ) -> Result<(), GenError> {
        let Some(body) = body else {
            return Ok(());
        };
        let direction = if name == "Input" {
            "Request"
        } else {
            "Response"
        };
        let text = body.description.clone().unwrap_or_else(|| {
            format!("{direction} body of `{}` ({}).", owner.nsid, body.encoding)
        });
        match &body.schema {
            Some(BodySchema::Object(object)) => {
                let text = object.description.clone().unwrap_or(text);
                self.object_struct(module, owner, name, object, &text)
            }
            Some(BodySchema::Ref(reference)) => {
                module.claim(name)?;
                let (_, item) = self.resolve(&owner.nsid, &reference.target)?;
                let ty = self.type_path(&module.path, item);
                let ident = type_ident(name);
                let docs = doc_attrs(&text);
                module.tokens.push(quote! {
                    #docs
                    pub type #ident = #ty;
                });
                Ok(())
            }
            Some(BodySchema::Union(union)) => self.union_enum(module, owner, name, union, &text),
            // Non-JSON bodies (or bodies without a schema) are raw bytes to the caller.
            None => Ok(()),
        }
    }

    fn field_type(
        &self,
        module: &mut ModuleItems,
        owner: &DefKey,
        owner_type: &str,
        field_name: &str,
        field: &FieldType,
    ) -> Result<TokenStream, GenError> {
        Ok(match field {
            FieldType::Boolean(_) => quote! { bool },
            FieldType::Integer(_) => quote! { i64 },
            FieldType::String(_) => quote! { String },
            FieldType::Unknown(_) => quote! { serde_json::Value },
            FieldType::Bytes(_) => quote! { crate::data_model::Bytes },
            FieldType::CidLink(_) => quote! { crate::data_model::CidLink },
            FieldType::Blob(_) => quote! { crate::data_model::BlobRef },
            FieldType::Array(array) => {
                let item_name = format!("{field_name}Item");
                // A `Vec` already breaks recursion, so items are never boxed.
                let inner = match &*array.items {
                    FieldType::Ref(reference) => {
                        let (_, item) = self.resolve(&owner.nsid, &reference.target)?;
                        self.type_path(&module.path, item)
                    }
                    items => self.field_type(module, owner, owner_type, &item_name, items)?,
                };
                quote! { Vec<#inner> }
            }
            FieldType::Ref(reference) => {
                let (target, item) = self.resolve(&owner.nsid, &reference.target)?;
                let ty = self.type_path(&module.path, item);
                if matches!(item, DefItem::Type { .. }) && self.reaches(&target, owner) {
                    quote! { Box<#ty> }
                } else {
                    ty
                }
            }
            FieldType::Union(union) => {
                let name = format!("{owner_type}{}", pascal_case(field_name));
                let text = union
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("Members of `{owner}`'s `{field_name}` union."));
                self.union_enum(module, owner, &name, union, &text)?;
                let ident = type_ident(&name);
                quote! { #ident }
            }
        })
    }

    fn union_enum(
        &self,
        module: &mut ModuleItems,
        owner: &DefKey,
        name: &str,
        union: &LexRefUnion,
        description: &str,
    ) -> Result<(), GenError> {
        module.claim(name)?;
        let mut members = Vec::new();
        for reference in &union.refs {
            let (key, item) = self.resolve(&owner.nsid, reference)?;
            let base = match item {
                DefItem::Type { name, .. } => name.clone(),
                _ => pascal_case(&key.name),
            };
            members.push((key, item, base));
        }
        // Members from different documents may share a type name; qualify those by the
        // document's last NSID segment.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (_, _, base) in &members {
            *counts.entry(base.as_str()).or_default() += 1;
        }
        let mut variants = Vec::new();
        let mut used = HashSet::new();
        for (key, item, base) in &members {
            let variant_name = if counts.get(base.as_str()).copied().unwrap_or(0) > 1 {
                let last = key.nsid.rsplit('.').next().unwrap_or(&key.nsid);
                format!("{}{base}", pascal_case(last))
            } else {
                base.clone()
            };
            if !used.insert(variant_name.clone()) || variant_name == "Unknown" {
                return Err(GenError::NameClash {
                    nsid: owner.nsid.clone(),
                    name: format!("{name}::{variant_name}"),
                });
            }
            let variant = type_ident(&variant_name);
            let ty = self.type_path(&module.path, item);
            let ty = if self.reaches(key, owner) {
                quote! { Box<#ty> }
            } else {
                ty
            };
            let (canonical, aliases) = type_names(key);
            let docs = doc_attrs(&format!("A `{canonical}`."));
            variants.push(quote! {
                #docs
                #[serde(rename = #canonical #( , alias = #aliases )* )]
                #variant(#ty),
            });
        }
        if !union.closed.unwrap_or(false) {
            variants.push(quote! {
                /// A member this version of the lexicons does not know, kept as raw JSON.
                #[serde(untagged)]
                Unknown(serde_json::Value),
            });
        }
        let ident = type_ident(name);
        let docs = doc_attrs(description);
        module.tokens.push(quote! {
            #docs
            #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(tag = "$type")]
            pub enum #ident {
                #( #variants )*
            }
        });
        Ok(())
    }
}

fn struct_field(
    name: &str,
    description: Option<&str>,
    ty: TokenStream,
    required: bool,
    nullable: bool,
) -> TokenStream {
    let rust_name = snake_case(name);
    let ident = value_ident(&rust_name);
    let docs = doc_attrs(description.unwrap_or(&format!("The `{name}` property.")));
    let rename =
        (ident.to_string().trim_start_matches("r#") != name).then(|| quote! { rename = #name, });
    if required && !nullable {
        let attr = rename.map(|r| quote! { #[serde(#r)] });
        quote! {
            #docs
            #attr
            pub #ident: #ty,
        }
    } else if required {
        // Present but possibly null: `None` is written as `null`.
        quote! {
            #docs
            #[serde(#rename default)]
            pub #ident: Option<#ty>,
        }
    } else {
        quote! {
            #docs
            #[serde(#rename default, skip_serializing_if = "Option::is_none")]
            pub #ident: Option<#ty>,
        }
    }
}

fn doc_description(doc: &LexiconDoc) -> String {
    let main = doc.defs.get("main").and_then(UserType::description);
    match (doc.description.as_deref(), main) {
        (Some(d), _) => format!("`{}`: {d}", doc.id),
        (None, Some(d)) => format!("`{}`: {d}", doc.id),
        (None, None) => format!("Definitions of `{}`.", doc.id),
    }
}

/// Nested modules mirroring NSID segments.
#[derive(Default)]
struct ModuleTree {
    description: Option<String>,
    items: Vec<TokenStream>,
    children: BTreeMap<String, ModuleTree>,
}

impl ModuleTree {
    fn insert(&mut self, path: &[String], description: String, items: Vec<TokenStream>) {
        let mut node = self;
        for segment in path {
            node = node.children.entry(segment.clone()).or_default();
        }
        node.description = Some(description);
        node.items.extend(items);
    }

    fn emit(&self, prefix: &[String]) -> TokenStream {
        let items = &self.items;
        let children = self.children.iter().map(|(name, child)| {
            let mut path = prefix.to_vec();
            path.push(name.clone());
            let ident = value_ident(name);
            let text = child
                .description
                .clone()
                .unwrap_or_else(|| format!("The `{}` namespace.", path.join(".")));
            let docs = doc_attrs(&text);
            let body = child.emit(&path);
            quote! {
                #docs
                pub mod #ident {
                    #body
                }
            }
        });
        quote! {
            #( #items )*
            #( #children )*
        }
    }
}
