//! Live ingest as a whole: one source, the batching writer, metrics, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use greenlight_identity::{Resolver, ResolverConfig};
use sqlx::postgres::PgPool;
use tokio_util::sync::CancellationToken;

use crate::identity_pool::IdentityPool;
use crate::metrics::Metrics;
use crate::parking::{self, ParkingLot};
use crate::pipeline::{self, BatchConfig, RunTotals};
use crate::record_rules::RecordRules;
use crate::source::firehose::{FirehoseSource, FrameJudge};
use crate::source::jetstream::JetstreamSource;
use crate::verify::CommitVerifier;
use crate::writer::{BatchObserver, Writer};

/// Which stream to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// `com.atproto.sync.subscribeRepos` of a relay or PDS.
    Firehose {
        /// Its URL.
        url: String,
        /// Check commit signatures against DID documents.
        verify_signatures: bool,
    },
    /// A Jetstream server.
    Jetstream {
        /// Its URL.
        url: String,
    },
}

/// Everything live ingest needs.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The stream.
    pub source: SourceKind,
    /// The cursor row's name; by default derived from the URL.
    pub source_name: Option<String>,
    /// How DIDs and handles are resolved, and the identity pool's bounds (key wait,
    /// concurrency, per-host limits, negative caching).
    pub identity: ResolverConfig,
    /// Batching and buffering.
    pub batch: BatchConfig,
    /// The longest pause between reconnects.
    pub max_backoff: Duration,
    /// Where to serve `/metrics`, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
}

impl LiveConfig {
    /// The cursor row's name.
    pub fn source_name(&self) -> String {
        if let Some(name) = &self.source_name {
            return name.clone();
        }
        match &self.source {
            SourceKind::Firehose { url, .. } => format!("firehose:{}", strip_query(url)),
            SourceKind::Jetstream { url } => format!("jetstream:{}", strip_query(url)),
        }
    }
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Runs live ingest until `shutdown`; the last batch is committed before it returns.
pub async fn run_live(
    config: LiveConfig,
    pool: PgPool,
    observer: Option<Arc<dyn BatchObserver>>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<RunTotals> {
    let rules = RecordRules::embedded()?;
    let resolver = Resolver::new(config.identity.clone());
    let name = config.source_name();
    let mut writer = Writer::new(pool.clone(), name.clone());
    if let Some(observer) = observer {
        writer = writer.with_observer(observer);
    }
    if let Some(addr) = config.metrics_addr {
        let metrics = metrics.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            if let Err(err) = crate::metrics::serve(addr, metrics, pool).await {
                tracing::error!(%err, "metrics endpoint failed");
            }
        });
    }
    let (tx, rx) = pipeline::channel(&config.batch);
    let writing = tokio::spawn(pipeline::run_writer(
        rx,
        writer,
        config.batch,
        metrics.clone(),
    ));
    tracing::info!(source = %name, "indexer started");
    match &config.source {
        SourceKind::Firehose {
            url,
            verify_signatures,
        } => {
            let identity = IdentityPool::new(resolver, Some(pool.clone()));
            // Only handles depend on it (an author is also noted on its next commit).
            let authors = identity.load_authors().await.unwrap_or_else(|err| {
                tracing::warn!(%err, "cannot read the authors; their handles are checked as they commit");
                0
            });
            let verifier: Option<Arc<dyn CommitVerifier>> =
                verify_signatures.then(|| Arc::new(identity.clone()) as Arc<dyn CommitVerifier>);
            let mut judge =
                FrameJudge::new(rules, verifier, Some(identity.clone()), metrics.clone());
            if *verify_signatures {
                let lot = ParkingLot::load(&pool, &name).await?;
                tracing::info!(
                    authors,
                    parked = lot.len(),
                    repos = lot.repos().len(),
                    "identity pool and parking lot ready"
                );
                // Parked before a restart: look their keys up now; the frame loop replays
                // them as they arrive, and the retry task asks again after failures expire.
                for did in lot.repos() {
                    identity.watch(&did);
                    identity.recheck(&did);
                }
                tokio::spawn(parking::retry_parked(
                    lot.clone(),
                    identity.clone(),
                    config.identity.negative_ttl.max(Duration::from_secs(1)),
                    shutdown.clone(),
                ));
                judge = judge.with_parking(lot);
            }
            let source = FirehoseSource {
                url: url.clone(),
                name,
                max_backoff: config.max_backoff,
            };
            source.run(pool, judge, tx, shutdown).await;
        }
        SourceKind::Jetstream { url } => {
            let judge = FrameJudge::new(rules, None, None, metrics.clone());
            let source = JetstreamSource {
                url: url.clone(),
                name,
                max_backoff: config.max_backoff,
            };
            source.run(pool, judge, metrics.clone(), tx, shutdown).await;
        }
    }
    // The source dropped its sender: the writer drains what is buffered and stops.
    let totals = writing.await?;
    tracing::info!(?totals, "indexer stopped after committing its last batch");
    Ok(totals)
}
