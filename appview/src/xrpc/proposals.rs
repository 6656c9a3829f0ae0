//! `getProposal`, `listProposals` and `searchProposals`.

use std::collections::HashMap;

use axum::extract::{RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use greenlight_xrpc::XrpcError;
use serde_json::{json, Value};
use sqlx::{PgPool, QueryBuilder, Row};

use super::{internal, not_found};
use crate::cache::Cached;
use crate::cursor::{self, Cursor};
use crate::hydrate;
use crate::params::{Kind, Params};
use crate::views;
use crate::AppView;

const GET: &str = "fund.greenlight.getProposal";
const LIST: &str = "fund.greenlight.listProposals";
const SEARCH: &str = "fund.greenlight.searchProposals";

/// Hydrates and presents proposals in the skeleton's order (URIs no longer visible drop out).
pub(crate) async fn present(app: &AppView, uris: &[String]) -> Result<Vec<Value>, XrpcError> {
    let refs: Vec<&str> = uris.iter().map(String::as_str).collect();
    let rows = hydrate::proposals(app.pool(), &refs)
        .await
        .map_err(internal)?;
    let mut dids: Vec<&str> = Vec::new();
    for row in &rows {
        dids.push(&row.did);
        if let Some(events) = row.history.as_array() {
            dids.extend(events.iter().filter_map(|e| e.get("author")?.as_str()));
        }
    }
    let handles = hydrate::handles(app.pool(), dids).await.map_err(internal)?;
    let by_uri: HashMap<&str, &hydrate::ProposalRow> =
        rows.iter().map(|r| (r.uri.as_str(), r)).collect();
    let verification = app.config().verification_period;
    Ok(refs
        .iter()
        .filter_map(|uri| by_uri.get(uri))
        .map(|row| views::proposal_view(row, &handles, verification))
        .collect())
}

/// `GET /xrpc/fund.greenlight.getProposal`.
pub async fn get_proposal(
    State(app): State<AppView>,
    request: Request,
) -> Result<Response, XrpcError> {
    let params = Params::parse(
        app.catalog(),
        GET,
        request.uri().query(),
        &[("uri", Kind::Str)],
    )?;
    let uri = params.str("uri").unwrap_or_default().to_owned();
    let cache = app.cache();
    if let Some(view) = cache.get(Cached::Proposal, &uri) {
        return Ok(json_response(view));
    }
    let since = cache.generation();
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

    fn name(self) -> &'static str {
        match self {
            Sort::Top => "top",
            Sort::New => "new",
            Sort::Pledged => "pledged",
        }
    }

    /// The SQL expression the order is on.
    fn key(self) -> &'static str {
        match self {
            Sort::Top => "s.estimate_total",
            Sort::New => "s.created_at",
            Sort::Pledged => "(coalesce(m.pledged_held, 0) + coalesce(m.paid_out, 0))",
        }
    }
}

/// `GET /xrpc/fund.greenlight.listProposals`.
pub async fn list_proposals(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    list(&app, query.as_deref()).await.map(Json)
}

/// `listProposals` for a query string: the output the method sends (pages use it too).
pub(crate) async fn list(app: &AppView, query: Option<&str>) -> Result<Value, XrpcError> {
    let params = Params::parse(
        app.catalog(),
        LIST,
        query,
        &[
            ("project", Kind::Str),
            ("repository", Kind::Str),
            ("stage", Kind::Str),
            ("sort", Kind::Str),
            ("limit", Kind::Int),
            ("cursor", Kind::Str),
        ],
    )?;
    let sort = Sort::parse(params.str("sort"))?;
    let limit = params.limit();
    let after = params
        .str("cursor")
        .map(|c| cursor::decode(sort.name(), c))
        .transpose()?;

    let mut sql = QueryBuilder::new(
        "SELECT s.uri, s.estimate_total, s.created_at,
             coalesce(m.pledged_held, 0) + coalesce(m.paid_out, 0) AS pledged
         FROM appview.proposal_state s
         LEFT JOIN appview.proposal_money m ON m.proposal = s.uri WHERE NOT s.withdrawn",
    );
    if let Some(project) = params.str("project") {
        sql.push(" AND s.project_uri = ")
            .push_bind(project.to_owned());
    }
    if let Some(repository) = params.str("repository") {
        sql.push(" AND s.repository = ")
            .push_bind(repository.to_owned());
    }
    if let Some(stage) = params.str("stage") {
        sql.push(" AND s.stage = ").push_bind(stage.to_owned());
    }
    if let Some(Cursor { key, uri }) = after {
        sql.push(format_args!(" AND ({}, s.uri) < (", sort.key()));
        match sort {
            Sort::New => sql.push_bind(cursor::moment(key)?),
            Sort::Top | Sort::Pledged => sql.push_bind(key),
        };
        sql.push(", ").push_bind(uri).push(")");
    }
    sql.push(format_args!(
        " ORDER BY {} DESC, s.uri DESC LIMIT ",
        sort.key()
    ))
    .push_bind(limit + 1);
    let rows = sql.build().fetch_all(app.pool()).await.map_err(internal)?;
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        let uri: String = row.try_get("uri").map_err(internal)?;
        let key = match sort {
            Sort::Top => row.try_get::<i64, _>("estimate_total").map_err(internal)?,
            Sort::New => row
                .try_get::<DateTime<Utc>, _>("created_at")
                .map_err(internal)?
                .timestamp_micros(),
            Sort::Pledged => row.try_get::<i64, _>("pledged").map_err(internal)?,
        };
        page.push((key, uri));
    }
    paged(app, sort.name(), page, limit).await
}

