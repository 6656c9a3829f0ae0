//! The Greenlight indexer: consumes `fund.greenlight.*` records from the network into Postgres.
//!
//! `run` follows a firehose or Jetstream, `backfill` fetches records written before we
//! listened, `bench` measures ingest against a COPY baseline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use greenlight_identity::{Resolver, ResolverConfig};
use greenlight_indexer::backfill::{Backfill, BackfillConfig};
use greenlight_indexer::bench::{self, BenchConfig};
use greenlight_indexer::metrics::Metrics;
use greenlight_indexer::pipeline::BatchConfig;
use greenlight_indexer::record_rules::RecordRules;
use greenlight_indexer::service::{self, LiveConfig, SourceKind};
use greenlight_indexer::writer::{AggregatesObserver, BatchObserver, Writer};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "greenlight-indexer", version, about)]
struct Cli {
    /// Without a subcommand: `run`, configured from the environment.
    #[command(subcommand)]
    command: Option<Command>,
}

/// The firehose followed when none is configured: Bluesky's main relay.
const DEFAULT_RELAY: &str = "wss://bsky.network";

#[derive(Subcommand)]
enum Command {
    /// Follow a firehose or Jetstream into the database until SIGINT/SIGTERM.
    Run(RunArgs),
    /// Fetch records written before the indexer started (resumable): repos from --relay,
    /// --did, and those queued by #sync events or left unfinished by an earlier run.
    Backfill(BackfillArgs),
    /// Replay a generated stream and compare with a COPY of the same rows.
    Bench(BenchArgs),
}

#[derive(Args)]
struct DatabaseArgs {
    /// The AppView database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[derive(Args)]
struct IdentityArgs {
    /// The did:plc directory.
    #[arg(
        long,
        env = "GREENLIGHT_PLC_URL",
        default_value = "https://plc.directory"
    )]
    plc_url: String,
    /// Allow http:// and loopback hosts in identity resolution (local test networks only).
    #[arg(long, env = "GREENLIGHT_ALLOW_INSECURE_HTTP")]
    allow_insecure_http: bool,
    /// A PDS asked first to resolve handles (how `.test` handles resolve locally).
    #[arg(long, env = "GREENLIGHT_HANDLE_RESOLVER_PDS")]
    handle_resolver_pds: Option<String>,
}

impl IdentityArgs {
    fn config(&self) -> ResolverConfig {
        ResolverConfig {
            plc_url: self.plc_url.trim_end_matches('/').to_owned(),
            allow_insecure_http: self.allow_insecure_http,
            handle_resolver_pds: self.handle_resolver_pds.clone(),
            ..ResolverConfig::default()
        }
    }
}

/// The identity pool of live ingest (see `identity_pool.rs`).
#[derive(Args)]
struct IdentityPoolArgs {
    /// The longest a firehose frame waits for the signing key of a fund.greenlight.*
    /// commit's author, in milliseconds; then the commit is parked in the database and
    /// replayed when the key arrives, while other repos' events go on.
    #[arg(long, env = "GREENLIGHT_IDENTITY_KEY_WAIT_MS", default_value_t = 500)]
    identity_key_wait_ms: u64,
    /// Identity lookups in flight at once (the identity pool's size).
    #[arg(long, env = "GREENLIGHT_IDENTITY_CONCURRENCY", default_value_t = 32)]
    identity_concurrency: usize,
    /// Identity lookups in flight at once at one host (a stalled host holds at most these).
    #[arg(long, env = "GREENLIGHT_IDENTITY_PER_HOST", default_value_t = 4)]
    identity_per_host: usize,
    /// Identity lookups started per second at one host.
    #[arg(long, env = "GREENLIGHT_IDENTITY_HOST_RATE", default_value_t = 20)]
    identity_host_rate: u32,
    /// How long a failed DID lookup is remembered before the DID is asked for again (also
    /// how often parked repos' keys are retried), in seconds.
    #[arg(
        long,
        env = "GREENLIGHT_IDENTITY_NEGATIVE_TTL_SECS",
        default_value_t = 60
    )]
    identity_negative_ttl_secs: u64,
    /// How long a host that timed out or could not be reached is left alone, in seconds.
    #[arg(
        long,
        env = "GREENLIGHT_IDENTITY_HOST_FAILURE_TTL_SECS",
        default_value_t = 30
    )]
    identity_host_failure_ttl_secs: u64,
}

impl IdentityPoolArgs {
    fn apply(&self, config: ResolverConfig) -> ResolverConfig {
        ResolverConfig {
            key_wait: Duration::from_millis(self.identity_key_wait_ms),
            max_concurrent: self.identity_concurrency.max(1),
            per_host_concurrent: self.identity_per_host.max(1),
            per_host_per_second: self.identity_host_rate.max(1),
            negative_ttl: Duration::from_secs(self.identity_negative_ttl_secs.max(1)),
            host_failure_ttl: Duration::from_secs(self.identity_host_failure_ttl_secs.max(1)),
            ..config
        }
    }
}

#[derive(Args)]
struct BatchArgs {
    /// The most events per transaction.
    #[arg(long, default_value_t = 2000)]
    batch_size: usize,
    /// How long to wait for a batch to fill, in milliseconds.
    #[arg(long, default_value_t = 20)]
    linger_ms: u64,
    /// Events buffered between the source and the writer.
    #[arg(long, default_value_t = 10_000)]
    buffer: usize,
}

