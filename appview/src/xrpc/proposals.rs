//! `getProposal`, `listProposals` and `searchProposals`.

use std::collections::HashMap;

use axum::extract::{RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use greenlight_lexicon::fund::greenlight::defs::ProposalView;
use greenlight_lexicon::fund::greenlight::proposal::Proposal;
use greenlight_lexicon::fund::greenlight::{get_proposal, list_proposals, search_proposals};
use greenlight_xrpc::XrpcError;
use sqlx::{PgPool, QueryBuilder, Row};

use super::not_found;
use crate::cache::Cached;
use crate::cursor::{rank_key, After, Key, Keyset};
use crate::hydrate;
use crate::params;
use crate::views;
use crate::AppView;

/// Hydrates and presents proposals in the skeleton's order (URIs no longer visible drop out).
pub(crate) async fn present(
    app: &AppView,
    uris: &[String],
) -> Result<Vec<ProposalView>, XrpcError> {
    let refs: Vec<&str> = uris.iter().map(String::as_str).collect();
    let rows = hydrate::proposals(app.pool(), &refs).await?;
    let records: HashMap<&str, (&hydrate::ProposalRow, Proposal)> = hydrate::with_records(&rows);
    let mut dids: Vec<&str> = Vec::new();
    for (row, _) in records.values() {
        dids.push(&row.did);
        dids.extend(row.history.iter().map(|event| event.author.as_str()));
    }
    let handles = hydrate::handles(app.pool(), dids).await?;
    Ok(refs
        .iter()
        .filter_map(|uri| records.get(uri))
        .map(|(row, record)| views::proposal_view(row, record, &handles))
        .collect())
}

/// `getProposal`: the proposal's view, `None` when it is not indexed (or hidden).
pub async fn get(
    app: &AppView,
    params: get_proposal::Params,
) -> Result<Option<ProposalView>, XrpcError> {
    params::check(app.catalog(), &params)?;
    Ok(present(app, &[params.uri]).await?.pop())
}

/// `GET /xrpc/fund.greenlight.getProposal`, served from the view cache when it can be.
pub async fn get_proposal(
    State(app): State<AppView>,
    request: Request,
) -> Result<Response, XrpcError> {
    let params: get_proposal::Params = params::from_query(app.catalog(), request.uri().query())?;
    params::check(app.catalog(), &params)?;
    let cache = app.cache();
    if let Some(view) = cache.get(Cached::Proposal, &params.uri) {
        return Ok(json_response(view));
    }
    let since = cache.generation();
    let uri = params.uri;
    let mut views = present(&app, std::slice::from_ref(&uri)).await?;
    let view = views.pop().ok_or_else(|| not_found("the proposal"))?;
    let bytes = Bytes::from(serde_json::to_vec(&view).map_err(|error| {
        tracing::error!(%error, "cannot encode a proposal view");
        XrpcError::Internal
    })?);
    cache.put(since, Cached::Proposal, &uri, bytes.clone());
    Ok(json_response(bytes))
}

/// A 200 response with an already serialized JSON body.
pub(crate) fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Orders of `listProposals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Top,
    New,
    Pledged,
}

impl Sort {
    fn parse(s: Option<&str>) -> Result<Sort, XrpcError> {
        match s.unwrap_or("top") {
            "top" => Ok(Sort::Top),
            "new" => Ok(Sort::New),
            "pledged" => Ok(Sort::Pledged),
            other => Err(XrpcError::InvalidRequest(format!(
                "unknown sort {other:?}: top, new or pledged"
            ))),
        }
    }

    /// The listing in this order: its name in cursors and the SQL it is ordered on.
    fn keyset(self) -> Keyset {
        let (name, key, key_sql) = match self {
            Sort::Top => ("top", Key::Integer, "s.estimate_total"),
            Sort::New => ("new", Key::Time, "s.created_at"),
            Sort::Pledged => (
                "pledged",
                Key::Integer,
                "(coalesce(m.pledged_held, 0) + coalesce(m.paid_out, 0))",
            ),
        };
        Keyset {
            name,
            key,
            key_sql,
            uri_sql: "s.uri",
        }
    }
}

/// `GET /xrpc/fund.greenlight.listProposals`.
pub async fn list_proposals(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<list_proposals::Output>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    list(&app, params).await.map(Json)
}

/// `listProposals`: a page of visible proposals, filtered and in the order asked.
pub async fn list(
    app: &AppView,
    params: list_proposals::Params,
) -> Result<list_proposals::Output, XrpcError> {
    params::check(app.catalog(), &params)?;
    let sort = Sort::parse(params.sort.as_deref())?;
    let keyset = sort.keyset();
    let limit = params::limit(params.limit);
    let after = keyset.decode(params.cursor.as_deref())?;

    let mut sql = QueryBuilder::new(
        "SELECT s.uri, s.estimate_total, s.created_at,
             coalesce(m.pledged_held, 0) + coalesce(m.paid_out, 0) AS pledged
         FROM appview.proposal_state s
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri WHERE NOT s.withdrawn",
    );
    if let Some(project) = params.project {
        sql.push(" AND s.project_uri = ").push_bind(project);
    }
    if let Some(repository) = params.repository {
        sql.push(" AND s.repository = ").push_bind(repository);
    }
    if let Some(stage) = params.stage {
        sql.push(" AND s.stage = ").push_bind(stage);
    }
    keyset.push_page(&mut sql, after, limit);
    let rows = sql.build().fetch_all(app.pool()).await?;
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        let uri: String = row.try_get("uri")?;
        let key = match sort {
            Sort::Top => row.try_get::<i64, _>("estimate_total")?,
            Sort::New => row
                .try_get::<DateTime<Utc>, _>("created_at")?
                .timestamp_micros(),
            Sort::Pledged => row.try_get::<i64, _>("pledged")?,
        };
        page.push((key, uri));
    }
    let (proposals, cursor) = paged(app, keyset, page, limit).await?;
    Ok(list_proposals::Output { cursor, proposals })
}

/// Presents a skeleton page fetched by `keyset` (with `limit + 1` rows), with the next
/// cursor if any.
async fn paged(
    app: &AppView,
    keyset: Keyset,
    page: Vec<(i64, String)>,
    limit: i64,
) -> Result<(Vec<ProposalView>, Option<String>), XrpcError> {
    let (page, next) = keyset.page(page, limit, |(key, uri)| (*key, uri.as_str()));
    let uris: Vec<String> = page.into_iter().map(|(_, uri)| uri).collect();
    Ok((present(app, &uris).await?, next))
}

/// The search listing: best match first.
const SEARCH: Keyset = Keyset {
    name: "search",
    key: Key::Rank,
    key_sql: "ts_rank(s.search, q)",
    uri_sql: "s.uri",
};

/// `GET /xrpc/fund.greenlight.searchProposals`.
pub async fn search_proposals(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<search_proposals::Output>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    search(&app, params).await.map(Json)
}

/// `searchProposals`: Postgres full text over titles, tags and bodies, best match first.
pub async fn search(
    app: &AppView,
    params: search_proposals::Params,
) -> Result<search_proposals::Output, XrpcError> {
    params::check(app.catalog(), &params)?;
    let limit = params::limit(params.limit);
    let after = SEARCH.decode(params.cursor.as_deref())?;
    let page = search_skeleton(app.pool(), params.q, after, limit).await?;
    let (proposals, cursor) = paged(app, SEARCH, page, limit).await?;
    Ok(search_proposals::Output { cursor, proposals })
}

async fn search_skeleton(
    pool: &PgPool,
    q: String,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<(i64, String)>, XrpcError> {
    let mut sql = QueryBuilder::new(
        "SELECT s.uri, ts_rank(s.search, q) AS rank
         FROM appview.proposal_state s, websearch_to_tsquery('english', ",
    );
    sql.push_bind(q)
        .push(") AS q WHERE s.search @@ q AND NOT s.withdrawn");
    // The rank travels as the bits of the f32 Postgres computed, so it compares exactly.
    SEARCH.push_page(&mut sql, after, limit);
    let rows = sql.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let uri: String = row.try_get("uri")?;
            let rank: f32 = row.try_get("rank")?;
            Ok((rank_key(rank), uri))
        })
        .collect()
}
