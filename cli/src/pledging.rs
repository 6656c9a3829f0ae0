//! Backing a proposal with money, as the client library does it (escrow first, the record
//! second), with the CLI's idempotency keys.

pub use greenlight_client::backing::{cancel, donate, pledge, Pledged};

/// A fresh idempotency key for a call that is not a retry.
pub fn new_idempotency_key() -> String {
    format!("cli-{}", uuid::Uuid::new_v4())
}
