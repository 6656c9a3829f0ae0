//! End-to-end decoding of hand-built frames, including hostile ones.

use ipld_core::ipld;
use ipld_core::ipld::Ipld;
use proptest::prelude::*;
use serde_json::json;

use crate::test_fixtures::{car, cid_of, commit_block, dagcbor, frame, message, CommitFixture};
use crate::{Commit, DecodeError, Frame, OpAction, RepoOp};

fn decode_commit(bytes: &[u8]) -> Commit {
    match Frame::decode(bytes).unwrap() {
        Frame::Commit(commit) => commit,
        other => panic!("expected a commit, got {other:?}"),
    }
}

#[test]
fn decodes_commit_fields_and_ops() {
    let fixture = CommitFixture::new();
    let commit = decode_commit(&fixture.frame());
    assert_eq!(commit.seq, 42);
    assert_eq!(commit.repo, "did:plc:alice");
    assert_eq!(commit.rev, "3kzzz");
    assert_eq!(commit.since.as_deref(), Some("3kyyy"));
    assert_eq!(commit.time, "2025-01-01T00:00:01.000Z");
    assert_eq!(commit.commit, fixture.commit_cid.to_string());
    assert!(!commit.too_big);
    assert_eq!(commit.blocks.roots(), &[fixture.commit_cid.to_string()]);
    assert_eq!(commit.blocks.len(), 3);
    assert_eq!(
        commit.ops,
        vec![
            RepoOp {
                action: OpAction::Create,
                path: "fund.greenlight.feature/3k1".to_owned(),
                cid: Some(cid_of(&fixture.record).to_string()),
                prev: None,
            },
            RepoOp {
                action: OpAction::Update,
                path: "fund.greenlight.estimate/3k2".to_owned(),
                cid: Some(cid_of(&fixture.updated).to_string()),
                prev: Some(cid_of(b"old").to_string()),
            },
            RepoOp {
                action: OpAction::Delete,
                path: "fund.greenlight.pledge/3k3".to_owned(),
                cid: None,
                prev: None,
            },
        ]
    );
    assert_eq!(
        commit.ops[0].collection_and_rkey(),
        Some(("fund.greenlight.feature", "3k1"))
    );
    assert_eq!(Frame::decode(&fixture.frame()).unwrap().seq(), Some(42));
}

#[test]
fn extracts_records_as_atproto_json() {
    let fixture = CommitFixture::new();
    let commit = decode_commit(&fixture.frame());
    assert_eq!(
        commit.record(&commit.ops[0]).unwrap(),
        Some(json!({
            "$type": "fund.greenlight.feature",
            "title": "Offline sync",
            "createdAt": "2025-01-01T00:00:00.000Z",
        }))
    );
    assert_eq!(
        commit.record(&commit.ops[1]).unwrap(),
        Some(json!({
            "$type": "fund.greenlight.estimate",
            "amount": 2500,
            "subject": {
                "uri": "at://did:plc:alice/fund.greenlight.feature/3k1",
                "cid": {"$link": cid_of(&fixture.record).to_string()},
            },
        }))
    );
    assert_eq!(commit.record(&commit.ops[2]).unwrap(), None);
}

#[test]
fn exposes_signed_commit() {
    let fixture = CommitFixture::new();
    let commit = decode_commit(&fixture.frame());
    let signed = commit.signed_commit().unwrap();
    assert_eq!(signed.did, "did:plc:alice");
    assert_eq!(signed.rev, "3kzzz");
    assert_eq!(signed.sig, vec![9; 64]);
    assert_eq!(signed.unsigned_bytes().unwrap(), fixture.unsigned);
}

#[test]
fn record_fails_when_block_is_missing() {
    let fixture = CommitFixture::new();
    // The CAR lacks the created record.
    let partial = car(
        &[fixture.commit_cid],
        &[fixture.commit_block.clone(), fixture.updated.clone()],
    );
    let commit = decode_commit(&message("#commit", &fixture.body_with_car(partial)));
    assert_eq!(
        commit.record(&commit.ops[0]),
        Err(DecodeError::BlockMissing {
            cid: cid_of(&fixture.record).to_string()
        })
    );
    assert!(commit.record(&commit.ops[1]).unwrap().is_some());
}

