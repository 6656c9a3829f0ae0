//! Sync 1.1 commit proofs on the real local network (reference PDS + PLC): the PDS's own commits
//! are proven and indexed, while a genuinely signed commit that a "relay" hands on with a
//! made-up op, or without its `prevData`, stores nothing, is recorded as rejected with its
//! reason, and queues its repo for backfill.
//!
//! Needs the local network: `. scripts/node-env` and a Postgres (`DATABASE_URL`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use greenlight_firehose::test_fixtures::{car, cid_of, dagcbor};
use greenlight_firehose::{Blocks, Frame};
use greenlight_indexer::service::SourceKind;
use greenlight_tests::network::{Account, TestNetwork};
use greenlight_tests::relay_standin::RelayStandin;
use greenlight_tests::scratch_database::ScratchDatabase;
use ipld_core::ipld::Ipld;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{eventually, local_identity, rejections, Indexer};

const SOURCE: &str = "proof-test";
const NOW: &str = "2025-06-01T12:00:00.000Z";
const SOME_CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

async fn stored_cid(pool: &PgPool, uri: &str) -> Option<String> {
    sqlx::query_scalar("SELECT cid FROM appview.record WHERE uri = $1")
        .bind(uri)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Reads the PDS's firehose from the start until the `#commit` that wrote `path` in `did`'s
/// repo, and returns that frame's bytes as sent.
async fn capture_commit(net: &TestNetwork, did: &str, path: &str) -> Result<Vec<u8>> {
    let url = format!("{}?cursor=0", net.firehose_url());
    let (mut stream, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(message) = stream.next().await {
            let Message::Binary(bytes) = message? else {
                continue;
            };
            if let Ok(Frame::Commit(commit)) = Frame::decode(&bytes) {
                if commit.repo == did && commit.ops.iter().any(|op| op.path == path) {
                    return Ok(bytes.to_vec());
                }
            }
        }
        anyhow::bail!("the firehose ended before the commit of {path}")
    })
    .await
    .context("waiting for the commit on the firehose")?;
    found
}

/// A frame's header and body as generic DAG-CBOR values.
fn split_frame(frame: &[u8]) -> (Ipld, BTreeMap<String, Ipld>) {
    let mut deserializer = serde_ipld_dagcbor::de::Deserializer::from_slice(frame);
    let header = Ipld::deserialize(&mut deserializer).unwrap();
    let Ipld::Map(body) = Ipld::deserialize(&mut deserializer).unwrap() else {
        panic!("the body is not a map");
    };
    (header, body)
}

fn join_frame(header: &Ipld, body: BTreeMap<String, Ipld>) -> Vec<u8> {
    let mut out = dagcbor(header);
    out.extend_from_slice(&dagcbor(&Ipld::Map(body)));
    out
}

/// The genuine frame with one more op, creating `path` with `record`, whose block is added to
/// the CAR; the signed commit block and everything else stay as the PDS sent them.
fn with_forged_op(frame: &[u8], path: &str, record: &Value) -> Vec<u8> {
    let (header, mut body) = split_frame(frame);
    let record = dagcbor(record);
    let Some(Ipld::List(ops)) = body.get_mut("ops") else {
        panic!("no ops");
    };
    ops.push(Ipld::Map(BTreeMap::from([
        ("action".to_owned(), Ipld::String("create".to_owned())),
        ("path".to_owned(), Ipld::String(path.to_owned())),
        ("cid".to_owned(), Ipld::Link(cid_of(&record))),
        ("prev".to_owned(), Ipld::Null),
    ])));
    let Some(Ipld::Bytes(car_bytes)) = body.get("blocks") else {
        panic!("no blocks");
    };
    let blocks = Blocks::from_car(car_bytes.clone()).unwrap();
    let roots: Vec<_> = blocks
        .roots()
        .iter()
        .map(|root| greenlight_firehose::Cid::try_from(root.as_str()).unwrap())
        .collect();
    let mut all: Vec<Vec<u8>> = blocks.iter().map(|(_, block)| block.to_vec()).collect();
    all.push(record);
    body.insert("blocks".to_owned(), Ipld::Bytes(car(&roots, &all)));
    join_frame(&header, body)
}

/// The genuine frame without `prevData`, as a sync 1.0 producer (or a relay hiding a forgery)
/// would send it.
fn without_prev_data(frame: &[u8]) -> Vec<u8> {
    let (header, mut body) = split_frame(frame);
    assert!(
        body.remove("prevData").is_some(),
        "the reference PDS sends prevData"
    );
    join_frame(&header, body)
}

