//! Resolution of DIDs to documents and of handles to DIDs, with a bounded, expiring cache.

use std::sync::Arc;
use std::time::Duration;

use greenlight_safe_fetch::{FetchError, FetchOptions, Fetcher, Policy};
use hickory_resolver::TokioResolver;

use crate::did::{self, Did};
use crate::document::DidDocument;
use crate::error::IdentityError;
use crate::handle;

/// The largest DID document accepted; real ones are around 1 KiB.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The largest `/.well-known/atproto-did` body accepted (a DID and a newline).
const MAX_WELL_KNOWN_BYTES: usize = 4 * 1024;
/// The largest `com.atproto.identity.resolveHandle` answer accepted.
const MAX_RESOLVE_HANDLE_BYTES: usize = 16 * 1024;
/// How many DIDs (and, separately, handles) the cache holds by default.
pub const DEFAULT_CACHE_CAPACITY: u64 = 100_000;
/// Redirects followed for `/.well-known/atproto-did`, same origin only (DID documents and
/// `resolveHandle` follow none).
const MAX_HANDLE_REDIRECTS: usize = 5;
/// Fetches at one host at a time. Most resolutions go to the one PLC directory, so this is
/// higher than the safe fetcher's default; a did:web or handle host is anyone's server and
/// still cannot get more than this many of our connections.
const PER_HOST_CONCURRENCY: usize = 16;
/// What a DID document is asked for as.
const DID_DOCUMENT_ACCEPT: &str = "application/did+ld+json, application/json";
/// DNS tries per lookup; each waits up to the request timeout.
const DNS_ATTEMPTS: usize = 2;
/// The longest cache lifetime honoured; the cache refuses (panics on) absurd ones.
const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);
const USER_AGENT: &str = concat!("greenlight-identity/", env!("CARGO_PKG_VERSION"));

/// Where and how the resolver looks identities up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// The did:plc directory, without trailing slash; default `https://plc.directory`.
    pub plc_url: String,
    /// Allows plain `http://` and loopback hosts (`localhost`, `127.0.0.1`) and `.test`
    /// handles: for the local test network only, never in production.
    pub allow_insecure_http: bool,
    /// A PDS asked first (`com.atproto.identity.resolveHandle`) for handles; the only
    /// way `.test` handles of the local network resolve.
    pub handle_resolver_pds: Option<String>,
    /// How long a resolved DID document is reused before it is fetched again.
    pub did_ttl: Duration,
    /// How long a verified handle → DID mapping is reused.
    pub handle_ttl: Duration,
    /// The limit on each network request (connect, headers and body together).
    pub request_timeout: Duration,
    /// Pooled resolution (the indexer's identity pool): how long a failed lookup of a DID is
    /// remembered before the DID is asked for again.
    pub negative_ttl: Duration,
    /// Pooled resolution: how long a host that timed out or could not be reached is left
    /// alone (lookups of every DID on it fail at once meanwhile).
    pub host_failure_ttl: Duration,
    /// Pooled resolution: lookups in flight at once, over all hosts.
    pub max_concurrent: usize,
    /// Pooled resolution: lookups in flight at once at one host, so a stalled host holds at
    /// most this many of the pool's places.
    pub per_host_concurrent: usize,
    /// Pooled resolution: lookups started per second at one host.
    pub per_host_per_second: u32,
    /// Pooled resolution: the longest a caller waits for a key before carrying on without it
    /// (the indexer parks the commit and replays it when the key arrives).
    pub key_wait: Duration,
}

impl ResolverConfig {
    /// The [`Policy`] the resolver fetches under: the development setting
    /// (`allow_insecure_http`) is the safe fetcher's loopback-http setting, the request
    /// timeout caps each fetch, and a DID document is the largest body accepted.
    ///
    /// For [`Resolver::with_fetcher`]: a fetcher built from this policy (with
    /// [`Fetcher::with_hosts`], say) behaves like the resolver's own.
    pub fn fetch_policy(&self) -> Policy {
        Policy {
            allow_loopback_http: self.allow_insecure_http,
            max_body_bytes: MAX_DOCUMENT_BYTES,
            timeout: self.request_timeout,
            max_redirects: MAX_HANDLE_REDIRECTS,
            per_host_concurrency: PER_HOST_CONCURRENCY,
            user_agent: USER_AGENT.to_owned(),
        }
    }
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            plc_url: "https://plc.directory".to_owned(),
            allow_insecure_http: false,
            handle_resolver_pds: None,
            // Key rotations are caught by refresh-on-failure and handle changes by
            // `#identity` events, so documents can live long in the cache.
            did_ttl: Duration::from_secs(60 * 60),
            handle_ttl: Duration::from_secs(10 * 60),
            request_timeout: Duration::from_secs(5),
            negative_ttl: Duration::from_secs(60),
            host_failure_ttl: Duration::from_secs(30),
            max_concurrent: 32,
            per_host_concurrent: 4,
            per_host_per_second: 20,
            key_wait: Duration::from_millis(500),
        }
    }
}