#[test]
fn record_fails_when_block_does_not_match_its_cid() {
    let fixture = CommitFixture::new();
    let mut tampered = fixture.car();
    let at = tampered
        .windows(b"Offline".len())
        .position(|w| w == b"Offline")
        .unwrap();
    tampered[at] = b'o';
    let commit = decode_commit(&message("#commit", &fixture.body_with_car(tampered)));
    assert_eq!(
        commit.record(&commit.ops[0]),
        Err(DecodeError::CidMismatch {
            cid: cid_of(&fixture.record).to_string()
        })
    );
}

#[test]
fn record_fails_when_block_is_not_dag_cbor() {
    let fixture = CommitFixture::new();
    let junk = vec![0xff, 0x00, 0x13];
    let mut body = fixture.body_with_car(car(&[fixture.commit_cid], std::slice::from_ref(&junk)));
    if let Ipld::Map(map) = &mut body {
        map.insert(
            "ops".to_owned(),
            ipld!([{"action": "create", "path": "a.b.c/1", "cid": Ipld::Link(cid_of(&junk))}]),
        );
    }
    let commit = decode_commit(&message("#commit", &body));
    assert!(matches!(
        commit.record(&commit.ops[0]),
        Err(DecodeError::NotDagCbor { what: "record", .. })
    ));
}

#[test]
fn create_without_cid_is_an_error() {
    let commit = decode_commit(&CommitFixture::new().frame());
    let op = RepoOp {
        action: OpAction::Create,
        path: "a.b.c/1".to_owned(),
        cid: None,
        prev: None,
    };
    assert_eq!(
        commit.record(&op),
        Err(DecodeError::OpWithoutCid {
            action: "create",
            path: "a.b.c/1".to_owned()
        })
    );
}

#[test]
fn too_big_commit_with_empty_blocks() {
    let fixture = CommitFixture::new();
    let mut body = fixture.body_with_car(Vec::new());
    if let Ipld::Map(map) = &mut body {
        map.insert("tooBig".to_owned(), Ipld::Bool(true));
        map.insert("ops".to_owned(), Ipld::List(vec![]));
        map.insert("since".to_owned(), Ipld::Null);
    }
    let commit = decode_commit(&message("#commit", &body));
    assert!(commit.too_big);
    assert!(commit.blocks.is_empty());
    assert_eq!(commit.since, None);
}