async fn estimate(net: &TestNetwork, account: &Account, proposal: &str) -> String {
    net.create_record(
        account,
        "fund.greenlight.estimate",
        json!({"subject": {"uri": proposal, "cid": SOME_CID}, "amount": 100, "currency": "USD", "createdAt": NOW}),
    )
    .await
    .unwrap()
    .uri
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_op_on_a_real_signed_commit_is_rejected_and_the_repo_queued() {
    let net = TestNetwork::start().await.unwrap();
    let db = ScratchDatabase::create("idxproof").await.unwrap();
    let pool = greenlight_store::open(&db.url, 4).await.unwrap();
    let relay = RelayStandin::start(&net.firehose_url()).await.unwrap();
    let source = SourceKind::Firehose {
        url: relay.firehose_url(),
        verify_signatures: true,
    };
    let identity = local_identity(net.plc_url(), Some(net.pds_url()));
    let indexer = Indexer::start(&pool, SOURCE, source, identity).await;

    let alice = net.create_account("alice").await.unwrap();
    let proposal = format!("at://{}/fund.greenlight.proposal/3kaaaaaaaaaaa", alice.did);

    // The PDS's own commits carry prevData and are proven: the record is indexed, nothing is
    // rejected, and nothing is queued.
    let genuine = estimate(&net, &alice, &proposal).await;
    eventually("the genuine estimate indexed", || async {
        stored_cid(&pool, &genuine).await.is_some()
    })
    .await;
    assert_eq!(rejections(&pool).await, vec![]);

    // The same signed commit, handed on with a pledge the repo never made.
    let path = genuine
        .strip_prefix(&format!("at://{}/", alice.did))
        .unwrap()
        .to_owned();
    let frame = capture_commit(&net, &alice.did, &path).await.unwrap();
    let pledge_path = "fund.greenlight.pledge/3kforgedpledg";
    let pledge_uri = format!("at://{}/{pledge_path}", alice.did);
    let forged = with_forged_op(
        &frame,
        pledge_path,
        &json!({"$type": "fund.greenlight.pledge", "subject": {"uri": proposal, "cid": SOME_CID}, "amount": 5000, "currency": "USD", "receipt": "forged", "createdAt": NOW}),
    );
    // The forgery is well-formed and still carries the repo's valid signature; only the proof
    // can tell.
    let Ok(Frame::Commit(decoded)) = Frame::decode(&forged) else {
        panic!("the forged frame does not decode");
    };
    assert_eq!(decoded.ops.len(), 2);
    assert!(matches!(decoded.record(&decoded.ops[1]), Ok(Some(_))));
    relay.inject(forged);

    eventually("the forged commit rejected", || async {
        rejections(&pool)
            .await
            .iter()
            .any(|(_, reason)| reason.contains("not proven"))
    })
    .await;
    let rejected = rejections(&pool).await;
    let (did, reason) = rejected
        .iter()
        .find(|(_, reason)| reason.contains("not proven"))
        .unwrap();
    assert_eq!(did.as_deref(), Some(alice.did.as_str()));
    assert!(reason.contains(pledge_path), "{reason}");
    assert!(
        !rejected
            .iter()
            .any(|(_, r)| r.contains("signature does not verify")),
        "the signature is the repo's own: {rejected:?}"
    );
    assert_eq!(
        stored_cid(&pool, &pledge_uri).await,
        None,
        "the forged pledge must not be stored"
    );
    let pledges: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM appview.record WHERE collection = 'fund.greenlight.pledge'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(pledges, 0);
    let queued: Option<String> =
        sqlx::query_scalar("SELECT state FROM appview.backfill_repo WHERE did = $1")
            .bind(&alice.did)
            .fetch_optional(&pool)
            .await
            .unwrap();
    assert_eq!(queued.as_deref(), Some("pending"));
    // The genuine record, proven by its genuine frame, stays.
    assert!(stored_cid(&pool, &genuine).await.is_some());

    // A frame without prevData cannot be proven: also rejected, also queued.
    let bob = net.create_account("bob").await.unwrap();
    let bobs = estimate(&net, &bob, &proposal).await;
    eventually("bob's estimate indexed", || async {
        stored_cid(&pool, &bobs).await.is_some()
    })
    .await;
    let path = bobs
        .strip_prefix(&format!("at://{}/", bob.did))
        .unwrap()
        .to_owned();
    let frame = capture_commit(&net, &bob.did, &path).await.unwrap();
    relay.inject(without_prev_data(&frame));
    eventually("the commit without prevData rejected", || async {
        rejections(&pool).await.iter().any(|(did, reason)| {
            did.as_deref() == Some(bob.did.as_str()) && reason.contains("no prevData")
        })
    })
    .await;
    eventually("bob's repo queued", || async {
        sqlx::query_scalar::<_, String>("SELECT state FROM appview.backfill_repo WHERE did = $1")
            .bind(&bob.did)
            .fetch_optional(&pool)
            .await
            .unwrap()
            .as_deref()
            == Some("pending")
    })
    .await;

    // And the stream goes on.
    let later = estimate(&net, &alice, &proposal).await;
    eventually("a later estimate indexed", || async {
        stored_cid(&pool, &later).await.is_some()
    })
    .await;

    indexer.stop().await;
    pool.close().await;
    db.drop_now().await.unwrap();
}
