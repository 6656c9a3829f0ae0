//! The Greenlight AppView binary: `serve` (the default) or `bench`.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use greenlight_appview::escrow_feed::{EscrowFeed, RetainerFeed, TermsFeed};
use greenlight_appview::{bench, AppView, Config};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "The Greenlight AppView")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Postgres URL of the AppView database.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Address to listen on.
    #[arg(
        long,
        env = "GREENLIGHT_APPVIEW_BIND",
        default_value = "127.0.0.1:2584"
    )]
    bind: String,
    /// Public base URL (names our did:web); defaults to http://localhost:<port>.
    #[arg(long, env = "GREENLIGHT_APPVIEW_PUBLIC_URL")]
    public_url: Option<String>,
    /// Base URL of the escrow whose public ledger feed to follow; none: money totals are zero.
    #[arg(long, env = "GREENLIGHT_ESCROW_URL")]
    escrow_url: Option<String>,
    /// Verification period after a release, in days.
    #[arg(long, env = "GREENLIGHT_VERIFICATION_DAYS", default_value_t = 14)]
    verification_days: u64,
    /// Database connections.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Development only: fetch project proofs from loopback addresses, over plain http too.
    /// (`1`/`true`, as escrow and the indexer read the same variable.)
    #[arg(
        long,
        env = "GREENLIGHT_ALLOW_INSECURE_HTTP",
        value_parser = clap::builder::BoolishValueParser::new(),
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    allow_insecure_http: bool,
    /// How often every project's proof of control is re-checked, in seconds (default 6 h).
    #[arg(long, env = "GREENLIGHT_PROOF_RECHECK_SECONDS", default_value_t = 6 * 3600)]
    proof_recheck_seconds: u64,
    /// The did:plc directory people's DIDs are resolved at when they sign in.
    #[arg(
        long,
        env = "GREENLIGHT_PLC_URL",
        default_value = "https://plc.directory"
    )]
    plc_url: String,
    /// Development: a PDS asked first for handles (how `.test` handles resolve).
    #[arg(long, env = "GREENLIGHT_HANDLE_RESOLVER_PDS")]
    handle_resolver_pds: Option<String>,
    /// Seals OAuth tokens at rest: 64 hex characters. Unset: a random secret per start
    /// (sessions end on restart; refused for a confidential client).
    #[arg(long, env = "GREENLIGHT_SESSION_SECRET", hide_env_values = true)]
    session_secret: Option<String>,
    /// The confidential OAuth client's ES256 private key as a JWK (JSON). Unset on a
    /// loopback public URL: a loopback client (development).
    #[arg(long, env = "GREENLIGHT_OAUTH_PRIVATE_KEY", hide_env_values = true)]
    oauth_private_key: Option<String>,
    /// Escrow's DID, the audience of service-auth tokens (default: escrow's did.json).
    #[arg(long, env = "GREENLIGHT_ESCROW_DID")]
    escrow_did: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve XRPC (the default).
    Serve,
    /// Recompute every aggregate from the stored records and escrow entries (after an
    /// upgrade, or to check the incremental upkeep).
    Rebuild,
    /// Seed a scratch database and measure getFundingTotals and getProposal against a trivial
    /// handler at 64 connections.
    Bench(bench::BenchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Bench(args)) => {
            let url = cli
                .serve
                .database_url
                .context("DATABASE_URL is not set (scripts/postgres start prints one)")?;
            let report = bench::run(&url, &args).await?;
            println!("{report}");
            Ok(())
        }
        Some(Command::Rebuild) => {
            let url = cli
                .serve
                .database_url
                .context("DATABASE_URL is not set (scripts/postgres start prints one)")?;
            let pool = greenlight_store::open(&url, 2).await?;
            let started = std::time::Instant::now();
            let mut tx = pool.begin().await?;
            greenlight_aggregates::rebuild_all(&mut tx).await?;
            tx.commit().await?;
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                "aggregates rebuilt"
            );
            Ok(())
        }
        Some(Command::Serve) | None => serve(cli.serve).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let database_url = args
        .database_url
        .context("DATABASE_URL is not set (scripts/postgres start prints one)")?;
    let pool = greenlight_store::open(&database_url, args.connections).await?;
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let local = listener.local_addr()?;
    let mut config = match args.public_url {
        Some(url) => Config::new(url),
        None => Config::local(local),
    };
    config.escrow_url = args.escrow_url;
    config.plc_url = args.plc_url;
    config.handle_resolver_pds = args.handle_resolver_pds;
    config.session_secret = args.session_secret;
    config.oauth_private_key = args.oauth_private_key;
    config.escrow_did = args.escrow_did;
    config.verification_period = Duration::from_secs(args.verification_days * 24 * 3600);
    config.allow_insecure_http = args.allow_insecure_http;
    config.proof_recheck = Duration::from_secs(args.proof_recheck_seconds.max(1));
    let app = AppView::new(pool.clone(), config.clone())?;
    let shutdown = CancellationToken::new();
    let cache = app.spawn_cache_listener(shutdown.clone());
    let proofs = app.spawn_proof_worker(shutdown.clone());
    let followers = match &config.escrow_url {
        Some(url) => {
            let feed = EscrowFeed::new(pool.clone(), url)?;
            // Escrow's terms and verification clock: without them views fall back to what
            // the records say, which a maintainer can delete or backdate.
            let terms = TermsFeed::new(pool.clone(), url)?;
            // Which retainer agreements are in force: without them no client record counts.
            let retainers = RetainerFeed::new(pool, url)?;
            tracing::info!(escrow = %url, "following the escrow ledger, proposal-states and retainer-states feeds");
            vec![
                tokio::spawn(feed.run(config.escrow_poll, app.metrics().clone(), shutdown.clone())),
                tokio::spawn(terms.run(config.escrow_poll, shutdown.clone())),
                tokio::spawn(retainers.run(config.escrow_poll, shutdown.clone())),
            ]
        }
        None => {
            tracing::info!("no escrow configured: money totals stay zero");
            Vec::new()
        }
    };
    tracing::info!(address = %local, did = %greenlight_appview::did_web::did_for(&config.public_url), "AppView listening");
    greenlight_xrpc::serve(listener, app.router()).await?;
    shutdown.cancel();
    let _ = cache.await;
    let _ = proofs.await;
    for follower in followers {
        let _ = follower.await;
    }
    Ok(())
}
