//! Escrow's HTTP surface: the `fund.greenlight.escrow.*` XRPC methods (every request and
//! response validated against its lexicon), the checkout pages, the provider webhooks, and
//! escrow's did:web document.
//!
//! Operator methods sit behind [`operator_gate`]: it checks the HTTP Basic credential in
//! constant time and, after [`LOGIN_FAILURES_ALLOWED`] failures from one client address
//! within [`LOGIN_WINDOW_SECONDS`], answers `429 RateLimitExceeded` to that address for the
//! same time without looking at the password at all.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use greenlight_lexicon::fund::greenlight::escrow::{
    cancel_pledge, connect_payout_account, create_donation, create_pledge, file_dispute,
    get_largest_contribution, get_pledge, get_proposal_state, list_ledger_entries,
    list_proposal_states, resolve_dispute,
};
use greenlight_xrpc::{RateLimitConfig, XrpcError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{Operator, ServiceCaller};
use crate::procedures::{dispute, donation, payout_account, pledge, queries};
use crate::webhook::{self, WebhookError};
use crate::Escrow;

/// Serves escrow on `listener` until Ctrl-C or SIGTERM with `greenlight_xrpc::serve`, which
/// gives every request its connection's peer address: the operator login limit and the
/// per-client rate limit count by it.
pub async fn serve(listener: tokio::net::TcpListener, escrow: Arc<Escrow>) -> std::io::Result<()> {
    greenlight_xrpc::serve(listener, router(escrow)).await
}

/// [`router`] as a service that knows each connection's peer address.
pub fn service(escrow: Arc<Escrow>) -> IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
    router(escrow).into_make_service_with_connect_info::<SocketAddr>()
}

/// The router serving everything escrow answers, with clients rate-limited as the
/// `GREENLIGHT_RATE_LIMIT_*` environment says.
pub fn router(escrow: Arc<Escrow>) -> Router {
    router_with_rate_limit(escrow, RateLimitConfig::from_env_or_default())
}

/// [`router`] with the given per-client rate limits.
pub fn router_with_rate_limit(escrow: Arc<Escrow>, rate_limit: RateLimitConfig) -> Router {
    let gate = Arc::new(OperatorGate::new(escrow.clone()));
    let operator_only = middleware::from_fn_with_state(gate, operator_gate);
    let routes = Router::new()
        .route(&xrpc(create_pledge::NSID), post(create_pledge_handler))
        .route(&xrpc(cancel_pledge::NSID), post(cancel_pledge_handler))
        .route(&xrpc(create_donation::NSID), post(create_donation_handler))
        .route(
            &xrpc(connect_payout_account::NSID),
            post(connect_payout_account_handler),
        )
        .route(&xrpc(file_dispute::NSID), post(file_dispute_handler))
        .route(
            &xrpc(resolve_dispute::NSID),
            post(resolve_dispute_handler).layer(operator_only),
        )
        .route(&xrpc(get_pledge::NSID), get(get_pledge_handler))
        .route(
            &xrpc(get_proposal_state::NSID),
            get(get_proposal_state_handler),
        )
        .route(
            &xrpc(get_largest_contribution::NSID),
            get(get_largest_contribution_handler),
        )
        .route(
            &xrpc(list_ledger_entries::NSID),
            get(list_ledger_entries_handler),
        )
        .route(
            &xrpc(list_proposal_states::NSID),
            get(list_proposal_states_handler),
        )
        .route("/checkout/{payment}", get(checkout_page))
        .route("/checkout/{payment}/complete", post(checkout_complete))
        .route("/checkout/{payment}/fail", post(checkout_fail))
        .route("/webhooks/{provider}", post(webhook_handler))
        .merge(crate::retainer::http::routes())
        .route("/.well-known/did.json", get(did_document))
        .with_state(escrow);
    let routes = greenlight_xrpc::with_conventions(routes, env!("CARGO_PKG_VERSION"));
    greenlight_xrpc::with_rate_limit(routes, rate_limit)
}

