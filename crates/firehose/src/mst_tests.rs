//! The MST and commit proofs against the atproto interop fixtures (CC0, vendored in
//! `tests/fixtures/atproto-interop-tests/`, see its `SOURCE`), plus forged and incomplete
//! commits that must not be proven.

use std::collections::HashSet;

use ipld_core::cid::Cid;
use serde_json::Value;

use crate::mst::{build, common_prefix_len, key_height, MstError, PartialTree};
use crate::test_fixtures::car;
use crate::{verify_ops, Blocks, OpAction, ProofError, ProofOp};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/atproto-interop-tests/",
            $path
        ))
    };
}

fn cid(text: &str) -> Cid {
    Cid::try_from(text).unwrap()
}

fn blocks_of(blocks: &[Vec<u8>]) -> Blocks {
    Blocks::from_car(car(&[], blocks)).unwrap()
}

#[test]
fn key_heights_match_the_fixtures() {
    let cases: Vec<Value> = serde_json::from_str(fixture!("mst/key_heights.json")).unwrap();
    assert!(cases.len() >= 9);
    for case in cases {
        let key = case["key"].as_str().unwrap();
        let height = case["height"].as_u64().unwrap() as u32;
        assert_eq!(key_height(key.as_bytes()), height, "{key:?}");
    }
}

#[test]
fn common_prefixes_match_the_fixtures() {
    let cases: Vec<Value> = serde_json::from_str(fixture!("mst/common_prefix.json")).unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let (left, right) = (
            case["left"].as_str().unwrap(),
            case["right"].as_str().unwrap(),
        );
        let len = case["len"].as_u64().unwrap() as usize;
        assert_eq!(
            common_prefix_len(left.as_bytes(), right.as_bytes()),
            len,
            "{left:?} {right:?}"
        );
    }
}

#[test]
fn example_keys_have_the_height_their_name_says() {
    // Each example key is named `<letter><height>/<digits>`.
    let mut checked = 0;
    for key in fixture!("mst/example_keys.txt").lines().map(str::trim) {
        if key.is_empty() {
            continue;
        }
        let height = key[1..2].parse::<u32>().unwrap();
        assert_eq!(key_height(key.as_bytes()), height, "{key}");
        checked += 1;
    }
    assert!(checked > 100);
}

struct ProofFixture {
    comment: String,
    leaf: Cid,
    keys: Vec<String>,
    adds: Vec<String>,
    dels: Vec<String>,
    before: Cid,
    after: Cid,
    in_proof: Vec<Cid>,
}

fn proof_fixtures() -> Vec<ProofFixture> {
    let cases: Vec<Value> =
        serde_json::from_str(fixture!("firehose/commit-proof-fixtures.json")).unwrap();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    cases
        .iter()
        .map(|case| ProofFixture {
            comment: case["comment"].as_str().unwrap().to_owned(),
            leaf: cid(case["leafValue"].as_str().unwrap()),
            keys: strings(&case["keys"]),
            adds: strings(&case["adds"]),
            dels: strings(&case["dels"]),
            before: cid(case["rootBeforeCommit"].as_str().unwrap()),
            after: cid(case["rootAfterCommit"].as_str().unwrap()),
            in_proof: strings(&case["blocksInProof"])
                .iter()
                .map(|c| cid(c))
                .collect(),
        })
        .collect()
}

fn entries(keys: &[String], leaf: Cid) -> Vec<(Vec<u8>, Cid)> {
    keys.iter().map(|k| (k.as_bytes().to_vec(), leaf)).collect()
}

fn after_keys(fixture: &ProofFixture) -> Vec<String> {
    let mut keys: Vec<String> = fixture.keys.clone();
    keys.extend(fixture.adds.iter().cloned());
    keys.retain(|k| !fixture.dels.contains(k));
    keys
}

fn fixture_ops(fixture: &ProofFixture) -> Vec<ProofOp> {
    let mut ops: Vec<ProofOp> = fixture
        .adds
        .iter()
        .map(|k| ProofOp {
            action: OpAction::Create,
            path: k.clone(),
            cid: Some(fixture.leaf),
            prev: None,
        })
        .collect();
    ops.extend(fixture.dels.iter().map(|k| ProofOp {
        action: OpAction::Delete,
        path: k.clone(),
        cid: None,
        prev: Some(fixture.leaf),
    }));
    ops
}

fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

