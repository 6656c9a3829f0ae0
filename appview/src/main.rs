//! The Greenlight AppView: serves funding totals, proposals, embeds and pages over XRPC.

use anyhow::Context;

/// Where the AppView listens unless `GREENLIGHT_APPVIEW_BIND` says otherwise.
const DEFAULT_BIND: &str = "127.0.0.1:2584";

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
    let bind = std::env::var("GREENLIGHT_APPVIEW_BIND").unwrap_or_else(|_| DEFAULT_BIND.into());

    let _pool = greenlight_store::open(&database_url, 16).await?;
    let router = greenlight_xrpc::with_conventions(axum::Router::new(), env!("CARGO_PKG_VERSION"));
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!(address = %bind, "AppView listening");
    greenlight_xrpc::serve(listener, router).await?;
    Ok(())
}
