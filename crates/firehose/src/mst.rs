//! The Merkle Search Tree of atproto repositories, as far as a firehose consumer needs it:
//! key heights, the node encoding, and a *partial* tree loaded lazily from the blocks of one
//! commit, on which record operations can be undone to recompute an earlier root.
//!
//! A node at layer `L` holds, in key order, entries whose keys all have height `L` and, between
//! them, pointers to subtrees at layer `L - 1`; a key's height is the number of leading zero
//! bits of its SHA-256 divided by two. The tree for a set of keys is therefore unique, and so is
//! its root CID.
//!
//! The partial tree is kept flat: an ordered list of leaves (key, value) and *stubs* (subtrees
//! known only by CID and layer, whose block was not needed). Undoing an op only touches that
//! list; [`PartialTree::root`] then rebuilds the canonical tree over it, re-using a stub's CID
//! wherever the subtree is unchanged and opening a stub only where its contents must be merged
//! or split. Opening needs the stub's block, so a commit that leaves out a node the proof needs
//! fails with [`MstError::MissingBlock`] instead of being guessed at. Nothing here does I/O.

use std::collections::BTreeMap;

use ipld_core::cid::multihash::Multihash;
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

use crate::car::Blocks;

/// The multicodec of DAG-CBOR, the codec of MST nodes.
const DAG_CBOR: u64 = 0x71;
/// The multihash code of sha2-256.
const SHA2_256: u64 = 0x12;
/// SHA-256 has 256 bits, so no key can be higher than this; a deeper layer is hostile input.
const MAX_LAYER: u32 = 128;

/// Why a partial tree could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MstError {
    /// A node the operation needs is not among the commit's blocks.
    #[error("MST node {cid} is needed but not in the commit's blocks")]
    MissingBlock {
        /// The node's CID.
        cid: String,
    },
    /// A node's block does not hash to its CID, is not DAG-CBOR, or breaks the MST's rules.
    #[error("MST node {cid} is invalid: {reason}")]
    BadNode {
        /// The node's CID.
        cid: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An MST key must be a non-empty byte string.
    #[error("empty MST key")]
    EmptyKey,
    /// Encoding a node failed (cannot happen for in-memory values; kept rather than panicking).
    #[error("cannot encode an MST node: {0}")]
    Encode(String),
}

/// The height of a key: leading zero bits of its SHA-256, counted in pairs.
pub fn key_height(key: &[u8]) -> u32 {
    let digest = Sha256::digest(key);
    let mut zeros = 0;
    for byte in digest {
        if byte == 0 {
            zeros += 8;
            continue;
        }
        zeros += byte.leading_zeros();
        break;
    }
    zeros / 2
}

/// How many leading bytes two keys share (the prefix an entry's key leaves out).
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The CIDv1 (dag-cbor, sha2-256) of a block.
pub fn cid_for_block(block: &[u8]) -> Cid {
    // A 32-byte digest always fits the 64-byte multihash; the fallback is unreachable but keeps
    // this free of panics.
    let hash = Multihash::<64>::wrap(SHA2_256, &Sha256::digest(block)).unwrap_or_default();
    Cid::new_v1(DAG_CBOR, hash)
}

/// One element of the flat tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A record: its full key, the record's CID and the key's height.
    Leaf {
        key: Vec<u8>,
        value: Cid,
        height: u32,
    },
    /// An unopened subtree: its node's CID and the layer that node sits at.
    Stub { cid: Cid, layer: u32 },
}

/// A node as decoded: its left subtree and its entries with full keys.
struct DecodedNode {
    left: Option<Cid>,
    entries: Vec<(Vec<u8>, Cid, Option<Cid>)>,
}

/// A tree loaded lazily from one commit's blocks.
#[derive(Debug, Clone)]
pub struct PartialTree<'b> {
    blocks: &'b Blocks,
    items: Vec<Item>,
}

/// What a lookup found at a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The leaf at this index holds the key.
    Found(usize),
    /// The key is absent; a leaf for it would go at this index.
    Absent(usize),
}

