//! Backfill: records written before we started listening.
//!
//! Repos come from a relay's `com.atproto.sync.listReposByCollection` or from a given list of
//! DIDs. Each DID is resolved to its PDS; the repo's current revision is read
//! (`com.atproto.sync.getLatestCommit`) *before* its records are listed
//! (`com.atproto.repo.listRecords`), and every listed record is written with that revision.
//! A record changed during the listing is then at least as new as that revision, and the live
//! stream's own write (with its later revision) wins; a record deleted during the listing left
//! a tombstone with a later revision, which the backfill's older write cannot pass. So
//! backfill is safe to run while live ingest runs.
//!
//! Progress is kept per repo in `appview.backfill_repo`; a rerun skips repos already done.
//! Concurrency is bounded overall and per PDS host.
//!
//! A PDS is whatever a DID document names, so it is fetched like any URL taken from the
//! network: through `greenlight_safe_fetch` (https only, no private or loopback addresses
//! outside the development setting, redirects only on the same host, size and time caps), and
//! each repo has caps on pages, records, bytes and time ([`RepoLimits`]), since a hostile PDS
//! can answer with an endless stream of cursors. A repo stopped at a cap is marked failed with
//! an error naming the cap; what it wrote before stays.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use greenlight_identity::{IdentityError, Resolver};
use greenlight_lexicon::format::is_valid_cid;
use greenlight_safe_fetch::{FetchError, FetchOptions, Fetcher, Policy};
use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::PgPool;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::event::{EventBody, RecordOp, SourceEvent};
use crate::metrics::Metrics;
use crate::record_rules::{is_did, is_record_key, is_tid, COLLECTIONS};
use crate::source::firehose::FrameJudge;
use crate::writer::Writer;

/// Records asked for per `listRecords` page (the protocol's maximum).
const PAGE_SIZE: u32 = 100;

/// The largest response body read from a relay or PDS (a page of 100 records of the largest
/// kind is a few MiB).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Time cap on one request to a relay or PDS.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts at a request that failed in transport (unreachable, timed out).
const REQUEST_ATTEMPTS: u32 = 4;

/// Pages of `listReposByCollection` read per collection: far more repos than the network
/// has, and still an end to a relay that never stops answering.
const MAX_RELAY_PAGES: usize = 100_000;

/// Caps on backfilling one repo: a PDS is anyone's server, and one that answers every
/// `listRecords` with a fresh cursor (or huge pages, or slowly) must not keep a backfill busy
/// forever. The defaults are far above any real Greenlight repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoLimits {
    /// `listRecords` pages fetched, over all collections.
    pub max_pages: usize,
    /// Records listed, over all collections.
    pub max_records: usize,
    /// Response bytes read from the PDS.
    pub max_bytes: usize,
    /// Time from the first request to the PDS to the last.
    pub max_time: Duration,
}

impl Default for RepoLimits {
    fn default() -> Self {
        RepoLimits {
            max_pages: 2_000,
            max_records: 100_000,
            max_bytes: 256 * 1024 * 1024,
            max_time: Duration::from_secs(15 * 60),
        }
    }
}

/// What to backfill and how hard to push.
#[derive(Debug, Clone)]
pub struct BackfillConfig {
    /// A relay to ask for repos holding our collections (`listReposByCollection`).
    pub relay_url: Option<String>,
    /// Explicit DIDs to backfill (in addition to the relay's list).
    pub dids: Vec<String>,
    /// Repos processed at once, overall.
    pub concurrency: usize,
    /// Repos processed at once on one PDS host.
    pub per_host: usize,
    /// Redo repos already marked done.
    pub force: bool,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
}

impl Default for BackfillConfig {
    fn default() -> Self {
        BackfillConfig {
            relay_url: None,
            dids: Vec::new(),
            concurrency: 8,
            per_host: 2,
            force: false,
            progress: true,
        }
    }
}

