//! Hand-built frames, CARs and blocks with real sha2-256 CIDs, for the tests.

use ipld_core::cid::multihash::Multihash;
use ipld_core::cid::Cid;
use ipld_core::ipld;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

/// The CIDv1 (dag-cbor, sha2-256) of `block`.
pub fn cid_of(block: &[u8]) -> Cid {
    let hash = Multihash::<64>::wrap(0x12, &Sha256::digest(block)).unwrap();
    Cid::new_v1(0x71, hash)
}

/// DAG-CBOR of an IPLD value.
pub fn dagcbor(value: &Ipld) -> Vec<u8> {
    serde_ipld_dagcbor::to_vec(value).unwrap()
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

/// The pieces of a realistic `#commit` frame.
pub struct CommitFixture {
    pub record: Vec<u8>,
    pub updated: Vec<u8>,
    pub commit_cid: Cid,
    pub commit_block: Vec<u8>,
    pub unsigned: Vec<u8>,
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
