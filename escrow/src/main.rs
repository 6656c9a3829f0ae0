//! The Greenlight escrow service: holds pledged money until a release is verified or refunds it.

use anyhow::Context;

/// Where escrow listens unless `GREENLIGHT_ESCROW_BIND` says otherwise.
const DEFAULT_BIND: &str = "127.0.0.1:2585";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let bind = std::env::var("GREENLIGHT_ESCROW_BIND").unwrap_or_else(|_| DEFAULT_BIND.into());
    let router = greenlight_xrpc::with_conventions(axum::Router::new(), env!("CARGO_PKG_VERSION"));
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!(address = %bind, "escrow listening");
    greenlight_xrpc::serve(listener, router).await?;
    Ok(())
}
