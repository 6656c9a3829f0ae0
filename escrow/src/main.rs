//! The Greenlight escrow service: holds pledged money until a release is verified or refunds it.
//!
//! ```text
//! greenlight-escrow [serve]    run the service (XRPC, checkout pages, webhooks, worker)
//! greenlight-escrow migrate    apply the migrations and exit
//! greenlight-escrow reconcile  check every invariant of the books; exit 1 on a violation
//! greenlight-escrow bench      ledger transfers/s next to pgbench -N on the same server
//! ```
//!
//! `serve` refuses settings unfit to face the public (the sandbox provider, a missing,
//! short or published operator password, the published sandbox webhook secret) unless it
//! is told it runs a demo: `--demo` anywhere on the command line or
//! `GREENLIGHT_ESCROW_DEMO=1`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use greenlight_escrow::auth::ServiceAuth;
use greenlight_escrow::config::{Config, ProviderChoice};
use greenlight_escrow::failpoint::FailPoints;
use greenlight_escrow::proposal_source::AppViewProposals;
use greenlight_escrow::provider::stripe::StripeProvider;
use greenlight_escrow::{bench, http, lifecycle, reconcile, Escrow, MIGRATOR};
use sqlx::postgres::PgPoolOptions;

/// Where escrow listens unless `GREENLIGHT_ESCROW_BIND` says otherwise.
const DEFAULT_BIND: &str = "127.0.0.1:2585";
/// Where the AppView answers unless `GREENLIGHT_APPVIEW_URL` says otherwise.
const DEFAULT_APPVIEW: &str = "http://127.0.0.1:2584";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let demo_flag = args.iter().any(|arg| arg == "--demo");
    args.retain(|arg| arg != "--demo");
    let command = args.first().cloned().unwrap_or_else(|| "serve".into());
    match command.as_str() {
        "serve" => serve(demo_flag).await,
        "migrate" => {
            let escrow = build().await?;
            drop(escrow);
            Ok(())
        }
        "reconcile" => {
            let escrow = build().await?;
            let violations = reconcile::reconcile(&escrow).await?;
            for violation in &violations {
                println!("VIOLATION {violation}");
            }
            if violations.is_empty() {
                println!("reconcile: the books balance and agree with the provider");
                Ok(())
            } else {
                bail!("{} invariant violations", violations.len())
            }
        }
        "retry-job" => {
            let Some(job) = args.get(1).cloned() else {
                bail!("usage: greenlight-escrow retry-job <failed job id>");
            };
            let escrow = build().await?;
            let retry = greenlight_escrow::jobs::retry_failed(&escrow, &job).await?;
            println!("job {job} superseded by {retry}; the worker runs it");
            Ok(())
        }
        "bench" => bench_command().await,
        other => bail!("unknown command {other:?}: serve, migrate, reconcile, retry-job or bench"),
    }
}

