//! Per-client request limits for a service's public routes.
//!
//! Each client (an IPv4 address, or an IPv6 /64: one subscriber's allocation, which a single
//! client can take addresses from at will) gets a bucket of `burst` requests refilled at
//! `per_second` (GCRA, by the `governor` crate). An empty bucket is answered
//! `429 RateLimitExceeded` with `Retry-After`, before the request reaches any handler.
//!
//! Peers in the exempt networks (our own machine by default) are not limited: the services
//! call each other and the end-to-end tests drive them hard from 127.0.0.1. A reverse proxy
//! on such a peer hides its clients behind its own address; it names the client in a header
//! ([`RateLimitConfig::client_ip_header`]), which is believed only from exempt peers, so that
//! clients behind the proxy are limited one by one while nobody else can choose their key.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{HeaderName, RETRY_AFTER};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::XrpcError;

/// Requests per second a client may sustain by default.
pub const DEFAULT_PER_SECOND: u32 = 20;
/// Requests a client may make in a burst by default.
pub const DEFAULT_BURST: u32 = 200;
/// Networks not limited by default: this machine.
pub const DEFAULT_EXEMPT: &str = "127.0.0.0/8,::1/128";

/// `GREENLIGHT_RATE_LIMIT_PER_SECOND`: requests per second per client; `0` turns limits off.
pub const ENV_PER_SECOND: &str = "GREENLIGHT_RATE_LIMIT_PER_SECOND";
/// `GREENLIGHT_RATE_LIMIT_BURST`: requests a client may make at once.
pub const ENV_BURST: &str = "GREENLIGHT_RATE_LIMIT_BURST";
/// `GREENLIGHT_RATE_LIMIT_EXEMPT`: comma-separated addresses or CIDR networks not limited
/// (`none` for nobody).
pub const ENV_EXEMPT: &str = "GREENLIGHT_RATE_LIMIT_EXEMPT";
/// `GREENLIGHT_RATE_LIMIT_CLIENT_IP_HEADER`: the header an exempt reverse proxy names the
/// client in (e.g. `x-forwarded-for`, whose last entry counts, or `x-real-ip`).
pub const ENV_CLIENT_IP_HEADER: &str = "GREENLIGHT_RATE_LIMIT_CLIENT_IP_HEADER";

/// Paths never limited: a load balancer's health checks must not be turned away.
const UNLIMITED_PATHS: &[&str] = &["/xrpc/_health"];
/// How often (in checks) buckets that have refilled are forgotten, which keeps memory in
/// proportion to the clients seen in the last `burst / per_second` seconds.
const SWEEP_EVERY: u64 = 8192;

/// How a service limits its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests per second a client may sustain; `0` turns limiting off.
    pub per_second: u32,
    /// Requests a client may make at once (at least 1).
    pub burst: u32,
    /// Peers that are not limited.
    pub exempt: Vec<IpNet>,
    /// The header an exempt peer (a reverse proxy) names the client in; its last
    /// comma-separated entry is used. Ignored from other peers.
    pub client_ip_header: Option<HeaderName>,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            per_second: DEFAULT_PER_SECOND,
            burst: DEFAULT_BURST,
            exempt: parse_networks(DEFAULT_EXEMPT).unwrap_or_default(),
            client_ip_header: None,
        }
    }
}

/// A rate-limit setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {reason}")]
pub struct RateLimitConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl RateLimitConfig {
    /// The configuration from the `GREENLIGHT_RATE_LIMIT_*` environment variables, with the
    /// defaults for those unset.
    pub fn from_env() -> Result<RateLimitConfig, RateLimitConfigError> {
        RateLimitConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration from `lookup` (an environment), with the defaults for names it
    /// does not know.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<RateLimitConfig, RateLimitConfigError> {
        let mut config = RateLimitConfig::default();
        let error = |variable, value: &str, reason| RateLimitConfigError {
            variable,
            value: value.to_owned(),
            reason,
        };
        if let Some(value) = lookup(ENV_PER_SECOND) {
            config.per_second = value
                .trim()
                .parse()
                .map_err(|_| error(ENV_PER_SECOND, &value, "not a whole number"))?;
        }
        if let Some(value) = lookup(ENV_BURST) {
            config.burst = value
                .trim()
                .parse()
                .ok()
                .filter(|burst| *burst > 0)
                .ok_or_else(|| error(ENV_BURST, &value, "not a whole number above 0"))?;
        }
        if let Some(value) = lookup(ENV_EXEMPT) {
            config.exempt = parse_networks(&value).ok_or_else(|| {
                error(
                    ENV_EXEMPT,
                    &value,
                    "not a comma-separated list of addresses and networks (or none)",
                )
            })?;
        }
        if let Some(value) = lookup(ENV_CLIENT_IP_HEADER).filter(|v| !v.trim().is_empty()) {
            config.client_ip_header = Some(
                HeaderName::from_bytes(value.trim().as_bytes())
                    .map_err(|_| error(ENV_CLIENT_IP_HEADER, &value, "not a header name"))?,
            );
        }
        Ok(config)
    }

    /// The configuration from the environment; an unusable one is logged and the defaults
    /// are used, so a typo costs a log line rather than the service.
    pub fn from_env_or_default() -> RateLimitConfig {
        RateLimitConfig::from_env().unwrap_or_else(|error| {
            tracing::error!(%error, "unusable rate-limit setting; using the defaults");
            RateLimitConfig::default()
        })
    }
}