impl<'b> PartialTree<'b> {
    /// The tree whose root is `root`, reading nodes from `blocks` only when needed.
    pub fn load(blocks: &'b Blocks, root: &Cid) -> Result<PartialTree<'b>, MstError> {
        let mut tree = PartialTree {
            blocks,
            items: Vec::new(),
        };
        if *root == empty_root()? {
            return Ok(tree);
        }
        let node = tree.read_node(root)?;
        let Some((first, _, _)) = node.entries.first() else {
            // Only the empty tree has a root without entries; anything else would have been
            // trimmed to its child by a correct implementation.
            return Err(bad(root, "the root node has no entries"));
        };
        let layer = key_height(first);
        tree.items = flatten(root, node, layer)?;
        Ok(tree)
    }

    /// The record CID stored at `key`, opening nodes on the way as needed.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Cid>, MstError> {
        Ok(match self.locate(key)? {
            Slot::Found(at) => match &self.items[at] {
                Item::Leaf { value, .. } => Some(*value),
                Item::Stub { .. } => None,
            },
            Slot::Absent(_) => None,
        })
    }

    /// Sets `key` to `value`, returning the value it replaced.
    pub fn insert(&mut self, key: &[u8], value: Cid) -> Result<Option<Cid>, MstError> {
        if key.is_empty() {
            return Err(MstError::EmptyKey);
        }
        match self.locate(key)? {
            Slot::Found(at) => match &mut self.items[at] {
                Item::Leaf { value: old, .. } => Ok(Some(std::mem::replace(old, value))),
                Item::Stub { .. } => Ok(None),
            },
            Slot::Absent(at) => {
                self.items.insert(
                    at,
                    Item::Leaf {
                        key: key.to_vec(),
                        value,
                        height: key_height(key),
                    },
                );
                Ok(None)
            }
        }
    }

    /// Removes `key`, returning its value if it was there.
    pub fn remove(&mut self, key: &[u8]) -> Result<Option<Cid>, MstError> {
        match self.locate(key)? {
            Slot::Found(at) => match self.items.remove(at) {
                Item::Leaf { value, .. } => Ok(Some(value)),
                Item::Stub { .. } => Ok(None),
            },
            Slot::Absent(_) => Ok(None),
        }
    }

    /// The root CID of the tree as it now stands.
    pub fn root(&self) -> Result<Cid, MstError> {
        let mut items = self.items.clone();
        loop {
            match items.as_slice() {
                [] => return empty_root(),
                // A lone subtree may be a leafless node whose canonical form is its child;
                // look inside when the block is there. When it is not, the stub's CID is the
                // root as it was committed, which is what a proof compares against anyway.
                [Item::Stub { cid, .. }] => {
                    let cid = *cid;
                    if self.blocks.get_cid(&cid).is_none() {
                        return Ok(cid);
                    }
                    self.open(&mut items, 0)?;
                    continue;
                }
                _ => {}
            }
            let top = items.iter().map(item_layer).max().unwrap_or(0);
            let leaf_top = items
                .iter()
                .filter_map(|item| match item {
                    Item::Leaf { height, .. } => Some(*height),
                    Item::Stub { .. } => None,
                })
                .max();
            if leaf_top == Some(top) {
                return self.node_cid(top, items);
            }
            // A subtree at the top layer next to other items must be merged with them. (The
            // top layer is some item's, and not a leaf's here, so such a stub exists; should it
            // not, fail rather than loop.)
            let at = items
                .iter()
                .position(|item| matches!(item, Item::Stub { layer, .. } if *layer == top))
                .ok_or_else(|| MstError::Encode("no subtree at the top layer".to_owned()))?;
            self.open(&mut items, at)?;
        }
    }

