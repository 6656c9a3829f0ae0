//! The indexer's identity pool: DIDs to documents (signing key, PDS) and handle checks, kept
//! off the frame loop.
//!
//! A full relay carries identity work for every account on the network, far more than hosts
//! answer quickly, and a did:web host that never answers would otherwise hold the stream for
//! as long as every retry takes. So:
//!
//! - every lookup runs in a task of its own, bounded three ways: at most `per_host_concurrent`
//!   in flight per host, taken *first*, so lookups queued behind a stalled host hold none of
//!   the pool's `max_concurrent` places; at most `per_host_per_second` started per host;
//! - answers are cached: documents by the [`Resolver`], failures per DID for `negative_ttl`,
//!   and hosts that did not answer at all for `host_failure_ttl` (lookups of every DID on
//!   such a host fail at once meanwhile, without a request);
//! - there is one lookup per DID at a time; [`IdentityPool::key`] waits for it at most
//!   `key_wait`, and the lookup goes on after the caller stops waiting, so that the parking
//!   lot can be told ([`IdentityPool::take_ready`]) when a watched DID's key arrives;
//! - handles are checked only for Greenlight's authors (DIDs with records in the database,
//!   and new ones when their first `fund.greenlight.*` commit verifies) and written to
//!   `appview.actor` directly: a handle is a cache, not part of the stream's order.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use greenlight_identity::{DidDocument, IdentityError, Resolver};
use sqlx::PgPool;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::verify::{check_with, resolution_error, CommitVerifier, VerifyError};

/// How long a freshly fetched document counts as current: a signature that does not match
/// it is invalid, not a reason to fetch again (else every forged commit would cost a fetch).
const REFRESH_QUIET: Duration = Duration::from_secs(30);
/// The longest a failure is remembered (the caches refuse absurd lifetimes).
const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Hosts whose concurrency slots and failures are remembered.
const HOSTS_TRACKED: u64 = 100_000;
/// Lookups between sweeps of idle hosts out of the rate limiter.
const RATE_SWEEP_EVERY: u64 = 10_000;
/// DIDs whose failures are remembered.
const FAILURES_TRACKED: u64 = 1_000_000;

/// What [`IdentityPool::key`] found.
#[derive(Debug, Clone)]
pub enum KeyLookup {
    /// The DID's current document.
    Ready(Arc<DidDocument>),
    /// The DID has no usable identity (not found, bad document, refused): an answer, not an
    /// outage.
    Failed(IdentityError),
    /// No answer in time, or a recent failure that may pass: try again later.
    Pending(String),
}

type Outcome = Result<Arc<DidDocument>, IdentityError>;

/// Resolves identities in bounded background tasks; cheap to clone.
#[derive(Clone)]
pub struct IdentityPool {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: Resolver,
    key_wait: Duration,
    per_host: usize,
    global: Arc<Semaphore>,
    hosts: moka::sync::Cache<String, Arc<Semaphore>>,
    rate: DefaultKeyedRateLimiter<String>,
    failed_dids: moka::sync::Cache<String, IdentityError>,
    failed_hosts: moka::sync::Cache<String, IdentityError>,
    refreshed: moka::sync::Cache<String, ()>,
    in_flight: Mutex<HashMap<String, watch::Receiver<Option<Outcome>>>>,
    /// DIDs whose key someone waits for (parked repos), and those of them whose key arrived.
    watched: Mutex<HashSet<String>>,
    ready: Mutex<HashSet<String>>,
    ready_notify: Notify,
    /// Greenlight's authors: the DIDs whose handles are kept.
    authors: Mutex<HashSet<String>>,
    /// Handle checks running, and whether one must run again when it ends.
    handle_checks: Mutex<HashMap<String, bool>>,
    database: Option<PgPool>,
    /// Lookups that reached the network.
    fetches: AtomicU64,
}

