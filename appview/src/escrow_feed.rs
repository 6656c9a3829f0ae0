//! Follows the escrow's three public feeds into the AppView database:
//! - [`EscrowFeed`]: the ledger (`fund.greenlight.escrow.listLedgerEntries`), which keeps the
//!   money aggregates up to date;
//! - [`TermsFeed`]: the proposal states (`fund.greenlight.escrow.listProposalStates`), the
//!   terms escrow fixed for each proposal and its own verification clock, kept in
//!   `appview.escrow_proposal` so views never contradict where the money is;
//! - [`RetainerFeed`]: the retainer agreements' states
//!   (`fund.greenlight.escrow.listRetainerStates`), kept in `appview.escrow_retainer`: a
//!   client's retainer record counts only as far as escrow confirms its agreement, and the
//!   client is named only when escrow says they asked to be.
//!
//! Each page is applied in one transaction together with the feed position it reaches, so a
//! crash never loses or double-applies a page, and a restart resumes from the stored cursor.
//! Items re-appear under a higher seq when their state changes; the latest per id wins. A page
//! that breaks its lexicon is refused whole (nothing of it applied, the cursor stays) and the
//! round is retried with backoff, so nothing is skipped silently.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use greenlight_aggregates::{apply_ledger_entries, LedgerEntry};
use greenlight_lexicon::fund::greenlight::escrow::defs::ProposalTerms;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::RetainerState;
use greenlight_lexicon::Catalog;
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

const NSID: &str = "fund.greenlight.escrow.listLedgerEntries";
const STATES_NSID: &str = "fund.greenlight.escrow.listProposalStates";
const RETAINER_NSID: &str = "fund.greenlight.escrow.listRetainerStates";

/// Items asked for per page (the lexicons' maximum is 1000).
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

#[derive(Deserialize)]
struct StatesPage {
    states: Vec<ProposalTerms>,
}

#[derive(Deserialize)]
struct RetainerPage {
    states: Vec<RetainerState>,
}

/// What the followers share: where the escrow is, how to reach it, and the feed's name in
/// `appview.source_cursor`.
#[derive(Clone)]
struct Source {
    pool: PgPool,
    http: reqwest::Client,
    base_url: String,
    name: String,
    catalog: &'static Catalog,
}

