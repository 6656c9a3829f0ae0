//! The writer against a real Postgres: revision guards, deletes, rejects, hiding, the cursor
//! and the batch observer.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use greenlight_indexer::cursor::stored_cursor;
use greenlight_indexer::event::{EventBody, RecordAction, RecordOp, SourceEvent, ValidRecord};
use greenlight_indexer::record_rules::RecordRules;
use greenlight_indexer::writer::{BatchObserver, ChangeAction, RecordChange, Writer};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

const DID: &str = "did:plc:writertest";
const PROPOSAL: &str = "at://did:plc:other/fund.greenlight.proposal/3kaaaaaaaaaaa";
const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

fn estimate(rkey: &str, rev: &str, amount: i64) -> RecordOp {
    let body = json!({
        "$type": "fund.greenlight.estimate",
        "subject": {"uri": PROPOSAL, "cid": CID},
        "amount": amount,
        "currency": "USD",
        "createdAt": "2025-01-01T00:00:00Z",
    });
    let fields = RecordRules::embedded()
        .unwrap()
        .check("fund.greenlight.estimate", rkey, &body)
        .unwrap();
    RecordOp {
        did: DID.into(),
        collection: "fund.greenlight.estimate".into(),
        rkey: rkey.into(),
        rev: rev.into(),
        action: RecordAction::Put(Box::new(ValidRecord {
            cid: format!("cid-{rev}"),
            body,
            fields,
        })),
    }
}

fn delete(rkey: &str, rev: &str) -> RecordOp {
    RecordOp {
        did: DID.into(),
        collection: "fund.greenlight.estimate".into(),
        rkey: rkey.into(),
        rev: rev.into(),
        action: RecordAction::Delete,
    }
}

fn reject(rkey: &str, rev: &str) -> RecordOp {
    RecordOp {
        did: DID.into(),
        collection: "fund.greenlight.estimate".into(),
        rkey: rkey.into(),
        rev: rev.into(),
        action: RecordAction::Reject {
            cid: Some("bafybad".into()),
            body: Some(json!({"amount": -1, "note": "nul \u{0} inside"})),
            reason: "lexicon: $.amount: too small".into(),
        },
    }
}

fn records(cursor: i64, ops: Vec<RecordOp>) -> SourceEvent {
    SourceEvent {
        cursor: Some(cursor),
        body: EventBody::Records(ops),
    }
}

fn account(cursor: i64, active: bool) -> SourceEvent {
    SourceEvent {
        cursor: Some(cursor),
        body: EventBody::Account {
            did: DID.into(),
            active,
            status: (!active).then(|| "deactivated".into()),
        },
    }
}

const RKEY: &str = "3kbbbbbbbbbbb";

async fn amount(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar::<_, Option<i64>>("SELECT amount FROM appview.record WHERE rkey = $1")
        .bind(RKEY)
        .fetch_optional(pool)
        .await
        .unwrap()
        .flatten()
}

