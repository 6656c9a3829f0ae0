//! The Greenlight escrow service: holds pledged money from pledge to payout or refund, and
//! accounts for every cent in a public, append-only, double-entry ledger.
//!
//! [`Escrow`] is the service: its database, payment provider, source of proposal stages, clock
//! and caller verification. [`http::router`] serves the `fund.greenlight.escrow.*` lexicons,
//! the sandbox checkout pages and the provider webhooks; [`lifecycle::tick`] moves money when
//! proposals change stage and [`jobs`] carries each refund and payout through durable steps.

#![warn(missing_docs)]

pub mod auth;
pub mod bench;
pub mod billing_clock;
pub mod clock;
pub mod config;
pub mod error;
pub mod failpoint;
pub mod fee;
pub mod http;
pub mod idempotency;
pub mod identifiers;
pub mod jobs;
pub mod ledger;
pub mod lifecycle;
pub mod procedures;
pub mod proposal_source;
pub mod provider;
pub mod reconcile;
pub mod retainer;
pub mod states;
pub mod webhook;

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::{CallerVerifier, NoCallers};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::failpoint::FailPoints;
use crate::proposal_source::ProposalSource;
use crate::provider::sandbox::SandboxProvider;
use crate::provider::PaymentProvider;

pub use crate::error::EscrowError;

/// Escrow's schema migrations (`escrow/migrations`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The escrow service.
pub struct Escrow {
    /// Escrow's own database.
    pub pool: PgPool,
    /// Settings.
    pub config: Config,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The payment provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// The sandbox, when it is the provider: its checkout page buttons need it.
    pub sandbox: Option<Arc<SandboxProvider>>,
    /// Where proposal stages come from.
    pub proposals: Arc<dyn ProposalSource>,
    /// Who callers are.
    pub verifier: Arc<dyn CallerVerifier>,
    /// Injected failures (crash tests).
    pub failpoints: FailPoints,
    /// Wakes the lifecycle worker when a procedure queued work for it.
    pub wake: tokio::sync::Notify,
    catalog: &'static greenlight_lexicon::Catalog,
}

impl Escrow {
    /// An escrow on `pool` with the sandbox provider, the system clock and no callers
    /// accepted; adjust with the `with_*` methods.
    pub fn new(
        pool: PgPool,
        config: Config,
        proposals: Arc<dyn ProposalSource>,
    ) -> Result<Escrow, EscrowError> {
        let catalog = greenlight_lexicon::Catalog::embedded()
            .map_err(|error| EscrowError::Internal(format!("lexicon catalog: {error}")))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sandbox = Arc::new(SandboxProvider::new(
            pool.clone(),
            &config.public_url,
            config.sandbox_webhook_secret.as_bytes(),
            clock.clone(),
        ));
        Ok(Escrow {
            pool,
            config,
            clock,
            provider: sandbox.clone(),
            sandbox: Some(sandbox),
            proposals,
            verifier: Arc::new(NoCallers),
            failpoints: FailPoints::none(),
            wake: tokio::sync::Notify::new(),
            catalog,
        })
    }

    /// Uses `clock` (the sandbox too).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Escrow {
        if self.sandbox.is_some() {
            let sandbox = Arc::new(SandboxProvider::new(
                self.pool.clone(),
                &self.config.public_url,
                self.config.sandbox_webhook_secret.as_bytes(),
                clock.clone(),
            ));
            self.provider = sandbox.clone();
            self.sandbox = Some(sandbox);
        }
        self.clock = clock;
        self
    }

    /// Uses `provider` instead of the sandbox.
    pub fn with_provider(mut self, provider: Arc<dyn PaymentProvider>) -> Escrow {
        self.provider = provider;
        self.sandbox = None;
        self
    }

    /// Uses `verifier` for callers' tokens.
    pub fn with_verifier(mut self, verifier: Arc<dyn CallerVerifier>) -> Escrow {
        self.verifier = verifier;
        self
    }

    /// Arms these failure points.
    pub fn with_failpoints(mut self, failpoints: FailPoints) -> Escrow {
        self.failpoints = failpoints;
        self
    }

    /// The lexicon catalog requests and responses are validated against.
    pub fn catalog(&self) -> &'static greenlight_lexicon::Catalog {
        self.catalog
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
