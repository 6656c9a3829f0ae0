//! The indexer on the real local network (PDS + PLC): records of every collection created,
//! updated and deleted on the PDS show up in Postgres through the raw firehose and through
//! Jetstream; hostile records and frames are rejected with their reasons while the stream
//! goes on.

use greenlight_indexer::service::SourceKind;
use greenlight_indexer::source::jetstream::uncompressed_url;
use greenlight_tests::jetstream_standin::{compress_message, JetstreamStandin};
use greenlight_tests::network::{Account, RecordRef, TestNetwork};
use greenlight_tests::relay_standin::{forged_commit_frame, RelayStandin};
use greenlight_tests::scratch_database::ScratchDatabase;
use serde_json::{json, Value};
use sqlx::PgPool;

// The indexer's own test support: the same in-process indexer and polling.
#[path = "../../indexer/tests/support/mod.rs"]
mod support;

use support::{eventually, local_identity, Indexer};

const SOURCE: &str = "test-source";

/// An indexer running in this process, following `source` with identities of `net`.
async fn start(pool: &PgPool, net: &TestNetwork, source: SourceKind) -> Indexer {
    let identity = local_identity(net.plc_url(), Some(net.pds_url()));
    Indexer::start(pool, SOURCE, source, identity).await
}

async fn setup(purpose: &str) -> (TestNetwork, ScratchDatabase, PgPool) {
    let net = TestNetwork::start().await.unwrap();
    let db = ScratchDatabase::create(purpose).await.unwrap();
    let pool = greenlight_store::open(&db.url, 4).await.unwrap();
    (net, db, pool)
}