pub(crate) fn xrpc(nsid: &str) -> String {
    format!("/xrpc/{nsid}")
}

pub(crate) fn read_input<T: DeserializeOwned>(
    escrow: &Escrow,
    nsid: &str,
    body: &[u8],
) -> Result<T, XrpcError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| XrpcError::InvalidRequest(format!("body is not JSON: {error}")))?;
    escrow
        .catalog()
        .validate_input(nsid, &value)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    serde_json::from_value(value).map_err(|error| XrpcError::InvalidRequest(error.to_string()))
}

pub(crate) fn read_params<T: DeserializeOwned>(
    escrow: &Escrow,
    nsid: &str,
    params: Value,
) -> Result<T, XrpcError> {
    escrow
        .catalog()
        .validate_params(nsid, &params)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    serde_json::from_value(params).map_err(|error| XrpcError::InvalidRequest(error.to_string()))
}

/// Query parameters as JSON strings, with the integer ones converted.
pub(crate) fn params(
    query: &HashMap<String, String>,
    integers: &[&str],
) -> Result<Value, XrpcError> {
    let mut object = serde_json::Map::new();
    for (name, value) in query {
        let value = if integers.contains(&name.as_str()) {
            Value::from(
                value
                    .parse::<i64>()
                    .map_err(|_| XrpcError::InvalidRequest(format!("{name} must be an integer")))?,
            )
        } else {
            Value::from(value.clone())
        };
        object.insert(name.clone(), value);
    }
    Ok(Value::Object(object))
}

pub(crate) fn respond<T: Serialize>(
    escrow: &Escrow,
    nsid: &str,
    output: &T,
) -> Result<Json<Value>, XrpcError> {
    let value = serde_json::to_value(output).map_err(|error| {
        tracing::error!(%error, nsid, "cannot serialize a response");
        XrpcError::Internal
    })?;
    if let Err(error) = escrow.catalog().validate_output(nsid, &value) {
        // Never send what the lexicon does not allow: it is a bug to fix, not to ship.
        tracing::error!(%error, nsid, "response does not match its lexicon");
        return Err(XrpcError::Internal);
    }
    Ok(Json(value))
}

async fn create_pledge_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: create_pledge::Input = read_input(&escrow, create_pledge::NSID, &body)?;
    let output = pledge::create_pledge(&escrow, &caller, &input).await?;
    respond(&escrow, create_pledge::NSID, &output)
}

async fn cancel_pledge_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: cancel_pledge::Input = read_input(&escrow, cancel_pledge::NSID, &body)?;
    let output = pledge::cancel_pledge(&escrow, &caller, &input).await?;
    respond(&escrow, cancel_pledge::NSID, &output)
}

async fn create_donation_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: create_donation::Input = read_input(&escrow, create_donation::NSID, &body)?;
    let output = donation::create_donation(&escrow, &caller, &input).await?;
    respond(&escrow, create_donation::NSID, &output)
}

async fn connect_payout_account_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: connect_payout_account::Input =
        read_input(&escrow, connect_payout_account::NSID, &body)?;
    let output = payout_account::connect_payout_account(&escrow, &caller, &input).await?;
    respond(&escrow, connect_payout_account::NSID, &output)
}

async fn file_dispute_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: file_dispute::Input = read_input(&escrow, file_dispute::NSID, &body)?;
    let output = dispute::file_dispute(&escrow, &caller, &input).await?;
    respond(&escrow, file_dispute::NSID, &output)
}

async fn resolve_dispute_handler(
    State(escrow): State<Arc<Escrow>>,
    _operator: Operator,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: resolve_dispute::Input = read_input(&escrow, resolve_dispute::NSID, &body)?;
    let output = dispute::resolve_dispute(&escrow, &input).await?;
    respond(&escrow, resolve_dispute::NSID, &output)
}

async fn get_pledge_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_pledge::Params = read_params(&escrow, get_pledge::NSID, params(&query, &[])?)?;
    let output = pledge::get_pledge(&escrow, &params.id).await?;
    respond(&escrow, get_pledge::NSID, &output)
}

