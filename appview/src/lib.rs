//! The Greenlight AppView: XRPC queries over proposals, projects, estimates, pledges and
//! funding totals, following the reference AppView's shape for each method: a *skeleton*
//! query picks the URIs (filters, order, keyset cursor), [`hydrate`] loads everything their
//! views need in a few batched queries, and [`views`] presents them as the lexicon's views.
//!
//! The aggregates it reads (`appview.proposal_state`, `proposal_money`, ...) are kept by
//! `greenlight-aggregates`, from the indexer's transactions and the [`escrow_feed`].

pub mod badge;
pub mod bench;
pub mod cache;
pub mod conditional;
pub mod config;
pub mod cursor;
pub mod did_web;
pub mod display;
pub mod embed;
pub mod escrow_feed;
pub mod html;
pub mod hydrate;
pub mod metrics;
pub mod oembed;
pub mod pages;
pub mod params;
pub mod proof;
pub mod sign_in;
pub mod views;
pub mod widget;
pub mod xrpc;

use std::sync::Arc;

use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use greenlight_lexicon::Catalog;
use greenlight_safe_fetch::Fetcher;
use greenlight_xrpc::RateLimitConfig;
use sqlx::PgPool;
use tower_http::cors::{Any, CorsLayer};

pub use config::Config;
pub use metrics::Metrics;

/// Why an AppView could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AppViewError {
    /// The embedded lexicons did not load.
    #[error("cannot load the lexicons: {0}")]
    Lexicons(String),
    /// The outbound fetcher (for project proofs) could not be built.
    #[error("cannot set up the outbound fetcher: {0}")]
    Fetcher(greenlight_safe_fetch::FetchError),
    /// Signing in is misconfigured (session secret, client key).
    #[error("cannot set up signing in: {0}")]
    SignIn(String),
}

struct Inner {
    pool: PgPool,
    config: Config,
    catalog: &'static Catalog,
    metrics: Arc<Metrics>,
    cache: Arc<cache::ViewCache>,
    fetcher: Arc<Fetcher>,
    identities: greenlight_identity::Resolver,
    sign_in: Option<sign_in::SignIn>,
    /// For escrow's procedures (a configured, trusted address: not through the safe
    /// fetcher, which refuses loopback outside development).
    http: reqwest::Client,
}

/// A running AppView's shared state: database pool, configuration, lexicons and metrics.
#[derive(Clone)]
pub struct AppView(Arc<Inner>);

