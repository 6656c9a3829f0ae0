//! `listEstimates`: a proposal's current estimates (latest per author), newest first.

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::{DateTime, Utc};
use greenlight_xrpc::XrpcError;
use serde_json::{json, Value};
use sqlx::{FromRow, QueryBuilder};

use super::{internal, not_found};
use crate::cursor::{self, Cursor};
use crate::hydrate;
use crate::params::{Kind, Params};
use crate::views::{actor_ref, datetime};
use crate::AppView;

const NSID: &str = "fund.greenlight.listEstimates";

#[derive(FromRow)]
struct EstimateRow {
    uri: String,
    did: String,
    cid: String,
    amount: Option<i64>,
    currency: Option<String>,
    counted: i64,
    capped: bool,
    frozen: bool,
    created_at: DateTime<Utc>,
    indexed_at: DateTime<Utc>,
}

/// Whether a proposal is visible (has derived state).
pub(crate) async fn proposal_exists(app: &AppView, uri: &str) -> Result<bool, XrpcError> {
    let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM appview.proposal_state WHERE uri = $1")
        .bind(uri)
        .fetch_optional(app.pool())
        .await
        .map_err(internal)?;
    Ok(row.is_some())
}

/// Decodes a `(created_at, uri)` cursor.
pub(crate) fn time_cursor(
    kind: &str,
    cursor: Option<&str>,
) -> Result<Option<(DateTime<Utc>, String)>, XrpcError> {
    cursor
        .map(|c| {
            let Cursor { key, uri } = cursor::decode(kind, c)?;
            Ok((cursor::moment(key)?, uri))
        })
        .transpose()
}

/// `GET /xrpc/fund.greenlight.listEstimates`.
pub async fn list_estimates(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    list(&app, query.as_deref()).await.map(Json)
}

/// `listEstimates` for a query string: the output the method sends (pages use it too).
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
    let after = time_cursor("estimates", params.str("cursor"))?;
    if !proposal_exists(app, proposal).await? {
        return Err(not_found("the proposal"));
    }
    let mut sql = QueryBuilder::new(
        "SELECT e.uri, e.did, r.cid, r.amount, r.currency, e.counted, e.capped, e.frozen,
             e.created_at, r.indexed_at
         FROM appview.estimate_state e JOIN appview.record r ON r.uri = e.uri
         WHERE e.current AND e.proposal_uri = ",
    );
    sql.push_bind(proposal.to_owned());
    if let Some((at, uri)) = after {
        sql.push(" AND (e.created_at, e.uri) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(uri)
            .push(")");
    }
    sql.push(" ORDER BY e.created_at DESC, e.uri DESC LIMIT ")
        .push_bind(limit + 1);
    let mut rows: Vec<EstimateRow> = sql
        .build_query_as()
        .fetch_all(app.pool())
        .await
        .map_err(internal)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let handles = hydrate::handles(app.pool(), rows.iter().map(|r| r.did.as_str()))
        .await
        .map_err(internal)?;
    let estimates: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            Some(json!({
                "uri": r.uri,
                "cid": r.cid,
                "author": actor_ref(&r.did, &handles),
                "amount": r.amount?,
                "countedAmount": r.counted.max(0),
                "currency": r.currency.as_deref()?,
                "capped": r.capped,
                "frozen": r.frozen,
                "createdAt": datetime(r.created_at),
                "indexedAt": datetime(r.indexed_at),
            }))
        })
        .collect();
    let mut out = json!({ "estimates": estimates });
    if more {
        let next = rows
            .last()
            .and_then(|r| cursor::encode("estimates", r.created_at.timestamp_micros(), &r.uri));
        if let (Some(next), Some(map)) = (next, out.as_object_mut()) {
            map.insert("cursor".into(), json!(next));
        }
    }
    Ok(out)
}
