//! `com.atproto.sync.subscribeRepos` frames: a DAG-CBOR header `{op, t}` followed by a
//! DAG-CBOR body whose shape `t` names (or, for `op: -1`, an error body).

use std::fmt;

use ipld_core::cid::Cid;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::atproto_json::to_json;
use crate::car::{parse_cid, Blocks};
use crate::message_fields::{read_map, Fields, MessageMap};
use crate::{DecodeError, SignedCommit};

/// One decoded event-stream frame.
#[derive(Debug, Clone, PartialEq, Eq)]
// A commit is the common case and boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    /// `#commit`: a repo changed.
    Commit(Commit),
    /// `#identity`: an account's handle or DID document may have changed.
    Identity(Identity),
    /// `#account`: an account's hosting status changed.
    Account(Account),
    /// `#sync`: a repo's current state, without the operations that led to it.
    Sync(Sync),
    /// `#info`: an informational message from the server.
    Info(Info),
    /// An error frame (`op: -1`); the server closes the stream after it.
    Error {
        /// The error name (e.g. `FutureCursor`, `ConsumerTooSlow`).
        error: String,
        /// A human-readable explanation.
        message: Option<String>,
    },
    /// A message type this decoder does not know; skipped for forward compatibility.
    Unknown {
        /// The type as it appeared in the header.
        t: String,
    },
}

impl Frame {
    /// Decodes one binary websocket message.
    pub fn decode(bytes: &[u8]) -> Result<Frame, DecodeError> {
        let mut deserializer = serde_ipld_dagcbor::de::Deserializer::from_slice(bytes);
        let header: Header = read_map(&mut deserializer).map_err(|err| match err {
            DecodeError::Truncated { .. } => err,
            DecodeError::NotDagCbor { reason, .. } => DecodeError::BadHeader { reason },
            DecodeError::MissingField { field, .. } => DecodeError::BadHeader {
                reason: format!("field `{field}` is missing"),
            },
            DecodeError::InvalidField { field, reason, .. } => DecodeError::BadHeader {
                reason: format!("field `{field}` is invalid: {reason}"),
            },
            other => DecodeError::BadHeader {
                reason: other.to_string(),
            },
        })?;
        let frame = match header.op {
            -1 => {
                let body: ErrorBody = read_map(&mut deserializer)?;
                Frame::Error {
                    error: body.error,
                    message: body.message,
                }
            }
            1 => match header.t.ok_or(DecodeError::MissingType)?.as_str() {
                "#commit" => {
                    Frame::Commit(read_map::<WireCommit, _>(&mut deserializer)?.into_commit()?)
                }
                "#identity" => Frame::Identity(read_map(&mut deserializer)?),
                "#account" => Frame::Account(read_map(&mut deserializer)?),
                "#sync" => Frame::Sync(read_map::<WireSync, _>(&mut deserializer)?.into_sync()?),
                "#info" => Frame::Info(read_map(&mut deserializer)?),
                other => {
                    // Still require a well-formed body, so a cut-off frame is not taken for a
                    // new message type.
                    IgnoredAny::deserialize(&mut deserializer)
                        .map_err(|err| DecodeError::from_cbor("message body", err))?;
                    Frame::Unknown {
                        t: other.to_owned(),
                    }
                }
            },
            op => return Err(DecodeError::UnknownOp(op)),
        };
        deserializer
            .end()
            .map_err(|err| DecodeError::from_cbor("message body", err))?;
        Ok(frame)
    }

    /// The event's sequence number, for frames that carry one (the cursor to resume from).
    pub fn seq(&self) -> Option<i64> {
        match self {
            Frame::Commit(commit) => Some(commit.seq),
            Frame::Identity(identity) => Some(identity.seq),
            Frame::Account(account) => Some(account.seq),
            Frame::Sync(sync) => Some(sync.seq),
            Frame::Info(_) | Frame::Error { .. } | Frame::Unknown { .. } => None,
        }
    }
}