    /// Finds where `key` is, opening every subtree that might hold it.
    fn locate(&mut self, key: &[u8]) -> Result<Slot, MstError> {
        loop {
            // The gap around `key`: after the last leaf below it, up to the first leaf not below.
            let mut start = 0;
            let mut end = self.items.len();
            for (at, item) in self.items.iter().enumerate() {
                if let Item::Leaf { key: k, .. } = item {
                    match k.as_slice().cmp(key) {
                        std::cmp::Ordering::Less => start = at + 1,
                        std::cmp::Ordering::Equal => return Ok(Slot::Found(at)),
                        std::cmp::Ordering::Greater => {
                            end = at;
                            break;
                        }
                    }
                }
            }
            let stub = (start..end).find(|&at| matches!(self.items[at], Item::Stub { .. }));
            match stub {
                Some(at) => {
                    let mut items = std::mem::take(&mut self.items);
                    let opened = self.open(&mut items, at);
                    self.items = items;
                    opened?;
                }
                None => return Ok(Slot::Absent(end)),
            }
        }
    }

    /// Replaces the stub at `items[at]` with the contents of its node.
    fn open(&self, items: &mut Vec<Item>, at: usize) -> Result<(), MstError> {
        let Some(Item::Stub { cid, layer }) = items.get(at).cloned() else {
            return Ok(());
        };
        let node = self.read_node(&cid)?;
        let opened = flatten(&cid, node, layer)?;
        // The node's keys must fall strictly between its neighbours, or the "tree" is not one.
        let first_key = opened.iter().find_map(leaf_key);
        let last_key = opened.iter().rev().find_map(leaf_key);
        let before = items[..at].iter().rev().find_map(leaf_key);
        let after = items[at + 1..].iter().find_map(leaf_key);
        if let (Some(before), Some(first)) = (before, first_key) {
            if before >= first {
                return Err(bad(&cid, "keys are out of order with the parent node"));
            }
        }
        if let (Some(last), Some(after)) = (last_key, after) {
            if last >= after {
                return Err(bad(&cid, "keys are out of order with the parent node"));
            }
        }
        items.splice(at..at + 1, opened);
        Ok(())
    }

    /// Reads and decodes a node block, checking its hash.
    fn read_node(&self, cid: &Cid) -> Result<DecodedNode, MstError> {
        let block = self
            .blocks
            .get_cid(cid)
            .ok_or_else(|| MstError::MissingBlock {
                cid: cid.to_string(),
            })?;
        crate::car::verify_block(cid, block).map_err(|err| bad(cid, &err.to_string()))?;
        decode_node(cid, block)
    }

    /// The CID of the node at `layer` over `items` (all of height/layer at most `layer`).
    fn node_cid(&self, layer: u32, mut items: Vec<Item>) -> Result<Cid, MstError> {
        loop {
            if let [Item::Stub { cid, layer: l }] = items.as_slice() {
                if *l == layer {
                    return Ok(*cid);
                }
            }
            // A subtree at this very layer that is not alone must be merged with its neighbours.
            let merge = if items.len() > 1 {
                items
                    .iter()
                    .position(|item| matches!(item, Item::Stub { layer: l, .. } if *l >= layer))
            } else {
                None
            };
            match merge {
                Some(at) => self.open(&mut items, at)?,
                None => break,
            }
        }
        let mut left = None;
        let mut entries: Vec<(Vec<u8>, Cid, Option<Cid>)> = Vec::new();
        let mut segment: Vec<Item> = Vec::new();
        for item in items {
            match item {
                Item::Leaf { key, value, height } if height == layer => {
                    let child = self.child_cid(layer, std::mem::take(&mut segment))?;
                    match entries.last_mut() {
                        Some(last) => last.2 = child,
                        None => left = child,
                    }
                    entries.push((key, value, None));
                }
                Item::Leaf { height, .. } if height > layer => {
                    return Err(MstError::Encode(format!(
                        "a key of height {height} below layer {layer}"
                    )));
                }
                other => segment.push(other),
            }
        }
        let child = self.child_cid(layer, segment)?;
        match entries.last_mut() {
            Some(last) => last.2 = child,
            None => left = child,
        }
        let block = encode_node(left, &entries)?;
        Ok(cid_for_block(&block))
    }

