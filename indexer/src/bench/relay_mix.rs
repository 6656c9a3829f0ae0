//! The full-relay mix: a deterministic (seeded) stream shaped like what a relay sends, where
//! almost every frame is someone else's business.
//!
//! Per 10,000 frames: [`IDENTITY_PER_10K`] `#identity`, [`ACCOUNT_PER_10K`] `#account`,
//! [`GREENLIGHT_PER_10K`] `fund.greenlight.*` commits, and the rest `app.bsky.*` commits
//! (likes, posts, follows, reposts, blocks; creates and deletes). Every frame is built with the
//! firehose crate's encoder ([`greenlight_firehose::test_fixtures`]), so it is a real
//! `subscribeRepos` message with a real CAR:
//!
//! - an `app.bsky.*` commit carries its commit block, its record and the blocks of a small MST
//!   (about as many nodes as the path to a leaf of a real repo), with `since` and `prevData`.
//!   The indexer never proves these (they are not ours), so the tree blocks come from a pool
//!   of prebuilt trees rather than from each repo's history: the bytes to decode are the same,
//!   and generating a million frames stays quick;
//! - a `fund.greenlight.*` commit is exactly what a PDS emits: its repo's whole tree (Greenlight
//!   records beside a few dozen Bluesky ones), `prevData` of the tree before, and a signature
//!   by the repo's key ([`CommitSigner`]), so the indexer's signature check and commit proof
//!   run for real and pass.
//!
//! `#identity` and `#account` events name Bluesky accounts only: an `#identity` of a Greenlight
//! author makes the indexer look its document up again, and the benchmark touches no network.

use std::collections::BTreeMap;

use greenlight_firehose::mst::build;
use greenlight_firehose::test_fixtures::{car, cid_of, commit_block, dagcbor, message};
use greenlight_firehose::Cid;
use greenlight_identity::{DidDocument, PublicKey};
use ipld_core::ipld;
use ipld_core::ipld::Ipld;
use serde_json::json;

use super::generator::{now_string, tid_string, StreamGenerator};
use crate::record_rules::{DISPUTE, ESTIMATE, PLEDGE, PROPOSAL, STATUS};

/// `#identity` events per 10,000 frames (a few per second on the real network, against
/// on the order of a thousand commits).
pub const IDENTITY_PER_10K: u64 = 50;
/// `#account` events per 10,000 frames.
pub const ACCOUNT_PER_10K: u64 = 10;
/// `fund.greenlight.*` commits per 10,000 frames.
pub const GREENLIGHT_PER_10K: u64 = 20;

/// Keys per prebuilt Bluesky tree: about five MST nodes of about four entries each, the size
/// of the path to a record in a repo of some thousands of records.
const BSKY_TREE_KEYS: usize = 16;
/// Prebuilt Bluesky trees to draw from.
const BSKY_TREES: usize = 256;
/// Bluesky records in each Greenlight author's repo besides its Greenlight ones.
const AUTHOR_BSKY_RECORDS: usize = 40;
/// Greenlight records an author keeps before the mix starts deleting some.
const AUTHOR_MAX_RECORDS: usize = 12;

/// Signs the Greenlight authors' commits; the benchmark binary brings a real key (the library
/// has no signing dependency).
pub trait CommitSigner: Send + Sync {
    /// The key the signatures verify with; every author's DID document names it.
    fn public_key(&self) -> PublicKey;
    /// A signature over an unsigned commit block, as atproto signs commits.
    fn sign(&self, unsigned: &[u8]) -> Vec<u8>;
}

/// What the stream holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MixCounts {
    /// `app.bsky.*` commits.
    pub bsky_commits: u64,
    /// `#identity` events.
    pub identity: u64,
    /// `#account` events.
    pub account: u64,
    /// `fund.greenlight.*` commits (one op each).
    pub greenlight_commits: u64,
    /// Of those, creates and updates (the rest are deletes).
    pub greenlight_writes: u64,
    /// Distinct authors of those.
    pub greenlight_authors: u64,
    /// Frame bytes in all.
    pub bytes: u64,
    /// CAR blocks in `app.bsky.*` commits.
    pub bsky_blocks: u64,
}