/// Resolves DIDs and handles; cheap to clone, every clone shares one cache.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    config: ResolverConfig,
    /// Every identity fetch goes through it: DID documents and handle files are at URLs
    /// anyone can choose, so addresses are checked, redirects stay on their host, and
    /// sizes and times are capped. The PLC directory and the handle-resolving PDS come from
    /// configuration, but share the client so there is one way out, not two.
    fetcher: Result<Arc<Fetcher>, String>,
    dids: moka::sync::Cache<String, Arc<DidDocument>>,
    handles: moka::sync::Cache<String, String>,
    dns: tokio::sync::OnceCell<Result<TokioResolver, String>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("config", &self.inner.config)
            .field("cached_dids", &self.inner.dids.entry_count())
            .field("cached_handles", &self.inner.handles.entry_count())
            .finish()
    }
}

impl Resolver {
    /// A resolver with the default cache capacity.
    pub fn new(config: ResolverConfig) -> Resolver {
        Resolver::with_capacity(config, DEFAULT_CACHE_CAPACITY)
    }

    /// A resolver whose DID and handle caches each hold at most `max_entries`.
    pub fn with_capacity(config: ResolverConfig, max_entries: u64) -> Resolver {
        let fetcher = Fetcher::new(config.fetch_policy())
            .map(Arc::new)
            .map_err(|err| err.to_string());
        Resolver::build(config, max_entries, fetcher)
    }

    /// A resolver fetching through `fetcher`, which should enforce
    /// [`ResolverConfig::fetch_policy`] (tests pin host names with [`Fetcher::with_hosts`]).
    /// `config.allow_insecure_http` still decides which DIDs and handles are looked up at all.
    pub fn with_fetcher(
        config: ResolverConfig,
        max_entries: u64,
        fetcher: Arc<Fetcher>,
    ) -> Resolver {
        Resolver::build(config, max_entries, Ok(fetcher))
    }

