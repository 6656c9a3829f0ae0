//! Generates Rust types from Greenlight's lexicon documents.
//!
//! Reads every document under `lexicons/` (plus the external ones kept in
//! `crates/lexicon/external`) and writes one module tree of serde types to
//! `crates/lexicon/src/generated.rs`: a struct per record and object, an enum per union
//! (open unions keep unknown members as raw JSON), `Params`/`Input`/`Output` per XRPC
//! method, and an `NSID` constant per document. The output is deterministic and formatted
//! by `prettyplease`.

mod generator;
mod naming;

use std::path::{Path, PathBuf};

use greenlight_lexicon::LexiconDoc;

pub use naming::{pascal_case, snake_case};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A lexicon file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// A lexicon file is not a lexicon document.
    #[error("{path}: not a lexicon document: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Two documents share an NSID.
    #[error("{0}: defined twice")]
    Duplicate(String),
    /// A reference names no definition.
    #[error("{nsid}: reference {reference:?} does not resolve")]
    UnresolvedRef {
        /// The document holding the reference.
        nsid: String,
        /// The reference as written.
        reference: String,
    },
    /// Two generated items of one module would have the same name.
    #[error("{nsid}: two generated items are named {name}")]
    NameClash {
        /// The document.
        nsid: String,
        /// The clashing Rust name.
        name: String,
    },
    /// The generated code did not parse (a generator bug).
    #[error("generated code is not valid Rust: {0}")]
    Syntax(String),
}

/// Rust source for the given documents.
pub fn generate(docs: &[LexiconDoc]) -> Result<String, GenError> {
    generator::Generator::new(docs)?.generate()
}

/// Directories whose `*.json` files are the lexicons, relative to the workspace root.
pub const LEXICON_DIRS: &[&str] = &["lexicons", "crates/lexicon/external"];

/// Where the generated module is committed, relative to the workspace root.
pub const GENERATED_FILE: &str = "crates/lexicon/src/generated.rs";

/// The workspace root this crate was built in.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads every lexicon document of the workspace at `root`, sorted by path.
pub fn load_documents(root: &Path) -> Result<Vec<LexiconDoc>, GenError> {
    let mut files = Vec::new();
    for dir in LEXICON_DIRS {
        collect_json(&root.join(dir), &mut files)?;
    }
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|err| GenError::Read {
                path: path.clone(),
                message: err.to_string(),
            })?;
            serde_json::from_str(&text).map_err(|err| GenError::Parse {
                path: path.clone(),
                message: err.to_string(),
            })
        })
        .collect()
}

fn collect_json(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), GenError> {
    let entries = std::fs::read_dir(dir).map_err(|err| GenError::Read {
        path: dir.to_path_buf(),
        message: err.to_string(),
    })?;
    for entry in entries {
        let path = entry
            .map_err(|err| GenError::Read {
                path: dir.to_path_buf(),
                message: err.to_string(),
            })?
            .path();
        if path.is_dir() {
            collect_json(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    Ok(())
}

/// The generated module for the workspace at `root`, as it should be committed.
pub fn generate_workspace(root: &Path) -> Result<String, GenError> {
    generate(&load_documents(root)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"{"lexicon":1,"id":"test.lex.fields","defs":{
        "main":{"type":"record","key":"tid","record":{"type":"object","required":["choice"],"nullable":["note"],
          "properties":{
            "note":{"type":"string","description":"A note.\nSecond line."},
            "type":{"type":"integer","default":1},
            "choice":{"type":"union","refs":["#a","#b"],"closed":true},
            "items":{"type":"array","items":{"type":"union","refs":["#a"]}},
            "node":{"type":"ref","ref":"#tree"},
            "blob":{"type":"blob"}}}},
        "a":{"type":"object","required":["x"],"properties":{"x":{"type":"integer"}}},
        "b":{"type":"object","properties":{}},
        "tree":{"type":"object","properties":{
            "children":{"type":"array","items":{"type":"ref","ref":"#tree"}},
            "parent":{"type":"ref","ref":"#tree"}}},
        "tok":{"type":"token","description":"A token."}}}"##;

    fn generated() -> String {
        let doc: LexiconDoc = serde_json::from_str(DOC).unwrap();
        let source = generate(&[doc]).unwrap();
        syn::parse_file(&source).unwrap();
        source
    }

    #[test]
    fn generates_every_kind_of_item() {
        let source = generated();
        for expected in [
            "pub const NSID: &str = \"test.lex.fields\";",
            "pub struct Fields {",
            "impl crate::LexiconRecord for Fields",
            "pub enum FieldsChoice {",
            "pub enum FieldsItemsItem {",
            "#[serde(rename = \"test.lex.fields#a\", alias = \"lex:test.lex.fields#a\")]",
            "pub r#type: Option<i64>,",
            "pub note: Option<String>,",
            "/// Second line.",
            "pub parent: Option<Box<Tree>>,",
            "pub children: Option<Vec<Tree>>,",
            "pub blob: Option<crate::data_model::BlobRef>,",
            "pub const TOK: &str = \"test.lex.fields#tok\";",
            "pub const RECORD_NSIDS: &[&str] = &[\"test.lex.fields\"];",
        ] {
            assert!(
                source.contains(expected),
                "missing {expected:?} in:\n{source}"
            );
        }
        // Closed unions have no catch-all; open ones do.
        let choice = &source[source.find("pub enum FieldsChoice").unwrap()..];
        let choice = &choice[..choice.find('}').unwrap()];
        assert!(!choice.contains("Unknown"), "{choice}");
        let items = &source[source.find("pub enum FieldsItemsItem").unwrap()..];
        let items = &items[..items.find('}').unwrap()];
        assert!(items.contains("Unknown(serde_json::Value)"), "{items}");
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(generated(), generated());
    }

    #[test]
    fn unresolved_refs_fail() {
        let doc: LexiconDoc = serde_json::from_str(
            r##"{"lexicon":1,"id":"a.b.c","defs":{"main":{"type":"object","properties":{"x":{"type":"ref","ref":"#nope"}}}}}"##,
        )
        .unwrap();
        assert!(matches!(
            generate(&[doc]),
            Err(GenError::UnresolvedRef { .. })
        ));
    }
}
