//! `getFundingTotals`: totals of several proposals and projects at once, for widgets. Sent
//! with an ETag (a hash of the body) and a short `Cache-Control`, so widgets revalidate
//! cheaply with `If-None-Match`.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use greenlight_lexicon::fund::greenlight::defs::FundingTotals;
use greenlight_lexicon::fund::greenlight::{get_funding_totals, project, proposal};
use greenlight_xrpc::XrpcError;
use sha2::{Digest, Sha256};

use super::collection_of;
use crate::cache::Cached;
use crate::hydrate;
use crate::params;
use crate::views;
use crate::AppView;

/// `GET /xrpc/fund.greenlight.getFundingTotals`.
pub async fn get_funding_totals(
    State(app): State<AppView>,
    request: Request,
) -> Result<Response, XrpcError> {
    // The request itself, not extractors: no copy of the query string or the headers on
    // the path widgets hit hardest.
    let headers = request.headers();
    let params: get_funding_totals::Params =
        params::from_query(app.catalog(), request.uri().query())?;
    params::check(app.catalog(), &params)?;
    let uris: Vec<&str> = params.uris.iter().map(String::as_str).collect();
    let cache = app.cache();
    let mut found: HashMap<&str, Bytes> = HashMap::new();
    let mut proposals = Vec::new();
    let mut projects = Vec::new();
    for uri in uris.iter().copied().collect::<BTreeSet<_>>() {
        if let Some(totals) = cache.get(Cached::Totals, uri) {
            found.insert(uri, totals);
            continue;
        }
        match collection_of(uri) {
            Some(proposal::NSID) => proposals.push(uri),
            Some(project::NSID) => projects.push(uri),
            _ => {}
        }
    }
    let since = cache.generation();
    let mut loaded: Vec<(String, FundingTotals)> = Vec::new();
    for row in hydrate::proposal_totals(app.pool(), &proposals).await? {
        loaded.push((row.uri.clone(), views::funding_totals(&row)));
    }
    for row in hydrate::projects(app.pool(), &projects).await? {
        loaded.push((row.uri.clone(), views::funding_totals(&row.totals)));
    }
    for (uri, totals) in loaded {
        let totals = Bytes::from(serde_json::to_vec(&totals).map_err(|error| {
            tracing::error!(%error, "cannot encode totals");
            XrpcError::Internal
        })?);
        cache.put(since, Cached::Totals, &uri, totals.clone());
        if let Some(asked) = uris.iter().find(|u| **u == uri) {
            found.insert(asked, totals);
        }
    }
    // Input order, each known URI once.
    let mut seen = BTreeSet::new();
    // Each entry is already JSON: the body is assembled, not re-encoded.
    let mut body = Vec::with_capacity(16 + found.values().map(Bytes::len).sum::<usize>());
    body.extend_from_slice(b"{\"totals\":[");
    let mut first = true;
    for uri in uris.iter().filter(|uri| seen.insert(**uri)) {
        if let Some(totals) = found.get(uri) {
            if !first {
                body.push(b',');
            }
            first = false;
            body.extend_from_slice(totals);
        }
    }
    body.extend_from_slice(b"]}");
    let etag = format!("\"{}\"", hex(&Sha256::digest(&body)[..16]));
    let cache = format!("public, max-age={}", app.config().totals_max_age);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
