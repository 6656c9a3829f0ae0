//! The XRPC methods, one module per method group.

pub mod actor;
pub mod estimates;
pub mod pledges;
pub mod projects;
pub mod proposals;
pub mod retainers;
pub mod totals;

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use greenlight_xrpc::XrpcError;
use sqlx::postgres::PgRow;
use sqlx::QueryBuilder;

use crate::cursor::Keyset;
use crate::{hydrate, params, AppView};

/// `NotFound`, as the methods' lexicons name it.
pub(crate) fn not_found(what: &str) -> XrpcError {
    XrpcError::Method {
        name: "NotFound",
        message: format!("{what} is not indexed (or it is hidden)"),
    }
}

/// A method's answer, or `NotFound` naming `what` when there is none.
pub(crate) fn found<T>(answer: Option<T>, what: &str) -> Result<Json<T>, XrpcError> {
    answer.map(Json).ok_or_else(|| not_found(what))
}

/// Whether a proposal is visible (has derived state).
pub(crate) async fn proposal_exists(app: &AppView, uri: &str) -> Result<bool, XrpcError> {
    let row = sqlx::query_scalar!("SELECT 1 FROM appview.proposal_state WHERE uri = $1", uri)
        .fetch_optional(app.pool())
        .await?;
    Ok(row.is_some())
}

/// A row of what people wrote about a proposal (an estimate, a pledge), listed newest first.
pub(crate) trait ProposalItem: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {
    /// Its author.
    fn did(&self) -> &str;
    /// Where it stands in the listing: its sort key (as cursors carry it) and URI.
    fn position(&self) -> (i64, &str);
}

/// A page of a proposal's items, with the handles of their authors.
pub(crate) struct ItemPage<R> {
    pub rows: Vec<R>,
    pub cursor: Option<String>,
    pub handles: HashMap<String, String>,
}

/// A page of `proposal`'s items: `select` picks them (it ends where the proposal's URI is
/// bound), `keyset` orders and pages them. `None` when the proposal is not indexed (or hidden).
pub(crate) async fn proposal_items<R: ProposalItem>(
    app: &AppView,
    keyset: Keyset,
    select: &'static str,
    proposal: String,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<Option<ItemPage<R>>, XrpcError> {
    let limit = params::limit(limit);
    let after = keyset.decode(cursor)?;
    if !proposal_exists(app, &proposal).await? {
        return Ok(None);
    }
    let mut sql = QueryBuilder::new(select);
    sql.push_bind(proposal);
    keyset.push_page(&mut sql, after, limit);
    let rows: Vec<R> = sql.build_query_as().fetch_all(app.pool()).await?;
    let (rows, cursor) = keyset.page(rows, limit, R::position);
    let handles = hydrate::handles(app.pool(), rows.iter().map(R::did)).await?;
    Ok(Some(ItemPage {
        rows,
        cursor,
        handles,
    }))
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
