//! The one outbound HTTP fetcher for URLs taken from the network (project repositories and
//! websites, anything a record names).
//!
//! Such a URL is chosen by a stranger, so a fetch of it must not become a way into our own
//! network or a way to tie us up:
//! - https only; plain http only to loopback, and only under the development setting
//!   ([`Policy::allow_loopback_http`], from `GREENLIGHT_ALLOW_INSECURE_HTTP` in the services);
//! - every address is checked before connecting: literal hosts before the request, names by
//!   a resolver that hands the connector only public addresses (loopback too under the
//!   development setting), so DNS rebinding gains nothing;
//! - redirects are followed only to the same scheme, host and port, a few times;
//! - the body is streamed and cut off past a size cap, the whole fetch has a time cap, and
//!   each host gets a few fetches at a time.

#![warn(missing_docs)]

mod address;
mod error;
mod resolver;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use address::{classify, is_allowed, AddressClass};
pub use error::FetchError;

use resolver::{GuardedResolver, NotResolved, Reach, Refused};

/// What a [`Fetcher`] allows. Callers build it from their configuration; the library reads
/// no environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The development setting: loopback addresses may be reached, and plain http is allowed
    /// to them (and only to them). Never on in production.
    pub allow_loopback_http: bool,
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time cap for the whole fetch: connecting, every redirect and the body.
    pub timeout: Duration,
    /// Redirects followed (same origin only) before giving up.
    pub max_redirects: usize,
    /// Fetches to one host (scheme, host, port) at a time; more wait their turn.
    pub per_host_concurrency: usize,
    /// `User-Agent` sent.
    pub user_agent: String,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            allow_loopback_http: false,
            max_body_bytes: 64 * 1024,
            timeout: Duration::from_secs(10),
            max_redirects: 3,
            per_host_concurrency: 4,
            user_agent: concat!("greenlight/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Choices one fetch may make within its fetcher's [`Policy`]: they can only narrow it.
///
/// Different callers share one fetcher (and so its per-host limits) while wanting different
/// things of one fetch: a JSON `Accept`, a smaller body, a time left over from a larger
/// budget, or no redirect at all.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    accept: Option<HeaderValue>,
    max_body_bytes: Option<usize>,
    timeout: Option<Duration>,
    no_redirects: bool,
}

impl FetchOptions {
    /// Options that change nothing: the policy's caps, redirects followed, a text `Accept`.
    pub fn new() -> FetchOptions {
        FetchOptions::default()
    }

    /// Sends `accept` as the `Accept` header. A value that is not a valid header is ignored
    /// (the default is sent): callers pass constants.
    pub fn accept(mut self, accept: &str) -> FetchOptions {
        self.accept = HeaderValue::from_str(accept).ok();
        self
    }

    /// Accepts at most `limit` body bytes, or the policy's cap if that is smaller.
    pub fn max_body_bytes(mut self, limit: usize) -> FetchOptions {
        self.max_body_bytes = Some(limit);
        self
    }

    /// Gives the whole fetch at most `timeout`, or the policy's cap if that is smaller.
    pub fn timeout(mut self, timeout: Duration) -> FetchOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Follows no redirect: a redirect answer is returned as [`FetchError::Status`] with its
    /// status, for callers to whom a document must come from exactly its URL.
    pub fn no_redirects(mut self) -> FetchOptions {
        self.no_redirects = true;
        self
    }
}

/// A successful fetch.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL the body came from, after same-origin redirects.
    pub url: String,
    /// The `Content-Type` the server sent, if any.
    pub content_type: Option<String>,
    /// The body, at most [`Policy::max_body_bytes`].
    pub body: Bytes,
}

impl Fetched {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// `Accept` sent unless a fetch asks otherwise: proof files and well-known files are text.
const DEFAULT_ACCEPT: &str = "text/plain, text/*;q=0.9, */*;q=0.5";

/// Scheme, host and port: what a redirect must keep.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    fn key(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Per-host fetch slots.
struct HostLimits {
    per_host: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// One fetch's slot at a host; dropping it frees the slot and forgets idle hosts.
struct HostSlot<'a> {
    limits: &'a HostLimits,
    key: String,
    semaphore: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl HostLimits {
    async fn acquire(&self, key: String) -> Result<HostSlot<'_>, FetchError> {
        let semaphore = {
            let mut slots = self.slots.lock().map_err(|_| FetchError::Setup)?;
            slots
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host.max(1))))
                .clone()
        };
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| FetchError::Setup)?;
        Ok(HostSlot {
            limits: self,
            key,
            semaphore,
            permit: Some(permit),
        })
    }
}

