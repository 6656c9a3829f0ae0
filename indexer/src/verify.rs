//! Commit signature verification against the repo's signing key from its DID document.

use async_trait::async_trait;
use greenlight_identity::{DidDocument, IdentityError, Resolver};

/// Why a commit's signature could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The commit is not signed by the repo's key (or the repo has no usable identity).
    #[error("{0}")]
    Invalid(String),
    /// The identity could not be looked up right now (network, timeout, server error): the
    /// commit may be fine and must be checked again, not rejected.
    #[error("{0}")]
    Unavailable(String),
}

/// Checks that a commit was signed by its repo's current signing key.
#[async_trait]
pub trait CommitVerifier: Send + Sync {
    /// `Ok` if `sig` is a valid signature over `unsigned` by `did`'s key.
    async fn verify(&self, did: &str, unsigned: &[u8], sig: &[u8]) -> Result<(), VerifyError>;
}

pub(crate) fn resolution_error(did: &str, err: IdentityError) -> VerifyError {
    let reason = format!("cannot resolve {did} to check its commit signature: {err}");
    if err.is_transient() {
        VerifyError::Unavailable(reason)
    } else {
        VerifyError::Invalid(reason)
    }
}

/// Checks `sig` over `unsigned` against the signing key of `document`.
pub(crate) fn check_with(
    document: &DidDocument,
    unsigned: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    match &document.signing_key {
        Some(key) => key.verify(unsigned, sig).map_err(|err| {
            VerifyError::Invalid(format!("commit signature does not verify: {err}"))
        }),
        None => Err(VerifyError::Invalid(format!(
            "DID document of {} has no #atproto signing key",
            document.did
        ))),
    }
}

#[async_trait]
impl CommitVerifier for Resolver {
    async fn verify(&self, did: &str, unsigned: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        let document = self
            .resolve_did(did)
            .await
            .map_err(|err| resolution_error(did, err))?;
        let check = |doc: &greenlight_identity::DidDocument| check_with(doc, unsigned, sig);
        match check(&document) {
            Ok(()) => Ok(()),
            // The key may have rotated since the document was cached: look again once.
            Err(_) => {
                let fresh = self
                    .refresh_did(did)
                    .await
                    .map_err(|err| resolution_error(did, err))?;
                check(&fresh)
            }
        }
    }
}