#[test]
fn trees_of_the_proof_fixtures_have_the_reference_roots() {
    let fixtures = proof_fixtures();
    assert_eq!(fixtures.len(), 6);
    for fixture in &fixtures {
        let (before, _) = build::tree(&entries(&fixture.keys, fixture.leaf));
        assert_eq!(before, fixture.before, "{}: root before", fixture.comment);
        let (after, blocks) = build::tree(&entries(&after_keys(fixture), fixture.leaf));
        assert_eq!(after, fixture.after, "{}: root after", fixture.comment);
        let have: HashSet<Cid> = blocks
            .iter()
            .map(|b| crate::mst::cid_for_block(b))
            .collect();
        for cid in &fixture.in_proof {
            assert!(
                have.contains(cid),
                "{}: {cid} not in the new tree",
                fixture.comment
            );
        }
    }
}

/// The new tree's blocks that the fixture lists as the proof, and nothing else.
fn proof_blocks(fixture: &ProofFixture) -> Blocks {
    let (_, blocks) = build::tree(&entries(&after_keys(fixture), fixture.leaf));
    let wanted: HashSet<Cid> = fixture.in_proof.iter().copied().collect();
    let kept: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| wanted.contains(&crate::mst::cid_for_block(b)))
        .collect();
    assert_eq!(kept.len(), wanted.len(), "{}", fixture.comment);
    blocks_of(&kept)
}