#[test]
fn decodes_identity_account_info() {
    let identity = message(
        "#identity",
        &ipld!({"seq": 7, "did": "did:plc:bob", "time": "2025-01-02T00:00:00Z", "handle": "bob.test"}),
    );
    match Frame::decode(&identity).unwrap() {
        Frame::Identity(identity) => {
            assert_eq!(identity.seq, 7);
            assert_eq!(identity.did, "did:plc:bob");
            assert_eq!(identity.time, "2025-01-02T00:00:00Z");
            assert_eq!(identity.handle.as_deref(), Some("bob.test"));
        }
        other => panic!("{other:?}"),
    }
    let no_handle = message(
        "#identity",
        &ipld!({"seq": 8, "did": "did:plc:bob", "time": "t"}),
    );
    assert!(matches!(Frame::decode(&no_handle).unwrap(), Frame::Identity(i) if i.handle.is_none()));

    let account = message(
        "#account",
        &ipld!({"seq": 9, "did": "did:plc:bob", "time": "t", "active": false, "status": "takendown"}),
    );
    match Frame::decode(&account).unwrap() {
        Frame::Account(account) => {
            assert_eq!(account.seq, 9);
            assert!(!account.active);
            assert_eq!(account.status.as_deref(), Some("takendown"));
        }
        other => panic!("{other:?}"),
    }

    let info = message(
        "#info",
        &ipld!({"name": "OutdatedCursor", "message": "too old"}),
    );
    match Frame::decode(&info).unwrap() {
        Frame::Info(info) => {
            assert_eq!(info.name, "OutdatedCursor");
            assert_eq!(info.message.as_deref(), Some("too old"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Frame::decode(&info).unwrap().seq(), None);
}

#[test]
fn decodes_sync_and_its_commit() {
    let (block, unsigned) = commit_block("did:plc:carol", &cid_of(b"root"), "3kaaa", &[1; 64]);
    let cid = cid_of(&block);
    let sync = message(
        "#sync",
        &ipld!({"seq": 11, "did": "did:plc:carol", "rev": "3kaaa", "time": "t",
                "blocks": Ipld::Bytes(car(&[cid], &[block]))}),
    );
    match Frame::decode(&sync).unwrap() {
        Frame::Sync(sync) => {
            assert_eq!(sync.seq, 11);
            assert_eq!(sync.did, "did:plc:carol");
            assert_eq!(sync.rev, "3kaaa");
            assert_eq!(sync.blocks.roots(), &[cid.to_string()]);
            let signed = sync.signed_commit().unwrap();
            assert_eq!(signed.rev, "3kaaa");
            assert_eq!(signed.unsigned_bytes().unwrap(), unsigned);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn decodes_error_frames() {
    let error = frame(
        &ipld!({"op": -1}),
        &ipld!({"error": "FutureCursor", "message": "cursor in the future"}),
    );
    assert_eq!(
        Frame::decode(&error).unwrap(),
        Frame::Error {
            error: "FutureCursor".to_owned(),
            message: Some("cursor in the future".to_owned())
        }
    );
    let bare = frame(&ipld!({"op": -1}), &ipld!({"error": "ConsumerTooSlow"}));
    assert_eq!(
        Frame::decode(&bare).unwrap(),
        Frame::Error {
            error: "ConsumerTooSlow".to_owned(),
            message: None
        }
    );
    let nameless = frame(&ipld!({"op": -1}), &ipld!({"message": "x"}));
    assert_eq!(
        Frame::decode(&nameless),
        Err(DecodeError::MissingField {
            frame: "error frame",
            field: "error"
        })
    );
}

#[test]
fn unknown_type_is_not_an_error() {
    let future = message("#labels", &ipld!({"seq": 1, "labels": [{"val": "x"}]}));
    assert_eq!(
        Frame::decode(&future).unwrap(),
        Frame::Unknown {
            t: "#labels".to_owned()
        }
    );
    // But a cut-off body still is.
    assert!(Frame::decode(&future[..future.len() - 1]).is_err());
}

#[test]
fn bad_headers() {
    assert_eq!(
        Frame::decode(&frame(&ipld!({"op": 2, "t": "#commit"}), &ipld!({}))),
        Err(DecodeError::UnknownOp(2))
    );
    assert_eq!(
        Frame::decode(&frame(&ipld!({"op": 1}), &ipld!({}))),
        Err(DecodeError::MissingType)
    );
    assert!(matches!(
        Frame::decode(&frame(&ipld!({"t": "#commit"}), &ipld!({}))),
        Err(DecodeError::BadHeader { reason }) if reason == "field `op` is missing"
    ));
    assert!(matches!(
        Frame::decode(&frame(&ipld!([1, "#commit"]), &ipld!({}))),
        Err(DecodeError::BadHeader { .. })
    ));
    assert!(matches!(
        Frame::decode(&frame(&ipld!({"op": "one", "t": "#commit"}), &ipld!({}))),
        Err(DecodeError::BadHeader { .. })
    ));
}

#[test]
fn empty_and_garbage_input() {
    assert_eq!(
        Frame::decode(&[]),
        Err(DecodeError::Truncated {
            what: "frame header"
        })
    );
    for garbage in [
        &[0xff][..],
        &[0x00, 0x01, 0x02],
        b"hello world",
        &[0xa2, 0x62, b'o', b'p', 0x01], // map of 2 with one entry
        &[0xbf, 0xff],                   // indefinite-length map
        &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // bytes of length 2^64-1
        &[0x9b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00], // array of length 2^36
    ] {
        assert!(Frame::decode(garbage).is_err(), "{garbage:?}");
    }
    // A header with no body at all.
    assert_eq!(
        Frame::decode(&dagcbor(&ipld!({"op": 1, "t": "#commit"}))),
        Err(DecodeError::Truncated { what: "#commit" })
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let mut deep = vec![0x81; 100_000]; // arrays of one element, nested
    deep.push(0x01);
    assert!(crate::dagcbor_to_json(&deep).is_err());
    let mut bytes = dagcbor(&ipld!({"op": 1, "t": "#future"}));
    bytes.extend_from_slice(&deep);
    assert!(Frame::decode(&bytes).is_err());
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = message("#info", &ipld!({"name": "x"}));
    bytes.push(0x00);
    assert!(matches!(
        Frame::decode(&bytes),
        Err(DecodeError::TrailingData { .. })
    ));
}

#[test]
fn every_truncation_of_every_frame_kind_fails() {
    let frames = [
        CommitFixture::new().frame(),
        message(
            "#identity",
            &ipld!({"seq": 7, "did": "did:plc:bob", "time": "t", "handle": "h"}),
        ),
        message(
            "#account",
            &ipld!({"seq": 9, "did": "d", "time": "t", "active": true}),
        ),
        message("#info", &ipld!({"name": "n"})),
        message("#labels", &ipld!({"seq": 1})),
        frame(&ipld!({"op": -1}), &ipld!({"error": "e"})),
    ];
    for bytes in &frames {
        assert!(Frame::decode(bytes).is_ok());
        for cut in 0..bytes.len() {
            let result = Frame::decode(&bytes[..cut]);
            assert!(
                matches!(result, Err(DecodeError::Truncated { .. })),
                "prefix of {cut} bytes gave {result:?}"
            );
        }
    }
}

#[test]
fn names_missing_and_mistyped_fields() {
    let fixture = CommitFixture::new();
    let mut body = fixture.body_with_car(fixture.car());
    if let Ipld::Map(map) = &mut body {
        map.remove("repo");
    }
    assert_eq!(
        Frame::decode(&message("#commit", &body)),
        Err(DecodeError::MissingField {
            frame: "#commit",
            field: "repo"
        })
    );

    let mut body = fixture.body_with_car(fixture.car());
    if let Ipld::Map(map) = &mut body {
        map.insert("seq".to_owned(), Ipld::String("42".to_owned()));
    }
    let err = Frame::decode(&message("#commit", &body)).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::InvalidField {
            frame: "#commit",
            field: "seq",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "#commit: field `seq` is invalid: expected i64, found a text string (initial byte 0x62)"
    );

    let mut body = fixture.body_with_car(fixture.car());
    if let Ipld::Map(map) = &mut body {
        map.insert(
            "ops".to_owned(),
            ipld!([{"action": "move", "path": "a/b", "cid": null}]),
        );
    }
    assert!(matches!(
        Frame::decode(&message("#commit", &body)),
        Err(DecodeError::InvalidField { frame: "#commit", field: "ops", reason }) if reason.contains("move")
    ));

    let mut body = fixture.body_with_car(fixture.car());
    if let Ipld::Map(map) = &mut body {
        map.insert("commit".to_owned(), Ipld::String("bafy...".to_owned()));
    }
    assert!(matches!(
        Frame::decode(&message("#commit", &body)),
        Err(DecodeError::InvalidField {
            frame: "#commit",
            field: "commit",
            ..
        })
    ));

    assert_eq!(
        Frame::decode(&message(
            "#account",
            &ipld!({"seq": 1, "did": "d", "time": "t"})
        )),
        Err(DecodeError::MissingField {
            frame: "#account",
            field: "active"
        })
    );
}

#[test]
fn commit_with_bad_car_fails() {
    let fixture = CommitFixture::new();
    // Header length claims far more than the CAR holds.
    let bad = vec![0xff, 0xff, 0x03, 0xa2];
    assert!(matches!(
        Frame::decode(&message("#commit", &fixture.body_with_car(bad))),
        Err(DecodeError::CarLengthExceedsInput { what: "header", .. })
    ));
}

/// Not a benchmark harness, just a floor: run with `--ignored --nocapture` to see the rate.
#[test]
#[ignore]
fn decode_throughput() {
    let bytes = CommitFixture::new().frame();
    let n = 50_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let commit = decode_commit(&bytes);
        for op in &commit.ops {
            std::hint::black_box(commit.record(op).unwrap());
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("{rate:.0} commit frames/s (decode + verify + JSON of 2 records)");
    assert!(rate > 20_000.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Frame::decode(&bytes);
        let _ = crate::dagcbor_to_json(&bytes);
        let _ = crate::Blocks::from_car(bytes);
    }

    #[test]
    fn corrupted_frames_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = CommitFixture::new().frame();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(Frame::Commit(commit)) = Frame::decode(&bytes) {
            for op in &commit.ops {
                let _ = commit.record(op);
            }
            if let Ok(signed) = commit.signed_commit() {
                let _ = signed.unsigned_bytes();
            }
        }
    }
}
