//! Query parameters: decoded from the query string by the method's parameter kinds, then
//! checked against the method's lexicon. Unknown parameters are ignored, as XRPC allows.

use greenlight_lexicon::Catalog;
use greenlight_xrpc::XrpcError;
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

/// A method's decoded, lexicon-valid parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Decodes `query` by `spec` and validates the result against `nsid`'s parameters.
    pub fn parse(
        catalog: &Catalog,
        nsid: &str,
        query: Option<&str>,
        spec: &[(&str, Kind)],
    ) -> Result<Params, XrpcError> {
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
        let params = Value::Object(map);
        catalog
            .validate_params(nsid, &params)
            .map_err(|err| XrpcError::InvalidRequest(format!("invalid parameters: {err}")))?;
        match params {
            Value::Object(map) => Ok(Params(map)),
            _ => Ok(Params::default()),
        }
    }

    /// A string parameter.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    /// A repeated string parameter (empty when absent).
    pub fn strs(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The page size: `limit`, or the lexicon's default of 50.
    pub fn limit(&self) -> i64 {
        self.int("limit").unwrap_or(50).clamp(1, 100)
    }
}
