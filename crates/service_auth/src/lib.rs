//! Verification of atproto inter-service auth JWTs: the short-lived tokens a user's PDS
//! signs with the account's `#atproto` key (`com.atproto.server.getServiceAuth`) so the
//! user can call another service (the AppView, escrow) as themselves.
//!
//! The rules follow the atproto service-auth spec and `@atproto/xrpc-server`'s
//! `verifyJwt`, with a few stricter choices: `lxm` is mandatory, lifetimes are bounded,
//! only low-S signatures count, and tokens are size-limited before anything is parsed.
//!
//! Tokens come from anyone, so the DID lookups they cause are bounded (see [`LookupLimits`]),
//! and [`AuthError::public_message`] is what a caller may be told: the resolver's details stay
//! in the logs. Refusing replayed tokens (by `jti`) needs shared storage and is the service's
//! job; [`Verifier::requiring_jti`] makes sure every accepted token has one.

#![warn(missing_docs)]

mod claims;
mod error;
mod lookups;
mod verifier;

pub use claims::Claims;
pub use error::AuthError;
pub use lookups::{LookupLimits, FAILED_LOOKUP_TTL_SECS, REFRESH_INTERVAL_SECS};
pub use verifier::{
    bearer_token, Verifier, CLOCK_SKEW_SECS, MAX_JTI_BYTES, MAX_LIFETIME_SECS, MAX_TOKEN_BYTES,
};
