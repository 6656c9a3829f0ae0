//! Writing records and hiding accounts the way the indexer does, one batch per call, with the
//! aggregates hook in the same transaction.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use greenlight_aggregates::{apply_record_changes, ChangedRecord};
use serde_json::Value;
use sqlx::PgPool;

pub const CID: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";

pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
}

pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One indexer batch: write the row, then run the hook in the same transaction.
#[allow(clippy::too_many_arguments)]
pub async fn put(
    pool: &PgPool,
    uri: &str,
    collection: &str,
    body: Value,
    subject: Option<&str>,
    amount: Option<i64>,
    currency: Option<&str>,
    created: DateTime<Utc>,
) {
    let did = uri.trim_start_matches("at://").split('/').next().unwrap();
    let rkey = uri.rsplit('/').next().unwrap();
    let mut tx = pool.begin().await.unwrap();
    let previous: Option<(Option<String>,)> =
        sqlx::query_as("SELECT subject_uri FROM appview.record WHERE uri = $1")
            .bind(uri)
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO appview.record (uri, did, collection, rkey, cid, rev, body, subject_uri,
             created_at, amount, currency)
         VALUES ($1, $2, $3, $4, $5, '3laaaaaaaaaaa', $6, $7, $8, $9, $10)
         ON CONFLICT (uri) DO UPDATE SET body = EXCLUDED.body, subject_uri = EXCLUDED.subject_uri,
             created_at = EXCLUDED.created_at, amount = EXCLUDED.amount, currency = EXCLUDED.currency",
    )
    .bind(uri).bind(did).bind(collection).bind(rkey).bind(CID).bind(&body).bind(subject)
    .bind(created).bind(amount).bind(currency)
    .execute(&mut *tx)
    .await
    .unwrap();
    let previous = previous.and_then(|(s,)| s);
    apply_record_changes(
        &mut tx,
        &[ChangedRecord {
            uri,
            collection,
            subject_uri: subject,
            previous_subject_uri: previous.as_deref().filter(|p| Some(*p) != subject),
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

pub async fn delete(pool: &PgPool, uri: &str) {
    let mut tx = pool.begin().await.unwrap();
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "DELETE FROM appview.record WHERE uri = $1 RETURNING collection, subject_uri",
    )
    .bind(uri)
    .fetch_optional(&mut *tx)
    .await
    .unwrap();
    if let Some((collection, subject)) = row {
        apply_record_changes(
            &mut tx,
            &[ChangedRecord {
                uri,
                collection: &collection,
                subject_uri: subject.as_deref(),
                previous_subject_uri: None,
            }],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Hides or shows every record of `did`, as an `#account` event does, in one batch.
pub async fn set_hidden(pool: &PgPool, did: &str, hidden: bool) {
    let mut tx = pool.begin().await.unwrap();
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "UPDATE appview.record SET hidden = $2 WHERE did = $1 AND hidden <> $2
         RETURNING uri, collection, subject_uri",
    )
    .bind(did)
    .bind(hidden)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let changes: Vec<ChangedRecord> = rows
        .iter()
        .map(|(uri, collection, subject)| ChangedRecord {
            uri,
            collection,
            subject_uri: subject.as_deref(),
            previous_subject_uri: None,
        })
        .collect();
    apply_record_changes(&mut tx, &changes).await.unwrap();
    tx.commit().await.unwrap();
}
