//! Decoding of `com.atproto.sync.subscribeRepos` frames and their CAR blocks.
//!
//! [`Frame::decode`] turns one binary websocket message into a typed event. Commit and sync
//! events carry a CAR file, parsed into [`Blocks`]; [`Commit::record`] verifies a record's block
//! against its CID and converts it to the atproto JSON form with [`dagcbor_to_json`]. All input
//! is treated as hostile: malformed frames yield a [`DecodeError`], never a panic.

mod atproto_json;
mod car;
mod commit_proof;
mod error;
mod frame;
mod message_fields;
pub mod mst;
mod signed_commit;

#[cfg(test)]
mod frame_tests;
#[cfg(test)]
mod mst_tests;
#[cfg(any(test, feature = "test-support"))]
pub mod test_fixtures;

pub use atproto_json::dagcbor_to_json;
pub use car::{verify_block, Blocks};
pub use commit_proof::{verify_commit, verify_ops, ProofError, ProofOp};
pub use error::DecodeError;
pub use frame::{Account, Commit, Frame, Identity, Info, OpAction, RepoOp, Sync};
pub use ipld_core::cid::Cid;
pub use signed_commit::SignedCommit;
