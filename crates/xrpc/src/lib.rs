//! atproto XRPC server conventions shared by Greenlight's services.
//!
//! Errors leave a service as `{"error": "<Name>", "message": "..."}` with the status the atproto
//! HTTP spec gives the name; every service answers `GET /xrpc/_health`, and a method it does not
//! have is `501 MethodNotImplemented` rather than a bare 404. Requests the server refuses before
//! a handler runs get the same body: a wrong HTTP method (`405`), a URI over
//! [`MAX_URI_BYTES`] (`414`, and hyper's own `414`/`431` through [`listener`]), a body over a
//! handler's limit (`413`), and too many requests from one client (`429`, [`rate_limit`]).

mod listener;
pub mod rate_limit;

use std::net::SocketAddr;

use axum::extract::{OriginalUri, Request};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub use listener::{listener, StreamListener, XrpcListener, XrpcStream};
pub use rate_limit::{with_rate_limit, ClientKey, RateLimitConfig, RateLimitConfigError};

/// The longest request URI (path and query) accepted, in bytes. XRPC parameters are short
/// (the longest lexicon strings are a few hundred characters, and `getFundingTotals` takes at
/// most 25 AT-URIs); anything longer is refused before routing, with an XRPC error.
pub const MAX_URI_BYTES: usize = 16 * 1024;

/// An XRPC error as clients see it: a standard or method-specific name and a human message.
#[derive(Debug, thiserror::Error)]
pub enum XrpcError {
    /// The request's parameters or body are not what the method's lexicon allows.
    #[error("{0}")]
    InvalidRequest(String),
    /// The caller's credentials are missing or do not verify.
    #[error("{0}")]
    AuthenticationRequired(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such method on this service.
    #[error("method not implemented: {0}")]
    MethodNotImplemented(String),
    /// The client sent too many requests; sent as 429 with `Retry-After`.
    #[error("{0}")]
    RateLimitExceeded(String),
    /// The path exists but not for this HTTP method (a GET to a procedure, say); sent as 405
    /// `InvalidRequest`, since atproto names no error for it.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request URI is longer than the server accepts; sent as 414 `InvalidRequest`.
    #[error("{0}")]
    UriTooLong(String),
    /// The request body is larger than the method accepts; sent as 413 `PayloadTooLarge`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// An error named by the method's lexicon (`NotFound`, `ProposalNotInPreview`, ...), sent as 400.
    #[error("{message}")]
    Method {
        /// The name from the lexicon's `errors` list.
        name: &'static str,
        /// What happened, for a person.
        message: String,
    },
    /// Something failed on our side; the details stay in our logs.
    #[error("internal error")]
    Internal,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

/// A database failure is the server's fault: logged here with its detail, answered as
/// `InternalServerError` without it.
#[cfg(feature = "sqlx")]
impl From<sqlx::Error> for XrpcError {
    fn from(error: sqlx::Error) -> XrpcError {
        tracing::error!(%error, "database query failed");
        XrpcError::Internal
    }
}

impl XrpcError {
    /// The error's name as sent in the `error` field.
    pub fn name(&self) -> &'static str {
        match self {
            XrpcError::InvalidRequest(_) => "InvalidRequest",
            XrpcError::AuthenticationRequired(_) => "AuthenticationRequired",
            XrpcError::Forbidden(_) => "Forbidden",
            XrpcError::MethodNotImplemented(_) => "MethodNotImplemented",
            XrpcError::RateLimitExceeded(_) => "RateLimitExceeded",
            XrpcError::MethodNotAllowed(_) | XrpcError::UriTooLong(_) => "InvalidRequest",
            XrpcError::PayloadTooLarge(_) => "PayloadTooLarge",
            XrpcError::Method { name, .. } => name,
            XrpcError::Internal => "InternalServerError",
        }
    }

    /// The HTTP status for the error, per the atproto HTTP API spec.
    pub fn status(&self) -> StatusCode {
        match self {
            XrpcError::InvalidRequest(_) | XrpcError::Method { .. } => StatusCode::BAD_REQUEST,
            XrpcError::AuthenticationRequired(_) => StatusCode::UNAUTHORIZED,
            XrpcError::Forbidden(_) => StatusCode::FORBIDDEN,
            XrpcError::MethodNotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            XrpcError::RateLimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            XrpcError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            XrpcError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            XrpcError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            XrpcError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.name(),
            message: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

#[derive(Serialize)]
struct Health {
    version: &'static str,
}

/// Adds `GET /xrpc/_health`, answers every other unrouted path, every wrong HTTP method,
/// URIs over [`MAX_URI_BYTES`] and bodies over a handler's limit with XRPC errors.
///
/// Call it after every route is added: the wrong-method answer is set on the routes present.
/// `version` is reported by the health check, so operators can see what is deployed.
pub fn with_conventions(router: Router, version: &'static str) -> Router {
    router
        .route(
            "/xrpc/_health",
            get(move || async move { Json(Health { version }) }),
        )
        .fallback(unknown_method)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(request_limits))
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM, then lets requests in flight finish.
///
/// Connections go through [`listener`] (`TCP_NODELAY`, XRPC bodies on hyper's own refusals),
/// and every request carries its peer's `ConnectInfo<SocketAddr>`, which the rate limit
/// counts by.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(
        self::listener(listener),
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

/// Resolves on Ctrl-C or SIGTERM: the signals a terminal or a supervisor stops a service with.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

/// Refuses URIs over [`MAX_URI_BYTES`] before routing, and gives a body-limit refusal
/// (axum's plain-text `413`) the XRPC form.
async fn request_limits(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if length > MAX_URI_BYTES {
        return XrpcError::UriTooLong(format!(
            "the request URI is {length} bytes; at most {MAX_URI_BYTES} are accepted"
        ))
        .into_response();
    }
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return XrpcError::PayloadTooLarge("the request body is too large".to_owned())
            .into_response();
    }
    response
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> XrpcError {
    XrpcError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

async fn unknown_method(OriginalUri(uri): OriginalUri) -> XrpcError {
    match uri.path().strip_prefix("/xrpc/") {
        Some(method) => XrpcError::MethodNotImplemented(method.to_owned()),
        None => XrpcError::Method {
            name: "NotFound",
            message: format!("no such path: {}", uri.path()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn call(path: &str) -> (StatusCode, serde_json::Value) {
        let app = with_conventions(Router::new(), "test");
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn health_reports_the_version() {
        let (status, body) = call("/xrpc/_health").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["version"], "test");
    }

    #[tokio::test]
    async fn unknown_methods_are_501_method_not_implemented() {
        let (status, body) = call("/xrpc/fund.greenlight.noSuchMethod?x=1").await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(body["error"], "MethodNotImplemented");
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("fund.greenlight.noSuchMethod"));
    }

    #[test]
    fn method_errors_keep_their_lexicon_name_and_are_400() {
        let error = XrpcError::Method {
            name: "ProposalNotInPreview",
            message: "pledges open when the preview starts".into(),
        };
        assert_eq!(error.name(), "ProposalNotInPreview");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }
}