/// Addresses (`127.0.0.1`) and networks (`10.0.0.0/8`), comma-separated; `none` or nothing
/// is the empty list.
fn parse_networks(list: &str) -> Option<Vec<IpNet>> {
    let list = list.trim();
    if list.is_empty() || list.eq_ignore_ascii_case("none") {
        return Some(Vec::new());
    }
    list.split(',')
        .map(str::trim)
        .map(|item| {
            item.parse::<IpNet>()
                .ok()
                .or_else(|| item.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

/// Whom a request is counted for: an IPv4 address, or an IPv6 /64 (the smallest usual
/// allocation, which a single client can take addresses from at will).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// Callers whose address is not known.
    pub const UNKNOWN: ClientKey = ClientKey(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));

    /// The key of a peer address.
    pub fn of(address: IpAddr) -> ClientKey {
        match address {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => ClientKey(IpAddr::V6(std::net::Ipv6Addr::from(
                    u128::from(v6) & !((1u128 << 64) - 1),
                ))),
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
            v4 => write!(f, "{v4}"),
        }
    }
}

struct Limiter {
    config: RateLimitConfig,
    buckets: DefaultKeyedRateLimiter<ClientKey>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl Limiter {
    fn is_exempt(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.config.exempt.iter().any(|net| net.contains(&ip))
    }

    /// The key `request` counts for, or `None` when it is not limited.
    fn client(&self, request: &Request) -> Option<ClientKey> {
        // Without a peer address the request came from inside the process (a test driving
        // the router): there is no client to limit. The services' own listeners always
        // attach it.
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()?
            .0
            .ip();
        if !self.is_exempt(peer) {
            return Some(ClientKey::of(peer));
        }
        let header = self.config.client_ip_header.as_ref()?;
        let named = request
            .headers()
            .get_all(header)
            .iter()
            .next_back()?
            .to_str()
            .ok()?
            .rsplit(',')
            .next()?
            .trim()
            .parse::<IpAddr>()
            .ok()?;
        (!self.is_exempt(named)).then(|| ClientKey::of(named))
    }

    /// `Err(wait)` when `client` has used up its bucket.
    fn check(&self, client: ClientKey) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.buckets.retain_recent();
        }
        self.buckets
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Adds per-client limits to every route of `router` (and its fallbacks) except the health
/// check. With `per_second` 0 the router is returned as it is.
pub fn with_rate_limit(router: Router, config: RateLimitConfig) -> Router {
    let (Some(per_second), Some(burst)) = (
        NonZeroU32::new(config.per_second),
        NonZeroU32::new(config.burst),
    ) else {
        tracing::info!("per-client rate limits are off");
        return router;
    };
    let quota = Quota::per_second(per_second).allow_burst(burst);
    let limiter = Arc::new(Limiter {
        buckets: RateLimiter::keyed(quota),
        clock: DefaultClock::default(),
        checks: AtomicU64::new(0),
        config,
    });
    router.layer(middleware::from_fn_with_state(limiter, limit))
}

async fn limit(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    if UNLIMITED_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(client) = limiter.client(&request) else {
        return next.run(request).await;
    };
    match limiter.check(client) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let seconds = seconds.max(1);
            tracing::debug!(client = %client.0, seconds, "rate limit exceeded");
            let mut response = XrpcError::RateLimitExceeded(format!(
                "too many requests from this address; try again in {seconds} s"
            ))
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_configures_the_limits() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let defaults = RateLimitConfig::from_lookup(env(&[])).unwrap();
        assert_eq!(defaults, RateLimitConfig::default());
        assert_eq!(defaults.per_second, DEFAULT_PER_SECOND);
        assert!(defaults
            .exempt
            .iter()
            .any(|n| n.contains(&"127.0.0.1".parse::<IpAddr>().unwrap())));
        assert!(defaults
            .exempt
            .iter()
            .any(|n| n.contains(&"::1".parse::<IpAddr>().unwrap())));

        let set = RateLimitConfig::from_lookup(env(&[
            (ENV_PER_SECOND, "5"),
            (ENV_BURST, " 10 "),
            (ENV_EXEMPT, "10.1.2.3, 192.168.0.0/16 ,::1"),
            (ENV_CLIENT_IP_HEADER, "X-Forwarded-For"),
        ]))
        .unwrap();
        assert_eq!((set.per_second, set.burst), (5, 10));
        assert_eq!(set.exempt.len(), 3);
        assert_eq!(set.client_ip_header.unwrap().as_str(), "x-forwarded-for");
        assert!(RateLimitConfig::from_lookup(env(&[(ENV_EXEMPT, "none")]))
            .unwrap()
            .exempt
            .is_empty());

        for bad in [
            &[(ENV_PER_SECOND, "-1")][..],
            &[(ENV_PER_SECOND, "lots")],
            &[(ENV_BURST, "0")],
            &[(ENV_EXEMPT, "localhost")],
            &[(ENV_CLIENT_IP_HEADER, "bad header")],
        ] {
            let owned: &'static [(&'static str, &'static str)] = bad;
            assert!(RateLimitConfig::from_lookup(env(owned)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = ClientKey::of("2001:db8:1:2::1".parse().unwrap());
        let b = ClientKey::of("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = ClientKey::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            ClientKey::of("::ffff:192.0.2.7".parse().unwrap()),
            ClientKey::of("192.0.2.7".parse().unwrap())
        );
    }
}
