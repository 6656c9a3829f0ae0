//! The batching writer against a real Postgres: an event the database refuses is isolated and
//! kept as a rejected event, and the rest of its batch and the cursor go on.

use std::time::Duration;

use greenlight_indexer::cursor::stored_cursor;
use greenlight_indexer::event::{EventBody, RecordAction, RecordOp, SourceEvent, ValidRecord};
use greenlight_indexer::metrics::Metrics;
use greenlight_indexer::pipeline::{channel, run_writer, BatchConfig};
use greenlight_indexer::record_rules::RecordRules;
use greenlight_indexer::writer::Writer;
use serde_json::json;
use sqlx::PgPool;

const PROPOSAL: &str = "at://did:plc:other/fund.greenlight.proposal/3kaaaaaaaaaaa";
const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

fn put(cursor: i64, did: &str, cid: &str) -> SourceEvent {
    let body = json!({
        "$type": "fund.greenlight.estimate",
        "subject": {"uri": PROPOSAL, "cid": CID},
        "amount": 100,
        "currency": "USD",
        "createdAt": "2025-01-01T00:00:00Z",
    });
    let rkey = "3kbbbbbbbbbbb";
    let fields = RecordRules::embedded()
        .unwrap()
        .check("fund.greenlight.estimate", rkey, &body)
        .unwrap();
    SourceEvent {
        cursor: Some(cursor),
        body: EventBody::Records(vec![RecordOp {
            did: did.into(),
            collection: "fund.greenlight.estimate".into(),
            rkey: rkey.into(),
            rev: "3kaaaaaaaaab2".into(),
            action: RecordAction::Put(Box::new(ValidRecord {
                cid: cid.into(),
                body,
                fields,
            })),
        }]),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_event_postgres_refuses_is_kept_as_rejected_and_the_batch_goes_on(pool: PgPool) {
    let config = BatchConfig {
        max_events: 100,
        linger: Duration::from_millis(50),
        channel_capacity: 100,
    };
    let (tx, rx) = channel(&config);
    // A NUL cannot be stored in a text column: Postgres refuses the whole statement.
    for event in [
        put(1, "did:plc:aaa", CID),
        put(2, "did:plc:bbb", "bafy\0nul"),
        put(3, "did:plc:ccc", CID),
    ] {
        tx.send(event).await.unwrap();
    }
    drop(tx);
    let writer = Writer::new(pool.clone(), "test");
    let started = std::time::Instant::now();
    let totals = run_writer(rx, writer, config, Metrics::new()).await;
    // Data errors split at once rather than being retried.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(totals.puts, 2);
    let stored: Vec<String> = sqlx::query_scalar("SELECT did FROM appview.record ORDER BY did")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored, ["did:plc:aaa", "did:plc:ccc"]);
    let rejected: Vec<(Option<i64>, String)> =
        sqlx::query_as("SELECT position, reason FROM appview.rejected_event")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].0, Some(2));
    assert!(rejected[0].1.contains("database refused"), "{rejected:?}");
    assert_eq!(stored_cursor(&pool, "test").await.unwrap(), Some(3));
}
