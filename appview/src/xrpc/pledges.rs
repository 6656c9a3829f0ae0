//! `listPledges`: a proposal's pledge records, newest first, with the state escrow reports.

use axum::extract::{RawQuery, State};
use axum::Json;
use greenlight_lexicon::fund::greenlight::list_pledges;
use greenlight_xrpc::XrpcError;

use super::{found, proposal_items, ProposalItem};
use crate::cursor::{Key, Keyset};
use crate::hydrate::PledgeRow;
use crate::params;
use crate::views;
use crate::AppView;

/// Pledges newest first.
const NEWEST: Keyset = Keyset {
    name: "pledges",
    key: Key::Time,
    key_sql: "r.created_at",
    uri_sql: "r.uri",
};

impl ProposalItem for PledgeRow {
    fn did(&self) -> &str {
        &self.did
    }

    fn position(&self) -> (i64, &str) {
        (self.created_at.timestamp_micros(), &self.uri)
    }
}

/// `GET /xrpc/fund.greenlight.listPledges`.
pub async fn list_pledges(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<list_pledges::Output>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    found(list(&app, params).await?, "the proposal")
}

/// `listPledges`: a page of the proposal's pledge records, `None` when the proposal is not
/// indexed (or hidden).
pub async fn list(
    app: &AppView,
    params: list_pledges::Params,
) -> Result<Option<list_pledges::Output>, XrpcError> {
    params::check(app.catalog(), &params)?;
    // A record's receipt counts only if escrow's pledge of that id is by the same backer for
    // the same proposal: anyone can write any receipt into their own pledge record.
    let select = "SELECT r.uri, r.did, r.cid, r.amount, r.currency,
             r.body->>'receipt' AS receipt, r.created_at, r.indexed_at, p.state AS escrow_state
         FROM appview.record r
         LEFT JOIN appview.escrow_pledge p ON p.id = r.body->>'receipt'
              AND p.backer = r.did AND p.proposal = r.subject_uri
         WHERE r.collection = 'fund.greenlight.pledge' AND NOT r.hidden AND r.subject_uri = ";
    let cursor = params.cursor.as_deref();
    let page =
        proposal_items::<PledgeRow>(app, NEWEST, select, params.proposal, params.limit, cursor);
    Ok(page.await?.map(|page| list_pledges::Output {
        pledges: page
            .rows
            .iter()
            .filter_map(|row| views::pledge_view(row, &page.handles))
            .collect(),
        cursor: page.cursor,
    }))
}
