//! Escrow's HTTP surface: the `fund.greenlight.escrow.*` XRPC methods (every request and
//! response validated against its lexicon), the checkout pages, the provider webhooks, and
//! escrow's did:web document.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use greenlight_lexicon::fund::greenlight::escrow::{
    cancel_pledge, connect_payout_account, create_donation, create_pledge, file_dispute,
    get_largest_contribution, get_pledge, get_proposal_state, list_ledger_entries, resolve_dispute,
};
use greenlight_xrpc::XrpcError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::{Operator, ServiceCaller};
use crate::procedures::{dispute, donation, payout_account, pledge, queries};
use crate::webhook::{self, WebhookError};
use crate::Escrow;

/// The router serving everything escrow answers.
pub fn router(escrow: Arc<Escrow>) -> Router {
    let routes = Router::new()
        .route(&xrpc(create_pledge::NSID), post(create_pledge_handler))
        .route(&xrpc(cancel_pledge::NSID), post(cancel_pledge_handler))
        .route(&xrpc(create_donation::NSID), post(create_donation_handler))
        .route(
            &xrpc(connect_payout_account::NSID),
            post(connect_payout_account_handler),
        )
        .route(&xrpc(file_dispute::NSID), post(file_dispute_handler))
        .route(&xrpc(resolve_dispute::NSID), post(resolve_dispute_handler))
        .route(&xrpc(get_pledge::NSID), get(get_pledge_handler))
        .route(
            &xrpc(get_proposal_state::NSID),
            get(get_proposal_state_handler),
        )
        .route(
            &xrpc(get_largest_contribution::NSID),
            get(get_largest_contribution_handler),
        )
        .route(
            &xrpc(list_ledger_entries::NSID),
            get(list_ledger_entries_handler),
        )
        .route("/checkout/{payment}", get(checkout_page))
        .route("/checkout/{payment}/complete", post(checkout_complete))
        .route("/checkout/{payment}/fail", post(checkout_fail))
        .route("/webhooks/{provider}", post(webhook_handler))
        .route("/.well-known/did.json", get(did_document))
        .with_state(escrow);
    greenlight_xrpc::with_conventions(routes, env!("CARGO_PKG_VERSION"))
}

fn xrpc(nsid: &str) -> String {
    format!("/xrpc/{nsid}")
}

fn read_input<T: DeserializeOwned>(
    escrow: &Escrow,
    nsid: &str,
    body: &[u8],
) -> Result<T, XrpcError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| XrpcError::InvalidRequest(format!("body is not JSON: {error}")))?;
    escrow
        .catalog()
        .validate_input(nsid, &value)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    serde_json::from_value(value).map_err(|error| XrpcError::InvalidRequest(error.to_string()))
}

fn read_params<T: DeserializeOwned>(
    escrow: &Escrow,
    nsid: &str,
    params: Value,
) -> Result<T, XrpcError> {
    escrow
        .catalog()
        .validate_params(nsid, &params)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    serde_json::from_value(params).map_err(|error| XrpcError::InvalidRequest(error.to_string()))
}

/// Query parameters as JSON strings, with the integer ones converted.
fn params(query: &HashMap<String, String>, integers: &[&str]) -> Result<Value, XrpcError> {
    let mut object = serde_json::Map::new();
    for (name, value) in query {
        let value = if integers.contains(&name.as_str()) {
            Value::from(
                value
                    .parse::<i64>()
                    .map_err(|_| XrpcError::InvalidRequest(format!("{name} must be an integer")))?,
            )
        } else {
            Value::from(value.clone())
        };
        object.insert(name.clone(), value);
    }
    Ok(Value::Object(object))
}

fn respond<T: Serialize>(
    escrow: &Escrow,
    nsid: &str,
    output: &T,
) -> Result<Json<Value>, XrpcError> {
    let value = serde_json::to_value(output).map_err(|error| {
        tracing::error!(%error, nsid, "cannot serialize a response");
        XrpcError::Internal
    })?;
    if let Err(error) = escrow.catalog().validate_output(nsid, &value) {
        // Never send what the lexicon does not allow: it is a bug to fix, not to ship.
        tracing::error!(%error, nsid, "response does not match its lexicon");
        return Err(XrpcError::Internal);
    }
    Ok(Json(value))
}

async fn create_pledge_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: create_pledge::Input = read_input(&escrow, create_pledge::NSID, &body)?;
    let output = pledge::create_pledge(&escrow, &caller, &input).await?;
    respond(&escrow, create_pledge::NSID, &output)
}

async fn cancel_pledge_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: cancel_pledge::Input = read_input(&escrow, cancel_pledge::NSID, &body)?;
    let output = pledge::cancel_pledge(&escrow, &caller, &input).await?;
    respond(&escrow, cancel_pledge::NSID, &output)
}

async fn create_donation_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: create_donation::Input = read_input(&escrow, create_donation::NSID, &body)?;
    let output = donation::create_donation(&escrow, &caller, &input).await?;
    respond(&escrow, create_donation::NSID, &output)
}