impl Source {
    fn new(pool: PgPool, base_url: &str, prefix: &str) -> Result<Source, FeedError> {
        let catalog = Catalog::embedded().map_err(|e| FeedError::Invalid(e.to_string()))?;
        let base_url = base_url.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Source {
            pool,
            http,
            name: format!("{prefix}:{base_url}"),
            base_url,
            catalog,
        })
    }

    async fn position(&self) -> Result<i64, sqlx::Error> {
        let row: Option<i64> = sqlx::query_scalar!(
            "SELECT position FROM appview.source_cursor WHERE source = $1",
            &self.name,
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.unwrap_or(0))
    }

    /// The next page of `nsid` after `position`, checked against the lexicon catalog.
    async fn page(&self, nsid: &str, position: i64) -> Result<serde_json::Value, FeedError> {
        let url = format!("{}/xrpc/{nsid}", self.base_url);
        let mut request = self.http.get(&url).query(&[("limit", PAGE.to_string())]);
        if position > 0 {
            request = request.query(&[("cursor", position.to_string())]);
        }
        let body: serde_json::Value = request.send().await?.error_for_status()?.json().await?;
        self.catalog
            .validate_output(nsid, &body)
            .map_err(|e| FeedError::Invalid(e.to_string()))?;
        Ok(body)
    }

    /// Records `last` as applied, in the transaction that applied it; never moves back.
    async fn store_position(&self, conn: &mut PgConnection, last: i64) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "INSERT INTO appview.source_cursor (source, position) VALUES ($1, $2)
             ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
             WHERE appview.source_cursor.position < EXCLUDED.position",
            &self.name,
            last,
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Runs `round` until `shutdown`: rounds back to back while they apply something, then every
/// `poll`; failures back off up to a minute. `feed` names the feed in logs.
async fn follow<F, Fut>(
    feed: &'static str,
    poll: Duration,
    shutdown: CancellationToken,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, FeedError>>,
{
    let mut failures: u32 = 0;
    loop {
        let wait = match round().await {
            Ok(0) => {
                failures = 0;
                poll
            }
            Ok(n) => {
                failures = 0;
                tracing::debug!(feed, items = n, "applied an escrow feed page");
                Duration::ZERO
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let backoff = Duration::from_millis(500)
                    .saturating_mul(2u32.saturating_pow(failures.min(7)))
                    .min(Duration::from_secs(60));
                match &error {
                    // Escrow published something we refuse: it will not fix itself by
                    // waiting, so say so loudly; the page stays unapplied until it is fixed.
                    FeedError::Invalid(_) => {
                        tracing::error!(feed, %error, ?backoff, "escrow feed page refused")
                    }
                    _ => tracing::warn!(feed, %error, ?backoff, "escrow feed round failed"),
                }
                backoff
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Follows one escrow's ledger feed into one AppView database.
#[derive(Clone)]
pub struct EscrowFeed {
    source: Source,
}

impl EscrowFeed {
    /// A follower of the escrow at `base_url` (e.g. `http://localhost:2590`).
    pub fn new(pool: PgPool, base_url: &str) -> Result<EscrowFeed, FeedError> {
        Ok(EscrowFeed {
            source: Source::new(pool, base_url, "escrow")?,
        })
    }

    /// The feed position already applied (0 before the first entry).
    pub async fn position(&self) -> Result<i64, sqlx::Error> {
        self.source.position().await
    }

    /// Fetches and applies the next page; returns how many entries it held (0: caught up).
    pub async fn follow_once(&self) -> Result<usize, FeedError> {
        let position = self.position().await?;
        let body = self.source.page(NSID, position).await?;
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
        let mut tx = self.source.pool.begin().await?;
        apply_ledger_entries(&mut tx, &entries).await?;
        self.source.store_position(&mut tx, last).await?;
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
        let (this, metrics) = (&self, &metrics);
        follow("ledger", poll, shutdown, move || async move {
            let n = this.follow_once().await?;
            if n > 0 {
                if let Ok(position) = this.position().await {
                    metrics.escrow_applied(position);
                }
            }
            Ok(n)
        })
        .await
    }
}

/// One proposal state as stored in `appview.escrow_proposal`.
#[derive(Debug, Clone)]
struct TermsRow {
    proposal: String,
    seq: i64,
    project: String,
    payee: String,
    currency: String,
    fee_basis_points: i32,
    preview_ends_at: Option<DateTime<Utc>>,
    stage: String,
    verification_started_at: Option<DateTime<Utc>>,
    verification_ends_at: Option<DateTime<Utc>>,
    open_disputes: i32,
    settlement: Option<String>,
    terms_fixed_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TermsRow {
    /// The row of a state that passed the lexicon. The lexicon's datetime and ranges are
    /// checked again here because a value we cannot store must refuse the page, not be
    /// dropped or stored as something else.
    fn from_state(state: ProposalTerms) -> Result<TermsRow, FeedError> {
        let seq = state.seq;
        let invalid = |field: &str, why: String| {
            FeedError::Invalid(format!("state seq {seq}: {field}: {why}"))
        };
        let time = |field: &str, value: &str| {
            DateTime::parse_from_rfc3339(value)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| invalid(field, format!("{value:?} is not a datetime ({e})")))
        };
        let optional_time =
            |field: &str, value: Option<&str>| value.map(|v| time(field, v)).transpose();
        Ok(TermsRow {
            fee_basis_points: i32::try_from(state.fee_basis_points)
                .map_err(|e| invalid("feeBasisPoints", e.to_string()))?,
            open_disputes: i32::try_from(state.open_disputes.unwrap_or(0))
                .map_err(|e| invalid("openDisputes", e.to_string()))?,
            preview_ends_at: optional_time("previewEndsAt", state.preview_ends_at.as_deref())?,
            verification_started_at: optional_time(
                "verificationStartedAt",
                state.verification_started_at.as_deref(),
            )?,
            verification_ends_at: optional_time(
                "verificationEndsAt",
                state.verification_ends_at.as_deref(),
            )?,
            terms_fixed_at: time("termsFixedAt", &state.terms_fixed_at)?,
            updated_at: time("updatedAt", &state.updated_at)?,
            proposal: state.proposal,
            seq,
            project: state.project,
            payee: state.payee,
            currency: state.currency,
            stage: state.stage,
            settlement: state.settlement,
        })
    }
}

/// Follows one escrow's proposal-states feed (its terms and verification clock per proposal)
/// into `appview.escrow_proposal`, and announces every proposal whose state changed on
/// [`greenlight_aggregates::CHANGED_CHANNEL`] so cached views of it are dropped.
#[derive(Clone)]
pub struct TermsFeed {
    source: Source,
}

impl TermsFeed {
    /// A follower of the proposal states of the escrow at `base_url`.
    pub fn new(pool: PgPool, base_url: &str) -> Result<TermsFeed, FeedError> {
        Ok(TermsFeed {
            source: Source::new(pool, base_url, "escrow-states")?,
        })
    }

    /// The feed position already applied (0 before the first state).
    pub async fn position(&self) -> Result<i64, sqlx::Error> {
        self.source.position().await
    }

    /// Fetches and applies the next page; returns how many new states it held (0: caught up).
    pub async fn follow_once(&self) -> Result<usize, FeedError> {
        let position = self.position().await?;
        let body = self.source.page(STATES_NSID, position).await?;
        let page: StatesPage =
            serde_json::from_value(body).map_err(|e| FeedError::Invalid(e.to_string()))?;
        // Convert the whole page before writing anything: one bad state refuses the page.
        let rows = page
            .states
            .into_iter()
            // Only states past our position: a feed that repeats itself changes nothing.
            .filter(|s| s.seq > position)
            .map(TermsRow::from_state)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = rows.iter().map(|r| r.seq).max() else {
            return Ok(0);
        };
        let count = rows.len();
        // The latest state per proposal: one upsert cannot touch a row twice.
        let mut latest: BTreeMap<String, TermsRow> = BTreeMap::new();
        for row in rows {
            match latest.get(&row.proposal) {
                Some(kept) if kept.seq >= row.seq => {}
                _ => {
                    latest.insert(row.proposal.clone(), row);
                }
            }
        }
        let mut tx = self.source.pool.begin().await?;
        let changed = upsert_terms(&mut tx, latest.into_values().collect()).await?;
        let uris: Vec<&str> = changed.iter().map(String::as_str).collect();
        greenlight_aggregates::notify(&mut tx, &uris).await?;
        self.source.store_position(&mut tx, last).await?;
        tx.commit().await?;
        if !changed.is_empty() {
            tracing::debug!(proposals = changed.len(), "escrow proposal states changed");
        }
        Ok(count)
    }

    /// Follows until `shutdown`: pages back to back while there are states, then polls every
    /// `poll`; failures (escrow down, a refused page) back off up to a minute.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        let this = &self;
        follow("proposal states", poll, shutdown, move || {
            this.follow_once()
        })
        .await
    }
}

/// Stores `rows` (one per proposal) unless a state with the same or a higher seq is already
/// stored, so replays and stale repeats change nothing; returns the proposals that changed.
async fn upsert_terms(
    conn: &mut PgConnection,
    rows: Vec<TermsRow>,
) -> Result<Vec<String>, sqlx::Error> {
    let n = rows.len();
    let mut proposal = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    let mut project = Vec::with_capacity(n);
    let mut payee = Vec::with_capacity(n);
    let mut currency = Vec::with_capacity(n);
    let mut fee = Vec::with_capacity(n);
    let mut preview_ends_at = Vec::with_capacity(n);
    let mut stage = Vec::with_capacity(n);
    let mut started = Vec::with_capacity(n);
    let mut ends = Vec::with_capacity(n);
    let mut disputes = Vec::with_capacity(n);
    let mut settlement = Vec::with_capacity(n);
    let mut fixed = Vec::with_capacity(n);
    let mut updated = Vec::with_capacity(n);
    for row in rows {
        proposal.push(row.proposal);
        seq.push(row.seq);
        project.push(row.project);
        payee.push(row.payee);
        currency.push(row.currency);
        fee.push(row.fee_basis_points);
        preview_ends_at.push(row.preview_ends_at);
        stage.push(row.stage);
        started.push(row.verification_started_at);
        ends.push(row.verification_ends_at);
        disputes.push(row.open_disputes);
        settlement.push(row.settlement);
        fixed.push(row.terms_fixed_at);
        updated.push(row.updated_at);
    }
    sqlx::query_scalar!(
        "INSERT INTO appview.escrow_proposal AS e (proposal, seq, project, payee, currency,
             fee_basis_points, preview_ends_at, stage, verification_started_at,
             verification_ends_at, open_disputes, settlement, terms_fixed_at, updated_at)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
             $6::int4[], $7::timestamptz[], $8::text[], $9::timestamptz[], $10::timestamptz[],
             $11::int4[], $12::text[], $13::timestamptz[], $14::timestamptz[])
         ON CONFLICT (proposal) DO UPDATE SET seq = EXCLUDED.seq, project = EXCLUDED.project,
             payee = EXCLUDED.payee, currency = EXCLUDED.currency,
             fee_basis_points = EXCLUDED.fee_basis_points,
             preview_ends_at = EXCLUDED.preview_ends_at, stage = EXCLUDED.stage,
             verification_started_at = EXCLUDED.verification_started_at,
             verification_ends_at = EXCLUDED.verification_ends_at,
             open_disputes = EXCLUDED.open_disputes, settlement = EXCLUDED.settlement,
             terms_fixed_at = EXCLUDED.terms_fixed_at, updated_at = EXCLUDED.updated_at
         WHERE e.seq < EXCLUDED.seq
         RETURNING proposal",
        &proposal,
        &seq,
        &project,
        &payee,
        &currency,
        &fee,
        &preview_ends_at as &[Option<DateTime<Utc>>],
        &stage,
        &started as &[Option<DateTime<Utc>>],
        &ends as &[Option<DateTime<Utc>>],
        &disputes,
        &settlement as &[Option<String>],
        &fixed,
        &updated,
    )
    .fetch_all(&mut *conn)
    .await
}

/// One agreement state as stored in `appview.escrow_retainer`.
#[derive(Debug, Clone)]
struct RetainerRow {
    agreement: String,
    seq: i64,
    offer: String,
    maintainer: String,
    client: Option<String>,
    tier: String,
    amount: i64,
    currency: String,
    period: String,
    state: String,
    paid_periods: i64,
    current_period_ends_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl RetainerRow {
    /// The row of a state that passed the lexicon; its datetimes are parsed again because a
    /// value we cannot store must refuse the page, not be dropped.
    fn from_state(state: RetainerState) -> Result<RetainerRow, FeedError> {
        let seq = state.seq;
        let time = |field: &str, value: &str| {
            DateTime::parse_from_rfc3339(value)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    FeedError::Invalid(format!(
                        "retainer state seq {seq}: {field}: {value:?} is not a datetime ({e})"
                    ))
                })
        };
        Ok(RetainerRow {
            current_period_ends_at: state
                .current_period_ends_at
                .as_deref()
                .map(|v| time("currentPeriodEndsAt", v))
                .transpose()?,
            updated_at: time("updatedAt", &state.updated_at)?,
            agreement: state.agreement,
            seq,
            offer: state.offer,
            maintainer: state.maintainer,
            client: state.client,
            tier: state.tier,
            amount: state.amount,
            currency: state.currency,
            period: state.period,
            state: state.state,
            paid_periods: state.paid_periods,
        })
    }
}

/// Follows one escrow's retainer-states feed into `appview.escrow_retainer`, and announces
/// the offers whose agreements changed on [`greenlight_aggregates::CHANGED_CHANNEL`] so any
/// cached view of them is dropped.
#[derive(Clone)]
pub struct RetainerFeed {
    source: Source,
}

impl RetainerFeed {
    /// A follower of the retainer states of the escrow at `base_url`.
    pub fn new(pool: PgPool, base_url: &str) -> Result<RetainerFeed, FeedError> {
        Ok(RetainerFeed {
            source: Source::new(pool, base_url, "escrow-retainers")?,
        })
    }

    /// The feed position already applied (0 before the first state).
    pub async fn position(&self) -> Result<i64, sqlx::Error> {
        self.source.position().await
    }

    /// Fetches and applies the next page; returns how many new states it held (0: caught up).
    pub async fn follow_once(&self) -> Result<usize, FeedError> {
        let position = self.position().await?;
        let body = self.source.page(RETAINER_NSID, position).await?;
        let page: RetainerPage =
            serde_json::from_value(body).map_err(|e| FeedError::Invalid(e.to_string()))?;
        // Convert the whole page before writing anything: one bad state refuses the page.
        let rows = page
            .states
            .into_iter()
            // Only states past our position: a feed that repeats itself changes nothing.
            .filter(|s| s.seq > position)
            .map(RetainerRow::from_state)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = rows.iter().map(|r| r.seq).max() else {
            return Ok(0);
        };
        let count = rows.len();
        // The latest state per agreement: one upsert cannot touch a row twice.
        let mut latest: BTreeMap<String, RetainerRow> = BTreeMap::new();
        for row in rows {
            match latest.get(&row.agreement) {
                Some(kept) if kept.seq >= row.seq => {}
                _ => {
                    latest.insert(row.agreement.clone(), row);
                }
            }
        }
        let mut tx = self.source.pool.begin().await?;
        let changed = upsert_retainers(&mut tx, latest.into_values().collect()).await?;
        let offers: Vec<&str> = changed
            .iter()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        greenlight_aggregates::notify(&mut tx, &offers).await?;
        self.source.store_position(&mut tx, last).await?;
        tx.commit().await?;
        if !changed.is_empty() {
            tracing::debug!(agreements = changed.len(), "escrow retainer states changed");
        }
        Ok(count)
    }

    /// Follows until `shutdown`: pages back to back while there are states, then polls every
    /// `poll`; failures (escrow down, a refused page) back off up to a minute.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        let this = &self;
        follow("retainer states", poll, shutdown, move || {
            this.follow_once()
        })
        .await
    }
}

