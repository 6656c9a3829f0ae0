//! `getProject`, `listProjects` and `checkProjectProof`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use greenlight_lexicon::fund::greenlight::defs::{ProjectProof, ProjectView};
use greenlight_lexicon::fund::greenlight::project::Project;
use greenlight_lexicon::fund::greenlight::{check_project_proof, get_project, list_projects};
use greenlight_xrpc::XrpcError;
use serde_json::{json, Value};
use sqlx::QueryBuilder;

use super::{found, not_found};
use crate::cursor::{Key, Keyset};
use crate::hydrate;
use crate::params;
use crate::proof;
use crate::views;
use crate::AppView;

/// Hydrates and presents projects in the skeleton's order.
async fn present(app: &AppView, uris: &[&str]) -> Result<Vec<ProjectView>, XrpcError> {
    let rows = hydrate::projects(app.pool(), uris).await?;
    let records: HashMap<&str, (&hydrate::ProjectRow, Project)> = hydrate::with_records(&rows);
    let mut dids: Vec<&str> = Vec::new();
    for (row, record) in records.values() {
        dids.push(&row.did);
        dids.extend(views::maintainers(record));
    }
    let handles = hydrate::handles(app.pool(), dids).await?;
    let mut proofs: HashMap<String, ProjectProof> = proof::proofs(app.pool(), uris).await?;
    Ok(uris
        .iter()
        .filter_map(|uri| records.get(uri))
        .map(|(row, record)| views::project_view(row, record, &handles, proofs.remove(&row.uri)))
        .collect())
}

/// `GET /xrpc/fund.greenlight.getProject`.
pub async fn get_project(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<ProjectView>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    found(get(&app, params).await?, "the project")
}

/// `getProject`: the project's view, `None` when it is not indexed (or hidden).
pub async fn get(
    app: &AppView,
    params: get_project::Params,
) -> Result<Option<ProjectView>, XrpcError> {
    params::check(app.catalog(), &params)?;
    Ok(present(app, &[params.uri.as_str()]).await?.pop())
}

/// Resolves an at-identifier (DID or handle) to a DID, if we know it.
pub(crate) async fn resolve_actor(app: &AppView, actor: &str) -> Result<Option<String>, XrpcError> {
    if actor.starts_with("did:") {
        return Ok(Some(actor.to_owned()));
    }
    Ok(hydrate::did_for_handle(app.pool(), actor).await?)
}

/// `GET /xrpc/fund.greenlight.listProjects`.
pub async fn list_projects(
    State(app): State<AppView>,
    RawQuery(query): RawQuery,
) -> Result<Json<list_projects::Output>, XrpcError> {
    let params = params::from_query(app.catalog(), query.as_deref())?;
    list(&app, params).await.map(Json)
}

/// Projects newest first.
const NEWEST: Keyset = Keyset {
    name: "projects",
    key: Key::Time,
    key_sql: "p.created_at",
    uri_sql: "p.uri",
};

/// `listProjects`: visible projects newest first, optionally only those someone maintains.
pub async fn list(
    app: &AppView,
    params: list_projects::Params,
) -> Result<list_projects::Output, XrpcError> {
    params::check(app.catalog(), &params)?;
    let limit = params::limit(params.limit);
    let after = NEWEST.decode(params.cursor.as_deref())?;
    let maintainer = match &params.maintainer {
        Some(actor) => match resolve_actor(app, actor).await? {
            Some(did) => Some(did),
            // An unknown handle maintains nothing we index.
            None => {
                return Ok(list_projects::Output {
                    cursor: None,
                    projects: Vec::new(),
                })
            }
        },
        None => None,
    };
    let mut sql = QueryBuilder::new(
        "SELECT p.uri, p.created_at FROM appview.record p
         WHERE p.collection = 'fund.greenlight.project' AND NOT p.hidden",
    );
    if let Some(did) = maintainer {
        sql.push(" AND (p.did = ")
            .push_bind(did.clone())
            .push(" OR p.body->'maintainers' ? ")
            .push_bind(did)
            .push(")");
    }
    NEWEST.push_page(&mut sql, after, limit);
    let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sql.build_query_as().fetch_all(app.pool()).await?;
    let (page, cursor) = NEWEST.page(rows, limit, |(uri, at)| (at.timestamp_micros(), uri));
    let uris: Vec<&str> = page.iter().map(|(uri, _)| uri.as_str()).collect();
    let projects = present(app, &uris).await?;
    Ok(list_projects::Output { cursor, projects })
}

/// `checkProjectProof` refusing to run again so soon (HTTP 429, which `XrpcError` has no
/// variant for).
pub struct RateLimited(pub std::time::Duration);

impl IntoResponse for RateLimited {
    fn into_response(self) -> Response {
        let seconds = self.0.as_secs().max(1);
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
            Json(json!({
                "error": "RateLimitExceeded",
                "message": format!(
                    "the project was checked a moment ago; try again in {seconds} s"
                ),
            })),
        )
            .into_response()
    }
}

/// `POST /xrpc/fund.greenlight.checkProjectProof`: checks the project's proof now.
pub async fn check_project_proof(State(app): State<AppView>, body: Bytes) -> Response {
    match check_now(&app, &body).await {
        Ok(Ok(output)) => Json(output).into_response(),
        Ok(Err(limited)) => limited.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn check_now(
    app: &AppView,
    body: &[u8],
) -> Result<Result<check_project_proof::Output, RateLimited>, XrpcError> {
    let nsid = check_project_proof::NSID;
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| XrpcError::InvalidRequest("the body is not JSON".into()))?;
    app.catalog()
        .validate_input(nsid, &value)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    let input: check_project_proof::Input = serde_json::from_value(value)
        .map_err(|error| XrpcError::InvalidRequest(error.to_string()))?;
    check(app, input).await
}

/// Checks a project's proof of control now (at most once per `proof_min_interval`), for
/// `checkProjectProof` and the project page's "Check now" button.
pub async fn check(
    app: &AppView,
    input: check_project_proof::Input,
) -> Result<Result<check_project_proof::Output, RateLimited>, XrpcError> {
    let nsid = check_project_proof::NSID;
    let project = proof::project_to_check(app.pool(), &input.project)
        .await?
        .ok_or_else(|| not_found("the project"))?;
    let interval = app.config().proof_min_interval;
    if !proof::claim_manual_check(app.pool(), &input.project, interval).await? {
        return Ok(Err(RateLimited(interval)));
    }
    proof::check_and_store(app.pool(), app.fetcher(), &project)
        .await
        .map_err(|error| {
            tracing::error!(%error, project = %input.project, "cannot store a proof check");
            XrpcError::Internal
        })?;
    let output = proof::proofs(app.pool(), &[input.project.as_str()])
        .await?
        .remove(&input.project)
        // Hidden or deleted between the check and now.
        .ok_or_else(|| not_found("the project"))?;
    let value = serde_json::to_value(&output).map_err(|error| {
        tracing::error!(%error, "cannot encode a project proof");
        XrpcError::Internal
    })?;
    if let Err(error) = app.catalog().validate_output(nsid, &value) {
        // Never send what the lexicon does not allow: it is a bug to fix, not to ship.
        tracing::error!(%error, nsid, "response does not match its lexicon");
        return Err(XrpcError::Internal);
    }
    Ok(Ok(output))
}