#[test]
fn every_proof_fixture_is_proven_from_its_proof_blocks_alone_in_any_op_order() {
    for fixture in proof_fixtures() {
        let blocks = proof_blocks(&fixture);
        for ops in permutations(&fixture_ops(&fixture)) {
            assert_eq!(
                verify_ops(&blocks, &fixture.after, &fixture.before, &ops),
                Ok(()),
                "{}: {:?}",
                fixture.comment,
                ops.iter().map(|op| &op.path).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn a_proof_missing_the_new_root_is_not_proven() {
    for fixture in proof_fixtures() {
        let (_, blocks) = build::tree(&entries(&after_keys(&fixture), fixture.leaf));
        let without_root: Vec<Vec<u8>> = blocks
            .into_iter()
            .filter(|b| crate::mst::cid_for_block(b) != fixture.after)
            .collect();
        let result = verify_ops(
            &blocks_of(&without_root),
            &fixture.after,
            &fixture.before,
            &fixture_ops(&fixture),
        );
        assert_eq!(
            result,
            Err(ProofError::Mst(MstError::MissingBlock {
                cid: fixture.after.to_string()
            })),
            "{}",
            fixture.comment
        );
    }
}

#[test]
fn forged_dropped_and_altered_ops_are_not_proven() {
    for fixture in proof_fixtures() {
        let blocks = proof_blocks(&fixture);
        let ops = fixture_ops(&fixture);
        let check = |ops: &[ProofOp]| verify_ops(&blocks, &fixture.after, &fixture.before, ops);

        // An extra create of a key the new tree does not hold.
        let mut forged = ops.clone();
        forged.push(ProofOp {
            action: OpAction::Create,
            path: "fund.greenlight.pledge/3kforgedforged".to_owned(),
            cid: Some(fixture.leaf),
            prev: None,
        });
        // The tree either shows nothing at the path or the path is outside the proof's nodes.
        assert!(
            matches!(
                check(&forged),
                Err(ProofError::OpMismatch { .. } | ProofError::PathUnreadable { .. })
            ),
            "{}: {:?}",
            fixture.comment,
            check(&forged)
        );

        // An extra create of a key that was already there before the commit.
        let mut claimed = ops.clone();
        let old_key = fixture
            .keys
            .iter()
            .find(|k| !fixture.dels.contains(k))
            .unwrap();
        claimed.push(ProofOp {
            action: OpAction::Create,
            path: old_key.clone(),
            cid: Some(fixture.leaf),
            prev: None,
        });
        // (Its path lies outside the changed part of the tree, so the nodes to look it up are
        // not even in the proof.)
        assert!(
            matches!(
                check(&claimed),
                Err(ProofError::RootMismatch { .. }
                    | ProofError::OpMismatch { .. }
                    | ProofError::PathUnreadable { .. })
            ),
            "{}: {:?}",
            fixture.comment,
            check(&claimed)
        );

        // Leaving an op out.
        assert!(
            matches!(check(&ops[1..]), Err(ProofError::RootMismatch { .. })),
            "{}: {:?}",
            fixture.comment,
            check(&ops[1..])
        );

        // A create presented as an update from some other version.
        let mut altered = ops.clone();
        altered[0].action = OpAction::Update;
        altered[0].prev = Some(cid(
            "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
        ));
        assert!(
            matches!(check(&altered), Err(ProofError::RootMismatch { .. })),
            "{}: {:?}",
            fixture.comment,
            check(&altered)
        );

        // A create claiming another record CID than the tree holds.
        let mut wrong_cid = ops.clone();
        wrong_cid[0].cid = Some(fixture.before);
        assert!(matches!(
            check(&wrong_cid),
            Err(ProofError::OpMismatch { .. })
        ));

        // More ops than a commit may carry.
        let many: Vec<ProofOp> = (0..=crate::commit_proof::MAX_OPS)
            .map(|i| ProofOp {
                path: format!("fund.greenlight.pledge/3k{i:011}"),
                ..ops[0].clone()
            })
            .collect();
        assert_eq!(
            check(&many),
            Err(ProofError::TooManyOps {
                count: crate::commit_proof::MAX_OPS + 1
            })
        );

        // The same path twice.
        let mut twice = ops.clone();
        twice.push(ops[0].clone());
        assert!(matches!(
            check(&twice),
            Err(ProofError::DuplicatePath { .. })
        ));
    }
}

/// Generated commits over the example keys: for many random before-trees and op sets, undoing
/// the ops on the new tree's full blocks gives the old root, and updates work too.
#[test]
fn random_commits_over_the_example_keys_are_proven() {
    let keys: Vec<String> = fixture!("mst/example_keys.txt")
        .lines()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let values: Vec<Cid> = (0..4u8)
        .map(|i| crate::mst::cid_for_block(&[0xa1, 0x61, 0x61, i]))
        .collect();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % bound
    };
    for round in 0..200 {
        let mut before: Vec<(Vec<u8>, Cid)> = Vec::new();
        for key in &keys {
            if next(3) == 0 {
                before.push((key.as_bytes().to_vec(), values[next(4)]));
            }
        }
        let mut after = before.clone();
        let mut ops = Vec::new();
        for _ in 0..1 + next(6) {
            let key = &keys[next(keys.len())];
            if ops.iter().any(|op: &ProofOp| &op.path == key) {
                continue;
            }
            let at = after.iter().position(|(k, _)| k == key.as_bytes());
            let value = values[next(4)];
            match at {
                None => {
                    after.push((key.as_bytes().to_vec(), value));
                    ops.push(ProofOp {
                        action: OpAction::Create,
                        path: key.clone(),
                        cid: Some(value),
                        prev: None,
                    });
                }
                Some(at) if next(2) == 0 => {
                    let (_, prev) = after.remove(at);
                    ops.push(ProofOp {
                        action: OpAction::Delete,
                        path: key.clone(),
                        cid: None,
                        prev: Some(prev),
                    });
                }
                Some(at) => {
                    let prev = std::mem::replace(&mut after[at].1, value);
                    ops.push(ProofOp {
                        action: OpAction::Update,
                        path: key.clone(),
                        cid: Some(value),
                        prev: Some(prev),
                    });
                }
            }
        }
        let (before_root, _) = build::tree(&before);
        let (after_root, blocks) = build::tree(&after);
        let blocks = blocks_of(&blocks);
        assert_eq!(
            verify_ops(&blocks, &after_root, &before_root, &ops),
            Ok(()),
            "round {round}"
        );
        // The whole new tree can be read back, and reports every record.
        let mut tree = PartialTree::load(&blocks, &after_root).unwrap();
        for (key, value) in &after {
            assert_eq!(tree.get(key).unwrap(), Some(*value));
        }
        assert_eq!(tree.root().unwrap(), after_root);
    }
}

#[test]
fn a_commit_frame_carries_prev_data_and_the_ops_prev() {
    use crate::test_fixtures::{cid_of, commit_block, message};
    use crate::{verify_commit, Frame};
    use ipld_core::ipld;
    use ipld_core::ipld::Ipld;

    let record = cid_of(b"record");
    let old = cid_of(b"old record");
    let prev_data = cid_of(b"old mst root");
    let (block, _) = commit_block("did:plc:alice", &cid_of(b"root"), "3kzzz", &[9; 64]);
    let body = |prev: Ipld| {
        ipld!({
            "seq": 1, "repo": "did:plc:alice", "commit": Ipld::Link(cid_of(&block)), "rev": "3kzzz",
            "since": null, "time": "2025-01-01T00:00:00.000Z", "tooBig": false, "rebase": false,
            "blobs": [], "blocks": Ipld::Bytes(car(&[cid_of(&block)], std::slice::from_ref(&block))),
            "ops": [
                {"action": "create", "path": "fund.greenlight.estimate/3k1", "cid": Ipld::Link(record)},
                {"action": "update", "path": "fund.greenlight.estimate/3k2", "cid": Ipld::Link(record), "prev": Ipld::Link(old)},
                {"action": "delete", "path": "fund.greenlight.pledge/3k3", "cid": null, "prev": Ipld::Link(old)},
            ],
            "prevData": prev,
        })
    };
    let Ok(Frame::Commit(commit)) =
        Frame::decode(&message("#commit", &body(Ipld::Link(prev_data))))
    else {
        panic!("not a commit");
    };
    assert_eq!(commit.prev_data, Some(prev_data.to_string()));
    let ops: Vec<ProofOp> = commit
        .ops
        .iter()
        .map(|op| ProofOp::of(op).unwrap())
        .collect();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0].prev, None);
    assert_eq!(ops[1].prev, Some(old));
    assert_eq!(ops[2].cid, None);

    // Sync 1.0 producers leave `prevData` out (or null): such a commit cannot be proven.
    let Ok(Frame::Commit(old_style)) = Frame::decode(&message("#commit", &body(Ipld::Null))) else {
        panic!("not a commit");
    };
    assert_eq!(old_style.prev_data, None);
    assert_eq!(
        verify_commit(&old_style, &cid_of(b"root")),
        Err(ProofError::NoPrevData)
    );
}

/// Time per proof of a one-op commit in a repo of 10,000 records (`cargo test --release -p
/// greenlight-firehose proof_throughput -- --ignored --nocapture`).
#[test]
#[ignore]
fn proof_throughput() {
    let value = crate::mst::cid_for_block(b"record");
    let keys: Vec<(Vec<u8>, Cid)> = (0..10_000)
        .map(|i| (format!("app.bsky.feed.post/3k{i:011}").into_bytes(), value))
        .collect();
    let (before, _) = build::tree(&keys);
    let mut after_keys = keys.clone();
    let new_key = b"fund.greenlight.pledge/3kzzzzzzzzzzz".to_vec();
    after_keys.push((new_key.clone(), value));
    let (after, blocks) = build::tree(&after_keys);
    // All of the new tree's nodes; the proof opens only those on the new key's path (as a real
    // frame carries them), and finding a block is a binary search either way.
    let frame_blocks = blocks_of(&blocks);
    let ops = vec![ProofOp {
        action: OpAction::Create,
        path: String::from_utf8(new_key).unwrap(),
        cid: Some(value),
        prev: None,
    }];
    let rounds = 2_000;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        verify_ops(&frame_blocks, &after, &before, &ops).unwrap();
    }
    println!("{:?} per one-op proof", started.elapsed() / rounds);
}

