//! The XRPC methods, one module per method group.

pub mod actor;
pub mod estimates;
pub mod pledges;
pub mod projects;
pub mod proposals;
pub mod totals;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use greenlight_xrpc::XrpcError;

use crate::AppView;

/// Logs a database failure and hides it from the client.
pub(crate) fn internal(error: sqlx::Error) -> XrpcError {
    tracing::error!(%error, "database query failed");
    XrpcError::Internal
}

/// `NotFound`, as the methods' lexicons name it.
pub(crate) fn not_found(what: &str) -> XrpcError {
    XrpcError::Method {
        name: "NotFound",
        message: format!("{what} is not indexed (or it is hidden)"),
    }
}

/// The collection segment of an at-uri (`at://did/collection/rkey`).
pub(crate) fn collection_of(uri: &str) -> Option<&str> {
    uri.strip_prefix("at://")?.split('/').nth(1)
}

/// `GET /metrics`: Prometheus text.
pub async fn render_metrics(State(app): State<AppView>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics().render(),
    )
        .into_response()
}