/// Presents a skeleton page fetched with `limit + 1` rows, with the next cursor if any.
async fn paged(
    app: &AppView,
    sort: &str,
    mut page: Vec<(i64, String)>,
    limit: i64,
) -> Result<Value, XrpcError> {
    let more = page.len() as i64 > limit;
    page.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more {
        page.last()
            .and_then(|(key, uri)| cursor::encode(sort, *key, uri))
    } else {
        None
    };
    let uris: Vec<String> = page.into_iter().map(|(_, uri)| uri).collect();
    let proposals = present(app, &uris).await?;
    let mut out = json!({ "proposals": proposals });
    if let (Some(next), Some(map)) = (next, out.as_object_mut()) {
        map.insert("cursor".into(), json!(next));
    }
    Ok(out)
}

/// `GET /xrpc/fund.greenlight.searchProposals`: Postgres full text over titles, tags and
/// bodies, best match first.
pub async fn search_proposals(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, XrpcError> {
    let params = Params::parse(
        app.catalog(),
        SEARCH,
        query.as_deref(),
        &[
            ("q", Kind::Str),
            ("limit", Kind::Int),
            ("cursor", Kind::Str),
        ],
    )?;
    let q = params.str("q").unwrap_or_default().to_owned();
    let limit = params.limit();
    let after = params
        .str("cursor")
        .map(|c| cursor::decode("search", c))
        .transpose()?;
    let page = search_skeleton(app.pool(), &q, after, limit).await?;
    paged(&app, "search", page, limit).await.map(Json)
}

async fn search_skeleton(
    pool: &PgPool,
    q: &str,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<(i64, String)>, XrpcError> {
    let mut sql = QueryBuilder::new(
        "SELECT s.uri, ts_rank(s.search, q) AS rank
         FROM appview.proposal_state s, websearch_to_tsquery('english', ",
    );
    sql.push_bind(q.to_owned())
        .push(") AS q WHERE s.search @@ q AND NOT s.withdrawn");
    if let Some(Cursor { key, uri }) = after {
        // The rank travels as the bits of the f32 Postgres computed, so it compares exactly.
        let bits =
            u32::try_from(key).map_err(|_| XrpcError::InvalidRequest("malformed cursor".into()))?;
        let rank = f32::from_bits(bits);
        if !rank.is_finite() {
            return Err(XrpcError::InvalidRequest("malformed cursor".into()));
        }
        sql.push(" AND (ts_rank(s.search, q), s.uri) < (")
            .push_bind(rank)
            .push("::real, ")
            .push_bind(uri)
            .push(")");
    }
    sql.push(" ORDER BY rank DESC, s.uri DESC LIMIT ")
        .push_bind(limit + 1);
    let rows = sql.build().fetch_all(pool).await.map_err(internal)?;
    rows.iter()
        .map(|row| {
            let uri: String = row.try_get("uri").map_err(internal)?;
            let rank: f32 = row.try_get("rank").map_err(internal)?;
            Ok((i64::from(rank.to_bits()), uri))
        })
        .collect()
}
