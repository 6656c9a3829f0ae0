//! Query parameters as the generated lexicon types (each query's `Params`).
//!
//! From a query string ([`from_query`]) they are decoded by the method's parameter kinds
//! (unknown parameters are ignored, as XRPC allows); built in code (pages, embeds) they are
//! plain structs. Either way the method checks them against its lexicon ([`check`]) before it
//! answers, so a page gets the same `InvalidRequest` a client would.

use greenlight_lexicon::fund::greenlight::{
    get_actor, get_funding_totals, get_project, get_proposal, get_retainer_offer, list_estimates,
    list_pledges, list_projects, list_proposals, list_retainer_offers, list_retainers,
    search_proposals,
};
use greenlight_lexicon::Catalog;
use greenlight_xrpc::XrpcError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Longest query string we read; anything longer is not a request a client would make.
const MAX_QUERY: usize = 32 * 1024;

/// How one parameter is written in the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A single string.
    Str,
    /// A single integer.
    Int,
    /// A string that may repeat (`uris=a&uris=b`).
    StrArray,
}

/// A query's generated `Params` type: the method it belongs to and how a query string writes
/// each parameter.
pub trait QueryParams: Serialize + DeserializeOwned {
    /// The method's NSID, whose lexicon the parameters are checked against.
    const NSID: &'static str;
    /// Every parameter the method reads, with how it is written.
    const KINDS: &'static [(&'static str, Kind)];
}

/// Implements [`QueryParams`] for each method's generated `Params`: `method { "name": Kind }`.
macro_rules! query_params {
    ($($method:ident { $($name:literal: $kind:ident),* $(,)? })*) => {$(
        impl QueryParams for $method::Params {
            const NSID: &'static str = $method::NSID;
            const KINDS: &'static [(&'static str, Kind)] = &[$(($name, Kind::$kind)),*];
        }
    )*};
}

// How each query's parameters are written in a query string.
query_params! {
    get_proposal { "uri": Str }
    list_proposals {
        "project": Str, "repository": Str, "stage": Str, "sort": Str, "limit": Int,
        "cursor": Str,
    }
    search_proposals { "q": Str, "limit": Int, "cursor": Str }
    get_project { "uri": Str }
    list_projects { "maintainer": Str, "limit": Int, "cursor": Str }
    get_funding_totals { "uris": StrArray }
    list_estimates { "proposal": Str, "limit": Int, "cursor": Str }
    list_pledges { "proposal": Str, "limit": Int, "cursor": Str }
    get_actor { "actor": Str }
    get_retainer_offer { "uri": Str }
    list_retainer_offers { "maintainer": Str, "project": Str, "limit": Int, "cursor": Str }
    list_retainers { "maintainer": Str, "client": Str, "limit": Int, "cursor": Str }
}

/// Decodes `query` into `P` by its kinds. Not yet checked against the lexicon: the method
/// does that ([`check`]).
pub fn from_query<P: QueryParams>(catalog: &Catalog, query: Option<&str>) -> Result<P, XrpcError> {
    let value = Value::Object(decode(query, P::KINDS)?);
    P::deserialize(&value).map_err(|error| {
        // A required parameter is missing: say so in the lexicon's words.
        match catalog.validate_params(P::NSID, &value) {
            Err(invalid) => invalid_params(invalid),
            Ok(()) => XrpcError::InvalidRequest(format!("invalid parameters: {error}")),
        }
    })
}

/// Checks parameters against their method's lexicon.
pub fn check<P: QueryParams>(catalog: &Catalog, params: &P) -> Result<(), XrpcError> {
    let value = serde_json::to_value(params)
        .map_err(|error| XrpcError::InvalidRequest(format!("invalid parameters: {error}")))?;
    catalog
        .validate_params(P::NSID, &value)
        .map_err(invalid_params)
}

fn invalid_params(error: greenlight_lexicon::ValidationError) -> XrpcError {
    XrpcError::InvalidRequest(format!("invalid parameters: {error}"))
}

/// The page size: `limit`, or the lexicons' default of 50.
pub fn limit(limit: Option<i64>) -> i64 {
    limit.unwrap_or(50).clamp(1, 100)
}

/// The parameters of `query` named in `spec`, as JSON of the kinds it gives.
fn decode(query: Option<&str>, spec: &[(&str, Kind)]) -> Result<Map<String, Value>, XrpcError> {
    let query = query.unwrap_or("");
    if query.len() > MAX_QUERY {
        return Err(XrpcError::InvalidRequest("query string is too long".into()));
    }
    let mut map = Map::new();
    for (name, raw) in form_urlencoded::parse(query.as_bytes()) {
        let Some(&(_, kind)) = spec.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if raw.contains('\0') {
            return Err(XrpcError::InvalidRequest(format!(
                "parameter {name} contains a NUL character"
            )));
        }
        match kind {
            Kind::Str | Kind::Int if map.contains_key(name.as_ref()) => {
                return Err(XrpcError::InvalidRequest(format!(
                    "parameter {name} is given more than once"
                )));
            }
            Kind::Str => {
                map.insert(name.into_owned(), Value::String(raw.into_owned()));
            }
            Kind::Int => {
                let n: i64 = raw.trim().parse().map_err(|_| {
                    XrpcError::InvalidRequest(format!("parameter {name} must be an integer"))
                })?;
                map.insert(name.into_owned(), Value::from(n));
            }
            Kind::StrArray => {
                let entry = map
                    .entry(name.into_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    // Far past any lexicon's maxLength; stop collecting junk early.
                    if items.len() > 1000 {
                        return Err(XrpcError::InvalidRequest(
                            "too many values for one parameter".into(),
                        ));
                    }
                    items.push(Value::String(raw.into_owned()));
                }
            }
        }
    }
    Ok(map)
}
