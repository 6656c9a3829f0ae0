//! The retainer routes: the `fund.greenlight.escrow.*` retainer methods, and the quote,
//! invoice and income-statement documents behind their capability addresses.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use greenlight_lexicon::fund::greenlight::escrow::{
    cancel_retainer, change_retainer_tier, get_income_statement, get_retainer_agreement,
    list_retainer_agreements, list_retainer_states, request_quote, set_vendor_details,
    start_retainer,
};
use greenlight_xrpc::XrpcError;
use serde_json::Value;

use super::documents::{self, Rendered};
use crate::auth::ServiceCaller;
use crate::http::{params, read_input, read_params, respond, xrpc};
use crate::procedures::retainer;
use crate::Escrow;

/// The retainer routes, merged into escrow's router.
pub fn routes() -> Router<Arc<Escrow>> {
    Router::new()
        .route(&xrpc(request_quote::NSID), post(request_quote_handler))
        .route(&xrpc(start_retainer::NSID), post(start_handler))
        .route(&xrpc(change_retainer_tier::NSID), post(change_tier_handler))
        .route(&xrpc(cancel_retainer::NSID), post(cancel_handler))
        .route(&xrpc(get_retainer_agreement::NSID), get(get_handler))
        .route(&xrpc(list_retainer_agreements::NSID), get(list_handler))
        .route(&xrpc(get_income_statement::NSID), get(income_handler))
        .route(&xrpc(list_retainer_states::NSID), get(states_handler))
        .route(&xrpc(set_vendor_details::NSID), post(vendor_handler))
        .route("/documents/{file}", get(document_handler))
        .route(
            "/documents/income/{did}/{year}/{file}",
            get(income_document_handler),
        )
}

async fn request_quote_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: request_quote::Input = read_input(&escrow, request_quote::NSID, &body)?;
    let output = retainer::request_quote(&escrow, &caller, &input).await?;
    respond(&escrow, request_quote::NSID, &output)
}

async fn start_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: start_retainer::Input = read_input(&escrow, start_retainer::NSID, &body)?;
    let output = retainer::start_retainer(&escrow, &caller, &input).await?;
    respond(&escrow, start_retainer::NSID, &output)
}

async fn change_tier_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: change_retainer_tier::Input =
        read_input(&escrow, change_retainer_tier::NSID, &body)?;
    let output = retainer::change_retainer_tier(&escrow, &caller, &input).await?;
    respond(&escrow, change_retainer_tier::NSID, &output)
}

async fn cancel_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: cancel_retainer::Input = read_input(&escrow, cancel_retainer::NSID, &body)?;
    let output = retainer::cancel_retainer(&escrow, &caller, &input).await?;
    respond(&escrow, cancel_retainer::NSID, &output)
}

async fn vendor_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    body: Bytes,
) -> Result<Json<Value>, XrpcError> {
    let input: set_vendor_details::Input = read_input(&escrow, set_vendor_details::NSID, &body)?;
    let output = retainer::set_vendor_details(&escrow, &caller, &input).await?;
    respond(&escrow, set_vendor_details::NSID, &output)
}

async fn get_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_retainer_agreement::Params =
        read_params(&escrow, get_retainer_agreement::NSID, params(&query, &[])?)?;
    let output = retainer::get_retainer_agreement(&escrow, &caller, &params.id).await?;
    respond(&escrow, get_retainer_agreement::NSID, &output)
}

async fn list_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
) -> Result<Json<Value>, XrpcError> {
    let output = retainer::list_retainer_agreements(&escrow, &caller).await?;
    respond(&escrow, list_retainer_agreements::NSID, &output)
}

async fn income_handler(
    State(escrow): State<Arc<Escrow>>,
    ServiceCaller(caller): ServiceCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: get_income_statement::Params = read_params(
        &escrow,
        get_income_statement::NSID,
        params(&query, &["year"])?,
    )?;
    let output = retainer::get_income_statement(&escrow, &caller, params.year).await?;
    respond(&escrow, get_income_statement::NSID, &output)
}

async fn states_handler(
    State(escrow): State<Arc<Escrow>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, XrpcError> {
    let params: list_retainer_states::Params = read_params(
        &escrow,
        list_retainer_states::NSID,
        params(&query, &["limit"])?,
    )?;
    let output = retainer::list_retainer_states(&escrow, &params).await?;
    respond(&escrow, list_retainer_states::NSID, &output)
}

/// `name.ext` with a known extension, and a name of document-number characters only.
fn split_file(file: &str) -> Option<(&str, &str)> {
    let (name, ext) = file.rsplit_once('.')?;
    let well_formed = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (well_formed && matches!(ext, "html" | "pdf")).then_some((name, ext))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such document").into_response()
}

fn rendered(rendered: Rendered, name: &str) -> Response {
    // Private documents: never cached by anything between escrow and the reader.
    let private = [
        (header::CACHE_CONTROL, "private, no-store".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:".to_owned(),
        ),
    ];
    match rendered {
        Rendered::Html(page) => (private, Html(page)).into_response(),
        Rendered::Pdf(bytes) => (
            private,
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{name}.pdf\""),
                ),
            ],
            bytes,
        )
            .into_response(),
    }
}

async fn document_handler(
    State(escrow): State<Arc<Escrow>>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((name, ext)) = split_file(&file) else {
        return not_found();
    };
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    // The same answer for a wrong token as for no such document: numbers are guessable.
    if !documents::token_matches(&escrow, name, token) {
        return not_found();
    }
    match documents::quote_or_invoice(&escrow, name, ext).await {
        Ok(Some(document)) => rendered(document, name),
        Ok(None) => not_found(),
        Err(error) => {
            tracing::error!(%error, document = name, "rendering a document");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again later").into_response()
        }
    }
}

async fn income_document_handler(
    State(escrow): State<Arc<Escrow>>,
    Path((did, year, file)): Path<(String, i32, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((currency, ext)) = split_file(&file) else {
        return not_found();
    };
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    if !documents::token_matches(
        &escrow,
        &documents::income_name(&did, year, currency),
        token,
    ) {
        return not_found();
    }
    let statement = match documents::income_statement(&escrow, &did, year, currency).await {
        Ok(statement) => statement,
        Err(error) => {
            tracing::error!(%error, "income statement");
            return (StatusCode::INTERNAL_SERVER_ERROR, "try again later").into_response();
        }
    };
    match documents::render_income(&statement, ext) {
        Ok(document) => rendered(document, &format!("income-{year}-{currency}")),
        Err(error) => {
            tracing::error!(%error, "income statement");
            (StatusCode::INTERNAL_SERVER_ERROR, "try again later").into_response()
        }
    }
}
