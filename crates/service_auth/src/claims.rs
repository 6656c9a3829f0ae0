//! The claims of a verified service-auth token.

use serde::Deserialize;

/// The payload of a service-auth JWT that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The issuer: the calling account's DID, possibly with a `#service` fragment.
    pub iss: String,
    /// The audience: our service DID.
    pub aud: String,
    /// The lexicon method the token is bound to.
    pub lxm: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: Option<i64>,
    /// A unique token id (a nonce), usable for replay protection.
    pub jti: Option<String>,
}

impl Claims {
    /// The issuer's DID without any `#service` fragment: who is calling.
    pub fn issuer_did(&self) -> &str {
        issuer_did(&self.iss)
    }
}

/// The DID part of an `iss` value (`did:…` or `did:…#fragment`).
pub(crate) fn issuer_did(iss: &str) -> &str {
    iss.split_once('#').map_or(iss, |(did, _)| did)
}