    fn build(
        config: ResolverConfig,
        max_entries: u64,
        fetcher: Result<Arc<Fetcher>, String>,
    ) -> Resolver {
        let dids = moka::sync::Cache::builder()
            .max_capacity(max_entries)
            .time_to_live(config.did_ttl.min(MAX_TTL))
            .build();
        let handles = moka::sync::Cache::builder()
            .max_capacity(max_entries)
            .time_to_live(config.handle_ttl.min(MAX_TTL))
            .build();
        Resolver {
            inner: Arc::new(Inner {
                config,
                fetcher,
                dids,
                handles,
                dns: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// The configuration this resolver was built with.
    pub fn config(&self) -> &ResolverConfig {
        &self.inner.config
    }

    /// The DID's document, from the cache when fresh, else fetched and cached.
    pub async fn resolve_did(&self, did: &str) -> Result<Arc<DidDocument>, IdentityError> {
        did::parse(did)?;
        if let Some(document) = self.inner.dids.get(did) {
            return Ok(document);
        }
        self.refresh_did(did).await
    }

    /// The DID's document if the cache holds a fresh one; never touches the network.
    pub fn cached_did(&self, did: &str) -> Option<Arc<DidDocument>> {
        self.inner.dids.get(did)
    }

    /// The host (`name` or `name:port`) the DID's document is fetched from: the PLC
    /// directory's for did:plc, the DID's own for did:web. Callers limit lookups per host.
    pub fn document_host(&self, did: &str) -> Result<String, IdentityError> {
        let parsed = did::parse(did)?;
        let config = &self.inner.config;
        let url = did::document_url(did, &parsed, &config.plc_url, config.allow_insecure_http)?;
        host_of(&url).ok_or_else(|| IdentityError::Refused {
            url,
            reason: "the document URL has no host".to_owned(),
        })
    }

    /// Fetches the DID's document now, bypassing the cache, and caches the result.
    ///
    /// When the DID turns out not to exist (any more), its cached document is dropped.
    pub async fn refresh_did(&self, did: &str) -> Result<Arc<DidDocument>, IdentityError> {
        let parsed = did::parse(did)?;
        let config = &self.inner.config;
        let url = did::document_url(did, &parsed, &config.plc_url, config.allow_insecure_http)?;
        // A DID document must come from exactly its URL: a redirect is an answer, not a hop.
        let options = FetchOptions::new()
            .accept(DID_DOCUMENT_ACCEPT)
            .max_body_bytes(MAX_DOCUMENT_BYTES)
            .no_redirects();
        let body = match self.fetch(&url, &options).await {
            Ok(body) => body,
            Err(FetchError::Status(404)) => {
                self.inner.dids.invalidate(did);
                return Err(IdentityError::DidNotFound(did.to_owned()));
            }
            Err(FetchError::Status(410)) if matches!(parsed, Did::Plc(_)) => {
                self.inner.dids.invalidate(did);
                return Err(IdentityError::DidTombstoned(did.to_owned()));
            }
            Err(error) => return Err(identity_error(&url, error)),
        };
        let document = Arc::new(DidDocument::parse(did, &body)?);
        tracing::debug!(%did, handle = ?document.handle, pds = ?document.pds_endpoint, "resolved DID");
        self.inner
            .dids
            .insert(did.to_owned(), Arc::clone(&document));
        Ok(document)
    }

    /// The DID a handle belongs to, verified both ways: the handle points at the DID
    /// and the DID's document claims the handle. Cached.
    ///
    /// Methods, in order: the configured PDS's `resolveHandle`, DNS TXT at
    /// `_atproto.<handle>`, then `https://<handle>/.well-known/atproto-did`.
    pub async fn resolve_handle(&self, handle: &str) -> Result<String, IdentityError> {
        let handle = handle::normalize_handle(handle, self.inner.config.allow_insecure_http)?;
        if let Some(did) = self.inner.handles.get(&handle) {
            return Ok(did);
        }
        let did = self.lookup_handle(&handle).await?;
        self.confirm_handle(&handle, &did).await?;
        self.inner.handles.insert(handle, did.clone());
        Ok(did)
    }

    /// Forgets what is cached about the DID (its document and its handle), e.g. after
    /// a firehose `#identity` event.
    pub fn invalidate(&self, did: &str) {
        if let Some(document) = self.inner.dids.remove(did) {
            if let Some(handle) = &document.handle {
                if self.inner.handles.get(handle).as_deref() == Some(did) {
                    self.inner.handles.invalidate(handle);
                }
            }
        }
    }

    /// Caches a document obtained by other means (a known service's own document, or a
    /// test fixture) as if it had just been resolved.
    pub fn prime(&self, document: DidDocument) {
        self.inner
            .dids
            .insert(document.did.clone(), Arc::new(document));
    }

    /// Asks each handle resolution method in turn for the handle's DID.
    async fn lookup_handle(&self, handle: &str) -> Result<String, IdentityError> {
        let mut tried = Vec::new();
        if let Some(pds) = &self.inner.config.handle_resolver_pds {
            match self.handle_via_pds(pds, handle).await {
                Ok(Some(did)) => return Ok(did),
                Ok(None) => tried.push("PDS: unknown handle".to_owned()),
                Err(err) => tried.push(format!("PDS: {err}")),
            }
        }
        if handle::is_test_handle(handle) {
            // No public DNS or web server can answer for .test; don't wait for them.
            tried.push(".test handles resolve only through the configured PDS".to_owned());
            return Err(not_found(handle, tried));
        }
        match self.handle_via_dns(handle).await {
            Ok(Some(did)) => return Ok(did),
            Ok(None) => tried.push("DNS: no did= TXT record".to_owned()),
            Err(err) => tried.push(format!("DNS: {err}")),
        }
        match self.handle_via_well_known(handle).await {
            Ok(Some(did)) => return Ok(did),
            Ok(None) => tried.push("HTTPS: no /.well-known/atproto-did".to_owned()),
            Err(err) => tried.push(format!("HTTPS: {err}")),
        }
        Err(not_found(handle, tried))
    }

    /// `com.atproto.identity.resolveHandle` on the configured PDS; `None` when it
    /// does not know the handle.
    async fn handle_via_pds(&self, pds: &str, handle: &str) -> Result<Option<String>, String> {
        #[derive(serde::Deserialize)]
        struct Answer {
            did: String,
        }
        let mut url = reqwest::Url::parse(&format!(
            "{}/xrpc/com.atproto.identity.resolveHandle",
            pds.trim_end_matches('/')
        ))
        .map_err(|_| format!("the handle-resolving PDS URL {pds:?} is not a URL"))?;
        url.query_pairs_mut().append_pair("handle", handle);
        let options = FetchOptions::new()
            .accept("application/json")
            .max_body_bytes(MAX_RESOLVE_HANDLE_BYTES)
            .no_redirects();
        let body = match self.fetch(url.as_str(), &options).await {
            Ok(body) => body,
            // XRPC answers 400 (HandleNotFound / InvalidRequest) for handles it can't resolve.
            Err(FetchError::Status(400 | 404)) => return Ok(None),
            Err(error) => return Err(identity_error(url.as_str(), error).to_string()),
        };
        let answer: Answer =
            serde_json::from_slice(&body).map_err(|err| format!("bad answer: {err}"))?;
        did::validate_did(&answer.did).map_err(|err| err.to_string())?;
        Ok(Some(answer.did))
    }

    async fn handle_via_dns(&self, handle: &str) -> Result<Option<String>, String> {
        let dns = self
            .inner
            .dns
            .get_or_init(|| async {
                let mut builder = TokioResolver::builder_tokio()
                    .map_err(|err| format!("no system DNS configuration: {err}"))?;
                builder.options_mut().timeout = self.inner.config.request_timeout;
                builder.options_mut().attempts = DNS_ATTEMPTS;
                builder
                    .build()
                    .map_err(|err| format!("cannot set up DNS: {err}"))
            })
            .await
            .as_ref()
            .map_err(Clone::clone)?;
        // Fully qualified, so no search domain from resolv.conf is appended.
        let name = format!("_atproto.{handle}.");
        let limit = self.inner.config.request_timeout * DNS_ATTEMPTS as u32;
        let lookup = match tokio::time::timeout(limit, dns.txt_lookup(name)).await {
            Err(_) => return Err("timed out".to_owned()),
            Ok(Err(err)) if err.is_no_records_found() => return Ok(None),
            Ok(Err(err)) => return Err(err.to_string()),
            Ok(Ok(lookup)) => lookup,
        };
        let records = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                hickory_resolver::proto::rr::RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|chunk| String::from_utf8_lossy(chunk))
                        .collect::<String>(),
                ),
                _ => None,
            });
        handle::did_from_txt_records(records).map_err(str::to_owned)
    }

