//! Follows the escrow's public ledger feed (`fund.greenlight.escrow.listLedgerEntries`) and
//! keeps the money aggregates up to date.
//!
//! Each page is applied in one transaction together with the feed position it reaches, so a
//! crash never loses or double-applies a page, and a restart resumes from the stored cursor.
//! Entries re-appear under a higher seq when their state changes; the latest per id wins.

use std::time::Duration;

use greenlight_aggregates::{apply_ledger_entries, LedgerEntry};
use greenlight_lexicon::Catalog;
use serde::Deserialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

const NSID: &str = "fund.greenlight.escrow.listLedgerEntries";

/// Entries asked for per page (the lexicon's maximum is 1000).
const PAGE: u32 = 500;

/// Why a round of following failed; the follower logs it and retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The escrow could not be reached or answered with an error status.
    #[error("escrow feed request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The page is not what the lexicon says.
    #[error("escrow feed page is invalid: {0}")]
    Invalid(String),
    /// The database failed; the page was not applied.
    #[error("database error while applying the escrow feed: {0}")]
    Database(#[from] sqlx::Error),
}

#[derive(Deserialize)]
struct Page {
    entries: Vec<LedgerEntry>,
}

/// Follows one escrow's feed into one AppView database.
#[derive(Clone)]
pub struct EscrowFeed {
    pool: PgPool,
    http: reqwest::Client,
    base_url: String,
    source: String,
    catalog: &'static Catalog,
}

impl EscrowFeed {
    /// A follower of the escrow at `base_url` (e.g. `http://localhost:2590`).
    pub fn new(pool: PgPool, base_url: &str) -> Result<EscrowFeed, FeedError> {
        let catalog = Catalog::embedded().map_err(|e| FeedError::Invalid(e.to_string()))?;
        let base_url = base_url.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(EscrowFeed {
            pool,
            http,
            source: format!("escrow:{base_url}"),
            base_url,
            catalog,
        })
    }

    /// The feed position already applied (0 before the first entry).
    pub async fn position(&self) -> Result<i64, sqlx::Error> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT position FROM appview.source_cursor WHERE source = $1")
                .bind(&self.source)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map_or(0, |(p,)| p))
    }

    /// Fetches and applies the next page; returns how many entries it held (0: caught up).
    pub async fn follow_once(&self) -> Result<usize, FeedError> {
        let position = self.position().await?;
        let url = format!("{}/xrpc/{NSID}", self.base_url);
        let mut request = self.http.get(&url).query(&[("limit", PAGE.to_string())]);
        if position > 0 {
            request = request.query(&[("cursor", position.to_string())]);
        }
        let body: serde_json::Value = request.send().await?.error_for_status()?.json().await?;
        self.catalog
            .validate_output(NSID, &body)
            .map_err(|e| FeedError::Invalid(e.to_string()))?;
        let page: Page =
            serde_json::from_value(body).map_err(|e| FeedError::Invalid(e.to_string()))?;
        // Only entries past our position: a feed that repeats itself changes nothing.
        let entries: Vec<LedgerEntry> = page
            .entries
            .into_iter()
            .filter(|e| e.seq > position)
            .collect();
        let Some(last) = entries.iter().map(|e| e.seq).max() else {
            return Ok(0);
        };
        let mut tx = self.pool.begin().await?;
        apply_ledger_entries(&mut tx, &entries).await?;
        sqlx::query(
            "INSERT INTO appview.source_cursor (source, position) VALUES ($1, $2)
             ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
             WHERE appview.source_cursor.position < EXCLUDED.position",
        )
        .bind(&self.source)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(entries.len())
    }

    /// Follows until `shutdown`: pages back to back while there are entries, then polls every
    /// `poll`; failures back off up to a minute.
    pub async fn run(
        self,
        poll: Duration,
        metrics: std::sync::Arc<Metrics>,
        shutdown: CancellationToken,
    ) {
        let mut failures: u32 = 0;
        loop {
            let wait = match self.follow_once().await {
                Ok(0) => {
                    failures = 0;
                    poll
                }
                Ok(n) => {
                    failures = 0;
                    if let Ok(position) = self.position().await {
                        metrics.escrow_applied(position);
                    }
                    tracing::debug!(entries = n, "applied escrow ledger entries");
                    Duration::ZERO
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let backoff = Duration::from_millis(500)
                        .saturating_mul(2u32.saturating_pow(failures.min(7)))
                        .min(Duration::from_secs(60));
                    tracing::warn!(%error, ?backoff, "escrow feed round failed");
                    backoff
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