impl Drop for HostSlot<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        if let Ok(mut slots) = self.limits.slots.lock() {
            // Two references left (the map's and ours) means nobody else holds or awaits a
            // slot at this host, so the entry can go and the map stays small.
            if Arc::strong_count(&self.semaphore) == 2 {
                slots.remove(&self.key);
            }
        }
    }
}

/// Fetches URLs taken from the network under a [`Policy`]. Cheap to share (`Arc`).
pub struct Fetcher {
    policy: Policy,
    https: reqwest::Client,
    /// Plain http to loopback; exists only under the development setting.
    loopback_http: Option<reqwest::Client>,
    hosts: HostLimits,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn client(
    policy: &Policy,
    reach: Reach,
    https_only: bool,
    hosts: &Arc<HashMap<String, Vec<IpAddr>>>,
) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .user_agent(policy.user_agent.clone())
        // Redirects are followed by hand, after checking where they go.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would connect on our behalf to addresses the resolver never saw.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            reach,
            hosts: hosts.clone(),
        }))
        .https_only(https_only)
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .pool_max_idle_per_host(2)
        .build()
        .map_err(|error| {
            tracing::error!(%error, "cannot build the HTTP client");
            FetchError::Setup
        })
}

impl Fetcher {
    /// A fetcher enforcing `policy`.
    pub fn new(policy: Policy) -> Result<Fetcher, FetchError> {
        Fetcher::with_hosts(policy, HashMap::new())
    }

    /// A fetcher enforcing `policy` that looks the names in `hosts` up there instead of in
    /// DNS, like an `/etc/hosts` of its own (names are matched case-insensitively).
    ///
    /// The addresses are checked exactly like DNS answers, so the table cannot open a way
    /// around the policy. It lets a test point a public-looking name at a loopback or
    /// private address and watch it being refused, with no DNS involved.
    pub fn with_hosts(
        policy: Policy,
        hosts: HashMap<String, Vec<IpAddr>>,
    ) -> Result<Fetcher, FetchError> {
        let hosts: Arc<HashMap<String, Vec<IpAddr>>> = Arc::new(
            hosts
                .into_iter()
                .map(|(name, ips)| (name.trim_end_matches('.').to_ascii_lowercase(), ips))
                .collect(),
        );
        let (https_reach, loopback_http) = if policy.allow_loopback_http {
            (
                Reach::PublicAndLoopback,
                Some(client(&policy, Reach::LoopbackOnly, false, &hosts)?),
            )
        } else {
            (Reach::Public, None)
        };
        Ok(Fetcher {
            https: client(&policy, https_reach, true, &hosts)?,
            loopback_http,
            hosts: HostLimits {
                per_host: policy.per_host_concurrency,
                slots: Mutex::new(HashMap::new()),
            },
            policy,
        })
    }