/// A `#commit` event: a signed repo revision and the record operations it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The stream sequence number.
    pub seq: i64,
    /// The repo's DID.
    pub repo: String,
    /// The revision of this commit (a TID).
    pub rev: String,
    /// The revision of the previous commit, when known.
    pub since: Option<String>,
    /// When the server emitted the event (an ISO 8601 datetime, not validated here).
    pub time: String,
    /// The CID of the signed commit block.
    pub commit: String,
    /// The record operations, in order.
    pub ops: Vec<RepoOp>,
    /// The MST root of the previous commit (sync 1.1), which the ops must lead back to; absent
    /// from sync 1.0 producers.
    pub prev_data: Option<String>,
    /// Whether the server left blocks and ops out because the commit was too large (deprecated).
    pub too_big: bool,
    /// The CAR of blocks: the commit, changed MST nodes and new records.
    pub blocks: Blocks,
}

impl Commit {
    /// The record an op created or updated, in atproto JSON form; `None` for deletes.
    ///
    /// Fails if the record's block is missing from the CAR, does not hash to its CID, or is not
    /// valid DAG-CBOR.
    pub fn record(&self, op: &RepoOp) -> Result<Option<serde_json::Value>, DecodeError> {
        if op.action == OpAction::Delete {
            return Ok(None);
        }
        let cid = op.cid.as_deref().ok_or_else(|| DecodeError::OpWithoutCid {
            action: op.action.as_str(),
            path: op.path.clone(),
        })?;
        let block = self.blocks.get_verified(&parse_cid(cid, "repo op")?)?;
        to_json(block, "record").map(Some)
    }

    /// The signed commit block this event announces, with its hash verified.
    pub fn signed_commit(&self) -> Result<SignedCommit, DecodeError> {
        let cid = parse_cid(&self.commit, "commit")?;
        SignedCommit::decode(self.blocks.get_verified(&cid)?)
    }
}

/// One record operation of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoOp {
    /// What happened to the record.
    pub action: OpAction,
    /// `collection/rkey`.
    pub path: String,
    /// The CID of the new record; `None` for deletes.
    pub cid: Option<String>,
    /// The CID of the record before this commit (sync 1.1: updates and deletes).
    pub prev: Option<String>,
}

impl RepoOp {
    /// The op's path split into collection NSID and record key, if it has exactly that shape.
    pub fn collection_and_rkey(&self) -> Option<(&str, &str)> {
        let (collection, rkey) = self.path.split_once('/')?;
        if collection.is_empty() || rkey.is_empty() || rkey.contains('/') {
            return None;
        }
        Some((collection, rkey))
    }
}

impl<'de> Deserialize<'de> for RepoOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireOp::deserialize(deserializer)?;
        Ok(RepoOp {
            action: wire.action,
            path: wire.path,
            cid: wire.cid.map(|cid| cid.to_string()),
            prev: wire.prev.map(|cid| cid.to_string()),
        })
    }
}

/// A repo op as read from the wire.
#[derive(Deserialize)]
struct WireOp {
    action: OpAction,
    path: String,
    cid: Option<Cid>,
    #[serde(default)]
    prev: Option<Cid>,
}

/// What an op did to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpAction {
    /// A new record.
    Create,
    /// A new version of an existing record.
    Update,
    /// The record was removed.
    Delete,
}

impl OpAction {
    /// The wire name: `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpAction::Create => "create",
            OpAction::Update => "update",
            OpAction::Delete => "delete",
        }
    }
}

impl<'de> Deserialize<'de> for OpAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(OpActionVisitor)
    }
}

struct OpActionVisitor;

impl Visitor<'_> for OpActionVisitor {
    type Value = OpAction;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("create, update or delete")
    }

    fn visit_str<E: de::Error>(self, action: &str) -> Result<OpAction, E> {
        match action {
            "create" => Ok(OpAction::Create),
            "update" => Ok(OpAction::Update),
            "delete" => Ok(OpAction::Delete),
            other => Err(E::custom(format!("unknown op action `{other}`"))),
        }
    }
}

/// An `#identity` event: re-resolve the DID and handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The stream sequence number.
    pub seq: i64,
    /// The account's DID.
    pub did: String,
    /// When the server emitted the event.
    pub time: String,
    /// The handle the server currently has for the account, if any.
    pub handle: Option<String>,
}

/// An `#account` event: the account became active or inactive at its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The stream sequence number.
    pub seq: i64,
    /// The account's DID.
    pub did: String,
    /// When the server emitted the event.
    pub time: String,
    /// Whether the account's content may be shown.
    pub active: bool,
    /// Why it is inactive (`takendown`, `suspended`, `deleted`, `deactivated`, ...).
    pub status: Option<String>,
}

