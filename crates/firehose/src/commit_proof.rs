//! Sync 1.1 commit proofs ("inductive firehose"): a `#commit` proves that its ops are exactly
//! the change from the previous commit's tree (`prevData`) to the new one (the signed commit's
//! `data`).
//!
//! The check starts from the new root, using only the MST nodes the commit carries, undoes every
//! op (a create is removed, an update set back to its `prev`, a delete re-inserted with its
//! `prev`) and must arrive exactly at `prevData`. On the way each op's `cid` must be what the new
//! tree holds at its path. A relay that adds, drops or alters an op cannot do so without also
//! forging the signed commit, because any change to the op list changes the undone tree's root.
//!
//! [`verify_commit`] proves a decoded [`Commit`] (its `prevData` and the ops' `prev` are read
//! with the rest of the frame); [`verify_ops`] is the check itself.

use ipld_core::cid::Cid;
use serde::Deserialize;

use crate::frame::{Commit, OpAction, RepoOp};
use crate::mst::{MstError, PartialTree};
use crate::Blocks;

/// The most ops a `#commit` may carry (`com.atproto.sync.subscribeRepos#commit`'s `ops` has
/// `maxLength: 200`); more are refused before any work, so a hostile frame cannot make the
/// proof's per-op lookups quadratic in its size.
pub const MAX_OPS: usize = 200;

/// One op as the proof reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProofOp {
    /// What happened to the record.
    pub action: OpAction,
    /// `collection/rkey`: the MST key.
    pub path: String,
    /// The record's new CID; `None` for deletes.
    pub cid: Option<Cid>,
    /// The record's CID before this commit (updates and deletes).
    #[serde(default)]
    pub prev: Option<Cid>,
}

/// Why a commit's ops are not proven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// An op lacks a field the proof needs, or has one it must not have.
    #[error("{action} op on {path}: {reason}")]
    BadOp {
        /// The op's action.
        action: &'static str,
        /// The op's path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// More ops than a commit may carry.
    #[error("{count} ops, more than the {MAX_OPS} a commit may carry")]
    TooManyOps {
        /// How many the commit has.
        count: usize,
    },
    /// Two ops name the same path.
    #[error("more than one op on {path}")]
    DuplicatePath {
        /// The repeated path.
        path: String,
    },
    /// The new tree does not hold what the op says it wrote.
    #[error("{action} op on {path} says {claimed} but the new tree holds {found}")]
    OpMismatch {
        /// The op's action.
        action: &'static str,
        /// The op's path.
        path: String,
        /// The op's `cid` (or `nothing` for deletes).
        claimed: String,
        /// What the tree holds (or `nothing`).
        found: String,
    },
    /// Undoing the ops does not give the previous commit's tree.
    #[error("undoing the ops gives MST root {computed}, not prevData {prev_data}")]
    RootMismatch {
        /// The root computed by undoing the ops.
        computed: String,
        /// The frame's `prevData`.
        prev_data: String,
    },
    /// An op's path could not be looked up (a node on its way is missing or malformed).
    #[error("cannot find {path} in the tree: {source}")]
    PathUnreadable {
        /// The op's path.
        path: String,
        /// Why.
        source: MstError,
    },
    /// The tree could not be read or rebuilt (a needed node is missing or malformed).
    #[error("{0}")]
    Mst(#[from] MstError),
    /// The commit carries no (usable) `prevData`: a sync 1.0 commit cannot be proven.
    #[error("the commit has no prevData (a sync 1.0 commit cannot be proven)")]
    NoPrevData,
}

impl ProofOp {
    /// The op of a decoded commit, with its CIDs as CIDs.
    pub fn of(op: &RepoOp) -> Result<ProofOp, ProofError> {
        let parse = |cid: &Option<String>| {
            cid.as_deref()
                .map(Cid::try_from)
                .transpose()
                .map_err(|_| ProofError::BadOp {
                    action: op.action.as_str(),
                    path: op.path.clone(),
                    reason: "a CID is not a CID",
                })
        };
        Ok(ProofOp {
            action: op.action,
            path: op.path.clone(),
            cid: parse(&op.cid)?,
            prev: parse(&op.prev)?,
        })
    }
}

/// Proves `commit`'s ops against its `prevData`, starting from `data`, the MST root of the
/// signed commit (whose signature the caller checked).
pub fn verify_commit(commit: &Commit, data: &Cid) -> Result<(), ProofError> {
    let prev_data = commit.prev_data.as_deref().ok_or(ProofError::NoPrevData)?;
    let prev_data = Cid::try_from(prev_data).map_err(|_| ProofError::NoPrevData)?;
    let ops = commit
        .ops
        .iter()
        .map(ProofOp::of)
        .collect::<Result<Vec<_>, _>>()?;
    verify_ops(&commit.blocks, data, &prev_data, &ops)
}

/// Checks that undoing `ops` on the tree rooted at `data`, using only `blocks`, gives
/// `prev_data`, and that the new tree holds each op's `cid`.
pub fn verify_ops(
    blocks: &Blocks,
    data: &Cid,
    prev_data: &Cid,
    ops: &[ProofOp],
) -> Result<(), ProofError> {
    if ops.len() > MAX_OPS {
        return Err(ProofError::TooManyOps { count: ops.len() });
    }
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    for op in ops {
        if !seen.insert(op.path.as_str()) {
            return Err(ProofError::DuplicatePath {
                path: op.path.clone(),
            });
        }
    }
    let mut tree = PartialTree::load(blocks, data)?;
    // First read every op's path in the new tree, so that "what the tree holds" is judged on the
    // tree as committed, not on one already partly undone.
    for op in ops {
        let held = tree
            .get(op.path.as_bytes())
            .map_err(|source| ProofError::PathUnreadable {
                path: op.path.clone(),
                source,
            })?;
        let claimed = match op.action {
            OpAction::Create | OpAction::Update => {
                Some(op.cid.ok_or_else(|| bad_op(op, "has no cid"))?)
            }
            OpAction::Delete => {
                if op.cid.is_some() {
                    return Err(bad_op(op, "a delete must not carry a cid"));
                }
                None
            }
        };
        if held != claimed {
            return Err(ProofError::OpMismatch {
                action: op.action.as_str(),
                path: op.path.clone(),
                claimed: describe(claimed),
                found: describe(held),
            });
        }
    }
    for op in ops {
        let key = op.path.as_bytes();
        match op.action {
            OpAction::Create => {
                if op.prev.is_some() {
                    return Err(bad_op(op, "a create must not carry a prev"));
                }
                tree.remove(key)?;
            }
            OpAction::Update | OpAction::Delete => {
                let prev = op
                    .prev
                    .ok_or_else(|| bad_op(op, "has no prev (needed to prove it)"))?;
                tree.insert(key, prev)?;
            }
        }
    }
    let computed = tree.root()?;
    if computed != *prev_data {
        return Err(ProofError::RootMismatch {
            computed: computed.to_string(),
            prev_data: prev_data.to_string(),
        });
    }
    Ok(())
}

fn bad_op(op: &ProofOp, reason: &'static str) -> ProofError {
    ProofError::BadOp {
        action: op.action.as_str(),
        path: op.path.clone(),
        reason,
    }
}

fn describe(cid: Option<Cid>) -> String {
    cid.map_or_else(|| "nothing".to_owned(), |cid| cid.to_string())
}