async fn get_proposal_state_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_proposal_state::Params =
        read_params(&escrow, get_proposal_state::NSID, params(&query, &[])?)?;
    let output = queries::get_proposal_state(&escrow, &params.proposal).await?;
    respond(&escrow, get_proposal_state::NSID, &output)
}

async fn get_largest_contribution_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_largest_contribution::Params = read_params(
        &escrow,
        get_largest_contribution::NSID,
        params(&query, &[])?,
    )?;
    let output = queries::get_largest_contribution(&escrow, &params).await?;
    respond(&escrow, get_largest_contribution::NSID, &output)
}

async fn list_ledger_entries_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: list_ledger_entries::Params = read_params(
        &escrow,
        list_ledger_entries::NSID,
        params(&query, &["limit"])?,
    )?;
    let output = queries::list_ledger_entries(&escrow, &params).await?;
    respond(&escrow, list_ledger_entries::NSID, &output)
}

async fn list_proposal_states_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: list_proposal_states::Params = read_params(
        &escrow,
        list_proposal_states::NSID,
        params(&query, &["limit"])?,
    )?;
    let output = queries::list_proposal_states(&escrow, &params).await?;
    respond(&escrow, list_proposal_states::NSID, &output)
}

/// Anyone can ask for any `/checkout/<id>`: only a well-formed id of a payment escrow itself
/// opened, and still waits for, reaches the provider. A stranger's guesses never make escrow
/// call the provider with its secret key, nor reveal anything beyond "no such payment".
async fn checkout_page(State(escrow): State<Arc<Escrow>>, Path(payment): Path<String>) -> Response {
    use crate::provider::{self, CheckoutState};
    let no_such_payment = || (StatusCode::NOT_FOUND, "no such payment").into_response();
    if !provider::is_payment_id(&payment) {
        return no_such_payment();
    }
    match provider::checkout_state(&escrow.pool, escrow.provider.name(), &payment).await {
        Ok(CheckoutState::Unknown) => return no_such_payment(),
        Ok(CheckoutState::Closed) => {
            return (StatusCode::GONE, Html(provider::CLOSED_CHECKOUT_PAGE)).into_response()
        }
        Ok(CheckoutState::Pending) => {}
        Err(error) => {
            tracing::error!(%error, payment, "checkout page: looking the payment up");
            return (StatusCode::INTERNAL_SERVER_ERROR, "try again later").into_response();
        }
    }
    match escrow.provider.checkout_page(&payment).await {
        Ok(Some(page)) => Html(page).into_response(),
        Ok(None) => no_such_payment(),
        Err(error) => {
            tracing::error!(%error, payment, "checkout page");
            (StatusCode::BAD_GATEWAY, "the payment provider failed").into_response()
        }
    }
}

async fn settle_sandbox_payment(escrow: &Escrow, payment: &str, succeeded: bool) -> Response {
    let Some(sandbox) = &escrow.sandbox else {
        return (StatusCode::NOT_FOUND, "the sandbox is not in use").into_response();
    };
    let signed = match sandbox.settle_payment(payment, succeeded).await {
        Ok(Some(signed)) => signed,
        Ok(None) => {
            return Html("<p>This payment was already settled.</p>".to_owned()).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "sandbox checkout");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the sandbox failed").into_response();
        }
    };
    // The sandbox's webhook takes the same path as any provider's: verified, de-duplicated.
    match webhook::receive(escrow, "sandbox", Some(&signed.signature), &signed.body).await {
        Ok(_) => Html(if succeeded {
            "<p>Payment complete. You can close this page.</p>".to_owned()
        } else {
            "<p>Payment failed. Nothing was charged.</p>".to_owned()
        })
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "sandbox webhook");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the payment could not be recorded",
            )
                .into_response()
        }
    }
}

async fn checkout_complete(
    State(escrow): State<Arc<Escrow>>,
    Path(payment): Path<String>,
) -> Response {
    settle_sandbox_payment(&escrow, &payment, true).await
}

