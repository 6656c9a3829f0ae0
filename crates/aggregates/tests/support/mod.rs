//! Writing records and hiding accounts through the indexer itself: each call is one batch,
//! judged by the indexer's record rules and written by its `Writer` with the aggregates hook,
//! so a test can only seed what the indexer would store.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use greenlight_indexer::event::{EventBody, RecordAction, RecordOp, SourceEvent, ValidRecord};
use greenlight_indexer::record_rules::RecordRules;
use greenlight_indexer::writer::{AggregatesObserver, Writer};
use serde_json::Value;
use sqlx::PgPool;

pub const CID: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";

pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
}

pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The 13-character TID spelling of `n` (base32-sortable), for record keys and revisions.
pub fn tid(n: u64) -> String {
    const S32: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let mut out = [b'2'; 13];
    let mut rest = n;
    for place in out.iter_mut().rev() {
        *place = S32[(rest & 31) as usize];
        rest >>= 5;
    }
    out.iter().map(|&c| char::from(c)).collect()
}

/// A repo revision newer than every one handed out before: the writer applies a version only
/// over older ones, so each call must look like a later commit.
fn next_rev() -> String {
    // Microseconds since 2026-01-01, in a TID's timestamp bits.
    static NEXT: AtomicU64 = AtomicU64::new(1_767_225_600_000_000);
    tid(NEXT.fetch_add(1, Ordering::Relaxed) << 10)
}

/// The indexer's writer with the aggregates hook, as the indexer runs it.
fn writer(pool: &PgPool) -> Writer {
    Writer::new(pool.clone(), "test").with_observer(Arc::new(AggregatesObserver))
}

/// `(did, collection, rkey)` of an `at://` URI.
fn parts(uri: &str) -> (String, String, String) {
    let mut parts = uri.trim_start_matches("at://").splitn(3, '/');
    let mut next = || parts.next().unwrap_or_default().to_owned();
    (next(), next(), next())
}

async fn write(writer: &Writer, body: EventBody) {
    writer
        .write_batch(&[SourceEvent { cursor: None, body }])
        .await
        .unwrap();
}

/// Creates or replaces the record at `uri`, as a commit carrying it would. Its `$type` is
/// set to the collection when missing, as a PDS does; a record the indexer's rules reject
/// fails the test, since it would not count.
pub async fn put(pool: &PgPool, uri: &str, body: Value) {
    put_with(&writer(pool), uri, body).await;
}

/// Stores the record at `uri` as [`put`] does but without the aggregates hook, for tests of
/// one aggregates function over records alone.
pub async fn put_record_only(pool: &PgPool, uri: &str, body: Value) {
    put_with(&Writer::new(pool.clone(), "test"), uri, body).await;
}

async fn put_with(writer: &Writer, uri: &str, mut body: Value) {
    let (did, collection, rkey) = parts(uri);
    if let Some(record) = body.as_object_mut() {
        record
            .entry("$type")
            .or_insert_with(|| Value::from(collection.clone()));
    }
    let fields = RecordRules::embedded()
        .unwrap()
        .check(&collection, &rkey, &body)
        .unwrap_or_else(|reason| panic!("the indexer would reject {uri}: {reason}"));
    let record = ValidRecord {
        cid: CID.to_owned(),
        body,
        fields,
    };
    let op = RecordOp {
        did,
        collection,
        rkey,
        rev: next_rev(),
        action: RecordAction::Put(Box::new(record)),
    };
    write(writer, EventBody::Records(vec![op])).await;
}

/// Deletes the record at `uri`, as a commit deleting it would.
pub async fn delete(pool: &PgPool, uri: &str) {
    let (did, collection, rkey) = parts(uri);
    let op = RecordOp {
        did,
        collection,
        rkey,
        rev: next_rev(),
        action: RecordAction::Delete,
    };
    write(&writer(pool), EventBody::Records(vec![op])).await;
}

/// Hides or shows every record of `did`, as an `#account` event does.
pub async fn set_hidden(pool: &PgPool, did: &str, hidden: bool) {
    let body = EventBody::Account {
        did: did.to_owned(),
        active: !hidden,
        status: hidden.then(|| "deactivated".to_owned()),
    };
    write(&writer(pool), body).await;
}
