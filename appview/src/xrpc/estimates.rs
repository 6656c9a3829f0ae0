//! `listEstimates`: a proposal's current estimates (latest per author), newest first.

use axum::extract::{RawQuery, State};
use axum::Json;
use greenlight_lexicon::fund::greenlight::list_estimates;
use greenlight_xrpc::XrpcError;

use super::{found, proposal_items, ProposalItem};
use crate::cursor::{Key, Keyset};
use crate::hydrate::EstimateRow;
use crate::params;
use crate::views;
use crate::AppView;

/// Estimates newest first.
const NEWEST: Keyset = Keyset {
    name: "estimates",
    key: Key::Time,
    key_sql: "e.created_at",
    uri_sql: "e.uri",
};

impl ProposalItem for EstimateRow {
    fn did(&self) -> &str {
        &self.did
    }

    fn position(&self) -> (i64, &str) {
        (self.created_at.timestamp_micros(), &self.uri)
    }
}

/// `GET /xrpc/fund.greenlight.listEstimates`.
pub async fn list_estimates(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<list_estimates::Output>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    found(list(&app, params).await?, "the proposal")
}

/// `listEstimates`: a page of the proposal's estimates, `None` when the proposal is not
/// indexed (or hidden).
pub async fn list(
    app: &AppView,
    params: list_estimates::Params,
) -> Result<Option<list_estimates::Output>, XrpcError> {
    params::check(app.catalog(), &params)?;
    let select = "SELECT e.uri, e.did, r.cid, r.amount, r.currency, e.counted, e.capped,
             e.frozen, e.created_at, r.indexed_at
         FROM appview.estimate_state e JOIN appview.record r ON r.uri = e.uri
         WHERE e.current AND e.proposal_uri = ";
    let cursor = params.cursor.as_deref();
    let page =
        proposal_items::<EstimateRow>(app, NEWEST, select, params.proposal, params.limit, cursor);
    Ok(page.await?.map(|page| list_estimates::Output {
        estimates: page
            .rows
            .iter()
            .filter_map(|row| views::estimate_view(row, &page.handles))
            .collect(),
        cursor: page.cursor,
    }))
}