fn database_url() -> anyhow::Result<String> {
    std::env::var("ESCROW_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .context("set ESCROW_DATABASE_URL (scripts/postgres url escrow)")
}

/// The settings and provider from the environment.
fn settings() -> anyhow::Result<(Config, ProviderChoice)> {
    let bind = std::env::var("GREENLIGHT_ESCROW_BIND").unwrap_or_else(|_| DEFAULT_BIND.into());
    let config = Config::from_env(&bind)?;
    let provider = config.provider_from_env()?;
    Ok((config, provider))
}

/// Connects, migrates and assembles the service from the environment.
async fn build() -> anyhow::Result<Escrow> {
    let (config, provider) = settings()?;
    build_with(config, provider).await
}

async fn build_with(config: Config, provider: ProviderChoice) -> anyhow::Result<Escrow> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&database_url()?)
        .await
        .context("cannot connect to escrow's database")?;
    MIGRATOR.run(&pool).await.context("migrations failed")?;
    let appview =
        std::env::var("GREENLIGHT_APPVIEW_URL").unwrap_or_else(|_| DEFAULT_APPVIEW.into());
    let mut escrow = Escrow::new(pool, config, Arc::new(AppViewProposals::new(&appview)))?;
    if let ProviderChoice::Stripe(stripe) = provider {
        escrow = escrow.with_provider(Arc::new(StripeProvider::new(stripe)));
    }
    let resolver = greenlight_identity::Resolver::new(greenlight_identity::ResolverConfig {
        plc_url: std::env::var("GREENLIGHT_PLC_URL")
            .unwrap_or_else(|_| "https://plc.directory".into()),
        allow_insecure_http: std::env::var("GREENLIGHT_ALLOW_INSECURE_HTTP")
            .is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes" | "on")),
        handle_resolver_pds: std::env::var("GREENLIGHT_HANDLE_RESOLVER_PDS").ok(),
        ..Default::default()
    });
    let audience = escrow.config.service_did.clone();
    escrow = escrow.with_verifier(Arc::new(ServiceAuth::new(resolver, &audience)));
    if let Ok(spec) = std::env::var("GREENLIGHT_ESCROW_FAILPOINTS") {
        let points = FailPoints::parse(&spec).map_err(anyhow::Error::msg)?;
        escrow = escrow.with_failpoints(points);
    }
    Ok(escrow)
}

async fn serve(demo_flag: bool) -> anyhow::Result<()> {
    let bind = std::env::var("GREENLIGHT_ESCROW_BIND").unwrap_or_else(|_| DEFAULT_BIND.into());
    let (mut config, provider) = settings()?;
    config.demo |= demo_flag;
    // Decided before anything else is touched: a refused configuration starts nothing.
    let waived = config.startup_check(&provider)?;
    if config.demo {
        let waived = waived
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        tracing::warn!(
            waived = %waived,
            "DEMO MODE (GREENLIGHT_ESCROW_DEMO / --demo): this escrow is a demo and must not \
             face the public or hold real money"
        );
        eprintln!(
            "\n*** greenlight-escrow is running as a DEMO: not for real money or the public. ***\n\
             *** Unsafe settings allowed by the demo flag: {} ***\n",
            if waived.is_empty() { "none" } else { &waived }
        );
    }
    let escrow = Arc::new(build_with(config, provider).await?);
    if escrow.config.admin_password.is_empty() {
        tracing::warn!("GREENLIGHT_ESCROW_ADMIN_PASSWORD is unset: operator methods are closed");
    }
    let tick_ms: u64 = std::env::var("GREENLIGHT_ESCROW_TICK_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1_000);
    let worker = tokio::spawn(lifecycle::run_worker(
        escrow.clone(),
        Duration::from_millis(tick_ms),
    ));
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!(address = %bind, provider = escrow.provider.name(), did = %escrow.config.service_did, "escrow listening");
    http::serve(listener, escrow).await?;
    worker.abort();
    Ok(())
}

async fn bench_command() -> anyhow::Result<()> {
    let admin_url = std::env::var("DATABASE_URL")
        .context("set DATABASE_URL to a role that may create databases (scripts/postgres url)")?;
    let pgbench = std::env::var("PGBENCH")
        .ok()
        .or_else(bench::find_pgbench)
        .context("pgbench not found; set PGBENCH")?;
    let config = bench::BenchConfig {
        admin_url,
        clients: std::env::var("BENCH_CLIENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8),
        seconds: std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
        pgbench,
    };
    println!(
        "escrow bench: {} clients, {} s per side, same Postgres server",
        config.clients, config.seconds
    );
    let report = bench::run(&config).await?;
    println!(
        "ledger: {:.0} idempotent transfers/s ({} created, {} replays recognised)",
        report.transfers_per_second, report.created, report.replayed
    );
    println!("pgbench -N (simple update): {:.0} tps", report.pgbench_tps);
    println!(
        "ratio: {:.2} ledger transfers per pgbench transaction",
        report.transfers_per_second / report.pgbench_tps
    );
    println!("invariant violations after the run: {}", report.violations);
    if report.violations > 0 {
        bail!("the benchmark left the books inconsistent");
    }
    Ok(())
}