async fn row(
    pool: &PgPool,
    uri: &str,
) -> Option<(
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
)> {
    sqlx::query_as("SELECT cid, amount, currency, subject_uri, stage, hidden FROM appview.record WHERE uri = $1")
        .bind(uri)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn cid_of(pool: &PgPool, uri: &str) -> Option<String> {
    row(pool, uri).await.map(|r| r.0)
}

fn strong_ref(r: &RecordRef) -> Value {
    json!({"uri": r.uri, "cid": r.cid})
}

const NOW: &str = "2025-06-01T12:00:00.000Z";

/// Writes one record of every collection, updates two and deletes two, and checks that the
/// database follows; then deactivates and reactivates an account.
async fn crud_round(net: &TestNetwork, pool: &PgPool, owner: &Account, backer: &Account) {
    let project = net
        .put_record(owner, "fund.greenlight.project", "greenlight", json!({
            "name": "Greenlight", "description": "Funding features.",
            "repository": "https://example.com/greenlight.git", "currency": "EUR", "createdAt": NOW,
        }))
        .await
        .unwrap();
    let proposal = net
        .create_record(backer, "fund.greenlight.proposal", json!({
            "subject": {"$type": "com.atproto.repo.strongRef", "uri": project.uri, "cid": project.cid},
            "title": "Offline sync", "body": "Please.", "createdAt": NOW,
        }))
        .await
        .unwrap();
    let estimate = net
        .create_record(backer, "fund.greenlight.estimate", json!({
            "subject": strong_ref(&proposal), "amount": 2500, "currency": "EUR", "createdAt": NOW,
        }))
        .await
        .unwrap();
    let status = net
        .create_record(owner, "fund.greenlight.status", json!({
            "subject": strong_ref(&proposal),
            "stage": {"$type": "fund.greenlight.status#development", "goal": 100000, "currency": "EUR"},
            "createdAt": NOW,
        }))
        .await
        .unwrap();
    let pledge = net
        .create_record(
            backer,
            "fund.greenlight.pledge",
            json!({
                "subject": strong_ref(&proposal), "amount": 1500, "currency": "EUR",
                "receipt": "pl_123", "createdAt": NOW,
            }),
        )
        .await
        .unwrap();
    let dispute = net
        .create_record(
            backer,
            "fund.greenlight.dispute",
            json!({
                "subject": strong_ref(&proposal), "reason": "Not delivered.", "createdAt": NOW,
            }),
        )
        .await
        .unwrap();
    for created in [&project, &proposal, &estimate, &status, &pledge, &dispute] {
        eventually(&format!("{} indexed", created.uri), || async {
            cid_of(pool, &created.uri).await.as_deref() == Some(created.cid.as_str())
        })
        .await;
    }
    let (_, amount, currency, subject, _, hidden) = row(pool, &estimate.uri).await.unwrap();
    assert_eq!(
        (amount, currency.as_deref(), subject.as_deref(), hidden),
        (Some(2500), Some("EUR"), Some(proposal.uri.as_str()), false)
    );
    let (_, goal, _, _, stage, _) = row(pool, &status.uri).await.unwrap();
    assert_eq!(
        (goal, stage.as_deref()),
        (Some(100000), Some("fund.greenlight.status#development"))
    );
    assert_eq!(
        row(pool, &project.uri).await.unwrap().2.as_deref(),
        Some("EUR")
    );

    // Updates.
    let estimate2 = net
        .put_record(backer, "fund.greenlight.estimate", estimate.rkey(), json!({
            "subject": strong_ref(&proposal), "amount": 4000, "currency": "EUR", "createdAt": NOW,
        }))
        .await
        .unwrap();
    let project2 = net
        .put_record(owner, "fund.greenlight.project", "greenlight", json!({
            "name": "Greenlight 2", "description": "Funding features.",
            "repository": "https://example.com/greenlight.git", "currency": "EUR", "createdAt": NOW,
        }))
        .await
        .unwrap();
    // Deletes.
    net.delete_record(backer, "fund.greenlight.pledge", pledge.rkey())
        .await
        .unwrap();
    net.delete_record(backer, "fund.greenlight.dispute", dispute.rkey())
        .await
        .unwrap();
    eventually("updates and deletes indexed", || async {
        cid_of(pool, &estimate2.uri).await.as_deref() == Some(estimate2.cid.as_str())
            && cid_of(pool, &project2.uri).await.as_deref() == Some(project2.cid.as_str())
            && cid_of(pool, &pledge.uri).await.is_none()
            && cid_of(pool, &dispute.uri).await.is_none()
    })
    .await;
    assert_eq!(row(pool, &estimate.uri).await.unwrap().1, Some(4000));
    let name: String =
        sqlx::query_scalar("SELECT body->>'name' FROM appview.record WHERE uri = $1")
            .bind(&project.uri)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(name, "Greenlight 2");
    let tombstones: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record_tombstone")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(tombstones, 2);
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(total, 4, "project, proposal, estimate, status");

    // The handle cache follows #identity events.
    eventually("handle cached", || async {
        let handle: Option<Option<String>> =
            sqlx::query_scalar("SELECT handle FROM appview.actor WHERE did = $1")
                .bind(&backer.did)
                .fetch_optional(pool)
                .await
                .unwrap();
        handle.flatten().as_deref() == Some(backer.handle.as_str())
    })
    .await;

    // Deactivation hides the backer's records; reactivation brings them back.
    xrpc(net, backer, "com.atproto.server.deactivateAccount").await;
    eventually("backer's records hidden", || async {
        row(pool, &estimate.uri).await.is_some_and(|r| r.5)
    })
    .await;
    assert!(
        !row(pool, &status.uri).await.unwrap().5,
        "the owner's records stay visible"
    );
    xrpc(net, backer, "com.atproto.server.activateAccount").await;
    eventually("backer's records shown again", || async {
        row(pool, &estimate.uri).await.is_some_and(|r| !r.5)
            && row(pool, &proposal.uri).await.is_some_and(|r| !r.5)
    })
    .await;
}

async fn xrpc(net: &TestNetwork, account: &Account, nsid: &str) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/xrpc/{nsid}", net.pds_url()))
        .bearer_auth(&account.access_jwt);
    // activateAccount takes no body; deactivateAccount takes an (optional) object.
    if nsid.ends_with("deactivateAccount") {
        request = request.json(&json!({}));
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{nsid}: {}",
        response.text().await.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_ingest_follows_creates_updates_deletes_and_account_status() {
    let (net, db, pool) = setup("idxfirehose").await;
    let indexer = start(
        &pool,
        &net,
        SourceKind::Firehose {
            url: net.firehose_url(),
            verify_signatures: true,
        },
    )
    .await;
    let owner = net.create_account("owner").await.unwrap();
    let backer = net.create_account("backer").await.unwrap();
    crud_round(&net, &pool, &owner, &backer).await;
    let rejected: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.rejected_event")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        rejected, 0,
        "real, correctly signed commits are all accepted"
    );
    // A new account's #sync event queues its repo for backfill.
    let queued: Vec<String> = sqlx::query_scalar(
        "SELECT did FROM appview.backfill_repo WHERE state = 'pending' ORDER BY did",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut accounts = vec![owner.did.clone(), backer.did.clone()];
    accounts.sort();
    assert_eq!(queued, accounts);
    let totals = indexer.stop().await;
    assert!(totals.events > 0);
    // The cursor was stored with the last batch.
    let cursor: i64 =
        sqlx::query_scalar("SELECT position FROM appview.source_cursor WHERE source = $1")
            .bind(SOURCE)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(cursor > 0);
    pool.close().await;
    db.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_ingest_follows_the_same_changes_and_survives_reconnects_and_garbage() {
    let (net, db, pool) = setup("idxjetstream").await;
    let jetstream = JetstreamStandin::start(&net.firehose_url()).await.unwrap();
    let indexer = start(
        &pool,
        &net,
        SourceKind::Jetstream {
            url: jetstream.url(),
        },
    )
    .await;
    let owner = net.create_account("owner").await.unwrap();
    let backer = net.create_account("backer").await.unwrap();
    crud_round(&net, &pool, &owner, &backer).await;
    // The indexer asks for compression by default, so all of that came as zstd frames.
    assert!(
        jetstream.compressed_events_sent() > 0,
        "the records did not come through the compressed path"
    );

    // A malformed message, a zstd bomb and a corrupt zstd frame are each kept as a rejected
    // event without dropping the connection; a dropped connection resumes from the cursor.
    jetstream.send_raw("{this is not json");
    jetstream.send_raw(r#"{"did":"did:plc:x","time_us":"soon","kind":"commit"}"#);
    let bomb = compress_message(&vec![b' '; 64 * 1024 * 1024]).unwrap();
    assert!(bomb.len() < 64 * 1024, "a bomb is small on the wire");
    jetstream.send_raw_binary(bomb);
    let mut corrupt = compress_message(br#"{"did":"did:plc:x","kind":"commit"}"#).unwrap();
    corrupt.truncate(corrupt.len() - 3);
    jetstream.send_raw_binary(corrupt);
    jetstream.disconnect_all();
    let late = net
        .create_record(&backer, "fund.greenlight.estimate", json!({
            "subject": {"uri": format!("at://{}/fund.greenlight.proposal/3kaaaaaaaaaaa", owner.did), "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
            "amount": 700, "currency": "EUR", "createdAt": NOW,
        }))
        .await
        .unwrap();
    eventually("record written after the reconnect indexed", || async {
        cid_of(&pool, &late.uri).await.as_deref() == Some(late.cid.as_str())
    })
    .await;
    let malformed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM appview.rejected_event WHERE reason LIKE 'malformed Jetstream JSON%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(malformed >= 2, "{malformed} malformed messages recorded");
    for reason in [
        "Jetstream zstd frame decompresses to more than 4194304 bytes (it declares 67108864)",
        "corrupt Jetstream zstd frame%",
    ] {
        let kept: i64 =
            sqlx::query_scalar("SELECT count(*) FROM appview.rejected_event WHERE reason LIKE $1")
                .bind(reason)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(kept, 1, "rejected events like {reason:?}");
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 5, "no duplicates after the replay");
    indexer.stop().await;
    pool.close().await;
    db.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_without_compression_follows_text_messages() {
    let (net, db, pool) = setup("idxjetstreamtext").await;
    let jetstream = JetstreamStandin::start(&net.firehose_url()).await.unwrap();
    let indexer = start(
        &pool,
        &net,
        SourceKind::Jetstream {
            url: uncompressed_url(&jetstream.url()),
        },
    )
    .await;
    let owner = net.create_account("owner").await.unwrap();
    let project = net
        .put_record(
            &owner,
            "fund.greenlight.project",
            "plain",
            json!({
                "name": "Plain", "description": "Text messages only.",
                "repository": "https://example.com/plain.git", "currency": "EUR", "createdAt": NOW,
            }),
        )
        .await
        .unwrap();
    eventually("project indexed from text messages", || async {
        cid_of(&pool, &project.uri).await.as_deref() == Some(project.cid.as_str())
    })
    .await;
    assert_eq!(jetstream.compressed_events_sent(), 0);
    indexer.stop().await;
    pool.close().await;
    db.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_records_and_frames_are_rejected_with_reasons_and_the_stream_goes_on() {
    let (net, db, pool) = setup("idxhostile").await;
    let relay = RelayStandin::start(&net.firehose_url()).await.unwrap();
    let indexer = start(
        &pool,
        &net,
        SourceKind::Firehose {
            url: relay.firehose_url(),
            verify_signatures: true,
        },
    )
    .await;
    let mallory = net.create_account("mallory").await.unwrap();
    let proposal_uri = format!(
        "at://{}/fund.greenlight.proposal/3kaaaaaaaaaaa",
        mallory.did
    );
    let cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
    let estimate = |amount: Value, currency: &str, uri: &str| json!({"subject": {"uri": uri, "cid": cid}, "amount": amount, "currency": currency, "createdAt": NOW});
    // (collection, rkey or None for a TID, record, expected words in the reason)
    let hostile: Vec<(&str, Option<&str>, Value, &str)> = vec![
        (
            "fund.greenlight.estimate",
            None,
            estimate(json!("lots"), "USD", &proposal_uri),
            "$.amount",
        ),
        (
            "fund.greenlight.estimate",
            None,
            estimate(json!(-100), "USD", &proposal_uri),
            "$.amount",
        ),
        (
            "fund.greenlight.pledge",
            None,
            json!({"subject": {"uri": proposal_uri, "cid": cid}, "amount": 1_000_000_000_000_000i64, "currency": "USD", "receipt": "r", "createdAt": NOW}),
            "$.amount",
        ),
        (
            "fund.greenlight.estimate",
            None,
            estimate(json!(100), "usd", &proposal_uri),
            "ISO 4217",
        ),
        (
            "fund.greenlight.estimate",
            None,
            estimate(json!(100), "USD", "not a uri"),
            "$.subject.uri",
        ),
        (
            "fund.greenlight.estimate",
            None,
            estimate(
                json!(100),
                "USD",
                &proposal_uri.replace("proposal", "project"),
            ),
            "expected a fund.greenlight.proposal",
        ),
        (
            "fund.greenlight.proposal",
            None,
            json!({"subject": {"$type": "fund.greenlight.proposal#repository", "url": "https://example.com/x"}, "title": "t".repeat(5000), "body": "", "createdAt": NOW}),
            "$.title",
        ),
        (
            "fund.greenlight.dispute",
            None,
            json!({"subject": {"uri": proposal_uri, "cid": cid}, "createdAt": NOW}),
            "$.reason",
        ),
        (
            "fund.greenlight.estimate",
            Some("not-a-tid"),
            estimate(json!(100), "USD", &proposal_uri),
            "must be a TID",
        ),
        (
            "fund.greenlight.nonsense",
            None,
            json!({"createdAt": NOW}),
            "not a Greenlight record collection",
        ),
    ];
    let mut uris = Vec::new();
    for (collection, rkey, record, _) in &hostile {
        let written = match rkey {
            Some(rkey) => {
                net.put_record(&mallory, collection, rkey, record.clone())
                    .await
            }
            None => {
                net.create_record(&mallory, collection, record.clone())
                    .await
            }
        };
        uris.push(written.unwrap().uri);
    }
    // Hostile frames from the "relay": garbage, a truncated frame, a commit whose signature is
    // not the repo's.
    relay.inject(vec![0xff, 0x00, 0x13, 0x37]);
    let forged = forged_commit_frame(
        &mallory.did,
        "3kzzzzzzzzzzz",
        1,
        "fund.greenlight.estimate",
        "3kzzzzzzzzzzz",
        &json!({"$type": "fund.greenlight.estimate", "subject": {"uri": proposal_uri, "cid": cid}, "amount": 100, "currency": "USD", "createdAt": NOW}),
    )
    .unwrap();
    relay.inject(forged[..forged.len() / 2].to_vec());
    relay.inject(forged.clone());
    // And the stream goes on: a valid record afterwards is indexed.
    let valid = net
        .create_record(
            &mallory,
            "fund.greenlight.estimate",
            estimate(json!(100), "USD", &proposal_uri),
        )
        .await
        .unwrap();
    eventually("valid record after the hostile ones indexed", || async {
        cid_of(&pool, &valid.uri).await.is_some()
    })
    .await;
    eventually("hostile frames recorded", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.rejected_event")
            .fetch_one(&pool)
            .await
            .unwrap();
        n >= 3
    })
    .await;
    for (uri, (_, _, _, expected)) in uris.iter().zip(&hostile) {
        let reason: Option<String> =
            sqlx::query_scalar("SELECT reason FROM appview.rejected_record WHERE uri = $1")
                .bind(uri)
                .fetch_optional(&pool)
                .await
                .unwrap();
        let reason = reason.unwrap_or_else(|| panic!("{uri} was not recorded as rejected"));
        assert!(
            reason.contains(expected),
            "{uri}: {reason:?} should mention {expected:?}"
        );
        assert!(cid_of(&pool, uri).await.is_none(), "{uri} must not count");
    }
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM appview.rejected_event ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        reasons
            .iter()
            .filter(|r| r.starts_with("cannot decode frame"))
            .count()
            >= 2,
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("signature does not verify")),
        "{reasons:?}"
    );
    assert!(
        cid_of(
            &pool,
            &format!(
                "at://{}/fund.greenlight.estimate/3kzzzzzzzzzzz",
                mallory.did
            )
        )
        .await
        .is_none(),
        "the forged record must not be stored"
    );
    indexer.stop().await;
    pool.close().await;
    db.drop_now().await.unwrap();
}
