//! The single error type of this crate.

/// Why a frame, a CAR file, a block or a record could not be decoded.
///
/// Every variant names what was being decoded so that a rejected event can be logged or stored
/// with a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before a complete value was read.
    #[error("truncated input while decoding {what}")]
    Truncated {
        /// What was being decoded when the input ran out.
        what: &'static str,
    },
    /// The frame header is not a DAG-CBOR map `{op, t?}`.
    #[error("bad frame header: {reason}")]
    BadHeader {
        /// The underlying decoder's explanation.
        reason: String,
    },
    /// The header's `op` is neither 1 (message) nor -1 (error).
    #[error("unknown frame op {0} (expected 1 or -1)")]
    UnknownOp(i64),
    /// A message frame (`op: 1`) without the `t` that names its type.
    #[error("message frame header has no `t`")]
    MissingType,
    /// Bytes remain after the value that should have ended the input.
    #[error("trailing bytes after {what}")]
    TrailingData {
        /// The value after which bytes remained.
        what: &'static str,
    },
    /// A required field of a message body is absent.
    #[error("{frame}: field `{field}` is missing")]
    MissingField {
        /// The message or object that lacks the field (e.g. `#commit`).
        frame: &'static str,
        /// The field's name as it appears on the wire.
        field: &'static str,
    },
    /// A field of a message body has the wrong type or an invalid value.
    #[error("{frame}: field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The message or object holding the field (e.g. `#commit`).
        frame: &'static str,
        /// The field's name as it appears on the wire.
        field: &'static str,
        /// The underlying decoder's explanation.
        reason: String,
    },
    /// The bytes are not valid DAG-CBOR, or not of the expected shape (e.g. not a map).
    #[error("cannot decode {what} as DAG-CBOR: {reason}")]
    NotDagCbor {
        /// What was being decoded.
        what: &'static str,
        /// The underlying decoder's explanation.
        reason: String,
    },
    /// A value is valid DAG-CBOR but outside the atproto data model (floats, huge integers).
    #[error("{what} is outside the atproto data model: {reason}")]
    OutsideDataModel {
        /// What was being decoded.
        what: &'static str,
        /// Which rule was broken.
        reason: String,
    },
    /// An unsigned varint is longer than 9 bytes (the multiformats limit).
    #[error("varint in {what} is too long")]
    VarintOverflow {
        /// Where the varint was read.
        what: &'static str,
    },
    /// The CAR header is not `{version: 1, roots: [cid...]}`.
    #[error("bad CAR header: {reason}")]
    BadCarHeader {
        /// What is wrong with it.
        reason: String,
    },
    /// A CAR length prefix claims more bytes than the input holds.
    #[error("CAR {what} length {claimed} exceeds the {remaining} bytes left")]
    CarLengthExceedsInput {
        /// `header` or `section`.
        what: &'static str,
        /// The length the prefix claims.
        claimed: u64,
        /// The bytes actually left in the input.
        remaining: usize,
    },
    /// A CAR section is empty or its CID leaves no room for a block.
    #[error("bad CAR section at byte {offset}: {reason}")]
    BadCarSection {
        /// Where the section's length prefix starts in the CAR.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A CID could not be parsed (from bytes in a CAR section or from a string).
    #[error("invalid CID in {what}: {reason}")]
    InvalidCid {
        /// Where the CID was found.
        what: &'static str,
        /// The parser's explanation.
        reason: String,
    },
    /// A CID uses a hash function other than sha2-256, the only one atproto allows.
    #[error("CID {cid} uses unsupported multihash code {code:#x} (only sha2-256)")]
    UnsupportedHash {
        /// The CID as a string.
        cid: String,
        /// The multihash code it uses.
        code: u64,
    },
    /// A block's sha2-256 digest differs from the one its CID claims.
    #[error("block content does not match its CID {cid}")]
    CidMismatch {
        /// The CID the block was stored under.
        cid: String,
    },
    /// A CID is referenced but its block is not in the CAR.
    #[error("block {cid} is missing from the CAR")]
    BlockMissing {
        /// The CID that was looked up.
        cid: String,
    },
    /// A create or update operation without the CID of its new record.
    #[error("{action} op on {path} has no cid")]
    OpWithoutCid {
        /// The op's action.
        action: &'static str,
        /// The op's record path.
        path: String,
    },
    /// Re-encoding a value as DAG-CBOR failed.
    #[error("cannot encode {what} as DAG-CBOR: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's explanation.
        reason: String,
    },
}

impl DecodeError {
    /// Maps a decoder failure on `what`, telling truncation apart from malformed data.
    pub(crate) fn from_cbor(
        what: &'static str,
        err: serde_ipld_dagcbor::DecodeError<std::convert::Infallible>,
    ) -> Self {
        match err {
            serde_ipld_dagcbor::DecodeError::Eof { .. } => DecodeError::Truncated { what },
            serde_ipld_dagcbor::DecodeError::TrailingData => DecodeError::TrailingData { what },
            other => DecodeError::NotDagCbor {
                what,
                reason: crate::message_fields::cbor_reason(&other),
            },
        }
    }
}