    async fn handle_via_well_known(&self, handle: &str) -> Result<Option<String>, String> {
        let url = format!("https://{handle}/.well-known/atproto-did");
        let options = FetchOptions::new().max_body_bytes(MAX_WELL_KNOWN_BYTES);
        match self.fetch(&url, &options).await {
            Ok(body) => handle::did_from_well_known(&body)
                .map(Some)
                .map_err(str::to_owned),
            Err(FetchError::Status(404)) => Ok(None),
            Err(error) => Err(identity_error(&url, error).to_string()),
        }
    }

    /// GETs `url` through the safe fetcher; the body of a 2xx answer.
    async fn fetch(&self, url: &str, options: &FetchOptions) -> Result<bytes::Bytes, FetchError> {
        let fetcher = self.inner.fetcher.as_ref().map_err(|err| {
            tracing::error!(%err, "the identity fetcher could not be set up");
            FetchError::Setup
        })?;
        Ok(fetcher.get_with(url, options).await?.body)
    }

    /// Checks that the DID's document claims `handle`. A cached document that does not
    /// is fetched again once, since the account may just have changed its handle.
    async fn confirm_handle(&self, handle: &str, did: &str) -> Result<(), IdentityError> {
        if let Some(cached) = self.inner.dids.get(did) {
            if cached.handle.as_deref() == Some(handle) {
                return Ok(());
            }
        }
        let document = self.refresh_did(did).await?;
        if document.handle.as_deref() == Some(handle) {
            Ok(())
        } else {
            Err(IdentityError::HandleMismatch {
                handle: handle.to_owned(),
                did: did.to_owned(),
                claimed: document.handle.clone(),
            })
        }
    }
}

/// `host[:port]` of a URL.
fn host_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

fn not_found(handle: &str, tried: Vec<String>) -> IdentityError {
    IdentityError::HandleNotFound {
        handle: handle.to_owned(),
        detail: tried.join("; "),
    }
}

/// What a refused or failed fetch means for identity resolution. Transport trouble stays
/// `Network`/`Timeout` (it may pass); a refusal by the fetcher's rules is `Refused` (it will
/// not).
fn identity_error(url: &str, error: FetchError) -> IdentityError {
    let url = url.to_owned();
    match error {
        FetchError::Status(status) => IdentityError::HttpStatus { url, status },
        FetchError::Timeout => IdentityError::Timeout { url },
        FetchError::TooLarge { limit } => IdentityError::BodyTooLarge { url, limit },
        FetchError::Setup => IdentityError::HttpClient(error.to_string()),
        // Plain http only happens with a misconfigured (http) PLC directory or PDS.
        FetchError::Unreachable | FetchError::NotHttps => IdentityError::Network {
            url,
            message: error.to_string(),
        },
        FetchError::ForbiddenAddress
        | FetchError::CrossHostRedirect
        | FetchError::TooManyRedirects
        | FetchError::InvalidUrl => IdentityError::Refused {
            url,
            reason: error.to_string(),
        },
    }
}
