//! Backfill of repos whose records were written before the indexer started: the records
//! arrive through listRecords, invalid ones are rejected with reasons, reruns skip finished
//! repos, and a forced rerun picks up newer versions without duplicating anything.

use std::sync::Arc;

use greenlight_identity::{Resolver, ResolverConfig};
use greenlight_indexer::backfill::{Backfill, BackfillConfig};
use greenlight_indexer::metrics::Metrics;
use greenlight_indexer::record_rules::RecordRules;
use greenlight_indexer::writer::Writer;
use greenlight_tests::network::TestNetwork;
use greenlight_tests::scratch_database::ScratchDatabase;
use serde_json::json;
use sqlx::PgPool;

const NOW: &str = "2025-06-01T12:00:00.000Z";

fn backfill(net: &TestNetwork, pool: &PgPool, dids: Vec<String>, force: bool) -> Backfill {
    Backfill::new(
        BackfillConfig {
            dids,
            force,
            progress: false,
            ..BackfillConfig::default()
        },
        Writer::new(pool.clone(), "backfill"),
        Resolver::new(ResolverConfig {
            plc_url: net.plc_url().to_owned(),
            allow_insecure_http: true,
            handle_resolver_pds: Some(net.pds_url().to_owned()),
            ..ResolverConfig::default()
        }),
        Arc::new(Metrics::default()),
        RecordRules::embedded().unwrap(),
    )
    .unwrap()
}

async fn stored(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT uri, cid FROM appview.record ORDER BY uri")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fetches_records_written_before_the_indexer_started() {
    let net = TestNetwork::start().await.unwrap();
    let owner = net.create_account("bfowner").await.unwrap();
    let backer = net.create_account("bfbacker").await.unwrap();
    let project = net
        .put_record(&owner, "fund.greenlight.project", "app", json!({
            "name": "App", "description": "", "repository": "https://example.com/app.git", "createdAt": NOW,
        }))
        .await
        .unwrap();
    let proposal = net
        .create_record(&backer, "fund.greenlight.proposal", json!({
            "subject": {"$type": "com.atproto.repo.strongRef", "uri": project.uri, "cid": project.cid},
            "title": "Dark mode", "body": "", "createdAt": NOW,
        }))
        .await
        .unwrap();
    let mut expected = vec![
        (project.uri.clone(), project.cid.clone()),
        (proposal.uri.clone(), proposal.cid.clone()),
    ];
    // More than one listRecords page of estimates.
    for amount in 1..=120 {
        let estimate = net
            .create_record(
                &backer,
                "fund.greenlight.estimate",
                json!({
                    "subject": {"uri": proposal.uri, "cid": proposal.cid},
                    "amount": amount, "currency": "USD", "createdAt": NOW,
                }),
            )
            .await
            .unwrap();
        expected.push((estimate.uri, estimate.cid));
    }
    let invalid = net
        .create_record(
            &backer,
            "fund.greenlight.pledge",
            json!({
                "subject": {"uri": proposal.uri, "cid": proposal.cid},
                "amount": 0, "currency": "USD", "receipt": "x", "createdAt": NOW,
            }),
        )
        .await
        .unwrap();
    expected.sort();

    let db = ScratchDatabase::create("idxbackfill").await.unwrap();
    let pool = greenlight_store::open(&db.url, 8).await.unwrap();
    let dids = vec![
        owner.did.clone(),
        backer.did.clone(),
        "not a did".to_owned(),
    ];
    let report = backfill(&net, &pool, dids.clone(), false)
        .run()
        .await
        .unwrap();
    assert_eq!((report.repos_done, report.repos_failed), (2, 0));
    assert_eq!(report.records, expected.len() + 1);
    assert_eq!(stored(&pool).await, expected);
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM appview.rejected_record WHERE uri = $1")
            .bind(&invalid.uri)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(reason.contains("$.amount"), "{reason}");
    let subject: Option<String> =
        sqlx::query_scalar("SELECT subject_uri FROM appview.record WHERE uri = $1")
            .bind(&proposal.uri)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(subject.as_deref(), Some(project.uri.as_str()));

    // Resumable: finished repos are skipped.
    let again = backfill(&net, &pool, dids.clone(), false)
        .run()
        .await
        .unwrap();
    assert_eq!((again.repos_done, again.repos_skipped), (0, 2));

    // A forced rerun after an update on the PDS picks up the new version; nothing is
    // duplicated.
    let first_estimate = expected
        .iter()
        .find(|(uri, _)| uri.contains("fund.greenlight.estimate"))
        .map(|(uri, _)| uri.clone())
        .unwrap();
    let updated = net
        .put_record(
            &backer,
            "fund.greenlight.estimate",
            first_estimate.rsplit('/').next().unwrap(),
            json!({
                "subject": {"uri": proposal.uri, "cid": proposal.cid},
                "amount": 9999, "currency": "USD", "createdAt": NOW,
            }),
        )
        .await
        .unwrap();
    for entry in &mut expected {
        if entry.0 == updated.uri {
            entry.1 = updated.cid.clone();
        }
    }
    let forced = backfill(&net, &pool, dids, true).run().await.unwrap();
    assert_eq!(forced.repos_done, 2);
    assert_eq!(stored(&pool).await, expected);
    pool.close().await;
    db.drop_now().await.unwrap();
}