/// A `#sync` event: the repo's current commit, to resynchronise from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// The stream sequence number.
    pub seq: i64,
    /// The account's DID.
    pub did: String,
    /// The revision of the commit in `blocks`.
    pub rev: String,
    /// When the server emitted the event.
    pub time: String,
    /// A CAR whose root is the signed commit block.
    pub blocks: Blocks,
}

impl Sync {
    /// The signed commit block at the CAR's root, with its hash verified.
    pub fn signed_commit(&self) -> Result<SignedCommit, DecodeError> {
        let root = self
            .blocks
            .roots()
            .first()
            .ok_or_else(|| DecodeError::BadCarHeader {
                reason: "#sync CAR has no root".to_owned(),
            })?;
        SignedCommit::decode(self.blocks.get_verified(&parse_cid(root, "CAR root")?)?)
    }
}

/// An `#info` message (e.g. `OutdatedCursor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The message name.
    pub name: String,
    /// A human-readable explanation.
    pub message: Option<String>,
}

/// Parses a CAR carried in a message, treating zero bytes as "no blocks" (`tooBig` commits).
fn blocks_of(car: &[u8]) -> Result<Blocks, DecodeError> {
    if car.is_empty() {
        Ok(Blocks::default())
    } else {
        Blocks::from_car(car.to_vec())
    }
}

struct Header {
    op: i64,
    t: Option<String>,
}

impl<'de> MessageMap<'de> for Header {
    const NAME: &'static str = "frame header";
    const FIELDS: &'static [&'static str] = &["op", "t"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut op, mut t) = (None, None);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("op") => op = Some(fields.value("op")?),
                Some("t") => t = Some(fields.value("t")?),
                _ => fields.skip()?,
            }
        }
        Ok(Header {
            op: fields.required("op", op)?,
            t,
        })
    }
}

struct ErrorBody {
    error: String,
    message: Option<String>,
}

impl<'de> MessageMap<'de> for ErrorBody {
    const NAME: &'static str = "error frame";
    const FIELDS: &'static [&'static str] = &["error", "message"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut error, mut message) = (None, None::<Option<String>>);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("error") => error = Some(fields.value("error")?),
                Some("message") => message = Some(fields.value("message")?),
                _ => fields.skip()?,
            }
        }
        Ok(ErrorBody {
            error: fields.required("error", error)?,
            message: message.flatten(),
        })
    }
}

/// A `#commit` body before its CAR is parsed; `blocks` borrows the frame.
struct WireCommit<'de> {
    seq: i64,
    repo: String,
    rev: String,
    since: Option<String>,
    time: String,
    commit: Cid,
    ops: Vec<RepoOp>,
    prev_data: Option<Cid>,
    too_big: bool,
    blocks: &'de [u8],
}

impl WireCommit<'_> {
    fn into_commit(self) -> Result<Commit, DecodeError> {
        Ok(Commit {
            seq: self.seq,
            repo: self.repo,
            rev: self.rev,
            since: self.since,
            time: self.time,
            commit: self.commit.to_string(),
            ops: self.ops,
            prev_data: self.prev_data.map(|cid| cid.to_string()),
            too_big: self.too_big,
            blocks: blocks_of(self.blocks)?,
        })
    }
}

impl<'de> MessageMap<'de> for WireCommit<'de> {
    const NAME: &'static str = "#commit";
    const FIELDS: &'static [&'static str] = &[
        "seq", "repo", "rev", "since", "time", "commit", "ops", "prevData", "tooBig", "blocks",
    ];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let mut seq = None;
        let mut repo = None;
        let mut rev = None;
        let mut since = None::<Option<String>>;
        let mut time = None;
        let mut commit = None;
        let mut ops = None;
        let mut prev_data = None::<Option<Cid>>;
        let mut too_big = None;
        let mut blocks = None;
        while let Some(key) = fields.next_key()? {
            match key {
                Some("seq") => seq = Some(fields.value("seq")?),
                Some("repo") => repo = Some(fields.value("repo")?),
                Some("rev") => rev = Some(fields.value("rev")?),
                Some("since") => since = Some(fields.value("since")?),
                Some("time") => time = Some(fields.value("time")?),
                Some("commit") => commit = Some(fields.value("commit")?),
                Some("ops") => ops = Some(fields.value("ops")?),
                Some("prevData") => prev_data = Some(fields.value("prevData")?),
                Some("tooBig") => too_big = Some(fields.value("tooBig")?),
                Some("blocks") => blocks = Some(fields.value("blocks")?),
                _ => fields.skip()?,
            }
        }
        Ok(WireCommit {
            seq: fields.required("seq", seq)?,
            repo: fields.required("repo", repo)?,
            rev: fields.required("rev", rev)?,
            since: since.flatten(),
            time: fields.required("time", time)?,
            commit: fields.required("commit", commit)?,
            ops: fields.required("ops", ops)?,
            prev_data: prev_data.flatten(),
            // Deprecated; servers may stop sending it.
            too_big: too_big.unwrap_or(false),
            blocks: fields.required("blocks", blocks)?,
        })
    }
}