    /// The policy this fetcher enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// GETs `url` and returns its body, or why not. Only a 2xx answer is a body; any other
    /// status is [`FetchError::Status`].
    pub async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        self.get_with(url, &FetchOptions::default()).await
    }

    /// [`Fetcher::get`] with per-fetch [`FetchOptions`], which only ever narrow the policy.
    pub async fn get_with(&self, url: &str, options: &FetchOptions) -> Result<Fetched, FetchError> {
        let url = Url::parse(url).map_err(|_| FetchError::InvalidUrl)?;
        let timeout = options
            .timeout
            .map_or(self.policy.timeout, |t| t.min(self.policy.timeout));
        match tokio::time::timeout(timeout, self.get_url(url, options)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    /// Picks the client for `url` after checking its scheme and, for an IP-literal host,
    /// the address (the connector does not consult the resolver for literals).
    fn client_for(&self, url: &Url) -> Result<&reqwest::Client, FetchError> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(FetchError::NotHttps);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::InvalidUrl);
        }
        let literal = match url.host() {
            None => return Err(FetchError::InvalidUrl),
            Some(url::Host::Domain(_)) => None,
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        };
        let (client, reach) = match (url.scheme(), &self.loopback_http) {
            ("https", _) => (
                &self.https,
                if self.policy.allow_loopback_http {
                    Reach::PublicAndLoopback
                } else {
                    Reach::Public
                },
            ),
            ("http", Some(http)) => {
                // Plain http is for talking to one's own machine while developing: any
                // other address over http is refused as not-https, not as forbidden.
                if literal.is_some_and(|ip| classify(ip) != AddressClass::Loopback) {
                    return Err(FetchError::NotHttps);
                }
                (http, Reach::LoopbackOnly)
            }
            _ => return Err(FetchError::NotHttps),
        };
        if let Some(ip) = literal {
            if !reach.permits(ip) {
                return Err(FetchError::ForbiddenAddress);
            }
        }
        Ok(client)
    }

    async fn get_url(&self, mut url: Url, options: &FetchOptions) -> Result<Fetched, FetchError> {
        let client = self.client_for(&url)?;
        let origin = Origin::of(&url).ok_or(FetchError::InvalidUrl)?;
        let _slot = self.hosts.acquire(origin.key()).await?;
        let mut redirects = 0;
        loop {
            let response = client
                .get(url.clone())
                .header(
                    ACCEPT,
                    options
                        .accept
                        .clone()
                        .unwrap_or(HeaderValue::from_static(DEFAULT_ACCEPT)),
                )
                .send()
                .await
                .map_err(|error| transport_error(&url, &error))?;
            let status = response.status();
            if is_redirect(status) && options.no_redirects {
                return Err(FetchError::Status(status.as_u16()));
            }
            if is_redirect(status) {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|location| url.join(location).ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                if Origin::of(&next).as_ref() != Some(&origin) {
                    tracing::debug!(from = %url, to = %next, "cross-origin redirect refused");
                    return Err(FetchError::CrossHostRedirect);
                }
                redirects += 1;
                if redirects > self.policy.max_redirects {
                    return Err(FetchError::TooManyRedirects);
                }
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let limit = options
                .max_body_bytes
                .map_or(self.policy.max_body_bytes, |limit| {
                    limit.min(self.policy.max_body_bytes)
                });
            let body = read_body(&url, response, limit).await?;
            return Ok(Fetched {
                url: url.to_string(),
                content_type,
                body,
            });
        }
    }
}

impl Fetcher {
    /// Sends `request` as it is (any method, headers and body) and returns the answer
    /// whatever its status, for protocols that talk to a server the network named: OAuth
    /// with a person's PDS and its authorization server, XRPC calls to that PDS. The same
    /// guards apply as to [`Fetcher::get`] (scheme, checked addresses, per-host slots, size
    /// and time caps), and no redirect is followed: a redirect is answered as it came, so a
    /// request with a body or credentials is never replayed to another place.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        options: &FetchOptions,
    ) -> Result<http::Response<Bytes>, FetchError> {
        let timeout = options
            .timeout
            .map_or(self.policy.timeout, |t| t.min(self.policy.timeout));
        match tokio::time::timeout(timeout, self.send_now(request, options)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    async fn send_now(
        &self,
        request: http::Request<Vec<u8>>,
        options: &FetchOptions,
    ) -> Result<http::Response<Bytes>, FetchError> {
        let (parts, body) = request.into_parts();
        let url = Url::parse(&parts.uri.to_string()).map_err(|_| FetchError::InvalidUrl)?;
        let client = self.client_for(&url)?;
        let origin = Origin::of(&url).ok_or(FetchError::InvalidUrl)?;
        let _slot = self.hosts.acquire(origin.key()).await?;
        let response = client
            .request(parts.method, url.clone())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|error| transport_error(&url, &error))?;
        let mut answer = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        let limit = options
            .max_body_bytes
            .map_or(self.policy.max_body_bytes, |limit| {
                limit.min(self.policy.max_body_bytes)
            });
        let body = read_body(&url, response, limit).await?;
        answer.body(body).map_err(|_| FetchError::Unreachable)
    }
}

/// Reads a body of at most `limit` bytes, streaming, so a huge one is cut off rather than
/// buffered.
async fn read_body(
    url: &Url,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, FetchError> {
    let too_large = FetchError::TooLarge { limit };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(url, &error))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// Maps a transport failure to what a person may be told, logging the details.
fn transport_error(url: &Url, error: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<Refused>() {
            return FetchError::ForbiddenAddress;
        }
        if cause.is::<NotResolved>() {
            return FetchError::Unreachable;
        }
        source = cause.source();
    }
    tracing::debug!(%url, error = %error, "fetch failed");
    if error.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Unreachable
    }
}