async fn checkout_fail(State(escrow): State<Arc<Escrow>>, Path(payment): Path<String>) -> Response {
    settle_sandbox_payment(&escrow, &payment, false).await
}

async fn webhook_handler(
    State(escrow): State<Arc<Escrow>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    match webhook::receive(&escrow, &provider, signature, &body).await {
        Ok(outcome) => Json(json!({
            "received": true,
            "duplicate": outcome == webhook::Outcome::Duplicate,
        }))
        .into_response(),
        Err(WebhookError::UnknownProvider(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(error @ (WebhookError::Signature(_) | WebhookError::Malformed(_))) => {
            tracing::warn!(%error, provider, "webhook refused");
            (StatusCode::BAD_REQUEST, error.to_string()).into_response()
        }
        Err(error) => {
            // 5xx: the provider delivers it again later.
            tracing::error!(%error, provider, "webhook not applied");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn did_document(State(escrow): State<Arc<Escrow>>) -> Response {
    if !escrow.config.service_did.starts_with("did:web:") {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": escrow.config.service_did,
        "service": [{
            "id": "#greenlight_escrow",
            "type": "GreenlightEscrow",
            "serviceEndpoint": escrow.config.public_url,
        }],
    }))
    .into_response()
}

/// Failed operator logins one client address may make within [`LOGIN_WINDOW_SECONDS`]; the
/// next attempt is refused without looking at the password.
pub const LOGIN_FAILURES_ALLOWED: u32 = 5;
/// How long failures are counted, and how long an address that made too many is refused.
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;
/// How many client addresses the limiter remembers; beyond that, unknown addresses share one
/// count, so a flood of addresses costs bounded memory and still gets few guesses.
pub const LOGIN_CLIENTS_TRACKED: usize = 4096;

/// What every operator method checks before its handler runs.
struct OperatorGate {
    escrow: Arc<Escrow>,
    /// SHA-256 of `admin:<password>`; `None` while no password is set (operators closed).
    expected: Option<[u8; 32]>,
    limiter: LoginLimiter,
}

impl OperatorGate {
    fn new(escrow: Arc<Escrow>) -> OperatorGate {
        let password = escrow.config.admin_password.as_str();
        let expected = (!password.is_empty()).then(|| digest(format!("admin:{password}")));
        OperatorGate {
            escrow,
            expected,
            limiter: LoginLimiter::new(
                LOGIN_FAILURES_ALLOWED,
                chrono::Duration::seconds(LOGIN_WINDOW_SECONDS),
                LOGIN_CLIENTS_TRACKED,
            ),
        }
    }

    /// Whether `header` is HTTP Basic `admin:<password>`. Both sides are hashed first and the
    /// digests compared in constant time, so neither the password's content nor its length
    /// shows in the time a guess takes.
    fn credentials_match(&self, header: &str) -> bool {
        basic_matches(self.expected.as_ref(), header)
    }
}

/// Whether `header` is HTTP Basic credentials whose SHA-256 is `expected`.
fn basic_matches(expected: Option<&[u8; 32]>, header: &str) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    let Some(encoded) = header.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    bool::from(digest(decoded).ct_eq(expected))
}

fn digest(bytes: impl AsRef<[u8]>) -> [u8; 32] {
    Sha256::digest(bytes.as_ref()).into()
}

/// Rate-limits and checks operator logins; see the module documentation.
async fn operator_gate(
    State(gate): State<Arc<OperatorGate>>,
    request: Request,
    next: Next,
) -> Response {
    let now = gate.escrow.now();
    // Without the peer address (a router driven in-process) every caller shares one count:
    // stricter, never looser.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(ClientKey::UNKNOWN, |info| ClientKey::of(info.0.ip()));
    if let Err(until) = gate.limiter.check(client, now) {
        tracing::warn!(%client, "operator login refused: too many failures");
        return rate_limited(until, now);
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    // No credential is no login attempt: the method itself answers AuthenticationRequired.
    if let Some(header) = header {
        if !gate.credentials_match(header) {
            gate.limiter.fail(client, now);
            tracing::warn!(%client, "operator login failed");
            return XrpcError::AuthenticationRequired("operator credentials required".into())
                .into_response();
        }
    }
    next.run(request).await
}

fn rate_limited(until: DateTime<Utc>, now: DateTime<Utc>) -> Response {
    let seconds = (until - now).num_seconds().max(1);
    let mut response = XrpcError::RateLimitExceeded(format!(
        "too many failed operator logins from this address; try again in {seconds} s"
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Whom a failed login is counted for (one address, or one IPv6 /64).
pub use greenlight_xrpc::ClientKey;

/// Failed logins per client, in bounded memory.
///
/// A client is refused for `window` once it failed `allowed` times within any `window`
/// (a sliding window: a burst across a boundary is caught too); a success changes nothing (a
/// refused client is not even asked for its password, and a shared address's earlier
/// failures still count). At most `capacity` clients are remembered, each with at most
/// `allowed` failure times; when that many are live, every other client shares one overflow
/// count.
#[derive(Debug)]
pub struct LoginLimiter {
    allowed: usize,
    window: chrono::Duration,
    capacity: usize,
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    clients: HashMap<ClientKey, Failures>,
    overflow: Failures,
}

#[derive(Debug, Clone, Default)]
struct Failures {
    /// The latest failures within the window, oldest first, at most `allowed`.
    recent: VecDeque<DateTime<Utc>>,
    blocked_until: Option<DateTime<Utc>>,
}

impl Failures {
    fn blocked(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.blocked_until.filter(|until| *until > now)
    }

    /// Nothing left to remember: not blocked, no failure within the window.
    fn expired(&self, now: DateTime<Utc>, window: chrono::Duration) -> bool {
        self.blocked(now).is_none() && self.recent.back().is_none_or(|last| *last + window <= now)
    }
}

impl LoginLimiter {
    /// A limiter allowing `allowed` failures per `window`, remembering `capacity` clients.
    pub fn new(allowed: u32, window: chrono::Duration, capacity: usize) -> LoginLimiter {
        LoginLimiter {
            allowed: usize::try_from(allowed.max(1)).unwrap_or(usize::MAX),
            window,
            capacity,
            state: Mutex::new(LimiterState::default()),
        }
    }

    /// `Err(until)` while `client` is refused.
    pub fn check(&self, client: ClientKey, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let mut state = self.lock();
        if !state.clients.contains_key(&client) && state.clients.len() >= self.capacity {
            self.forget_expired(&mut state, now);
        }
        let failures = match state.clients.get(&client) {
            Some(failures) => failures,
            None if state.clients.len() >= self.capacity => &state.overflow,
            None => return Ok(()),
        };
        failures.blocked(now).map_or(Ok(()), Err)
    }

    /// Counts a failed login by `client`.
    pub fn fail(&self, client: ClientKey, now: DateTime<Utc>) {
        let mut state = self.lock();
        if !state.clients.contains_key(&client) && state.clients.len() >= self.capacity {
            self.forget_expired(&mut state, now);
        }
        let LimiterState { clients, overflow } = &mut *state;
        let failures = if clients.len() < self.capacity || clients.contains_key(&client) {
            clients.entry(client).or_default()
        } else {
            overflow
        };
        let window = self.window;
        failures.recent.retain(|at| *at + window > now);
        failures.recent.push_back(now);
        while failures.recent.len() > self.allowed {
            failures.recent.pop_front();
        }
        if failures.recent.len() >= self.allowed {
            // Refused for a whole window from now; afterwards the count starts afresh.
            failures.blocked_until = Some(now + window);
            failures.recent.clear();
        }
    }

    /// How many clients are remembered (the overflow count aside).
    pub fn tracked(&self) -> usize {
        self.lock().clients.len()
    }

    fn forget_expired(&self, state: &mut LimiterState, now: DateTime<Utc>) {
        let window = self.window;
        state
            .clients
            .retain(|_, failures| !failures.expired(now, window));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        // A panic elsewhere while holding the lock leaves counts that are still valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::net::IpAddr;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_900_000_000 + seconds, 0).unwrap()
    }

    fn client(n: u8) -> ClientKey {
        ClientKey::of(IpAddr::from([192, 0, 2, n]))
    }

    fn limiter(capacity: usize) -> LoginLimiter {
        LoginLimiter::new(3, chrono::Duration::seconds(60), capacity)
    }

    #[test]
    fn a_client_is_refused_after_its_failures_for_the_window() {
        let limiter = limiter(16);
        for second in 0..2 {
            limiter.fail(client(1), at(second));
            assert!(limiter.check(client(1), at(second)).is_ok());
        }
        limiter.fail(client(1), at(2));
        assert_eq!(limiter.check(client(1), at(2)), Err(at(62)));
        assert_eq!(limiter.check(client(1), at(61)), Err(at(62)));
        // Others are not affected.
        assert!(limiter.check(client(2), at(3)).is_ok());
        // After the window it starts afresh: one failure does not block again.
        assert!(limiter.check(client(1), at(62)).is_ok());
        limiter.fail(client(1), at(62));
        assert!(limiter.check(client(1), at(62)).is_ok());
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let limiter = limiter(16);
        limiter.fail(client(1), at(0));
        limiter.fail(client(1), at(1));
        limiter.fail(client(1), at(61));
        assert!(limiter.check(client(1), at(61)).is_ok());
    }

    #[test]
    fn a_burst_across_a_window_boundary_is_caught() {
        let limiter = limiter(16);
        limiter.fail(client(1), at(0));
        limiter.fail(client(1), at(59));
        limiter.fail(client(1), at(60));
        assert!(limiter.check(client(1), at(60)).is_ok());
        // Three failures within 59..=61, whatever window the first one opened.
        limiter.fail(client(1), at(61));
        assert_eq!(limiter.check(client(1), at(61)), Err(at(121)));
    }

    #[test]
    fn memory_stays_bounded_and_overflowing_clients_are_still_limited() {
        let limiter = limiter(8);
        for n in 0..200 {
            limiter.fail(client(n), at(0));
            assert!(limiter.tracked() <= 8);
        }
        // 192 clients shared the overflow count, so a new one is refused: a flood of
        // addresses gets no more guesses than one client.
        assert!(limiter.check(client(250), at(1)).is_err());
        // Once the remembered clients expire, their room is reused.
        limiter.fail(client(251), at(61));
        assert!(limiter.tracked() <= 8);
        assert!(limiter.check(client(251), at(61)).is_ok());
    }

    #[test]
    fn a_blocked_client_is_never_forgotten_to_make_room() {
        let limiter = limiter(2);
        for second in 0..3 {
            limiter.fail(client(1), at(second));
        }
        for n in 2..50 {
            limiter.fail(client(n), at(10));
        }
        assert!(limiter.check(client(1), at(20)).is_err());
    }

    #[test]
    fn operator_credentials_are_checked_exactly() {
        let basic = |credentials: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            )
        };
        let expected = digest("admin:s3cret-and-long-enough");
        let matches = |header: &str| basic_matches(Some(&expected), header);
        assert!(matches(&basic("admin:s3cret-and-long-enough")));
        assert!(!matches(&basic("admin:s3cret-and-long-enoug")));
        assert!(!matches(&basic("admin:s3cret-and-long-enough!")));
        assert!(!matches(&basic("root:s3cret-and-long-enough")));
        assert!(!matches(&basic("")));
        assert!(!matches("Basic !!!not base64"));
        assert!(!matches("Bearer s3cret-and-long-enough"));
        // No password set: nothing opens the operator methods, not even an empty one.
        assert!(!basic_matches(None, &basic("admin:")));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(ClientKey::of(mapped), client(7));
        assert_eq!(ClientKey::of(a).to_string(), "2001:db8:1:2::/64");
    }
}
