//! Calling an XRPC service over HTTP (escrow, an AppView, a PDS's public routes): error
//! bodies become [`ClientError::Service`] with the XRPC error name, so callers can match on it.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ClientError;

/// Sends an XRPC request and turns error bodies into [`ClientError::Service`].
pub async fn send(
    request: reqwest::RequestBuilder,
    service: &'static str,
    method: &str,
    url: &str,
) -> Result<Value, ClientError> {
    let unreachable = |error: reqwest::Error| ClientError::Unreachable {
        service,
        url: url.to_owned(),
        reason: error.to_string(),
    };
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let text = response.text().await.map_err(unreachable)?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        return Err(ClientError::Service {
            service,
            method: method.to_owned(),
            error: field("error").unwrap_or_else(|| format!("HTTP {status}")),
            message: field("message").or_else(|| body.as_str().map(str::to_owned)),
        });
    }
    Ok(body)
}

/// A service's answer to `method` as its lexicon type.
pub fn decode<T: DeserializeOwned>(
    body: Value,
    service: &'static str,
    method: &str,
) -> Result<T, ClientError> {
    serde_json::from_value(body).map_err(|error| ClientError::Unreachable {
        service,
        url: String::new(),
        reason: format!("unexpected answer to {method}: {error}"),
    })
}