impl AppView {
    /// An AppView over `pool` (already migrated) configured by `config`.
    pub fn new(pool: PgPool, config: Config) -> Result<AppView, AppViewError> {
        let catalog = Catalog::embedded().map_err(|e| AppViewError::Lexicons(e.to_string()))?;
        let fetcher = Fetcher::new(proof::fetch_policy(&config)).map_err(AppViewError::Fetcher)?;
        let identities = greenlight_identity::Resolver::new(greenlight_identity::ResolverConfig {
            plc_url: config.plc_url.trim_end_matches('/').to_owned(),
            allow_insecure_http: config.allow_insecure_http,
            handle_resolver_pds: config.handle_resolver_pds.clone(),
            ..Default::default()
        });
        let sign_in = sign_in_for(&pool, &config, &identities)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|error| AppViewError::SignIn(format!("HTTP client: {error}")))?;
        Ok(AppView(Arc::new(Inner {
            http,
            identities,
            sign_in,
            fetcher: Arc::new(fetcher),
            pool,
            config,
            catalog,
            metrics: Metrics::new(),
            cache: cache::ViewCache::new(200_000, std::time::Duration::from_secs(60)),
        })))
    }

    /// The view cache; it serves only while [`AppView::spawn_cache_listener`] runs.
    pub fn cache(&self) -> &Arc<cache::ViewCache> {
        &self.0.cache
    }

    /// Turns the view cache on: listens for aggregate changes until `shutdown`.
    pub fn spawn_cache_listener(
        &self,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.0.cache.clone().listen(self.0.pool.clone(), shutdown))
    }

    /// Starts the worker re-checking projects' proofs of control until `shutdown`.
    pub fn spawn_proof_worker(
        &self,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let worker =
            proof::Worker::new(self.0.pool.clone(), self.0.fetcher.clone(), &self.0.config);
        tokio::spawn(worker.run(shutdown))
    }

    /// The fetcher for URLs taken from the network (project proofs).
    pub fn fetcher(&self) -> &Arc<Fetcher> {
        &self.0.fetcher
    }

    /// The OAuth client people sign in with, when signing in is configured.
    pub fn sign_in(&self) -> Option<&sign_in::SignIn> {
        self.0.sign_in.as_ref()
    }

    /// The HTTP client for escrow.
    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// Resolves people's DIDs and handles.
    pub fn identities(&self) -> &greenlight_identity::Resolver {
        &self.0.identities
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The lexicons parameters and responses are checked against.
    pub fn catalog(&self) -> &'static Catalog {
        self.0.catalog
    }

    /// The metrics every request updates.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// Serves [`AppView::router`] on `listener` until the task is dropped (tests, benchmarks;
    /// the binary uses `greenlight_xrpc::serve`, which also stops on signals). Connections
    /// are served as the binary serves them: `greenlight_xrpc::listener` and peer addresses.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(
            greenlight_xrpc::listener(listener),
            self.router()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    }

    /// The HTTP routes: every query, `/.well-known/did.json`, `/metrics`, `/xrpc/_health`,
    /// the pages, badges, widgets and oEmbed of [`pages::routes`], CORS for browsers, and
    /// XRPC errors for everything else; clients are rate-limited as the
    /// `GREENLIGHT_RATE_LIMIT_*` environment says ([`RateLimitConfig::from_env`]).
    pub fn router(&self) -> Router {
        self.router_with_rate_limit(RateLimitConfig::from_env_or_default())
    }

    /// [`AppView::router`] with the given per-client rate limits.
    pub fn router_with_rate_limit(&self, rate_limit: RateLimitConfig) -> Router {
        let xrpc = Router::new()
            .route(
                "/xrpc/fund.greenlight.getProposal",
                get(xrpc::proposals::get_proposal),
            )
            .route(
                "/xrpc/fund.greenlight.listProposals",
                get(xrpc::proposals::list_proposals),
            )
            .route(
                "/xrpc/fund.greenlight.searchProposals",
                get(xrpc::proposals::search_proposals),
            )
            .route(
                "/xrpc/fund.greenlight.getProject",
                get(xrpc::projects::get_project),
            )
            .route(
                "/xrpc/fund.greenlight.listProjects",
                get(xrpc::projects::list_projects),
            )
            .route(
                "/xrpc/fund.greenlight.checkProjectProof",
                post(xrpc::projects::check_project_proof),
            )
            .route(
                "/xrpc/fund.greenlight.getFundingTotals",
                get(xrpc::totals::get_funding_totals),
            )
            .route(
                "/xrpc/fund.greenlight.listEstimates",
                get(xrpc::estimates::list_estimates),
            )
            .route(
                "/xrpc/fund.greenlight.listPledges",
                get(xrpc::pledges::list_pledges),
            )
            .route(
                "/xrpc/fund.greenlight.getActor",
                get(xrpc::actor::get_actor),
            )
            .route(
                "/xrpc/fund.greenlight.getRetainerOffer",
                get(xrpc::retainers::get_retainer_offer),
            )
            .route(
                "/xrpc/fund.greenlight.listRetainerOffers",
                get(xrpc::retainers::list_retainer_offers),
            )
            .route(
                "/xrpc/fund.greenlight.listRetainers",
                get(xrpc::retainers::list_retainers),
            )
            .route("/.well-known/did.json", get(did_web::serve_document))
            .route("/metrics", get(xrpc::render_metrics))
            .merge(pages::routes())
            .with_state(self.clone());
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(Any)
            .expose_headers([header::ETAG])
            .max_age(std::time::Duration::from_secs(86_400));
        let routes = greenlight_xrpc::with_conventions(xrpc, env!("CARGO_PKG_VERSION"));
        // Inside the metrics and CORS layers: refusals are counted, and a browser can read them.
        greenlight_xrpc::with_rate_limit(routes, rate_limit)
            .layer(axum::middleware::from_fn_with_state(
                self.metrics().clone(),
                metrics::track,
            ))
            .layer(cors)
            .layer(axum::middleware::map_response(no_sniff))
    }
}

/// The OAuth client `config` asks for: confidential with a key, loopback on a loopback
/// public URL, otherwise none (pages then say signing in is not available).
fn sign_in_for(
    pool: &PgPool,
    config: &Config,
    identities: &greenlight_identity::Resolver,
) -> Result<Option<sign_in::SignIn>, AppViewError> {
    let setup_error = |what: &str| AppViewError::SignIn(what.to_owned());
    let public = reqwest::Url::parse(&config.public_url)
        .map_err(|_| setup_error("the public URL is not a URL"))?;
    let loopback_port = match public.host_str() {
        Some("localhost" | "127.0.0.1" | "[::1]") => public.port_or_known_default(),
        _ => None,
    };
    let kind = match (&config.oauth_private_key, loopback_port) {
        (Some(key), _) => {
            let key: jose_jwk::Jwk = serde_json::from_str(key)
                .map_err(|_| setup_error("GREENLIGHT_OAUTH_PRIVATE_KEY is not a JWK"))?;
            sign_in::ClientKind::Confidential { key: Box::new(key) }
        }
        (None, Some(port)) => sign_in::ClientKind::Loopback { port },
        (None, None) => {
            tracing::warn!("signing in is off: set GREENLIGHT_OAUTH_PRIVATE_KEY");
            return Ok(None);
        }
    };
    let sealer = match &config.session_secret {
        Some(secret) => sign_in::seal::Sealer::from_hex(secret)
            .map_err(|error| AppViewError::SignIn(error.to_string()))?,
        None => {
            if matches!(kind, sign_in::ClientKind::Confidential { .. }) {
                return Err(setup_error(
                    "a confidential client needs GREENLIGHT_SESSION_SECRET (64 hex characters)",
                ));
            }
            sign_in::seal::Sealer::ephemeral()
        }
    };
    let fetcher = Fetcher::new(sign_in::http::policy(config.allow_insecure_http))
        .map_err(AppViewError::Fetcher)?;
    let setup = sign_in::SignInSetup {
        public_url: config.public_url.clone(),
        kind,
        sealer,
        identities: identities.clone(),
        fetcher: Arc::new(fetcher),
    };
    sign_in::SignIn::new(pool.clone(), setup)
        .map(Some)
        .map_err(|error| AppViewError::SignIn(error.to_string()))
}

async fn no_sniff(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
