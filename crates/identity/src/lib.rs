//! atproto identity: resolving DIDs (did:plc, did:web) to their documents and handles to
//! DIDs (with bidirectional verification), and the public keys accounts sign with.
//!
//! Everything fetched is untrusted and goes through `greenlight_safe_fetch`: addresses are
//! checked (no private or loopback hosts outside the development setting), redirects stay on
//! their host, bodies are size-limited, requests time out, and documents are checked against
//! the DID that was asked for.

#![warn(missing_docs)]

mod did;
mod document;
mod error;
mod handle;
mod public_key;
mod resolver;

pub use did::validate_did;
pub use document::DidDocument;
pub use error::IdentityError;
pub use handle::normalize_handle;
pub use public_key::{KeyError, PublicKey, SignatureError};
pub use resolver::{Resolver, ResolverConfig, DEFAULT_CACHE_CAPACITY};