impl std::fmt::Debug for IdentityPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityPool")
            .field("key_wait", &self.inner.key_wait)
            .field("fetches", &self.fetches())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in these maps is left half-updated by a panic: keep going with them.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl IdentityPool {
    /// A pool over `resolver`, bounded as its configuration says; handles of authors are
    /// written to `database` when given.
    pub fn new(resolver: Resolver, database: Option<PgPool>) -> IdentityPool {
        let config = resolver.config().clone();
        let per_second =
            NonZeroU32::new(config.per_host_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        IdentityPool {
            inner: Arc::new(Inner {
                key_wait: config.key_wait,
                per_host: config.per_host_concurrent.max(1),
                global: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
                hosts: moka::sync::Cache::builder()
                    .max_capacity(HOSTS_TRACKED)
                    .time_to_idle(Duration::from_secs(600))
                    .build(),
                rate: RateLimiter::keyed(Quota::per_second(per_second)),
                failed_dids: moka::sync::Cache::builder()
                    .max_capacity(FAILURES_TRACKED)
                    .time_to_live(config.negative_ttl.clamp(Duration::from_millis(1), MAX_TTL))
                    .build(),
                failed_hosts: moka::sync::Cache::builder()
                    .max_capacity(HOSTS_TRACKED)
                    .time_to_live(
                        config
                            .host_failure_ttl
                            .clamp(Duration::from_millis(1), MAX_TTL),
                    )
                    .build(),
                refreshed: moka::sync::Cache::builder()
                    .max_capacity(FAILURES_TRACKED)
                    .time_to_live(REFRESH_QUIET)
                    .build(),
                in_flight: Mutex::new(HashMap::new()),
                watched: Mutex::new(HashSet::new()),
                ready: Mutex::new(HashSet::new()),
                ready_notify: Notify::new(),
                authors: Mutex::new(HashSet::new()),
                handle_checks: Mutex::new(HashMap::new()),
                database,
                fetches: AtomicU64::new(0),
                resolver,
            }),
        }
    }

    /// The resolver underneath.
    pub fn resolver(&self) -> &Resolver {
        &self.inner.resolver
    }

    /// How many lookups reached the network so far.
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// `did`'s document, waiting at most `key_wait` for a lookup; with `refresh`, a cached
    /// document does not count. A recent failure answers at once, without a lookup.
    pub async fn key(&self, did: &str, refresh: bool) -> KeyLookup {
        if !refresh {
            if let Some(document) = self.inner.resolver.cached_did(did) {
                return KeyLookup::Ready(document);
            }
        }
        if let Some(err) = self.inner.failed_dids.get(did) {
            return classify(err);
        }
        let mut answer = self.start(did, refresh);
        match tokio::time::timeout(self.inner.key_wait, settled(&mut answer)).await {
            Ok(Some(Ok(document))) => KeyLookup::Ready(document),
            Ok(Some(Err(err))) => classify(err),
            Ok(None) => KeyLookup::Pending("the lookup was abandoned".to_owned()),
            Err(_) => KeyLookup::Pending(format!(
                "no answer within {} ms",
                self.inner.key_wait.as_millis()
            )),
        }
    }

    /// Starts a lookup of `did` unless one is running, and never waits for it.
    pub fn start(&self, did: &str, refresh: bool) -> watch::Receiver<Option<Outcome>> {
        let mut in_flight = lock(&self.inner.in_flight);
        if let Some(answer) = in_flight.get(did) {
            return answer.clone();
        }
        let (tx, rx) = watch::channel(None);
        in_flight.insert(did.to_owned(), rx.clone());
        drop(in_flight);
        let pool = self.clone();
        let did = did.to_owned();
        let span = tracing::info_span!("identity lookup", %did);
        tokio::spawn(
            async move {
                let outcome = pool.lookup(&did, refresh).await;
                pool.settle(&did, &outcome);
                lock(&pool.inner.in_flight).remove(&did);
                let _ = tx.send(Some(outcome));
            }
            .instrument(span),
        );
        rx
    }

    async fn lookup(&self, did: &str, refresh: bool) -> Outcome {
        let resolver = &self.inner.resolver;
        let host = resolver.document_host(did)?;
        let _host = self.host_permit(&host).await?;
        if !refresh {
            if let Some(document) = resolver.cached_did(did) {
                return Ok(document);
            }
        }
        let _place = Arc::clone(&self.inner.global)
            .acquire_owned()
            .await
            .map_err(|_| IdentityError::HttpClient("the identity pool is closed".to_owned()))?;
        let fetches = self.inner.fetches.fetch_add(1, Ordering::Relaxed) + 1;
        if fetches.is_multiple_of(RATE_SWEEP_EVERY) {
            // The rate limiter keeps a state per host it has seen: drop the idle ones.
            self.inner.rate.retain_recent();
            self.inner.rate.shrink_to_fit();
        }
        let result = resolver.refresh_did(did).await;
        if let Err(err) = &result {
            if err.is_host_failure() {
                tracing::info!(%host, %err, "identity host does not answer; leaving it alone for a while");
                self.inner.failed_hosts.insert(host, err.clone());
            }
        }
        result
    }

    /// A place at `host`, after its rate limit; fails at once while the host is known not to
    /// answer, also after waiting behind lookups that found that out.
    async fn host_permit(&self, host: &str) -> Result<OwnedSemaphorePermit, IdentityError> {
        if let Some(err) = self.inner.failed_hosts.get(host) {
            return Err(err);
        }
        let per_host = self.inner.per_host;
        let slots = self
            .inner
            .hosts
            .get_with(host.to_owned(), || Arc::new(Semaphore::new(per_host)));
        let permit = slots
            .acquire_owned()
            .await
            .map_err(|_| IdentityError::HttpClient("the identity pool is closed".to_owned()))?;
        if let Some(err) = self.inner.failed_hosts.get(host) {
            return Err(err);
        }
        let key = host.to_owned();
        while let Err(not_until) = self.inner.rate.check_key(&key) {
            tokio::time::sleep(not_until.wait_time_from(DefaultClock::default().now())).await;
        }
        Ok(permit)
    }

    fn settle(&self, did: &str, outcome: &Outcome) {
        match outcome {
            Ok(_) => {
                self.inner.failed_dids.invalidate(did);
                self.inner.refreshed.insert(did.to_owned(), ());
                self.report(did);
            }
            Err(err) => {
                tracing::info!(%did, %err, transient = err.is_transient(), "identity lookup failed; remembering it");
                self.inner.failed_dids.insert(did.to_owned(), err.clone());
                // A definite answer (no such DID, no usable document) settles a parked repo
                // too: its commits are judged, and rejected, instead of waiting forever.
                if !err.is_transient() {
                    self.report(did);
                }
            }
        }
    }

    /// Looks `did` up in the background unless a recent failure is remembered or a lookup
    /// is running; for a watched DID, a key found (or already cached) is reported.
    pub fn recheck(&self, did: &str) {
        if !self.inner.failed_dids.contains_key(did) {
            drop(self.start(did, false));
        }
    }

    /// Tells the frame loop that a watched DID's lookup came to an answer.
    fn report(&self, did: &str) {
        if lock(&self.inner.watched).contains(did) {
            lock(&self.inner.ready).insert(did.to_owned());
            self.inner.ready_notify.notify_one();
        }
    }

    /// Asks to be told (through [`Self::take_ready`]) when `did`'s lookup comes to an answer:
    /// its key, or a definite failure.
    pub fn watch(&self, did: &str) {
        lock(&self.inner.watched).insert(did.to_owned());
    }

    /// Stops watching `did`.
    pub fn unwatch(&self, did: &str) {
        lock(&self.inner.watched).remove(did);
        lock(&self.inner.ready).remove(did);
    }

    /// Watched DIDs whose key arrived since the last call.
    pub fn take_ready(&self) -> Vec<String> {
        lock(&self.inner.ready).drain().collect()
    }

    /// Notified when a watched DID's key arrives (the permit is kept if nobody waits).
    pub fn ready_notify(&self) -> &Notify {
        &self.inner.ready_notify
    }

    /// Reads Greenlight's authors from the database: DIDs with stored or rejected records.
    pub async fn load_authors(&self) -> Result<usize, sqlx::Error> {
        let Some(database) = &self.inner.database else {
            return Ok(0);
        };
        let dids = sqlx::query_scalar!(
            r#"SELECT did AS "did!" FROM appview.record
               UNION SELECT did FROM appview.rejected_record"#
        )
        .fetch_all(database)
        .await?;
        let mut authors = lock(&self.inner.authors);
        authors.extend(dids);
        Ok(authors.len())
    }

    /// Whether `did` is one of Greenlight's authors.
    pub fn is_author(&self, did: &str) -> bool {
        lock(&self.inner.authors).contains(did)
    }

    /// Counts `did` among the authors (its `fund.greenlight.*` commit verified); a new author's
    /// handle is checked in the background.
    pub fn note_author(&self, did: &str) {
        let new = lock(&self.inner.authors).insert(did.to_owned());
        if new {
            self.spawn_handle_check(did);
        }
    }

    /// An `#identity` event: whatever is cached about `did` may be stale. Never waits: an
    /// author's document and handle are looked up again in the background, anyone else's
    /// are only forgotten. A remembered failure stays until it expires: anyone can send
    /// `#identity` events, and they must not buy a lookup each.
    pub fn identity_changed(&self, did: &str) {
        self.inner.resolver.invalidate(did);
        self.inner.refreshed.invalidate(did);
        if self.is_author(did) {
            self.spawn_handle_check(did);
        }
    }

    fn spawn_handle_check(&self, did: &str) {
        {
            let mut checks = lock(&self.inner.handle_checks);
            if let Some(again) = checks.get_mut(did) {
                *again = true;
                return;
            }
            checks.insert(did.to_owned(), false);
        }
        let pool = self.clone();
        let did = did.to_owned();
        let span = tracing::info_span!("handle check", %did);
        tokio::spawn(
            async move {
                loop {
                    pool.check_handle(&did).await;
                    let mut checks = lock(&pool.inner.handle_checks);
                    if checks.get(&did) == Some(&true) {
                        checks.insert(did.clone(), false);
                        continue;
                    }
                    checks.remove(&did);
                    break;
                }
            }
            .instrument(span),
        );
    }

    /// Verifies `did`'s handle both ways and stores the outcome; leaves the stored handle as
    /// it is when an answer is missing for a reason that may pass.
    async fn check_handle(&self, did: &str) {
        let document = match settled(&mut self.start(did, false)).await {
            Some(Ok(document)) => document,
            Some(Err(err)) => {
                tracing::info!(%err, "cannot resolve the DID; its stored handle stays");
                return;
            }
            None => return,
        };
        let handle = match &document.handle {
            None => None,
            Some(handle) => match self.verify_handle(did, handle).await {
                Ok(verified) => verified,
                Err(err) => {
                    tracing::info!(%handle, %err, "cannot check the handle now; its stored handle stays");
                    return;
                }
            },
        };
        let Some(database) = &self.inner.database else {
            return;
        };
        let written = sqlx::query!(
            "INSERT INTO appview.actor AS a (did, handle) VALUES ($1, $2)
             ON CONFLICT (did) DO UPDATE SET handle = EXCLUDED.handle, updated_at = now()
             WHERE a.handle IS DISTINCT FROM EXCLUDED.handle",
            did,
            handle,
        )
        .execute(database)
        .await;
        if let Err(err) = written {
            tracing::warn!(%err, "cannot store the handle");
        }
    }

    /// `Some(handle)` if it points back at `did`, `None` if it does not; an error if that
    /// could not be found out now.
    async fn verify_handle(
        &self,
        did: &str,
        handle: &str,
    ) -> Result<Option<String>, IdentityError> {
        // The handle's own domain answers for it (DNS, well-known): limited like any host.
        let _host = self.host_permit(handle).await?;
        let _place = Arc::clone(&self.inner.global)
            .acquire_owned()
            .await
            .map_err(|_| IdentityError::HttpClient("the identity pool is closed".to_owned()))?;
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        match self.inner.resolver.resolve_handle(handle).await {
            Ok(resolved) if resolved == did => Ok(Some(handle.to_owned())),
            Ok(other) => {
                tracing::info!(%handle, %other, "handle points at another DID; not storing it");
                Ok(None)
            }
            Err(err) if err.is_transient() => Err(err),
            Err(err) => {
                tracing::info!(%handle, %err, "handle does not resolve; not storing it");
                Ok(None)
            }
        }
    }
}

/// Waits until a lookup settles; `None` if it was dropped unsettled.
async fn settled(answer: &mut watch::Receiver<Option<Outcome>>) -> Option<Outcome> {
    match answer.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone(),
        Err(_) => None,
    }
}