    /// The subtree below a node at `layer` over `segment`, if it is not empty.
    fn child_cid(&self, layer: u32, segment: Vec<Item>) -> Result<Option<Cid>, MstError> {
        if segment.is_empty() {
            return Ok(None);
        }
        let Some(below) = layer.checked_sub(1) else {
            return Err(MstError::Encode(
                "a subtree below layer 0 (the tree is not an MST)".to_owned(),
            ));
        };
        self.node_cid(below, segment).map(Some)
    }
}

fn item_layer(item: &Item) -> u32 {
    match item {
        Item::Leaf { height, .. } => *height,
        Item::Stub { layer, .. } => *layer,
    }
}

fn leaf_key(item: &Item) -> Option<&[u8]> {
    match item {
        Item::Leaf { key, .. } => Some(key),
        Item::Stub { .. } => None,
    }
}

fn bad(cid: &Cid, reason: &str) -> MstError {
    MstError::BadNode {
        cid: cid.to_string(),
        reason: reason.to_owned(),
    }
}

/// The CID of the empty tree's root, `{e: [], l: null}`.
pub fn empty_root() -> Result<Cid, MstError> {
    Ok(cid_for_block(&encode_node(None, &[])?))
}

/// A node's items in order, checking that it is a valid node at `layer`.
fn flatten(cid: &Cid, node: DecodedNode, layer: u32) -> Result<Vec<Item>, MstError> {
    if layer > MAX_LAYER {
        return Err(bad(cid, "deeper than any SHA-256 key height"));
    }
    let child_layer = |child: Option<Cid>| -> Result<Option<Item>, MstError> {
        match (child, layer.checked_sub(1)) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(bad(cid, "a node at layer 0 points to a subtree")),
            (Some(child), Some(below)) => Ok(Some(Item::Stub {
                cid: child,
                layer: below,
            })),
        }
    };
    let mut items = Vec::with_capacity(node.entries.len() * 2 + 1);
    items.extend(child_layer(node.left)?);
    let mut previous: Option<&[u8]> = None;
    for (key, _, _) in &node.entries {
        if previous.is_some_and(|p| p >= key.as_slice()) {
            return Err(bad(cid, "entry keys are not strictly increasing"));
        }
        if key_height(key) != layer {
            return Err(bad(
                cid,
                "an entry's key height differs from the node's layer",
            ));
        }
        previous = Some(key);
    }
    for (key, value, right) in node.entries {
        let height = layer;
        items.push(Item::Leaf { key, value, height });
        items.extend(child_layer(right)?);
    }
    Ok(items)
}

/// Decodes a node block: `{l: CID|null, e: [{p: int, k: bytes, v: CID, t: CID|null}]}`.
fn decode_node(cid: &Cid, block: &[u8]) -> Result<DecodedNode, MstError> {
    let value: Ipld =
        serde_ipld_dagcbor::from_slice(block).map_err(|err| bad(cid, &format!("{err:?}")))?;
    let Ipld::Map(map) = value else {
        return Err(bad(cid, "not a map"));
    };
    let left = optional_link(cid, map.get("l"), "l")?;
    let Some(Ipld::List(raw_entries)) = map.get("e") else {
        return Err(bad(cid, "field `e` is missing or not a list"));
    };
    let mut entries = Vec::with_capacity(raw_entries.len());
    let mut last_key: Vec<u8> = Vec::new();
    for entry in raw_entries {
        let Ipld::Map(entry) = entry else {
            return Err(bad(cid, "an entry is not a map"));
        };
        let prefix = match entry.get("p") {
            Some(Ipld::Integer(p)) => usize::try_from(*p)
                .ok()
                .filter(|p| *p <= last_key.len())
                .ok_or_else(|| bad(cid, "an entry's prefix length is out of range"))?,
            _ => return Err(bad(cid, "an entry's `p` is missing or not an integer")),
        };
        let Some(Ipld::Bytes(suffix)) = entry.get("k") else {
            return Err(bad(cid, "an entry's `k` is missing or not bytes"));
        };
        let Some(Ipld::Link(value)) = entry.get("v") else {
            return Err(bad(cid, "an entry's `v` is missing or not a link"));
        };
        let right = optional_link(cid, entry.get("t"), "t")?;
        let mut key = last_key[..prefix].to_vec();
        key.extend_from_slice(suffix);
        if key.is_empty() {
            return Err(bad(cid, "an entry has an empty key"));
        }
        last_key.clone_from(&key);
        entries.push((key, *value, right));
    }
    Ok(DecodedNode { left, entries })
}

