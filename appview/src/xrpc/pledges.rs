//! `listPledges`: a proposal's pledge records, newest first, with the state escrow reports.

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, Utc};
use greenlight_xrpc::XrpcError;
use serde_json::{json, Value};
use sqlx::{FromRow, QueryBuilder};

use super::estimates::{proposal_exists, time_cursor};
use super::{internal, not_found};
use crate::cursor;
use crate::hydrate;
use crate::params::{Kind, Params};
use crate::views::{actor_ref, datetime};
use crate::AppView;

const NSID: &str = "fund.greenlight.listPledges";

#[derive(FromRow)]
struct PledgeRow {
    uri: String,
    did: String,
    cid: String,
    amount: Option<i64>,
    currency: Option<String>,
    receipt: Option<String>,
    created_at: DateTime<Utc>,
    indexed_at: DateTime<Utc>,
    escrow_state: Option<String>,
}

/// `GET /xrpc/fund.greenlight.listPledges`.
pub async fn list_pledges(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    list(&app, query.as_deref()).await.map(Json)
}

/// `listPledges` for a query string: the output the method sends (pages use it too).
pub(crate) async fn list(app: &AppView, query: Option<&str>) -> Result<Value, XrpcError> {
    let params = Params::parse(
        app.catalog(),
        NSID,
        query,
        &[
            ("proposal", Kind::Str),
            ("limit", Kind::Int),
            ("cursor", Kind::Str),
        ],
    )?;
    let proposal = params.str("proposal").unwrap_or_default();
    let limit = params.limit();
    let after = time_cursor("pledges", params.str("cursor"))?;
    if !proposal_exists(app, proposal).await? {
        return Err(not_found("the proposal"));
    }
    // A record's receipt counts only if escrow's pledge of that id is by the same backer for
    // the same proposal: anyone can write any receipt into their own pledge record.
    let mut sql = QueryBuilder::new(
        "SELECT r.uri, r.did, r.cid, r.amount, r.currency, r.body->>'receipt' AS receipt,
             r.created_at, r.indexed_at, p.state AS escrow_state
         FROM appview.record r
         LEFT JOIN appview.escrow_pledge p ON p.id = r.body->>'receipt'
              AND p.backer = r.did AND p.proposal = r.subject_uri
         WHERE r.collection = 'fund.greenlight.pledge' AND NOT r.hidden AND r.subject_uri = ",
    );
    sql.push_bind(proposal.to_owned());
    if let Some((at, uri)) = after {
        sql.push(" AND (r.created_at, r.uri) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(uri)
            .push(")");
    }
    sql.push(" ORDER BY r.created_at DESC, r.uri DESC LIMIT ")
        .push_bind(limit + 1);
    let mut rows: Vec<PledgeRow> = sql
        .build_query_as()
        .fetch_all(app.pool())
        .await
        .map_err(internal)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let handles = hydrate::handles(app.pool(), rows.iter().map(|r| r.did.as_str()))
        .await
        .map_err(internal)?;
    let pledges: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            Some(json!({
                "uri": r.uri,
                "cid": r.cid,
                "backer": actor_ref(&r.did, &handles),
                "amount": r.amount?,
                "currency": r.currency.as_deref()?,
                "receipt": r.receipt.as_deref()?,
                "state": r.escrow_state.as_deref().unwrap_or("pending"),
                "createdAt": datetime(r.created_at),
                "indexedAt": datetime(r.indexed_at),
            }))
        })
        .collect();
    let mut out = json!({ "pledges": pledges });
    if more {
        let next = rows
            .last()
            .and_then(|r| cursor::encode("pledges", r.created_at.timestamp_micros(), &r.uri));
        if let (Some(next), Some(map)) = (next, out.as_object_mut()) {
            map.insert("cursor".into(), json!(next));
        }
    }
    Ok(out)
}