/// Why a backfill could not run at all (single repos that fail are recorded and skipped).
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The relay could not be asked for repos.
    #[error("cannot list repos from the relay: {0}")]
    Relay(String),
}

/// Why one repo's backfill failed; recorded (as text) in `appview.backfill_repo.error`.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The DID did not resolve.
    #[error("cannot resolve DID: {0}")]
    Identity(#[from] IdentityError),
    /// The DID document has no `#atproto_pds` service.
    #[error("DID document names no PDS")]
    NoPds,
    /// A request to the PDS failed or was refused (address, redirect, size, status).
    #[error("GET {url}: {error}")]
    Fetch {
        /// The URL, without its query.
        url: String,
        /// What went wrong.
        error: FetchError,
    },
    /// The PDS answered something that is not the method's output.
    #[error("GET {url}: unexpected response: {reason}")]
    BadResponse {
        /// The URL, without its query.
        url: String,
        /// Why it could not be read.
        reason: String,
    },
    /// `getLatestCommit` gave a revision that is not a TID.
    #[error("getLatestCommit rev {0:?} is not a TID")]
    BadRev(String),
    /// The PDS offered more `listRecords` pages than a repo may have.
    #[error("stopped at the cap of {limit} listRecords pages for one repo: the PDS kept offering more (records before the cap were kept)")]
    TooManyPages {
        /// The cap ([`RepoLimits::max_pages`]).
        limit: usize,
    },
    /// The PDS listed more records than a repo may have.
    #[error("stopped at the cap of {limit} records for one repo: the PDS kept listing more (records before the cap were kept)")]
    TooManyRecords {
        /// The cap ([`RepoLimits::max_records`]).
        limit: usize,
    },
    /// The PDS sent more bytes than a repo may take.
    #[error("stopped at the cap of {limit} response bytes for one repo (records before the cap were kept)")]
    TooManyBytes {
        /// The cap ([`RepoLimits::max_bytes`]).
        limit: usize,
    },
    /// The repo took longer than a repo may take.
    #[error("stopped at the cap of {} s for one repo (records before the cap were kept)", .limit.as_secs_f64())]
    TooSlow {
        /// The cap ([`RepoLimits::max_time`]).
        limit: Duration,
    },
    /// The database failed while writing the repo's records.
    #[error("database error: {0}")]
    Database(String),
}

/// What one repo has used of its [`RepoLimits`].
struct Budget {
    limits: RepoLimits,
    deadline: Instant,
    pages: usize,
    records: usize,
    bytes: usize,
}

impl Budget {
    fn start(limits: RepoLimits) -> Budget {
        Budget {
            limits,
            deadline: Instant::now() + limits.max_time,
            pages: 0,
            records: 0,
            bytes: 0,
        }
    }

    fn time_left(&self) -> Result<Duration, RepoError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(RepoError::TooSlow {
                limit: self.limits.max_time,
            })
        } else {
            Ok(left)
        }
    }

    fn bytes_left(&self) -> usize {
        self.limits.max_bytes.saturating_sub(self.bytes)
    }
}

/// Totals of a backfill run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// Repos backfilled in this run.
    pub repos_done: usize,
    /// Repos skipped because an earlier run finished them.
    pub repos_skipped: usize,
    /// Repos that failed (see `appview.backfill_repo.error`).
    pub repos_failed: usize,
    /// Records written (valid or rejected).
    pub records: usize,
}