#[sqlx::test(migrations = "../migrations")]
async fn revisions_decide_and_replays_change_nothing(pool: PgPool) {
    let writer = Writer::new(pool.clone(), "test");
    let out = writer
        .write_batch(&[records(1, vec![estimate(RKEY, "3kaaaaaaaaab2", 100)])])
        .await
        .unwrap();
    assert_eq!(out.puts, 1);
    assert_eq!(amount(&pool).await, Some(100));

    // A replay of the same event and an older version change nothing.
    let out = writer
        .write_batch(&[
            records(1, vec![estimate(RKEY, "3kaaaaaaaaab2", 100)]),
            records(2, vec![estimate(RKEY, "3kaaaaaaaaab1", 999)]),
        ])
        .await
        .unwrap();
    assert_eq!((out.puts, out.stale), (0, 1));
    assert_eq!(amount(&pool).await, Some(100));

    // A newer version replaces it, with its parsed fields.
    writer
        .write_batch(&[records(3, vec![estimate(RKEY, "3kaaaaaaaaab3", 300)])])
        .await
        .unwrap();
    assert_eq!(amount(&pool).await, Some(300));

    // A delete removes it, and replaying the create after the delete does not bring it back.
    let out = writer
        .write_batch(&[records(4, vec![delete(RKEY, "3kaaaaaaaaab4")])])
        .await
        .unwrap();
    assert_eq!(out.deletes, 1);
    writer
        .write_batch(&[records(3, vec![estimate(RKEY, "3kaaaaaaaaab3", 300)])])
        .await
        .unwrap();
    assert_eq!(amount(&pool).await, None);

    // Re-creating at a newer rev works.
    writer
        .write_batch(&[records(5, vec![estimate(RKEY, "3kaaaaaaaaab5", 500)])])
        .await
        .unwrap();
    assert_eq!(amount(&pool).await, Some(500));
    assert_eq!(stored_cursor(&pool, "test").await.unwrap(), Some(5));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rejected_newer_version_replaces_a_valid_one_until_fixed(pool: PgPool) {
    let writer = Writer::new(pool.clone(), "test");
    writer
        .write_batch(&[records(1, vec![estimate(RKEY, "3kaaaaaaaaab2", 100)])])
        .await
        .unwrap();
    let out = writer
        .write_batch(&[records(2, vec![reject(RKEY, "3kaaaaaaaaab3")])])
        .await
        .unwrap();
    assert_eq!((out.rejected_records, out.deletes), (1, 1));
    assert_eq!(amount(&pool).await, None);
    let (reason, body): (String, serde_json::Value) =
        sqlx::query_as("SELECT reason, body FROM appview.rejected_record")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(reason.contains("$.amount"));
    assert_eq!(body["amount"], -1, "the raw body is kept");
    // An older valid version cannot come back over the rejection; a newer one can.
    writer
        .write_batch(&[records(3, vec![estimate(RKEY, "3kaaaaaaaaab2", 100)])])
        .await
        .unwrap();
    assert_eq!(amount(&pool).await, None);
    writer
        .write_batch(&[records(4, vec![estimate(RKEY, "3kaaaaaaaaab4", 400)])])
        .await
        .unwrap();
    assert_eq!(amount(&pool).await, Some(400));
    let rejected: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.rejected_record")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rejected, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_newest_op_in_a_batch_wins(pool: PgPool) {
    let writer = Writer::new(pool.clone(), "test");
    writer
        .write_batch(&[
            records(1, vec![estimate(RKEY, "3kaaaaaaaaab2", 200)]),
            records(2, vec![estimate(RKEY, "3kaaaaaaaaab3", 300)]),
            records(3, vec![estimate(RKEY, "3kaaaaaaaaab1", 100)]),
        ])
        .await
        .unwrap();
    assert_eq!(amount(&pool).await, Some(300));
    writer
        .write_batch(&[
            records(4, vec![estimate("3kccccccccccc", "3kaaaaaaaaab5", 1)]),
            records(5, vec![delete("3kccccccccccc", "3kaaaaaaaaab6")]),
        ])
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[derive(Default)]
struct Recorder(Mutex<Vec<RecordChange>>);

#[async_trait]
impl BatchObserver for Recorder {
    async fn after_batch(
        &self,
        tx: &mut PgConnection,
        changes: &[RecordChange],
    ) -> Result<(), sqlx::Error> {
        // The observer sees the batch's writes inside the transaction.
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record")
            .fetch_one(&mut *tx)
            .await?;
        self.0.lock().unwrap().extend_from_slice(changes);
        Ok(())
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn account_status_hides_and_shows_records_and_the_observer_hears_it(pool: PgPool) {
    let recorder = Arc::new(Recorder::default());
    let writer = Writer::new(pool.clone(), "test").with_observer(recorder.clone());
    writer
        .write_batch(&[records(1, vec![estimate(RKEY, "3kaaaaaaaaab2", 100)])])
        .await
        .unwrap();
    writer.write_batch(&[account(2, false)]).await.unwrap();
    let hidden: bool = sqlx::query_scalar("SELECT hidden FROM appview.record")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(hidden);
    // A record written while inactive is stored hidden.
    writer
        .write_batch(&[records(
            3,
            vec![estimate("3kddddddddddd", "3kaaaaaaaaab3", 5)],
        )])
        .await
        .unwrap();
    writer.write_batch(&[account(4, true)]).await.unwrap();
    let hidden: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.record WHERE hidden")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(hidden, 0);
    let actions: Vec<ChangeAction> = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.action)
        .collect();
    assert_eq!(
        actions,
        [
            ChangeAction::Put,
            ChangeAction::Hide,
            ChangeAction::Put,
            ChangeAction::Unhide,
            ChangeAction::Unhide
        ]
    );
    let first = recorder.0.lock().unwrap()[0].clone();
    assert_eq!(first.subject_uri.as_deref(), Some(PROPOSAL));
    assert_eq!(first.did, DID);
}

struct Failing;

#[async_trait]
impl BatchObserver for Failing {
    async fn after_batch(
        &self,
        _: &mut PgConnection,
        _: &[RecordChange],
    ) -> Result<(), sqlx::Error> {
        Err(sqlx::Error::Protocol("observer refused".into()))
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_observer_error_rolls_the_batch_back_with_its_cursor(pool: PgPool) {
    let writer = Writer::new(pool.clone(), "test").with_observer(Arc::new(Failing));
    assert!(writer
        .write_batch(&[records(9, vec![estimate(RKEY, "3kaaaaaaaaab2", 100)])])
        .await
        .is_err());
    assert_eq!(amount(&pool).await, None);
    assert_eq!(stored_cursor(&pool, "test").await.unwrap(), None);
}

/// Takes one global lock inside the transaction, as an aggregates observer does.
struct GlobalLock;

#[async_trait]
impl BatchObserver for GlobalLock {
    async fn after_batch(
        &self,
        tx: &mut PgConnection,
        _: &[RecordChange],
    ) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock(4242)")
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_observer_with_a_lock_of_its_own_does_not_deadlock_the_lanes(pool: PgPool) {
    use greenlight_indexer::writer::lane_of;
    // Two authors in different lanes, so the batch runs in two transactions.
    let dids: Vec<String> = (0..50).map(|i| format!("did:plc:lane{i}")).collect();
    let a = dids.iter().find(|d| lane_of(d) == 0).unwrap().clone();
    let b = dids.iter().find(|d| lane_of(d) == 1).unwrap().clone();
    let mut first = estimate(RKEY, "3kaaaaaaaaab2", 1);
    first.did = a;
    let mut second = estimate(RKEY, "3kaaaaaaaaab2", 2);
    second.did = b;
    let writer = Writer::new(pool.clone(), "test").with_observer(Arc::new(GlobalLock));
    let written = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        writer.write_batch(&[records(7, vec![first, second])]),
    )
    .await
    .expect("the lanes deadlocked")
    .unwrap();
    assert_eq!(written.puts, 2);
    assert_eq!(stored_cursor(&pool, "test").await.unwrap(), Some(7));
}
