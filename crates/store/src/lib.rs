//! The AppView database: its migrations (`migrations/` at the repository root) and pool.
//!
//! Every table lives in the `appview` schema and is named with it in queries, so the AppView
//! can share a Postgres server with other services without relying on `search_path`.

pub mod server;

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The AppView schema's migrations, embedded at build time. Forward-only.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// What can go wrong while opening the AppView database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to the AppView database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed to apply.
    #[error("cannot migrate the AppView database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens a pool of at most `max_connections` to `url` and brings the schema up to date.
///
/// Safe to call from several processes at once: sqlx serialises migrations with an advisory lock.
pub async fn open(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(StoreError::Connect)?;
    MIGRATOR.run(&pool).await?;
    tracing::debug!("AppView database is up to date");
    Ok(pool)
}