impl<'de> MessageMap<'de> for Identity {
    const NAME: &'static str = "#identity";
    const FIELDS: &'static [&'static str] = &["seq", "did", "time", "handle"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut seq, mut did, mut time, mut handle) = (None, None, None, None::<Option<String>>);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("seq") => seq = Some(fields.value("seq")?),
                Some("did") => did = Some(fields.value("did")?),
                Some("time") => time = Some(fields.value("time")?),
                Some("handle") => handle = Some(fields.value("handle")?),
                _ => fields.skip()?,
            }
        }
        Ok(Identity {
            seq: fields.required("seq", seq)?,
            did: fields.required("did", did)?,
            time: fields.required("time", time)?,
            handle: handle.flatten(),
        })
    }
}

impl<'de> MessageMap<'de> for Account {
    const NAME: &'static str = "#account";
    const FIELDS: &'static [&'static str] = &["seq", "did", "time", "active", "status"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut seq, mut did, mut time) = (None, None, None);
        let (mut active, mut status) = (None, None::<Option<String>>);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("seq") => seq = Some(fields.value("seq")?),
                Some("did") => did = Some(fields.value("did")?),
                Some("time") => time = Some(fields.value("time")?),
                Some("active") => active = Some(fields.value("active")?),
                Some("status") => status = Some(fields.value("status")?),
                _ => fields.skip()?,
            }
        }
        Ok(Account {
            seq: fields.required("seq", seq)?,
            did: fields.required("did", did)?,
            time: fields.required("time", time)?,
            active: fields.required("active", active)?,
            status: status.flatten(),
        })
    }
}

/// A `#sync` body before its CAR is parsed.
struct WireSync<'de> {
    seq: i64,
    did: String,
    rev: String,
    time: String,
    blocks: &'de [u8],
}

impl WireSync<'_> {
    fn into_sync(self) -> Result<Sync, DecodeError> {
        Ok(Sync {
            seq: self.seq,
            did: self.did,
            rev: self.rev,
            time: self.time,
            blocks: blocks_of(self.blocks)?,
        })
    }
}

impl<'de> MessageMap<'de> for WireSync<'de> {
    const NAME: &'static str = "#sync";
    const FIELDS: &'static [&'static str] = &["seq", "did", "rev", "time", "blocks"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut seq, mut did, mut rev, mut time, mut blocks) = (None, None, None, None, None);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("seq") => seq = Some(fields.value("seq")?),
                Some("did") => did = Some(fields.value("did")?),
                Some("rev") => rev = Some(fields.value("rev")?),
                Some("time") => time = Some(fields.value("time")?),
                Some("blocks") => blocks = Some(fields.value("blocks")?),
                _ => fields.skip()?,
            }
        }
        Ok(WireSync {
            seq: fields.required("seq", seq)?,
            did: fields.required("did", did)?,
            rev: fields.required("rev", rev)?,
            time: fields.required("time", time)?,
            blocks: fields.required("blocks", blocks)?,
        })
    }
}

impl<'de> MessageMap<'de> for Info {
    const NAME: &'static str = "#info";
    const FIELDS: &'static [&'static str] = &["name", "message"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut name, mut message) = (None, None::<Option<String>>);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("name") => name = Some(fields.value("name")?),
                Some("message") => message = Some(fields.value("message")?),
                _ => fields.skip()?,
            }
        }
        Ok(Info {
            name: fields.required("name", name)?,
            message: message.flatten(),
        })
    }
}