impl MixCounts {
    /// Frames in all.
    pub fn frames(&self) -> u64 {
        self.bsky_commits + self.identity + self.account + self.greenlight_commits
    }
}

/// A prebuilt tree for `app.bsky.*` commits: its blocks, and a root standing for the tree
/// before the commit.
struct BskyTree {
    prev_data: Cid,
    data: Cid,
    blocks: Vec<Vec<u8>>,
}

/// A Greenlight author's repo: every record's CID by path, the Greenlight paths, its last rev.
struct AuthorRepo {
    did: String,
    tree: BTreeMap<String, Cid>,
    greenlight: Vec<(String, &'static str)>,
    rev: Option<String>,
}

impl AuthorRepo {
    fn has_committed(&self) -> bool {
        self.rev.is_some()
    }
}

/// The generator of the full-relay stream.
pub struct RelayMix<'a> {
    rng: u64,
    seq: i64,
    clock: u64,
    bsky_repos: usize,
    trees: Vec<BskyTree>,
    authors: Vec<AuthorRepo>,
    /// Greenlight record bodies (valid ones, and the benchmark stream's invalid share).
    records: StreamGenerator,
    signer: &'a dyn CommitSigner,
    counts: MixCounts,
}

impl<'a> RelayMix<'a> {
    /// A mix over `bsky_repos` Bluesky accounts and `authors` Greenlight authors, who sign
    /// with `signer`.
    pub fn new(
        seed: u64,
        bsky_repos: usize,
        authors: usize,
        signer: &'a dyn CommitSigner,
    ) -> RelayMix<'a> {
        let mut mix = RelayMix {
            rng: seed.max(1),
            seq: 0,
            clock: 1_720_000_000_000_000,
            bsky_repos: bsky_repos.max(1),
            trees: Vec::new(),
            authors: Vec::new(),
            records: StreamGenerator::new(seed, authors.max(1)),
            signer,
            counts: MixCounts::default(),
        };
        mix.trees = (0..BSKY_TREES).map(|_| mix.bsky_tree()).collect();
        mix.authors = (0..authors.max(1)).map(|n| mix.author(n)).collect();
        mix
    }

    /// The Greenlight authors' DID documents, as the identity pool is primed with them.
    pub fn documents(&self) -> Vec<DidDocument> {
        let key = self.signer.public_key();
        self.authors
            .iter()
            .map(|author| DidDocument {
                did: author.did.clone(),
                handle: None,
                pds_endpoint: None,
                signing_key: Some(key.clone()),
            })
            .collect()
    }

    /// What the stream held so far.
    pub fn counts(&self) -> MixCounts {
        self.counts
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*, as the ingest benchmark's generator.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// The next TID; one clock for every repo keeps each repo's revisions increasing.
    fn tid(&mut self) -> String {
        self.clock += 1 + (self.next_u64() & 7);
        tid_string(self.clock << 10)
    }

    /// The next frame.
    pub fn next_frame(&mut self) -> Vec<u8> {
        self.seq += 1;
        let roll = self.next_u64() % 10_000;
        let frame = if roll < IDENTITY_PER_10K {
            self.counts.identity += 1;
            self.identity()
        } else if roll < IDENTITY_PER_10K + ACCOUNT_PER_10K {
            self.counts.account += 1;
            self.account()
        } else if roll < IDENTITY_PER_10K + ACCOUNT_PER_10K + GREENLIGHT_PER_10K {
            self.counts.greenlight_commits += 1;
            self.greenlight_commit()
        } else {
            self.counts.bsky_commits += 1;
            self.bsky_commit()
        };
        self.counts.bytes += frame.len() as u64;
        frame
    }

    fn bsky_did(&mut self) -> String {
        plc_did(0xB5C0_0000_0000 + self.below(self.bsky_repos) as u64)
    }

    fn identity(&mut self) -> Vec<u8> {
        let did = self.bsky_did();
        let handle = format!("{}.bsky.social", &did[8..20]);
        message(
            "#identity",
            &ipld!({"seq": self.seq, "did": did, "time": now_string(), "handle": handle}),
        )
    }

    fn account(&mut self) -> Vec<u8> {
        let did = self.bsky_did();
        let body = if self.below(4) == 0 {
            ipld!({"seq": self.seq, "did": did, "time": now_string(), "active": false, "status": "deactivated"})
        } else {
            ipld!({"seq": self.seq, "did": did, "time": now_string(), "active": true})
        };
        message("#account", &body)
    }

    fn bsky_tree(&mut self) -> BskyTree {
        let mut entries: Vec<(Vec<u8>, Cid)> = (0..BSKY_TREE_KEYS)
            .map(|n| {
                let key = format!("app.bsky.feed.like/{}", self.tid());
                (key.into_bytes(), cid_of(&n.to_be_bytes()))
            })
            .collect();
        let (prev_data, _) = build::tree(&entries);
        entries.push((
            format!("app.bsky.feed.post/{}", self.tid()).into_bytes(),
            cid_of(b"post"),
        ));
        let (data, blocks) = build::tree(&entries);
        BskyTree {
            prev_data,
            data,
            blocks,
        }
    }

    /// A Bluesky record of `collection`, as the app writes them.
    fn bsky_record(&mut self, collection: &str) -> serde_json::Value {
        let created_at = now_string();
        let subject_uri = format!("at://{}/app.bsky.feed.post/{}", self.bsky_did(), self.tid());
        let subject_cid = cid_of(subject_uri.as_bytes()).to_string();
        match collection {
            "app.bsky.feed.post" => json!({
                "$type": collection,
                "text": "Trying out the new offline mode on the train, works better than expected.",
                "langs": ["en"],
                "createdAt": created_at,
            }),
            "app.bsky.graph.follow" | "app.bsky.graph.block" => {
                json!({"$type": collection, "subject": self.bsky_did(), "createdAt": created_at})
            }
            _ => json!({
                "$type": collection,
                "subject": {"uri": subject_uri, "cid": subject_cid},
                "createdAt": created_at,
            }),
        }
    }

    fn bsky_commit(&mut self) -> Vec<u8> {
        let collection = match self.below(100) {
            0..=54 => "app.bsky.feed.like",
            55..=69 => "app.bsky.feed.post",
            70..=84 => "app.bsky.graph.follow",
            85..=96 => "app.bsky.feed.repost",
            _ => "app.bsky.graph.block",
        };
        let did = self.bsky_did();
        let since = self.tid();
        let rev = self.tid();
        let path = format!("{collection}/{}", self.tid());
        let record = (self.below(10) != 0).then(|| dagcbor(&self.bsky_record(collection)));
        let pick = self.below(BSKY_TREES);
        let tree = &self.trees[pick];
        let mut sig = [0u8; 64];
        sig[..8].copy_from_slice(&self.seq.to_be_bytes());
        let (commit, _) = commit_block(&did, &tree.data, &rev, &sig);
        let commit_cid = cid_of(&commit);
        let mut blocks = Vec::with_capacity(tree.blocks.len() + 2);
        blocks.push(commit);
        blocks.extend(tree.blocks.iter().cloned());
        let op = match &record {
            Some(block) => {
                ipld!({"action": "create", "path": path, "cid": Ipld::Link(cid_of(block)), "prev": null})
            }
            None => {
                ipld!({"action": "delete", "path": path.clone(), "cid": null, "prev": Ipld::Link(cid_of(path.as_bytes()))})
            }
        };
        let prev_data = tree.prev_data;
        blocks.extend(record);
        self.counts.bsky_blocks += blocks.len() as u64;
        commit_message(
            self.seq,
            &did,
            &rev,
            Some(&since),
            commit_cid,
            prev_data,
            &blocks,
            op,
        )
    }

    /// Author `n`, whose repo starts with a few dozen Bluesky records.
    fn author(&mut self, n: usize) -> AuthorRepo {
        let tree = (0..AUTHOR_BSKY_RECORDS)
            .map(|i| {
                let path = format!("app.bsky.feed.like/{}", self.tid());
                (path, cid_of(&(n * 1_000 + i).to_be_bytes()))
            })
            .collect();
        AuthorRepo {
            did: plc_did(0x6EE0_0000_0000 + n as u64),
            tree,
            greenlight: Vec::new(),
            rev: None,
        }
    }

    /// A signed, provable one-op commit by a Greenlight author: a create, an update of one
    /// of its records, or a delete.
    fn greenlight_commit(&mut self) -> Vec<u8> {
        let at = self.below(self.authors.len());
        let live = self.authors[at].greenlight.len();
        let roll = self.below(10);
        let which = self.below(live);
        let (path, collection, write) = if live > AUTHOR_MAX_RECORDS || (live > 0 && roll == 0) {
            let (path, _) = self.authors[at].greenlight.swap_remove(which);
            (path, None, false)
        } else if live > 0 && roll == 1 {
            let (path, collection) = self.authors[at].greenlight[which].clone();
            (path, Some(collection), true)
        } else {
            let collection = match self.below(10) {
                0..=4 => ESTIMATE,
                5..=6 => PLEDGE,
                7 => PROPOSAL,
                8 => STATUS,
                _ => DISPUTE,
            };
            let path = format!("{collection}/{}", self.tid());
            self.authors[at].greenlight.push((path.clone(), collection));
            (path, Some(collection), true)
        };
        let record = collection.map(|collection| dagcbor(&self.records.record(collection, at)));
        let rev = self.tid();
        let seq = self.seq;
        let author = &mut self.authors[at];
        self.counts.greenlight_authors += u64::from(!author.has_committed());
        let entries = |tree: &BTreeMap<String, Cid>| -> Vec<(Vec<u8>, Cid)> {
            tree.iter()
                .map(|(path, cid)| (path.as_bytes().to_vec(), *cid))
                .collect()
        };
        let (prev_data, _) = build::tree(&entries(&author.tree));
        let old = match &record {
            Some(block) => author.tree.insert(path.clone(), cid_of(block)),
            None => author.tree.remove(&path),
        };
        let (data, mut blocks) = build::tree(&entries(&author.tree));
        let (_, unsigned) = commit_block(&author.did, &data, &rev, &[0; 64]);
        let (commit, _) = commit_block(&author.did, &data, &rev, &self.signer.sign(&unsigned));
        let commit_cid = cid_of(&commit);
        blocks.push(commit);
        let action = match (&old, &record) {
            (None, _) => "create",
            (Some(_), Some(_)) => "update",
            (Some(_), None) => "delete",
        };
        let op = ipld!({
            "action": action, "path": path,
            "cid": record.as_ref().map_or(Ipld::Null, |block| Ipld::Link(cid_of(block))),
            "prev": old.map_or(Ipld::Null, Ipld::Link),
        });
        self.counts.greenlight_writes += u64::from(write);
        blocks.extend(record);
        let since = author.rev.replace(rev.clone());
        commit_message(
            seq,
            &author.did,
            &rev,
            since.as_deref(),
            commit_cid,
            prev_data,
            &blocks,
            op,
        )
    }
}

