//! A cache of presented views (funding totals, proposal views) that never serves a value
//! older than the aggregates it came from.
//!
//! `greenlight-aggregates` announces every recomputed proposal and project URI on a Postgres
//! channel when its transaction commits; a listener drops those entries. A value computed
//! while an announcement arrived may already be stale, so it is stored only if no
//! announcement came in between (a generation counter). If the listener loses its connection
//! it may have missed announcements: everything is dropped and the cache stays off until it
//! listens again. Handles are not announced; the time-to-live bounds how long a renamed
//! account shows its old handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// What a cached entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cached {
    /// `defs#fundingTotals` of a proposal or project.
    Totals,
    /// `defs#proposalView`.
    Proposal,
}

/// One map per kind, keyed by URI: serialized JSON and when it was stored.
type Entries = RwLock<HashMap<String, (Bytes, Instant)>>;

/// Cached views (serialized JSON, ready to send) by kind and URI.
///
/// A plain map behind a read-write lock: reads vastly outnumber writes, a lookup borrows the
/// URI without allocating, and when full the map is simply emptied.
pub struct ViewCache {
    totals: Entries,
    proposals: Entries,
    capacity: usize,
    ttl: Duration,
    generation: AtomicU64,
    listening: AtomicBool,
}

/// A point in the announcement stream, taken before reading the database.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl ViewCache {
    /// An empty cache, off until [`ViewCache::listen`] is listening.
    pub fn new(capacity: usize, ttl: Duration) -> Arc<ViewCache> {
        Arc::new(ViewCache {
            totals: RwLock::new(HashMap::new()),
            proposals: RwLock::new(HashMap::new()),
            capacity,
            ttl,
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        })
    }

    fn map(&self, kind: Cached) -> &Entries {
        match kind {
            Cached::Totals => &self.totals,
            Cached::Proposal => &self.proposals,
        }
    }

    /// A cached view, if the cache is on and has a fresh one.
    pub fn get(&self, kind: Cached, uri: &str) -> Option<Bytes> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let map = self.map(kind).read().ok()?;
        let (bytes, stored) = map.get(uri)?;
        (stored.elapsed() < self.ttl).then(|| bytes.clone())
    }

    /// The current generation; pass it to [`ViewCache::put`] with what was read after it.
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Stores a view read after `since`, unless an announcement arrived in between.
    pub fn put(&self, since: Generation, kind: Cached, uri: &str, value: Bytes) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut map) = self.map(kind).write() else {
            return;
        };
        // Checked under the write lock: an invalidation bumps the generation before it takes
        // this lock, so either it sees our entry and removes it, or we see its bump.
        if self.generation.load(Ordering::Acquire) != since.0 {
            return;
        }
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(uri.to_owned(), (value, Instant::now()));
    }

    /// Drops what is cached about `uri`.
    pub fn invalidate(&self, uri: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for kind in [Cached::Totals, Cached::Proposal] {
            if let Ok(mut map) = self.map(kind).write() {
                map.remove(uri);
            }
        }
    }

    fn reset(&self, listening: bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.listening.store(listening, Ordering::Release);
        for kind in [Cached::Totals, Cached::Proposal] {
            if let Ok(mut map) = self.map(kind).write() {
                map.clear();
            }
        }
    }

    /// Listens for announcements until `shutdown`, reconnecting after failures.
    pub async fn listen(self: Arc<Self>, pool: PgPool, shutdown: CancellationToken) {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(error) = listener
                        .listen(greenlight_aggregates::CHANGED_CHANNEL)
                        .await
                    {
                        tracing::warn!(%error, "cannot listen for aggregate changes");
                    } else {
                        self.reset(true);
                        loop {
                            tokio::select! {
                                _ = shutdown.cancelled() => {
                                    self.reset(false);
                                    return;
                                }
                                message = listener.try_recv() => match message {
                                    Ok(Some(notification)) => self.invalidate(notification.payload()),
                                    // The connection dropped: announcements may be lost.
                                    Ok(None) | Err(_) => break,
                                }
                            }
                        }
                    }
                    self.reset(false);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot connect to listen for aggregate changes")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Whether the cache is serving (its listener is connected).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}
