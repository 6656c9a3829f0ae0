//! The signed commit object at the root of a repo revision.

use ipld_core::cid::Cid;
use serde::de::MapAccess;
use serde::Serialize;

use crate::car::parse_cid;
use crate::message_fields::{decode_map, Fields, MessageMap};
use crate::DecodeError;

/// A repo commit block `{did, version, data, rev, prev, sig}`; CIDs are strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCommit {
    /// The DID of the repo's account.
    pub did: String,
    /// The repo format version (3 today).
    pub version: i64,
    /// The CID of the MST root.
    pub data: String,
    /// The revision (a TID).
    pub rev: String,
    /// The previous commit's CID; usually null in version 3.
    pub prev: Option<String>,
    /// The signature over [`SignedCommit::unsigned_bytes`].
    pub sig: Vec<u8>,
}

impl SignedCommit {
    /// Decodes a commit block (its CID should already have been verified).
    pub fn decode(block: &[u8]) -> Result<Self, DecodeError> {
        decode_map::<WireCommitObject>(block).map(|wire| SignedCommit {
            did: wire.did,
            version: wire.version,
            data: wire.data.to_string(),
            rev: wire.rev,
            prev: wire.prev.map(|cid| cid.to_string()),
            sig: wire.sig.to_vec(),
        })
    }

    /// The commit without `sig` in canonical DAG-CBOR: the bytes the signature covers.
    ///
    /// Fields unknown to this version are not carried over, so a commit with extra fields
    /// fails verification rather than being accepted on a partial reading.
    pub fn unsigned_bytes(&self) -> Result<Vec<u8>, DecodeError> {
        let unsigned = UnsignedCommit {
            did: &self.did,
            version: self.version,
            data: parse_cid(&self.data, "commit data")?,
            rev: &self.rev,
            prev: self
                .prev
                .as_deref()
                .map(|prev| parse_cid(prev, "commit prev"))
                .transpose()?,
        };
        serde_ipld_dagcbor::to_vec(&unsigned).map_err(|err| DecodeError::Encode {
            what: "unsigned commit",
            reason: err.to_string(),
        })
    }
}

/// The encoder sorts keys canonically, so field order here does not matter.
#[derive(Serialize)]
struct UnsignedCommit<'a> {
    did: &'a str,
    version: i64,
    data: Cid,
    rev: &'a str,
    prev: Option<Cid>,
}

/// A commit block as read from the wire.
struct WireCommitObject<'de> {
    did: String,
    version: i64,
    data: Cid,
    rev: String,
    prev: Option<Cid>,
    sig: &'de [u8],
}

impl<'de> MessageMap<'de> for WireCommitObject<'de> {
    const NAME: &'static str = "commit object";
    const FIELDS: &'static [&'static str] = &["did", "version", "data", "rev", "prev", "sig"];

    fn from_fields<A: MapAccess<'de>>(fields: &mut Fields<'_, A>) -> Result<Self, A::Error> {
        let (mut did, mut version, mut data, mut rev, mut prev, mut sig) =
            (None, None, None, None, None, None);
        while let Some(key) = fields.next_key()? {
            match key {
                Some("did") => did = Some(fields.value("did")?),
                Some("version") => version = Some(fields.value("version")?),
                Some("data") => data = Some(fields.value("data")?),
                Some("rev") => rev = Some(fields.value("rev")?),
                Some("prev") => prev = Some(fields.value("prev")?),
                Some("sig") => sig = Some(fields.value("sig")?),
                _ => fields.skip()?,
            }
        }
        Ok(WireCommitObject {
            did: fields.required("did", did)?,
            version: fields.required("version", version)?,
            data: fields.required("data", data)?,
            rev: fields.required("rev", rev)?,
            // Absent and null both mean "no previous commit".
            prev: prev.flatten(),
            sig: fields.required("sig", sig)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{cid_of, commit_block};

    #[test]
    fn round_trips_unsigned_bytes() {
        let data = cid_of(b"mst root");
        let (block, unsigned) = commit_block("did:plc:alice", &data, "3kabc", &[7; 64]);
        let commit = SignedCommit::decode(&block).unwrap();
        assert_eq!(commit.did, "did:plc:alice");
        assert_eq!(commit.version, 3);
        assert_eq!(commit.data, data.to_string());
        assert_eq!(commit.rev, "3kabc");
        assert_eq!(commit.prev, None);
        assert_eq!(commit.sig, vec![7; 64]);
        assert_eq!(commit.unsigned_bytes().unwrap(), unsigned);
    }

    #[test]
    fn reports_missing_and_mistyped_fields() {
        let block = serde_ipld_dagcbor::to_vec(&ipld_core::ipld!({"did": "did:plc:x"})).unwrap();
        assert_eq!(
            SignedCommit::decode(&block),
            Err(DecodeError::MissingField {
                frame: "commit object",
                field: "version"
            })
        );
        let block = serde_ipld_dagcbor::to_vec(&ipld_core::ipld!({
            "did": "did:plc:x",
            "version": "three",
            "data": ipld_core::ipld::Ipld::Link(cid_of(b"mst")),
            "rev": "r",
            "sig": ipld_core::ipld::Ipld::Bytes(vec![1, 2]),
        }))
        .unwrap();
        assert!(matches!(
            SignedCommit::decode(&block),
            Err(DecodeError::InvalidField {
                frame: "commit object",
                field: "version",
                ..
            })
        ));
    }
}