/// A sync 1.1 `#commit` message of one op.
#[allow(clippy::too_many_arguments)]
fn commit_message(
    seq: i64,
    did: &str,
    rev: &str,
    since: Option<&str>,
    commit: Cid,
    prev_data: Cid,
    blocks: &[Vec<u8>],
    op: Ipld,
) -> Vec<u8> {
    message(
        "#commit",
        &ipld!({
            "seq": seq, "repo": did, "commit": Ipld::Link(commit), "rev": rev,
            "since": since.map_or(Ipld::Null, |since| Ipld::String(since.to_owned())),
            "time": now_string(), "tooBig": false, "rebase": false, "blobs": [],
            "blocks": Ipld::Bytes(car(&[commit], blocks)), "ops": [op],
            "prevData": Ipld::Link(prev_data),
        }),
    )
}

/// A did:plc from a number (24 base32 characters, as real ones).
fn plc_did(n: u64) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    // Spread the bits so that neighbouring numbers differ early, as hashes do.
    let mut value = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let id: String = (0..24)
        .map(|i| {
            if i == 12 {
                value = value.rotate_left(17) ^ n;
            }
            let c = ALPHABET[(value & 31) as usize] as char;
            value = value.rotate_right(5);
            c
        })
        .collect();
    format!("did:plc:{id}")
}
