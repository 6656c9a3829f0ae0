//! Commit signature verification against the repo's signing key from its DID document.

use async_trait::async_trait;
use greenlight_identity::{IdentityError, Resolver};

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

/// Whether a resolution failure may go away by itself.
fn is_transient(err: &IdentityError) -> bool {
    match err {
        IdentityError::Network { .. }
        | IdentityError::Timeout { .. }
        | IdentityError::HttpClient(_) => true,
        IdentityError::HttpStatus { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

fn resolution_error(did: &str, err: IdentityError) -> VerifyError {
    let reason = format!("cannot resolve {did} to check its commit signature: {err}");
    if is_transient(&err) {
        VerifyError::Unavailable(reason)
    } else {
        VerifyError::Invalid(reason)
    }
}

#[async_trait]
impl CommitVerifier for Resolver {
    async fn verify(&self, did: &str, unsigned: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        let document = self
            .resolve_did(did)
            .await
            .map_err(|err| resolution_error(did, err))?;
        let check = |doc: &greenlight_identity::DidDocument| match &doc.signing_key {
            Some(key) => key.verify(unsigned, sig).map_err(|err| {
                VerifyError::Invalid(format!("commit signature does not verify: {err}"))
            }),
            None => Err(VerifyError::Invalid(format!(
                "DID document of {did} has no #atproto signing key"
            ))),
        };
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
