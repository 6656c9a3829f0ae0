//! The Greenlight indexer: consumes `fund.greenlight.*` records from the network into Postgres.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let database_url = std::env::var("DATABASE_URL")
        .context("DATABASE_URL is not set (scripts/postgres start prints one)")?;
    let _pool = greenlight_store::open(&database_url, 4).await?;
    tracing::info!("indexer ready; no event source is configured yet");
    greenlight_xrpc::shutdown_signal().await;
    Ok(())
}
