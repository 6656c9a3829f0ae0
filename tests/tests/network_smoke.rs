//! The local atproto network works end to end: records written to the reference PDS come
//! out of its firehose and decode with `greenlight-firehose`.

use std::time::Duration;

use futures_util::StreamExt;
use greenlight_firehose::{Frame, OpAction};
use greenlight_tests::network::TestNetwork;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const PROPOSAL: &str = "fund.greenlight.proposal";

type Firehose =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads frames until `pick` returns something, failing after `within`.
async fn next_matching<T>(
    firehose: &mut Firehose,
    within: Duration,
    mut pick: impl FnMut(Frame) -> Option<T>,
) -> T {
    let search = async {
        while let Some(message) = firehose.next().await {
            match message.expect("firehose read") {
                Message::Binary(bytes) => {
                    let frame = Frame::decode(&bytes).expect("firehose frame decodes");
                    if let Some(found) = pick(frame) {
                        return found;
                    }
                }
                Message::Close(close) => panic!("firehose closed: {close:?}"),
                _ => {}
            }
        }
        panic!("firehose ended");
    };
    tokio::time::timeout(within, search)
        .await
        .unwrap_or_else(|_| panic!("no matching firehose frame within {within:?}"))
}

#[tokio::test]
async fn a_proposal_written_to_the_pds_arrives_on_its_firehose() {
    let network = TestNetwork::start().await.expect("network starts");
    let (mut firehose, _) = tokio_tungstenite::connect_async(network.firehose_url())
        .await
        .expect("firehose connects");

    let alice = network.create_account("alice").await.expect("account");
    assert!(alice.did.starts_with("did:plc:"), "{}", alice.did);
    assert!(alice.handle.ends_with(".test"), "{}", alice.handle);

    // The new account announces itself first; seeing that proves the subscription is live
    // before the record is written.
    let identity_did = next_matching(
        &mut firehose,
        Duration::from_secs(20),
        |frame| match frame {
            Frame::Identity(identity) if identity.did == alice.did => Some(identity.did),
            _ => None,
        },
    )
    .await;
    assert_eq!(identity_did, alice.did);

    let title = "Offline mode for widget";
    let proposal = json!({
        "$type": PROPOSAL,
        "subject": {
            "$type": "fund.greenlight.proposal#repository",
            "url": "https://github.com/example/widget",
        },
        "title": title,
        "body": "Let widget work without a network connection, syncing when it comes back.",
        "createdAt": "2025-01-15T10:00:00.000Z",
    });
    let created = network
        .create_record(&alice, PROPOSAL, proposal)
        .await
        .expect("createRecord");
    let path = format!("{PROPOSAL}/{}", created.rkey());

    let (op_cid, record) = next_matching(&mut firehose, Duration::from_secs(20), |frame| {
        let Frame::Commit(commit) = frame else {
            return None;
        };
        if commit.repo != alice.did {
            return None;
        }
        let op = commit
            .ops
            .iter()
            .find(|op| op.action == OpAction::Create && op.path == path)?;
        let record = commit
            .record(op)
            .expect("record block decodes")
            .expect("a create carries its record");
        Some((op.cid.clone(), record))
    })
    .await;

    assert_eq!(op_cid.as_deref(), Some(created.cid.as_str()));
    assert_eq!(record["$type"], PROPOSAL);
    assert_eq!(record["title"], title);
    assert_eq!(
        record["subject"]["url"],
        "https://github.com/example/widget"
    );

    network.stop().await.expect("network stops cleanly");
}

#[tokio::test]
async fn two_networks_run_side_by_side_and_records_round_trip() {
    let (first, second) = tokio::join!(TestNetwork::start(), TestNetwork::start());
    let (first, second) = (
        first.expect("first network"),
        second.expect("second network"),
    );
    assert_ne!(first.pds_url(), second.pds_url());
    assert_ne!(first.plc_url(), second.plc_url());
    assert_ne!(first.data_dir(), second.data_dir());

    let bob = first.create_account("bob").await.expect("bob");
    let carol = second
        .create_account("bob")
        .await
        .expect("same prefix elsewhere");
    let bob2 = first.create_account("bob").await.expect("second bob");
    assert_ne!(bob.handle, bob2.handle, "handles are unique per call");
    assert_ne!(bob.did, carol.did);

    // Each PDS knows only its own accounts.
    let collection = "fund.greenlight.estimate";
    let estimate =
        json!({"amount": 2500, "currency": "USD", "createdAt": "2025-01-15T10:00:00.000Z"});
    let put = first
        .put_record(&bob, collection, "self", estimate.clone())
        .await
        .expect("putRecord");
    assert_eq!(put.rkey(), "self");
    assert_eq!(put.collection(), collection);

    let read = first
        .get_record(&bob.did, collection, "self")
        .await
        .expect("getRecord")
        .expect("record exists");
    assert_eq!(read.cid.as_deref(), Some(put.cid.as_str()));
    assert_eq!(read.value["amount"], 2500);
    assert_eq!(read.value["$type"], Value::from(collection));
    let elsewhere = second.get_record(&bob.did, collection, "self").await;
    assert!(
        !matches!(elsewhere, Ok(Some(_))),
        "the second PDS must not have bob's record"
    );

    let updated = first
        .put_record(
            &bob,
            collection,
            "self",
            json!({"amount": 4000, "currency": "USD", "createdAt": "2025-01-16T10:00:00.000Z"}),
        )
        .await
        .expect("putRecord again");
    assert_ne!(updated.cid, put.cid);

    first
        .delete_record(&bob, collection, "self")
        .await
        .expect("deleteRecord");
    let gone = first
        .get_record(&bob.did, collection, "self")
        .await
        .expect("getRecord after delete");
    assert!(gone.is_none(), "deleted record still readable: {gone:?}");

    let (a, b) = tokio::join!(first.stop(), second.stop());
    a.expect("first stops");
    b.expect("second stops");
}