/// Nodes that hash correctly but are not a valid MST (a hostile repo signs whatever it likes)
/// are refused with a reason, never a panic or a loop.
#[test]
fn hostile_nodes_are_refused() {
    use crate::mst::{cid_for_block, encode_node};
    use crate::test_fixtures::dagcbor;
    use ipld_core::ipld;
    use ipld_core::ipld::Ipld;

    let value = cid_for_block(b"record");
    // Keys of height 0 and of height 1 from the fixtures.
    let (low_a, low_b, high) = (b"A0/374913".to_vec(), b"C0/451630".to_vec(), b"B1/986427");
    let check = |block: Vec<u8>, extra: Vec<Vec<u8>>, words: &str| {
        let root = cid_for_block(&block);
        let mut all = vec![block];
        all.extend(extra);
        let blocks = blocks_of(&all);
        let result = PartialTree::load(&blocks, &root).and_then(|mut tree| {
            tree.get(b"B0/601692")?;
            tree.root()
        });
        match result {
            Err(MstError::BadNode { reason, .. }) => assert!(reason.contains(words), "{reason}"),
            other => panic!("expected a bad node ({words}), got {other:?}"),
        }
    };
    check(
        encode_node(
            None,
            &[(low_b.clone(), value, None), (low_a.clone(), value, None)],
        )
        .unwrap(),
        vec![],
        "strictly increasing",
    );
    check(
        encode_node(
            None,
            &[(low_a.clone(), value, None), (high.to_vec(), value, None)],
        )
        .unwrap(),
        vec![],
        "height",
    );
    let leaf = encode_node(None, &[(low_b.clone(), value, None)]).unwrap();
    check(
        encode_node(None, &[(low_a.clone(), value, Some(cid_for_block(&leaf)))]).unwrap(),
        vec![leaf],
        "layer 0",
    );
    // A child whose keys lie outside its parent's range.
    let child = encode_node(None, &[(low_b.clone(), value, None)]).unwrap();
    check(
        encode_node(Some(cid_for_block(&child)), &[(high.to_vec(), value, None)]).unwrap(),
        vec![child],
        "out of order",
    );
    // Not a node at all, and a prefix longer than the previous key.
    check(dagcbor(&ipld!({"e": "nope", "l": null})), vec![], "`e`");
    check(
        dagcbor(&ipld!({"l": null, "e": [
            {"p": 5, "k": Ipld::Bytes(b"x".to_vec()), "v": Ipld::Link(value), "t": null}
        ]})),
        vec![],
        "prefix",
    );
}
