//! The indexer's own view of a network event, whichever source it came from.
//!
//! Sources (firehose, Jetstream, backfill, the benchmark's generator) decode, verify and
//! validate; what they hand to the writer is already judged, so the writer only has to apply
//! it. That split keeps CPU work (decoding, validation) off the database transaction.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One event from a source, with the source position that covers it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceEvent {
    /// The source's cursor after this event (firehose `seq`, Jetstream `time_us`); `None` for
    /// events that carry no position (malformed frames, backfill).
    pub cursor: Option<i64>,
    /// What happened.
    pub body: EventBody,
}

/// What an event asks of the database.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// Record operations of one commit, in order (only our collections).
    Records(Vec<RecordOp>),
    /// An account's handle changed (or must be re-checked); `None` means no valid handle.
    Identity {
        /// The account.
        did: String,
        /// Its current handle, if any.
        handle: Option<String>,
    },
    /// An account's hosting status changed.
    Account {
        /// The account.
        did: String,
        /// Whether its records may be shown.
        active: bool,
        /// Why it is inactive, as the host reports it.
        status: Option<String>,
    },
    /// The repo's state jumped without ops (`#sync`): it needs a backfill to catch up.
    Resync {
        /// The account.
        did: String,
    },
    /// A commit kept aside until its author's signing key can be had (see `parking`).
    Park(ParkedFrame),
    /// Parked commits of a repo were replayed (their outcomes are the events before this one,
    /// in the same lane): they leave the parking lot in the same transaction.
    Unpark {
        /// The repo.
        did: String,
        /// The sequence numbers of the replayed frames.
        seqs: Vec<i64>,
    },
    /// An event that could not be used at all (undecodable frame, bad signature, ...).
    Rejected(RejectedEvent),
    /// Nothing to store; only the cursor moves (other collections, `#sync`, empty commits).
    Nothing,
}

/// A firehose `#commit` frame parked as received, to be judged again when its author's key
/// is available.
#[derive(Debug, Clone, PartialEq)]
pub struct ParkedFrame {
    /// The repo.
    pub did: String,
    /// The frame's sequence number (its firehose cursor).
    pub seq: i64,
    /// The frame's bytes.
    pub frame: Vec<u8>,
    /// Why it was parked.
    pub reason: String,
}

/// An event kept for operators because it could not be applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedEvent {
    /// The repo it claims to be about, when that much could be read.
    pub did: Option<String>,
    /// Why it was rejected.
    pub reason: String,
    /// Its content as far as it could be read (JSON), for diagnosis.
    pub body: Option<Value>,
}

/// One create, update or delete of a record in one of our collections.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOp {
    /// The author's DID.
    pub did: String,
    /// The collection NSID.
    pub collection: String,
    /// The record key.
    pub rkey: String,
    /// The repo revision of the commit (a TID); orders versions of the same record.
    pub rev: String,
    /// What to do.
    pub action: RecordAction,
}

impl RecordOp {
    /// The record's `at://` URI.
    pub fn uri(&self) -> String {
        format!("at://{}/{}/{}", self.did, self.collection, self.rkey)
    }
}

/// The outcome of validating an op.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordAction {
    /// A valid record was created or updated.
    Put(Box<ValidRecord>),
    /// The record was deleted.
    Delete,
    /// The record was created or updated but does not count.
    Reject {
        /// The CID of the rejected version, when known.
        cid: Option<String>,
        /// Its content, when it decoded at all.
        body: Option<Value>,
        /// Why it does not count.
        reason: String,
    },
}

/// A record that passed validation, with the fields the AppView queries on.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRecord {
    /// The CID of this version.
    pub cid: String,
    /// The record in atproto JSON form.
    pub body: Value,
    /// The fields pulled out of it.
    pub fields: RecordFields,
}

/// Fields of a record kept in columns (see `migrations/0002_record_fields.sql`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordFields {
    /// The strongRef `subject`'s uri.
    pub subject_uri: Option<String>,
    /// The strongRef `subject`'s cid.
    pub subject_cid: Option<String>,
    /// An amount in minor units (estimate, pledge, or a #development goal).
    pub amount: Option<i64>,
    /// An upper-case ISO 4217 code.
    pub currency: Option<String>,
    /// A status record's stage `$type`.
    pub stage: Option<String>,
    /// The record's `createdAt`.
    pub created_at: DateTime<Utc>,
}
