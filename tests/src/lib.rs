//! End-to-end tests and the local atproto network harness.
pub mod network;
