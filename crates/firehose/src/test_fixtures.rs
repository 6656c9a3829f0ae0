//! The writing side of the wire format, for tests and benchmarks (feature `test-support`):
//! DAG-CBOR blocks with real sha2-256 CIDs, CAR files, commit blocks and `subscribeRepos`
//! frames.
//!
//! This is the one encoder outside a real PDS: the decoder's own tests, the indexer's benchmark
//! stream and the relay stand-in's forged commits all build their frames here, so they cannot
//! drift apart from each other or from what the decoder expects.
//!
//! Encoding an in-memory IPLD or JSON value cannot fail in practice, so these functions panic
//! rather than make every fixture handle an error that never happens.

use ipld_core::cid::multihash::Multihash;
use ipld_core::cid::Cid;
use ipld_core::ipld;
use ipld_core::ipld::Ipld;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The multicodec of DAG-CBOR and the multihash code of sha2-256, as atproto CIDs use them.
const DAG_CBOR: u64 = 0x71;
const SHA2_256: u64 = 0x12;

/// The CIDv1 (dag-cbor, sha2-256) of `block`.
pub fn cid_of(block: &[u8]) -> Cid {
    let hash = Multihash::<64>::wrap(SHA2_256, &Sha256::digest(block))
        .expect("a sha2-256 digest fits a 64-byte multihash");
    Cid::new_v1(DAG_CBOR, hash)
}