#[derive(Deserialize)]
struct ListReposPage {
    repos: Vec<RepoEntry>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct RepoEntry {
    did: String,
}

#[derive(Deserialize)]
struct LatestCommit {
    rev: String,
}

#[derive(Deserialize)]
struct RecordsPage {
    records: Vec<ListedRecord>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListedRecord {
    uri: String,
    cid: String,
    value: Value,
}

/// Runs a backfill to completion.
pub struct Backfill {
    config: BackfillConfig,
    pool: PgPool,
    writer: Writer,
    resolver: Resolver,
    judge: FrameJudge,
    fetcher: Fetcher,
    limits: RepoLimits,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Backfill {
    /// A backfill writing through `writer` (its cursor row is left alone: backfill events
    /// carry no cursor), with the default [`RepoLimits`].
    ///
    /// PDSes are fetched under the resolver's development setting: plain http and loopback
    /// addresses only when `allow_insecure_http` is on.
    pub fn new(
        config: BackfillConfig,
        writer: Writer,
        resolver: Resolver,
        metrics: Arc<Metrics>,
        rules: crate::record_rules::RecordRules,
    ) -> Result<Backfill, BackfillError> {
        let fetcher = Fetcher::new(Policy {
            allow_loopback_http: resolver.config().allow_insecure_http,
            max_body_bytes: MAX_RESPONSE_BYTES,
            timeout: REQUEST_TIMEOUT,
            // Repos on one host are already limited to `per_host` at a time, and each makes
            // one request at a time.
            per_host_concurrency: config.per_host.max(1),
            user_agent: concat!("greenlight-indexer/", env!("CARGO_PKG_VERSION")).to_owned(),
            ..Policy::default()
        })
        .map_err(|err| BackfillError::Relay(err.to_string()))?;
        Ok(Backfill {
            pool: writer.pool().clone(),
            judge: FrameJudge::new(rules, None, None, metrics),
            config,
            writer,
            resolver,
            fetcher,
            limits: RepoLimits::default(),
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// The same backfill with other per-repo caps.
    pub fn with_limits(mut self, limits: RepoLimits) -> Backfill {
        self.limits = limits;
        self
    }

    /// Finds the repos, then backfills each that is not done yet.
    pub async fn run(&self) -> Result<BackfillReport, BackfillError> {
        let mut dids: Vec<String> = self.config.dids.clone();
        if let Some(relay) = &self.config.relay_url {
            dids.extend(self.list_repos(relay).await?);
        }
        // Repos queued by `#sync` events (or left pending by an interrupted run).
        dids.extend(
            sqlx::query_scalar!("SELECT did FROM appview.backfill_repo WHERE state = 'pending'")
                .fetch_all(&self.pool)
                .await?,
        );
        dids.retain(|did| is_did(did));
        dids.sort();
        dids.dedup();
        for did in &dids {
            sqlx::query!(
                "INSERT INTO appview.backfill_repo (did) VALUES ($1) ON CONFLICT (did) DO NOTHING",
                did
            )
            .execute(&self.pool)
            .await?;
        }
        let done: Vec<String> = if self.config.force {
            Vec::new()
        } else {
            sqlx::query_scalar!(
                "SELECT did FROM appview.backfill_repo WHERE state = 'done' AND did = ANY($1)",
                &dids
            )
            .fetch_all(&self.pool)
            .await?
        };
        let todo: Vec<String> = dids.iter().filter(|d| !done.contains(d)).cloned().collect();
        let mut report = BackfillReport {
            repos_skipped: dids.len() - todo.len(),
            ..BackfillReport::default()
        };
        let bar = if self.config.progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let bar = indicatif::ProgressBar::new(todo.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} repos {msg}",
            ) {
                bar.set_style(style);
            }
            Some(bar)
        } else {
            None
        };
        let results: Vec<Result<usize, RepoError>> = stream::iter(todo)
            .map(|did| {
                let bar = bar.clone();
                async move {
                    let result = self.backfill_repo(&did).await;
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    }
                    match &result {
                        Ok(n) => tracing::info!(%did, records = n, "backfilled repo"),
                        Err(err) => tracing::warn!(%did, %err, "backfill of repo failed"),
                    }
                    let (state, records, error) = match &result {
                        Ok(n) => ("done", i32::try_from(*n).unwrap_or(i32::MAX), None),
                        Err(err) => ("failed", 0, Some(err.to_string())),
                    };
                    if let Err(err) = sqlx::query!(
                        "UPDATE appview.backfill_repo SET state = $2, records = $3, error = $4,
                                updated_at = now() WHERE did = $1",
                        did,
                        state,
                        records,
                        error
                    )
                    .execute(&self.pool)
                    .await
                    {
                        tracing::warn!(%did, %err, "cannot record backfill progress");
                    }
                    result
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        if let Some(bar) = bar {
            bar.finish_with_message("done");
        }
        for result in results {
            match result {
                Ok(n) => {
                    report.repos_done += 1;
                    report.records += n;
                }
                Err(_) => report.repos_failed += 1,
            }
        }
        Ok(report)
    }

    async fn list_repos(&self, relay: &str) -> Result<Vec<String>, BackfillError> {
        let mut dids = Vec::new();
        for collection in COLLECTIONS {
            let mut cursor: Option<String> = None;
            for page_number in 1..=MAX_RELAY_PAGES {
                let mut query = vec![("collection", collection), ("limit", "1000")];
                if let Some(cursor) = &cursor {
                    query.push(("cursor", cursor.as_str()));
                }
                let url = format!(
                    "{}/xrpc/com.atproto.sync.listReposByCollection",
                    relay.trim_end_matches('/')
                );
                let page: ListReposPage = self
                    .get_json(&url, &query, None)
                    .await
                    .map_err(|err| BackfillError::Relay(err.to_string()))?;
                let empty = page.repos.is_empty();
                dids.extend(page.repos.into_iter().map(|r| r.did));
                match page.cursor {
                    Some(next) if !empty && Some(&next) != cursor.as_ref() => cursor = Some(next),
                    _ => break,
                }
                if page_number == MAX_RELAY_PAGES {
                    tracing::warn!(%relay, collection, "stopped listing repos at the page cap");
                }
            }
        }
        Ok(dids)
    }

    async fn host_permit(&self, pds: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().await;
        hosts
            .entry(pds.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_host.max(1))))
            .clone()
    }

    /// Backfills one repo within [`RepoLimits`]; returns how many records it wrote.
    async fn backfill_repo(&self, did: &str) -> Result<usize, RepoError> {
        let document = self.resolver.resolve_did(did).await?;
        let pds = document.pds_endpoint.clone().ok_or(RepoError::NoPds)?;
        let semaphore = self.host_permit(&pds).await;
        let _permit = semaphore
            .acquire()
            .await
            .map_err(|err| RepoError::Database(format!("host limiter closed: {err}")))?;
        // The clock starts once it is this repo's turn at its host.
        let mut budget = Budget::start(self.limits);
        let latest: LatestCommit = self
            .get_json(
                &format!("{pds}/xrpc/com.atproto.sync.getLatestCommit"),
                &[("did", did)],
                Some(&mut budget),
            )
            .await?;
        // Every listed record is written with this rev, and revs compare as strings: one that
        // is not a TID could outrank every later version.
        if !is_tid(&latest.rev) {
            return Err(RepoError::BadRev(latest.rev));
        }
        sqlx::query!(
            "UPDATE appview.backfill_repo SET pds = $2, rev = $3 WHERE did = $1",
            did,
            pds,
            latest.rev
        )
        .execute(&self.pool)
        .await
        .map_err(|err| RepoError::Database(err.to_string()))?;
        let mut written = 0;
        for collection in COLLECTIONS {
            let mut cursor: Option<String> = None;
            loop {
                if budget.pages >= self.limits.max_pages {
                    return Err(RepoError::TooManyPages {
                        limit: self.limits.max_pages,
                    });
                }
                budget.pages += 1;
                let limit = PAGE_SIZE.to_string();
                let mut query = vec![
                    ("repo", did),
                    ("collection", collection),
                    ("limit", limit.as_str()),
                ];
                if let Some(cursor) = &cursor {
                    query.push(("cursor", cursor.as_str()));
                }
                let page: RecordsPage = self
                    .get_json(
                        &format!("{pds}/xrpc/com.atproto.repo.listRecords"),
                        &query,
                        Some(&mut budget),
                    )
                    .await?;
                budget.records += page.records.len();
                if budget.records > self.limits.max_records {
                    return Err(RepoError::TooManyRecords {
                        limit: self.limits.max_records,
                    });
                }
                let listed_any = !page.records.is_empty();
                let mut ops = Vec::with_capacity(page.records.len());
                for record in page.records {
                    let Some(rkey) = record.uri.rsplit('/').next() else {
                        continue;
                    };
                    let expected = format!("at://{did}/{collection}/{rkey}");
                    if record.uri != expected || !is_record_key(rkey) {
                        tracing::warn!(uri = %record.uri, "listRecords returned a foreign uri; skipping");
                        continue;
                    }
                    // The cid is stored as given; only a well-formed one can be.
                    let cid = Some(record.cid).filter(|cid| is_valid_cid(cid));
                    let action = self.judge.judge_record(collection, rkey, cid, record.value);
                    ops.push(RecordOp {
                        did: did.to_owned(),
                        collection: collection.to_owned(),
                        rkey: rkey.to_owned(),
                        rev: latest.rev.clone(),
                        action,
                    });
                }
                written += ops.len();
                if !ops.is_empty() {
                    let event = SourceEvent {
                        cursor: None,
                        body: EventBody::Records(ops),
                    };
                    self.writer
                        .write_batch(std::slice::from_ref(&event))
                        .await
                        .map_err(|err| RepoError::Database(err.to_string()))?;
                }
                match page.cursor {
                    Some(next) if listed_any && Some(&next) != cursor.as_ref() => {
                        cursor = Some(next)
                    }
                    _ => break,
                }
            }
        }
        Ok(written)
    }

    /// GETs `url?query` through the safe fetcher and parses the JSON answer, retrying a few
    /// times when the host could not be reached. With a repo's `budget`, each try gets only
    /// the time and bytes the repo has left, and what it reads is charged to it.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, &str)],
        mut budget: Option<&mut Budget>,
    ) -> Result<T, RepoError> {
        let fetch_error = |error| RepoError::Fetch {
            url: url.to_owned(),
            error,
        };
        let mut full = reqwest::Url::parse(url).map_err(|_| fetch_error(FetchError::InvalidUrl))?;
        full.query_pairs_mut().extend_pairs(query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut options = FetchOptions::new().accept("application/json");
            if let Some(budget) = budget.as_deref() {
                options = options
                    .timeout(budget.time_left()?)
                    .max_body_bytes(budget.bytes_left().min(MAX_RESPONSE_BYTES));
            }
            match self.fetcher.get_with(full.as_str(), &options).await {
                Ok(fetched) => {
                    if let Some(budget) = budget.as_deref_mut() {
                        budget.bytes += fetched.body.len();
                    }
                    return serde_json::from_slice(&fetched.body).map_err(|err| {
                        RepoError::BadResponse {
                            url: url.to_owned(),
                            reason: err.to_string(),
                        }
                    });
                }
                Err(FetchError::TooLarge { limit }) if limit < MAX_RESPONSE_BYTES => {
                    // Cut off by what the repo had left, not by the per-response cap.
                    let limit = budget.as_deref().map_or(limit, |b| b.limits.max_bytes);
                    return Err(RepoError::TooManyBytes { limit });
                }
                Err(FetchError::Timeout)
                    if budget.as_deref().is_some_and(|b| b.time_left().is_err()) =>
                {
                    return Err(RepoError::TooSlow {
                        limit: self.limits.max_time,
                    });
                }
                Err(error @ (FetchError::Unreachable | FetchError::Timeout))
                    if attempt < REQUEST_ATTEMPTS =>
                {
                    tracing::debug!(%url, %error, attempt, "retrying");
                    tokio::time::sleep(crate::pipeline::backoff(attempt)).await;
                }
                Err(error) => return Err(fetch_error(error)),
            }
        }
    }
}