fn optional_link(cid: &Cid, value: Option<&Ipld>, field: &str) -> Result<Option<Cid>, MstError> {
    match value {
        Some(Ipld::Link(link)) => Ok(Some(*link)),
        Some(Ipld::Null) => Ok(None),
        _ => Err(bad(
            cid,
            &format!("field `{field}` is missing or not a link or null"),
        )),
    }
}

/// Encodes a node with prefix-compressed keys, the way every implementation must so that the
/// same keys give the same CID.
pub(crate) fn encode_node(
    left: Option<Cid>,
    entries: &[(Vec<u8>, Cid, Option<Cid>)],
) -> Result<Vec<u8>, MstError> {
    let link = |cid: Option<Cid>| cid.map_or(Ipld::Null, Ipld::Link);
    let mut previous: &[u8] = &[];
    let mut encoded = Vec::with_capacity(entries.len());
    for (key, value, right) in entries {
        let prefix = common_prefix_len(previous, key);
        let mut entry = BTreeMap::new();
        entry.insert("p".to_owned(), Ipld::Integer(prefix as i128));
        entry.insert("k".to_owned(), Ipld::Bytes(key[prefix..].to_vec()));
        entry.insert("v".to_owned(), Ipld::Link(*value));
        entry.insert("t".to_owned(), link(*right));
        encoded.push(Ipld::Map(entry));
        previous = key;
    }
    let mut node = BTreeMap::new();
    node.insert("l".to_owned(), link(left));
    node.insert("e".to_owned(), Ipld::List(encoded));
    serde_ipld_dagcbor::to_vec(&Ipld::Map(node)).map_err(|err| MstError::Encode(err.to_string()))
}

/// Builds whole trees in memory, for tests and fixtures: every node's block and the root.
#[cfg(any(test, feature = "test-support"))]
pub mod build {
    use super::*;

    /// The blocks of the canonical tree over `entries` (keys need not be sorted) and its root.
    pub fn tree(entries: &[(Vec<u8>, Cid)]) -> (Cid, Vec<Vec<u8>>) {
        let mut sorted: Vec<_> = entries.to_vec();
        sorted.sort();
        sorted.dedup_by(|a, b| a.0 == b.0);
        let mut blocks = Vec::new();
        let top = sorted.iter().map(|(k, _)| key_height(k)).max();
        let root = match top {
            None => {
                let block = encode_node(None, &[]).expect("the empty node encodes");
                let cid = cid_for_block(&block);
                blocks.push(block);
                cid
            }
            Some(top) => node(top, &sorted, &mut blocks),
        };
        (root, blocks)
    }

    fn node(layer: u32, entries: &[(Vec<u8>, Cid)], blocks: &mut Vec<Vec<u8>>) -> Cid {
        let mut left = None;
        let mut out: Vec<(Vec<u8>, Cid, Option<Cid>)> = Vec::new();
        let mut segment: Vec<(Vec<u8>, Cid)> = Vec::new();
        let flush = |segment: &mut Vec<(Vec<u8>, Cid)>, blocks: &mut Vec<Vec<u8>>| {
            if segment.is_empty() {
                None
            } else {
                let child = node(layer - 1, segment, blocks);
                segment.clear();
                Some(child)
            }
        };
        for (key, value) in entries {
            if key_height(key) == layer {
                let child = flush(&mut segment, blocks);
                match out.last_mut() {
                    Some(last) => last.2 = child,
                    None => left = child,
                }
                out.push((key.clone(), *value, None));
            } else {
                segment.push((key.clone(), *value));
            }
        }
        let child = flush(&mut segment, blocks);
        match out.last_mut() {
            Some(last) => last.2 = child,
            None => left = child,
        }
        let block = encode_node(left, &out).expect("an in-memory node encodes");
        let cid = cid_for_block(&block);
        blocks.push(block);
        cid
    }
}