fn classify(err: IdentityError) -> KeyLookup {
    if err.is_transient() {
        KeyLookup::Pending(err.to_string())
    } else {
        KeyLookup::Failed(err)
    }
}

/// Signature checks with a bounded wait for the key: [`VerifyError::Unavailable`] means "not
/// now" (the caller parks the commit), never a rejection.
#[async_trait]
impl CommitVerifier for IdentityPool {
    async fn verify(&self, did: &str, unsigned: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        let unavailable = |reason: String| {
            VerifyError::Unavailable(format!("signing key of {did} not available: {reason}"))
        };
        let document = match self.key(did, false).await {
            KeyLookup::Ready(document) => document,
            KeyLookup::Failed(err) => return Err(resolution_error(did, err)),
            KeyLookup::Pending(reason) => return Err(unavailable(reason)),
        };
        match check_with(&document, unsigned, sig) {
            Ok(()) => Ok(()),
            Err(invalid) if self.inner.refreshed.contains_key(did) => Err(invalid),
            // The key may have rotated since the document was cached: look again once.
            Err(_) => match self.key(did, true).await {
                KeyLookup::Ready(fresh) => check_with(&fresh, unsigned, sig),
                KeyLookup::Failed(err) => Err(resolution_error(did, err)),
                KeyLookup::Pending(reason) => Err(unavailable(reason)),
            },
        }
    }
}