impl BatchArgs {
    fn config(&self) -> BatchConfig {
        BatchConfig {
            max_events: self.batch_size,
            linger: Duration::from_millis(self.linger_ms),
            channel_capacity: self.buffer,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// A relay's or PDS's firehose (`ws(s)://host` or the full subscribeRepos URL); without
    /// this or --jetstream, Bluesky's relay (wss://bsky.network).
    #[arg(long, env = "GREENLIGHT_FIREHOSE_URL", conflicts_with = "jetstream")]
    firehose: Option<String>,
    /// A Jetstream server (`ws(s)://host` or its `/subscribe` URL).
    #[arg(long, env = "GREENLIGHT_JETSTREAM_URL")]
    jetstream: Option<String>,
    /// Ask Jetstream for zstd-compressed frames (`compress=true`, on by default); `false`
    /// follows it uncompressed.
    #[arg(long, env = "GREENLIGHT_JETSTREAM_COMPRESS", default_value_t = true, action = clap::ArgAction::Set)]
    jetstream_compress: bool,
    /// Check firehose commit signatures against DID documents (on by default).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    verify_signatures: bool,
    /// The cursor row's name (default: derived from the URL).
    #[arg(long)]
    source_name: Option<String>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, env = "GREENLIGHT_INDEXER_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// The longest pause between reconnect attempts, in seconds.
    #[arg(long, default_value_t = 30)]
    max_backoff_secs: u64,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    identity_pool: IdentityPoolArgs,
    #[command(flatten)]
    batch: BatchArgs,
}

#[derive(Args)]
struct BackfillArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// A relay to ask for repos with our collections (listReposByCollection).
    #[arg(long)]
    relay: Option<String>,
    /// A DID to backfill (repeatable).
    #[arg(long = "did")]
    dids: Vec<String>,
    /// Repos fetched at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Repos fetched at once from one PDS host.
    #[arg(long, default_value_t = 2)]
    per_host: usize,
    /// Redo repos an earlier run finished.
    #[arg(long)]
    force: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    identity: IdentityArgs,
}

#[derive(Args)]
struct BenchArgs {
    /// The Postgres server (a scratch database is created on it and dropped).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Events in the generated stream.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Distinct repos in the stream.
    #[arg(long, default_value_t = 5_000)]
    repos: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    batch: BatchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let json_logs = std::env::var("GREENLIGHT_LOG_FORMAT").is_ok_and(|f| f == "json");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    if json_logs {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let command = match Cli::parse().command {
        Some(command) => command,
        None => match Cli::parse_from(["greenlight-indexer", "run"]).command {
            Some(command) => command,
            None => anyhow::bail!("cannot build the default run command"),
        },
    };
    match command {
        Command::Run(args) => run(args).await,
        Command::Backfill(args) => backfill(args).await,
        Command::Bench(args) => {
            let report = bench::run(BenchConfig {
                database_url: args.database_url,
                events: args.events,
                repos: args.repos,
                batch: args.batch.config(),
                seed: args.seed,
            })
            .await?;
            println!("{report}");
            Ok(())
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let source = match (args.firehose, args.jetstream) {
        (Some(url), None) => SourceKind::Firehose {
            url,
            verify_signatures: args.verify_signatures,
        },
        // The choice travels in the URL (`compress=false`), which the source reads.
        (None, Some(url)) if !args.jetstream_compress => SourceKind::Jetstream {
            url: greenlight_indexer::source::jetstream::uncompressed_url(&url),
        },
        (None, Some(url)) => SourceKind::Jetstream { url },
        (None, None) => SourceKind::Firehose {
            url: DEFAULT_RELAY.to_owned(),
            verify_signatures: args.verify_signatures,
        },
        (Some(_), Some(_)) => anyhow::bail!("give only one of --firehose and --jetstream"),
    };
    let pool = greenlight_store::open(&args.database.database_url, 4)
        .await
        .context("opening the AppView database")?;
    let config = LiveConfig {
        source,
        source_name: args.source_name,
        identity: args.identity_pool.apply(args.identity.config()),
        batch: args.batch.config(),
        max_backoff: Duration::from_secs(args.max_backoff_secs.max(1)),
        metrics_addr: args.metrics_addr,
    };
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        greenlight_xrpc::shutdown_signal().await;
        tracing::info!("shutting down: committing the last batch");
        on_signal.cancel();
    });
    let aggregates: Arc<dyn BatchObserver> = Arc::new(AggregatesObserver);
    service::run_live(config, pool, Some(aggregates), Metrics::new(), shutdown).await?;
    Ok(())
}

async fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    let pool = greenlight_store::open(&args.database.database_url, 8)
        .await
        .context("opening the AppView database")?;
    let config = BackfillConfig {
        relay_url: args.relay,
        dids: args.dids,
        concurrency: args.concurrency,
        per_host: args.per_host,
        force: args.force,
        progress: !args.no_progress,
    };
    let backfill = Backfill::new(
        config,
        Writer::new(pool, "backfill").with_observer(Arc::new(AggregatesObserver)),
        Resolver::new(args.identity.config()),
        Arc::new(Metrics::default()),
        RecordRules::embedded()?,
    )?;
    let report = backfill.run().await?;
    println!(
        "backfill: {} repos done, {} already done, {} failed, {} records",
        report.repos_done, report.repos_skipped, report.repos_failed, report.records
    );
    Ok(())
}
