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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use greenlight_identity::Resolver;
use greenlight_lexicon::format::is_valid_cid;
use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::PgPool;
use tokio::sync::{Mutex, Semaphore};

use crate::event::{EventBody, RecordOp, SourceEvent};
use crate::metrics::Metrics;
use crate::record_rules::{is_did, is_record_key, is_tid, COLLECTIONS};
use crate::source::firehose::FrameJudge;
use crate::writer::Writer;

/// Records asked for per `listRecords` page (the protocol's maximum).
const PAGE_SIZE: u32 = 100;

/// The largest response body read from a relay or PDS.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

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
    http: reqwest::Client,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Backfill {
    /// A backfill writing through `writer` (its cursor row is left alone: backfill events
    /// carry no cursor).
    pub fn new(
        config: BackfillConfig,
        writer: Writer,
        resolver: Resolver,
        metrics: Arc<Metrics>,
        rules: crate::record_rules::RecordRules,
    ) -> Result<Backfill, BackfillError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|err| BackfillError::Relay(err.to_string()))?;
        Ok(Backfill {
            pool: writer.pool().clone(),
            judge: FrameJudge::new(rules, None, None, metrics),
            config,
            writer,
            resolver,
            http,
            hosts: Mutex::new(HashMap::new()),
        })
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
        let results: Vec<Result<usize, String>> = stream::iter(todo)
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
                        Err(err) => ("failed", 0, Some(err.clone())),
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
            loop {
                let mut query = vec![("collection", collection), ("limit", "1000")];
                if let Some(cursor) = &cursor {
                    query.push(("cursor", cursor.as_str()));
                }
                let url = format!(
                    "{}/xrpc/com.atproto.sync.listReposByCollection",
                    relay.trim_end_matches('/')
                );
                let page: ListReposPage = self
                    .get_json(&url, &query)
                    .await
                    .map_err(BackfillError::Relay)?;
                let empty = page.repos.is_empty();
                dids.extend(page.repos.into_iter().map(|r| r.did));
                match page.cursor {
                    Some(next) if !empty && Some(&next) != cursor.as_ref() => cursor = Some(next),
                    _ => break,
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

    /// Backfills one repo; returns how many records it wrote.
    async fn backfill_repo(&self, did: &str) -> Result<usize, String> {
        let document = self
            .resolver
            .resolve_did(did)
            .await
            .map_err(|err| format!("cannot resolve DID: {err}"))?;
        let pds = document
            .pds_endpoint
            .clone()
            .ok_or_else(|| "DID document names no PDS".to_owned())?;
        let semaphore = self.host_permit(&pds).await;
        let _permit = semaphore
            .acquire()
            .await
            .map_err(|err| format!("host limiter closed: {err}"))?;
        let latest: LatestCommit = self
            .get_json(
                &format!("{pds}/xrpc/com.atproto.sync.getLatestCommit"),
                &[("did", did)],
            )
            .await?;
        // Every listed record is written with this rev, and revs compare as strings: one that
        // is not a TID could outrank every later version.
        if !is_tid(&latest.rev) {
            return Err(format!("getLatestCommit rev {:?} is not a TID", latest.rev));
        }
        sqlx::query!(
            "UPDATE appview.backfill_repo SET pds = $2, rev = $3 WHERE did = $1",
            did,
            pds,
            latest.rev
        )
        .execute(&self.pool)
        .await
        .map_err(|err| err.to_string())?;
        let mut written = 0;
        for collection in COLLECTIONS {
            let mut cursor: Option<String> = None;
            loop {
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
                    .get_json(&format!("{pds}/xrpc/com.atproto.repo.listRecords"), &query)
                    .await?;
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
                        .map_err(|err| err.to_string())?;
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

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<T, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.get_bounded(url, query).await {
                Ok(body) => {
                    return serde_json::from_slice(&body)
                        .map_err(|err| format!("GET {url}: unexpected response: {err}"))
                }
                Err(Some(err)) if attempt < 4 && !err.is_status() => {
                    tokio::time::sleep(crate::pipeline::backoff(attempt)).await;
                }
                Err(Some(err)) => return Err(format!("GET {url}: {err}")),
                Err(None) => {
                    return Err(format!(
                        "GET {url}: response is larger than {MAX_RESPONSE_BYTES} bytes"
                    ))
                }
            }
        }
    }

    /// A successful response's body, read up to [`MAX_RESPONSE_BYTES`] (`Err(None)` beyond):
    /// a PDS is anyone's server and must not make us buffer without limit.
    async fn get_bounded(
        &self,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<u8>, Option<reqwest::Error>> {
        let mut response = self
            .http
            .get(url)
            .query(query)
            .send()
            .await?
            .error_for_status()?;
        if response
            .content_length()
            .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
        {
            return Err(None);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
