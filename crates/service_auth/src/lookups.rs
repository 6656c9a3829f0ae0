//! Bounds on the DID lookups that tokens from strangers can cause.
//!
//! Verifying a token means knowing its issuer's key, and anyone can send a token naming any
//! DID. Without limits, every forged token would cost a request to the PLC directory or to a
//! did:web host of the sender's choosing: a free amplifier, and a way to get a directory to
//! throttle us. So, per DID:
//!
//! - a failed resolution is remembered for [`LookupLimits::failure_ttl_secs`], and tokens from
//!   that DID are refused meanwhile without another request (a negative cache);
//! - a signature that fails with the cached key forces at most one refetch of the document
//!   (for a key rotation) per [`LookupLimits::refresh_interval_secs`];
//! - concurrent lookups of one DID wait for each other, so a burst of tokens makes one
//!   request, not one each.
//!
//! Times are the verifier's `now_unix`, so they follow the same clock as token expiry.

use std::sync::Arc;
use std::time::Duration;

use greenlight_identity::{DidDocument, IdentityError, Resolver};

use crate::error::AuthError;

/// How long a failed resolution of a DID is remembered, in seconds.
pub const FAILED_LOOKUP_TTL_SECS: i64 = 30;
/// The shortest time between two forced refetches of one DID's document, in seconds.
pub const REFRESH_INTERVAL_SECS: i64 = 60;
/// How many DIDs each table remembers. DIDs are short (a did:plc is 32 bytes, a did:web a
/// host name), so this is a few megabytes at most; beyond it the least used are forgotten,
/// which only lifts their limits early.
const TRACKED_DIDS: u64 = 10_000;
/// Wall-clock lifetime of the entries, only to free memory: the decisions use `now_unix`.
const ENTRY_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The limits on lookups caused by tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupLimits {
    /// How long a DID whose resolution failed is refused without asking again, in seconds.
    pub failure_ttl_secs: i64,
    /// The shortest time between two refetches of a DID's document after a signature
    /// failure, in seconds.
    pub refresh_interval_secs: i64,
}

impl Default for LookupLimits {
    fn default() -> Self {
        LookupLimits {
            failure_ttl_secs: FAILED_LOOKUP_TTL_SECS,
            refresh_interval_secs: REFRESH_INTERVAL_SECS,
        }
    }
}

/// A resolution failure and until when it stands.
#[derive(Clone)]
struct Failure {
    until: i64,
    error: IdentityError,
}

/// The per-DID memory behind [`LookupLimits`]; shared by clones of a verifier.
pub(crate) struct Lookups {
    limits: LookupLimits,
    failed: moka::sync::Cache<String, Failure>,
    refreshed: moka::sync::Cache<String, i64>,
    in_flight: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookups")
            .field("limits", &self.limits)
            .field("failed", &self.failed.entry_count())
            .field("refreshed", &self.refreshed.entry_count())
            .finish()
    }
}

impl Lookups {
    pub(crate) fn new(limits: LookupLimits) -> Lookups {
        Lookups {
            limits,
            failed: moka::sync::Cache::builder()
                .max_capacity(TRACKED_DIDS)
                .time_to_live(ENTRY_LIFETIME)
                .build(),
            refreshed: moka::sync::Cache::builder()
                .max_capacity(TRACKED_DIDS)
                .time_to_live(ENTRY_LIFETIME)
                .build(),
            in_flight: moka::sync::Cache::builder()
                .max_capacity(TRACKED_DIDS)
                .time_to_idle(ENTRY_LIFETIME)
                .build(),
        }
    }

    pub(crate) fn limits(&self) -> LookupLimits {
        self.limits
    }

    /// The DID's document, from the resolver's cache or the network, unless its resolution
    /// failed recently.
    pub(crate) async fn resolve(
        &self,
        resolver: &Resolver,
        did: &str,
        now: i64,
    ) -> Result<Arc<DidDocument>, AuthError> {
        self.recent_failure(did, now)?;
        let lock = self.lock_for(did);
        let _turn = lock.lock().await;
        // Whoever held the lock before us may just have failed, or cached the document.
        self.resolve_unlocked(resolver, did, now).await
    }

    /// A newer document than `stale` after a signature failed with it: refetched when the
    /// DID was not refetched within the refresh interval, else whatever another caller's
    /// refetch brought in the meantime. `None` when there is nothing newer to try.
    pub(crate) async fn refresh(
        &self,
        resolver: &Resolver,
        did: &str,
        stale: &Arc<DidDocument>,
        now: i64,
    ) -> Result<Option<Arc<DidDocument>>, AuthError> {
        let lock = self.lock_for(did);
        let _turn = lock.lock().await;
        let last = self.refreshed.get(did);
        if last.is_some_and(|at| {
            at <= now && now < at.saturating_add(self.limits.refresh_interval_secs)
        }) {
            tracing::debug!(%did, "signature failed, but the document was refetched recently");
            let current = self.resolve_unlocked(resolver, did, now).await?;
            return Ok((!Arc::ptr_eq(&current, stale)).then_some(current));
        }
        // Counted before the request, so a failing or slow directory is not asked again by
        // every forged token waiting behind this one.
        self.refreshed.insert(did.to_owned(), now);
        // A failed refetch is not remembered as a failed lookup: the cached document may
        // still be good, and a forged token must not lock its victim out. (A DID that is
        // gone is dropped from the resolver's cache, and the next lookup records that.)
        resolver
            .refresh_did(did)
            .await
            .map(Some)
            .map_err(AuthError::Identity)
    }

    /// [`Lookups::resolve`] for a caller already holding the DID's lock.
    async fn resolve_unlocked(
        &self,
        resolver: &Resolver,
        did: &str,
        now: i64,
    ) -> Result<Arc<DidDocument>, AuthError> {
        self.recent_failure(did, now)?;
        resolver.resolve_did(did).await.map_err(|error| {
            tracing::debug!(%did, %error, "issuer did not resolve; remembering the failure");
            self.failed.insert(
                did.to_owned(),
                Failure {
                    until: now.saturating_add(self.limits.failure_ttl_secs),
                    error: error.clone(),
                },
            );
            AuthError::Identity(error)
        })
    }

    /// The remembered failure of `did`, while it stands.
    fn recent_failure(&self, did: &str, now: i64) -> Result<(), AuthError> {
        match self.failed.get(did) {
            Some(failure) if now < failure.until => {
                tracing::debug!(%did, error = %failure.error, "issuer failed to resolve recently; not asking again yet");
                Err(AuthError::Identity(failure.error))
            }
            _ => Ok(()),
        }
    }

    fn lock_for(&self, did: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.in_flight
            .get_with_by_ref(did, || Arc::new(tokio::sync::Mutex::new(())))
    }
}
