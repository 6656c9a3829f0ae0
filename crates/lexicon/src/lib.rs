//! Lexicon documents, generated record types and validation of untrusted records.
//!
//! [`Catalog`] holds lexicon documents compiled into validators; [`Catalog::embedded`] has
//! every document under `lexicons/` plus `com.atproto.repo.strongRef`, embedded at compile
//! time. Validation follows the reference implementation (`@atproto/lexicon`), checked by
//! a differential test in `tests/tests/lexicons.rs`. The [`generated`] module holds serde
//! types for every definition (written by `cargo run -p greenlight-lexgen`), and
//! [`parse_record`] validates and then deserializes into them.

mod catalog;
pub mod data_model;
mod error;
pub mod format;
#[cfg(feature = "generated")]
#[allow(clippy::large_enum_variant)]
#[rustfmt::skip] // Formatted by the generator; rustfmt would fight the freshness test.
pub mod generated;
pub mod schema;
mod typed;
mod validation;

pub use catalog::Catalog;
pub use data_model::{BlobRef, Bytes, CidLink};
pub use error::{CatalogError, LengthUnit, Reason, ValidationError};
pub use schema::LexiconDoc;
pub use typed::{parse_record, parse_record_with, LexiconRecord};

#[cfg(feature = "generated")]
pub use generated::*;