async fn connect_payout_account_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: connect_payout_account::Input =
        read_input(&escrow, connect_payout_account::NSID, &body)?;
    let output = payout_account::connect_payout_account(&escrow, &caller, &input).await?;
    respond(&escrow, connect_payout_account::NSID, &output)
}

async fn file_dispute_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: file_dispute::Input = read_input(&escrow, file_dispute::NSID, &body)?;
    let output = dispute::file_dispute(&escrow, &caller, &input).await?;
    respond(&escrow, file_dispute::NSID, &output)
}

async fn resolve_dispute_handler(
    State(escrow): State<Arc<Escrow>>,
    _operator: Operator,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: resolve_dispute::Input = read_input(&escrow, resolve_dispute::NSID, &body)?;
    let output = dispute::resolve_dispute(&escrow, &input).await?;
    respond(&escrow, resolve_dispute::NSID, &output)
}

async fn get_pledge_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_pledge::Params = read_params(&escrow, get_pledge::NSID, params(&query, &[])?)?;
    let output = pledge::get_pledge(&escrow, &params.id).await?;
    respond(&escrow, get_pledge::NSID, &output)
}

async fn get_proposal_state_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_proposal_state::Params =
        read_params(&escrow, get_proposal_state::NSID, params(&query, &[])?)?;
    let output = queries::get_proposal_state(&escrow, &params.proposal).await?;
    respond(&escrow, get_proposal_state::NSID, &output)
}

async fn get_largest_contribution_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_largest_contribution::Params = read_params(
        &escrow,
        get_largest_contribution::NSID,
        params(&query, &[])?,
    )?;
    let output = queries::get_largest_contribution(&escrow, &params).await?;
    respond(&escrow, get_largest_contribution::NSID, &output)
}

async fn list_ledger_entries_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: list_ledger_entries::Params = read_params(
        &escrow,
        list_ledger_entries::NSID,
        params(&query, &["limit"])?,
    )?;
    let output = queries::list_ledger_entries(&escrow, &params).await?;
    respond(&escrow, list_ledger_entries::NSID, &output)
}

async fn checkout_page(State(escrow): State<Arc<Escrow>>, Path(payment): Path<String>) -> Response {
    match escrow.provider.checkout_page(&payment).await {
        Ok(Some(page)) => Html(page).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such payment").into_response(),
        Err(error) => {
            tracing::error!(%error, "checkout page");
            (StatusCode::BAD_GATEWAY, "the payment provider failed").into_response()
        }
    }
}

async fn settle_sandbox_payment(escrow: &Escrow, payment: &str, succeeded: bool) -> Response {
    let Some(sandbox) = &escrow.sandbox else {
        return (StatusCode::NOT_FOUND, "the sandbox is not in use").into_response();
    };
    let signed = match sandbox.settle_payment(payment, succeeded).await {
        Ok(Some(signed)) => signed,
        Ok(None) => {
            return Html("<p>This payment was already settled.</p>".to_owned()).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "sandbox checkout");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the sandbox failed").into_response();
        }
    };
    // The sandbox's webhook takes the same path as any provider's: verified, de-duplicated.
    match webhook::receive(escrow, "sandbox", Some(&signed.signature), &signed.body).await {
        Ok(_) => Html(if succeeded {
            "<p>Payment complete. You can close this page.</p>".to_owned()
        } else {
            "<p>Payment failed. Nothing was charged.</p>".to_owned()
        })
        .into_response(),
        Err(error) => {
            tracing::error!(%error, "sandbox webhook");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the payment could not be recorded",
            )
                .into_response()
        }
    }
}

async fn checkout_complete(
    State(escrow): State<Arc<Escrow>>,
    Path(payment): Path<String>,
) -> Response {
    settle_sandbox_payment(&escrow, &payment, true).await
}

async fn checkout_fail(State(escrow): State<Arc<Escrow>>, Path(payment): Path<String>) -> Response {
    settle_sandbox_payment(&escrow, &payment, false).await
}

async fn webhook_handler(
    State(escrow): State<Arc<Escrow>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    match webhook::receive(&escrow, &provider, signature, &body).await {
        Ok(outcome) => Json(json!({
            "received": true,
            "duplicate": outcome == webhook::Outcome::Duplicate,
        }))
        .into_response(),
        Err(WebhookError::UnknownProvider(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(error @ (WebhookError::Signature(_) | WebhookError::Malformed(_))) => {
            tracing::warn!(%error, provider, "webhook refused");
            (StatusCode::BAD_REQUEST, error.to_string()).into_response()
        }
        Err(error) => {
            // 5xx: the provider delivers it again later.
            tracing::error!(%error, provider, "webhook not applied");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn did_document(State(escrow): State<Arc<Escrow>>) -> Response {
    if !escrow.config.service_did.starts_with("did:web:") {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": escrow.config.service_did,
        "service": [{
            "id": "#greenlight_escrow",
            "type": "GreenlightEscrow",
            "serviceEndpoint": escrow.config.public_url,
        }],
    }))
    .into_response()
}
