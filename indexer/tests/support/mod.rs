//! What the indexer's tests against live streams share: an indexer running in the test's
//! process, identity resolution for local hosts, and polling for an outcome.
//!
//! Also included by `tests/tests/indexer_network.rs` (`#[path]`), so both crates' tests start
//! the indexer the same way.

#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use anyhow::Result;
use greenlight_identity::ResolverConfig;
use greenlight_indexer::metrics::Metrics;
use greenlight_indexer::pipeline::{BatchConfig, RunTotals};
use greenlight_indexer::service::{run_live, LiveConfig, SourceKind};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// An indexer running in this process.
pub struct Indexer {
    shutdown: CancellationToken,
    task: JoinHandle<Result<RunTotals>>,
}

impl Indexer {
    /// Follows `source` into `pool` under the cursor row `name`, from the beginning of the
    /// stream (so nothing depends on when it connects) unless the row exists, with small
    /// batches and quick reconnects.
    pub async fn start(
        pool: &PgPool,
        name: &str,
        source: SourceKind,
        identity: ResolverConfig,
    ) -> Indexer {
        sqlx::query("INSERT INTO appview.source_cursor (source, position) VALUES ($1, 0) ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
        let config = LiveConfig {
            source,
            source_name: Some(name.into()),
            identity,
            batch: BatchConfig {
                max_events: 100,
                linger: Duration::from_millis(5),
                channel_capacity: 1000,
            },
            max_backoff: Duration::from_millis(500),
            metrics_addr: None,
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_live(
            config,
            pool.clone(),
            None,
            Metrics::new(),
            shutdown.clone(),
        ));
        Indexer { shutdown, task }
    }

    /// Stops it; its last batch is committed.
    pub async fn stop(self) -> RunTotals {
        assert!(!self.task.is_finished(), "the indexer stopped on its own");
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap()
    }
}

/// Identity resolution against local hosts (http, loopback, `.test` handles through `pds`).
pub fn local_identity(plc_url: &str, pds_url: Option<&str>) -> ResolverConfig {
    ResolverConfig {
        plc_url: plc_url.to_owned(),
        allow_insecure_http: true,
        handle_resolver_pds: pds_url.map(str::to_owned),
        ..ResolverConfig::default()
    }
}

/// The stored rejected events, oldest first: (DID, reason).
pub async fn rejections(pool: &PgPool) -> Vec<(Option<String>, String)> {
    sqlx::query_as("SELECT did, reason FROM appview.rejected_event ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Polls `check` until it holds, or panics after 30 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}