/// Stores `rows` (one per agreement) unless a state with the same or a higher seq is already
/// stored, so replays and stale repeats change nothing; returns the offers of the agreements
/// that changed.
async fn upsert_retainers(
    conn: &mut PgConnection,
    rows: Vec<RetainerRow>,
) -> Result<Vec<String>, sqlx::Error> {
    let n = rows.len();
    let mut agreement = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    let mut offer = Vec::with_capacity(n);
    let mut maintainer = Vec::with_capacity(n);
    let mut client = Vec::with_capacity(n);
    let mut tier = Vec::with_capacity(n);
    let mut amount = Vec::with_capacity(n);
    let mut currency = Vec::with_capacity(n);
    let mut period = Vec::with_capacity(n);
    let mut state = Vec::with_capacity(n);
    let mut paid_periods = Vec::with_capacity(n);
    let mut ends = Vec::with_capacity(n);
    let mut updated = Vec::with_capacity(n);
    for row in rows {
        agreement.push(row.agreement);
        seq.push(row.seq);
        offer.push(row.offer);
        maintainer.push(row.maintainer);
        client.push(row.client);
        tier.push(row.tier);
        amount.push(row.amount);
        currency.push(row.currency);
        period.push(row.period);
        state.push(row.state);
        paid_periods.push(row.paid_periods);
        ends.push(row.current_period_ends_at);
        updated.push(row.updated_at);
    }
    sqlx::query_scalar!(
        "INSERT INTO appview.escrow_retainer AS e (agreement, seq, offer, maintainer, client,
             tier, amount, currency, period, state, paid_periods, current_period_ends_at,
             updated_at)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::int8[], $8::text[], $9::text[], $10::text[], $11::int8[],
             $12::timestamptz[], $13::timestamptz[])
         ON CONFLICT (agreement) DO UPDATE SET seq = EXCLUDED.seq, offer = EXCLUDED.offer,
             maintainer = EXCLUDED.maintainer, client = EXCLUDED.client, tier = EXCLUDED.tier,
             amount = EXCLUDED.amount, currency = EXCLUDED.currency, period = EXCLUDED.period,
             state = EXCLUDED.state, paid_periods = EXCLUDED.paid_periods,
             current_period_ends_at = EXCLUDED.current_period_ends_at,
             updated_at = EXCLUDED.updated_at
         WHERE e.seq < EXCLUDED.seq
         RETURNING offer",
        &agreement,
        &seq,
        &offer,
        &maintainer,
        &client as &[Option<String>],
        &tier,
        &amount,
        &currency,
        &period,
        &state,
        &paid_periods,
        &ends as &[Option<DateTime<Utc>>],
        &updated,
    )
    .fetch_all(&mut *conn)
    .await
}