/// DAG-CBOR of a value: an [`Ipld`] or a JSON record without links.
pub fn dagcbor<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_ipld_dagcbor::to_vec(value).expect("an in-memory value encodes as DAG-CBOR")
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A CAR v1 file with these roots and blocks (each stored under its real CID).
pub fn car(roots: &[Cid], blocks: &[Vec<u8>]) -> Vec<u8> {
    let roots: Vec<Ipld> = roots.iter().copied().map(Ipld::Link).collect();
    let header = dagcbor(&ipld!({"version": 1, "roots": roots}));
    let mut out = Vec::new();
    push_varint(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    for block in blocks {
        let cid = cid_of(block).to_bytes();
        push_varint(&mut out, (cid.len() + block.len()) as u64);
        out.extend_from_slice(&cid);
        out.extend_from_slice(block);
    }
    out
}

/// A signed commit block and, separately, its unsigned encoding.
pub fn commit_block(did: &str, data: &Cid, rev: &str, sig: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let unsigned =
        ipld!({"did": did, "version": 3, "data": Ipld::Link(*data), "rev": rev, "prev": null});
    let mut signed = unsigned.clone();
    if let Ipld::Map(map) = &mut signed {
        map.insert("sig".to_owned(), Ipld::Bytes(sig.to_vec()));
    }
    (dagcbor(&signed), dagcbor(&unsigned))
}

/// A frame: the DAG-CBOR header followed by the DAG-CBOR body.
pub fn frame(header: &Ipld, body: &Ipld) -> Vec<u8> {
    let mut out = dagcbor(header);
    out.extend_from_slice(&dagcbor(body));
    out
}

/// A message frame of type `t`.
pub fn message(t: &str, body: &Ipld) -> Vec<u8> {
    frame(&ipld!({"op": 1, "t": t}), body)
}

/// One repo operation of a `#commit`: `action` (`create`, `update`, `delete`) on
/// `collection/rkey`, with the record's CID (none for a delete).
pub fn op(action: &str, path: &str, cid: Option<Cid>) -> Ipld {
    ipld!({"action": action, "path": path, "cid": cid.map_or(Ipld::Null, Ipld::Link)})
}

/// A `#commit` frame as a PDS emits it for `did` at `rev`: its CAR holds the commit block
/// (signed with `sig`, which need not be anyone's signature) and the `records` the `ops` name.
/// The commit's `data` stands in for an MST root that nothing here walks.
pub fn commit_frame(
    seq: i64,
    did: &str,
    rev: &str,
    ops: Vec<Ipld>,
    records: &[Vec<u8>],
    sig: &[u8],
    time: &str,
) -> Vec<u8> {
    let (commit_block, _) = commit_block(did, &cid_of(rev.as_bytes()), rev, sig);
    let commit_cid = cid_of(&commit_block);
    let mut blocks = Vec::with_capacity(1 + records.len());
    blocks.push(commit_block);
    blocks.extend_from_slice(records);
    message(
        "#commit",
        &ipld!({
            "seq": seq,
            "rebase": false,
            "tooBig": false,
            "repo": did,
            "commit": Ipld::Link(commit_cid),
            "rev": rev,
            "since": null,
            "blocks": Ipld::Bytes(car(&[commit_cid], &blocks)),
            "ops": ops,
            "blobs": [],
            "time": time,
        }),
    )
}

/// The pieces of a realistic `#commit` frame.
pub struct CommitFixture {
    pub record: Vec<u8>,
    pub updated: Vec<u8>,
    pub commit_cid: Cid,
    pub commit_block: Vec<u8>,
    pub unsigned: Vec<u8>,
}

impl Default for CommitFixture {
    fn default() -> Self {
        Self::new()
    }
}

impl CommitFixture {
    pub fn new() -> Self {
        let record = dagcbor(&ipld!({
            "$type": "fund.greenlight.feature",
            "title": "Offline sync",
            "createdAt": "2025-01-01T00:00:00.000Z",
        }));
        let updated = dagcbor(&ipld!({
            "$type": "fund.greenlight.estimate",
            "amount": 2500,
            "subject": {"uri": "at://did:plc:alice/fund.greenlight.feature/3k1", "cid": Ipld::Link(cid_of(&record))},
        }));
        let (commit_block, unsigned) =
            commit_block("did:plc:alice", &cid_of(b"mst root"), "3kzzz", &[9; 64]);
        CommitFixture {
            commit_cid: cid_of(&commit_block),
            record,
            updated,
            commit_block,
            unsigned,
        }
    }

    /// The `#commit` body, with the given CAR.
    pub fn body_with_car(&self, car_bytes: Vec<u8>) -> Ipld {
        ipld!({
            "seq": 42,
            "rebase": false,
            "tooBig": false,
            "repo": "did:plc:alice",
            "commit": Ipld::Link(self.commit_cid),
            "rev": "3kzzz",
            "since": "3kyyy",
            "blocks": Ipld::Bytes(car_bytes),
            "ops": [
                {"action": "create", "path": "fund.greenlight.feature/3k1", "cid": Ipld::Link(cid_of(&self.record))},
                {"action": "update", "path": "fund.greenlight.estimate/3k2", "cid": Ipld::Link(cid_of(&self.updated)), "prev": Ipld::Link(cid_of(b"old"))},
                {"action": "delete", "path": "fund.greenlight.pledge/3k3", "cid": null},
            ],
            "blobs": [],
            "prevData": Ipld::Link(cid_of(b"old mst root")),
            "time": "2025-01-01T00:00:01.000Z",
        })
    }

    /// The whole CAR: commit block plus both records.
    pub fn car(&self) -> Vec<u8> {
        car(
            &[self.commit_cid],
            &[
                self.commit_block.clone(),
                self.record.clone(),
                self.updated.clone(),
            ],
        )
    }

    /// The complete frame.
    pub fn frame(&self) -> Vec<u8> {
        message("#commit", &self.body_with_car(self.car()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, OpAction};

    #[test]
    fn a_commit_frame_decodes_with_its_ops_and_records() {
        let record =
            dagcbor(&serde_json::json!({"$type": "fund.greenlight.proposal", "title": "x"}));
        let frame = commit_frame(
            5,
            "did:plc:carol",
            "3kaaaaaaaaaaa",
            vec![
                op(
                    "create",
                    "fund.greenlight.proposal/1",
                    Some(cid_of(&record)),
                ),
                op("delete", "fund.greenlight.pledge/2", None),
            ],
            std::slice::from_ref(&record),
            &[1; 64],
            "2025-01-01T00:00:00.000Z",
        );
        let Ok(Frame::Commit(commit)) = Frame::decode(&frame) else {
            panic!("not a commit frame");
        };
        assert_eq!((commit.seq, commit.repo.as_str()), (5, "did:plc:carol"));
        assert_eq!(commit.ops[0].action, OpAction::Create);
        assert_eq!(commit.ops[1].cid, None);
        assert_eq!(commit.blocks.len(), 2);
        assert!(matches!(commit.record(&commit.ops[0]), Ok(Some(_))));
    }
}
