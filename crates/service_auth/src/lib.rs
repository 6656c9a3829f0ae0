//! Verification of atproto inter-service auth JWTs: the short-lived tokens a user's PDS
//! signs with the account's `#atproto` key (`com.atproto.server.getServiceAuth`) so the
//! user can call another service (the AppView, escrow) as themselves.
//!
//! The rules follow the atproto service-auth spec and `@atproto/xrpc-server`'s
//! `verifyJwt`, with a few stricter choices: `lxm` is mandatory, lifetimes are bounded,
//! only low-S signatures count, and tokens are size-limited before anything is parsed.

#![warn(missing_docs)]

mod claims;
mod error;
mod verifier;

pub use claims::Claims;
pub use error::AuthError;
pub use verifier::{bearer_token, Verifier, CLOCK_SKEW_SECS, MAX_LIFETIME_SECS, MAX_TOKEN_BYTES};
